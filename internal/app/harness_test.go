package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/app"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const platformToken = "vac_platform_test_token"

// instance is one `api serve` running in this process, as in production
// (app.Run): its own pool, HTTP server, event listener and (unless
// VACANCY_WORKERS=false) jobs.
type instance struct {
	url     string // http://127.0.0.1:port
	metrics string // the metrics listener's http://127.0.0.1:port, when VACANCY_METRICS_ADDR is set
	logs    *testenv.Log
	stop    func() error
}

// serve starts `api serve` against databaseURL with extra environment (nothing
// is read from the real one); the server is stopped (and must stop cleanly) when
// the test ends. Rate limits are off unless extra sets VACANCY_RATE_LIMIT: a
// test that polls the API until something happens would otherwise be refused
// with 429 once its waits outlast the burst (20/s for 2 s), and the tests of
// the limits set their own.
func serve(t *testing.T, databaseURL string, extra map[string]string) *instance {
	t.Helper()
	vars := map[string]string{"DATABASE_URL": databaseURL, "VACANCY_ADDR": "127.0.0.1:0", "VACANCY_PLATFORM_TOKEN": platformToken,
		"VACANCY_SHUTDOWN_TIMEOUT": "10s", "VACANCY_DB_MAX_CONNS": "10", "VACANCY_RATE_LIMIT": "off"}
	for k, v := range extra {
		vars[k] = v
	}
	logs := &testenv.Log{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, []string{"api", "serve"}, func(k string) string { return vars[k] }, logs, logs)
	}()
	in := &instance{logs: logs}
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
	// The serving line names the addresses it listens on (port 0 picks them).
	var serving map[string]any
	exited := false
	testenv.Poll(20*time.Second, func() bool {
		select {
		case err := <-done:
			done <- err // for stop
			exited = true
			return true
		default:
		}
		for _, l := range logs.Lines(t) {
			if l["msg"] == "serving" {
				serving = l
				return true
			}
		}
		return false
	})
	switch {
	case exited:
		t.Fatalf("the server exited at start: %v\n%s", in.stop(), logs.String())
	case serving == nil:
		t.Fatalf("the server did not log that it is serving within 20s\n%s", logs.String())
	}
	in.url = "http://" + serving["addr"].(string)
	if m, ok := serving["metrics_addr"].(string); ok {
		in.metrics = "http://" + m
	}
	return in
}

// client is a client of the instance's API for the test t, without an API key.
func (in *instance) client(t *testing.T) *apitest.Client { return apitest.NewClient(t, in.url) }

// api is an HTTP client for one organisation through one instance. Every request
// goes through apitest's client, which validates it and its response (event
// streams included) against openapi.yaml.
type api struct {
	t      *testing.T
	url    string // the instance, http://127.0.0.1:port
	prefix string // /api/v3/organisations/<slug>
	key    string
}

func (a api) client() *apitest.Client { return apitest.NewClient(a.t, a.url).As(a.key) }

// do sends a request to path under the organisation.
func (a api) do(method, path string, body any, opts ...apitest.Option) *apitest.Response {
	a.t.Helper()
	return a.client().Do(method, a.prefix+path, body, opts...)
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
	var out struct {
		APIKey struct{ Key string } `json:"api_key"`
	}
	in.client(t).As(platformToken).Post("/api/v3/organisations", map[string]any{"slug": slug, "name": slug}).Expect(201).JSON(&out)
	return api{t: t, url: in.url, prefix: "/api/v3/organisations/" + slug, key: out.APIKey.Key}
}

// apiKey creates a key of the role and returns it.
func (a api) apiKey(role string) string {
	a.t.Helper()
	var k struct{ Key string }
	a.do("POST", "/api-keys", map[string]any{"name": role, "role": role}).Expect(201).JSON(&k)
	return k.Key
}

type itemOut struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

func (a api) createItem(name string) itemOut {
	a.t.Helper()
	var it itemOut
	a.do("POST", "/items", map[string]any{"name": name, "capacity": 2, "nightly_price": 10000}).Expect(201).JSON(&it)
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
	a.do("POST", "/bookings", map[string]any{
		"guest": map[string]any{"name": "Ann", "email": "ann@example.com"},
		"items": []map[string]any{{"item_id": itemID, "check_in": future(from), "check_out": future(to)}},
	}).Expect(201).JSON(&b)
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
