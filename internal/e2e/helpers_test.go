package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// buildAPI compiles cmd/api as `make image` does: static, for goos ("" for
// this machine's).
func buildAPI(t *testing.T, dir, goos string) string {
	t.Helper()
	out := filepath.Join(dir, "api")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "github.com/vacancy-dev/vacancy/cmd/api")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if goos != "" {
		cmd.Env = append(cmd.Env, "GOOS="+goos)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/api: %v\n%s", err, b)
	}
	return out
}

// logBuffer collects a process's stdout.
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

// find returns the first JSON log line with msg, or nil.
func (l *logBuffer) find(msg string) map[string]any {
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	return nil
}

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// fresh is a client that opens a new connection for every request.
var fresh = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

// call sends a request; body, when not nil, is sent as JSON.
func call(t *testing.T, c *http.Client, method, url, key string, body any, headers ...string) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
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
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b, err
}

func field(body []byte, name string) string {
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	s, _ := m[name].(string)
	return s
}

func item(name string) map[string]any {
	return map[string]any{"name": name, "capacity": 2, "nightly_price": 9900}
}

func stay(itemID string, inDays int) map[string]any {
	in := time.Now().UTC().AddDate(0, 0, inDays)
	return map[string]any{"item_id": itemID, "check_in": in.Format(time.DateOnly), "check_out": in.AddDate(0, 0, 3).Format(time.DateOnly)}
}
