package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/app"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const platformToken = "vac_platform_test_token"

// syncBuffer is a log sink the server writes to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// instance is one `api serve` running in this process, as in production: its
// own pool, HTTP server, event listener and (unless VACANCY_WORKERS=false) jobs.
type instance struct {
	url  string // http://127.0.0.1:port
	logs *syncBuffer
	stop func() error
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// serve starts `api serve` against databaseURL with extra environment; the
// server is stopped (and must stop cleanly) when the test ends.
func serve(t *testing.T, databaseURL string, extra map[string]string) *instance {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	vars := map[string]string{"DATABASE_URL": databaseURL, "VACANCY_ADDR": addr, "VACANCY_PLATFORM_TOKEN": platformToken,
		"VACANCY_SHUTDOWN_TIMEOUT": "10s", "VACANCY_DB_MAX_CONNS": "10"}
	for k, v := range extra {
		vars[k] = v
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, []string{"api", "serve"}, func(k string) string { return vars[k] }, logs, logs)
	}()
	in := &instance{url: "http://" + addr, logs: logs}
	var once sync.Once
	var stopErr error
	in.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(20 * time.Second):
				stopErr = errors.New("the server did not stop within 20s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := in.stop(); err != nil {
			t.Errorf("the server must stop cleanly: %v\n%s", err, logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return in
			}
		}
		select {
		case err := <-done:
			t.Fatalf("the server exited at start: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not answer /healthz within 15s\n%s", logs.String())
		}
	}
}

// api is an HTTP client for one organisation through one instance. Every request
// goes through apitest's client, which validates it and its response (event
// streams included) against openapi.yaml.
type api struct {
	t      *testing.T
	url    string // the instance, http://127.0.0.1:port
	prefix string // /api/v3/organisations/<slug>
	key    string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problemCode is a problem body's code.
func (r response) problemCode(t *testing.T) string {
	t.Helper()
	var p struct{ Code string }
	r.json(t, &p)
	return p.Code
}

func (a api) client() *apitest.Client { return apitest.NewClient(a.t, a.url).As(a.key) }

// do sends a request; headers are name, value pairs.
func (a api) do(method, path string, body any, headers ...string) response {
	a.t.Helper()
	var opts []apitest.Option
	for i := 0; i+1 < len(headers); i += 2 {
		opts = append(opts, apitest.Header(headers[i], headers[i+1]))
	}
	r := a.client().Do(method, a.prefix+path, body, opts...)
	if r.Status == 0 {
		a.t.FailNow() // the client has said why
	}
	return response{status: r.Status, header: r.Header, body: r.Body}
}

// must is do that expects a status.
func (a api) must(status int, method, path string, body any, headers ...string) response {
	a.t.Helper()
	r := a.do(method, path, body, headers...)
	if r.status != status {
		a.t.Fatalf("%s %s: want %d, got %d: %s", method, path, status, r.status, r.body)
	}
	return r
}

func (a api) via(in *instance) api {
	a.url = in.url
	return a
}

func (a api) withKey(key string) api {
	a.key = key
	return a
}

// newOrganisation creates an organisation through in with the platform token and
// returns an admin client for it.
func newOrganisation(t *testing.T, in *instance, slug string) api {
	t.Helper()
	platform := api{t: t, url: in.url, prefix: "/api/v3", key: platformToken}
	r := platform.must(201, "POST", "/organisations", map[string]any{"slug": slug, "name": slug})
	var out struct {
		APIKey struct{ Key string } `json:"api_key"`
	}
	r.json(t, &out)
	return api{t: t, url: in.url, prefix: "/api/v3/organisations/" + slug, key: out.APIKey.Key}
}

// apiKey creates a key of the role and returns it.
func (a api) apiKey(role string) string {
	a.t.Helper()
	var k struct{ Key string }
	a.must(201, "POST", "/api-keys", map[string]any{"name": role, "role": role}).json(a.t, &k)
	return k.Key
}

type itemOut struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

func (a api) createItem(name string) itemOut {
	a.t.Helper()
	var it itemOut
	a.must(201, "POST", "/items", map[string]any{"name": name, "capacity": 2, "nightly_price": 10000}).json(a.t, &it)
	return it
}

func future(days int) string { return time.Now().UTC().AddDate(0, 0, days).Format("2006-01-02") }

type bookingOut struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func (a api) book(itemID string, from, to int) bookingOut {
	a.t.Helper()
	var b bookingOut
	a.must(201, "POST", "/bookings", map[string]any{
		"guest": map[string]any{"name": "Ann", "email": "ann@example.com"},
		"items": []map[string]any{{"item_id": itemID, "check_in": future(from), "check_out": future(to)}},
	}).json(a.t, &b)
	return b
}

// event is an event as the API shows it.
type event struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	OccurredAt     time.Time       `json:"occurred_at"`
	OrganisationID string          `json:"organisation_id"`
	Data           json.RawMessage `json:"data"`
	CommandID      *string         `json:"command_id"`
}

func (e event) dataID(t *testing.T) string {
	t.Helper()
	var d struct{ ID string }
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d.ID
}

// stream is an open event stream (the contract client checks every event).
type stream struct {
	*apitest.Stream
	t *testing.T
}

// openStream connects to the event stream; lastEventID may be empty. It must
// answer with a stream.
func (a api) openStream(query, lastEventID string) *stream {
	a.t.Helper()
	var opts []apitest.Option
	if lastEventID != "" {
		opts = append(opts, apitest.Header("Last-Event-ID", lastEventID))
	}
	s := a.client().Stream(a.prefix+"/events/stream"+query, opts...)
	s.Expect(200)
	return &stream{Stream: s, t: a.t}
}

// next returns the next event (skipping comments) as a frame and decoded.
func (s *stream) next(timeout time.Duration) (apitest.Frame, event) {
	s.t.Helper()
	f := s.Next(timeout)
	var e event
	if err := json.Unmarshal([]byte(f.Data), &e); err != nil {
		s.t.Fatalf("event data must be the event JSON: %q: %v", f.Data, err)
	}
	return f, e
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// sql runs a query as the superuser, for what the API cannot do (move a hold's
// deadline into the past) or should not show.
func sqlScalar[T any](t *testing.T, databaseURL, query string, args ...any) T {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v T
	if err := conn.QueryRow(ctx, query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

func sqlExec(t *testing.T, databaseURL, query string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
