package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/app"
)

func loadConfig(env map[string]string) (app.Config, error) {
	return app.LoadConfig(func(k string) string { return env[k] })
}

// logBuffer collects what Serve writes to stdout.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines are the JSON log lines written so far.
func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// running is a server started by app.Serve in this process.
type running struct {
	base    string // http://127.0.0.1:port
	metrics string // http://127.0.0.1:port of the metrics listener, if any
	logs    *logBuffer
	stop    func() error
}

// serve starts app.Serve with the given environment (nothing is read from the
// real one) and stops it when the test ends.
func serveEnv(t *testing.T, env map[string]string) *running {
	t.Helper()
	if _, ok := env["VACANCY_ADDR"]; !ok {
		env["VACANCY_ADDR"] = "127.0.0.1:0"
	}
	cfg, err := app.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logBuffer{}
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, cfg, logs) }()

	r := &running{logs: logs}
	var once sync.Once
	var stopErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(time.Minute):
				t.Error("Serve did not return within a minute of its context ending")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})

	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("Serve returned before serving: %v\n%s", err, logs)
		default:
		}
		for _, l := range logs.lines(t) {
			if l["msg"] == "serving" {
				r.base = "http://" + l["addr"].(string)
				if m, ok := l["metrics_addr"].(string); ok {
					r.metrics = "http://" + m
				}
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("Serve did not log that it is serving:\n%s", logs)
	return nil
}

// call sends a request; body, when not nil and not []byte, is sent as JSON.
func call(t *testing.T, method, url, key string, body any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return res, out
}

// problemCode is the code of a problem body ("" when it is not one).
func problemCode(body []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Code
}

// field reads a top-level string field of a JSON body.
func field(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %s", body)
	}
	s, _ := m[name].(string)
	return s
}

func decode(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}
