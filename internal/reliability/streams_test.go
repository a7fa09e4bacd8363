package reliability_test

// Event streams under hostile clients: the server is built over a listener that
// can stall its clients (not apitest.Start, so these live here rather than in
// internal/httpapi); the caps' 429 answers are checked against the contract in
// internal/app too.

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/httpapi"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// stallListener hands out connections whose writes can be made to block, as
// to a client that stopped reading, until a write deadline passes.
type stallListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*stallConn
}

func (l *stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := &stallConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, sc)
	l.mu.Unlock()
	return sc, nil
}

func (l *stallListener) stallAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.stalled.Store(true)
	}
}

type stallConn struct {
	net.Conn
	stalled  atomic.Bool
	mu       sync.Mutex
	deadline time.Time
}

func (c *stallConn) Write(b []byte) (int, error) {
	for start := time.Now(); c.stalled.Load(); {
		c.mu.Lock()
		d := c.deadline
		c.mu.Unlock()
		if (!d.IsZero() && time.Now().After(d)) || time.Since(start) > 15*time.Second {
			// (After 15 s in any case, so that a server without deadlines fails
			// the test instead of hanging it.)
			return 0, errors.New("i/o timeout (stalled client)")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return c.Conn.Write(b)
}

func (c *stallConn) SetDeadline(t time.Time) error      { c.set(t); return c.Conn.SetDeadline(t) }
func (c *stallConn) SetWriteDeadline(t time.Time) error { c.set(t); return c.Conn.SetWriteDeadline(t) }
func (c *stallConn) set(t time.Time) {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
}

// countingTracer counts the API-key lookups a pool runs.
type countingTracer struct{ lookups atomic.Int64 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.HasPrefix(d.SQL, "-- name: APIKeyCredentialsByPrefix") {
		c.lookups.Add(1)
	}
	return ctx
}
func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

type streamEnv struct {
	url    string
	svc    *service.Services
	sc     scope.Scope
	key    string
	lst    *stallListener
	tracer *countingTracer
}

func newStreamEnv(t *testing.T, limits httpapi.StreamLimits) *streamEnv {
	t.Helper()
	url := testenv.DatabaseURL(t)
	tracer := &countingTracer{}
	d, err := scope.Open(context.Background(), url, scope.Config{MaxConns: 10, Tracer: tracer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	env := &testenv.Env{URL: url, DB: d, Service: service.New(d, service.Config{})}
	sc, key := env.Organisation(t, "streams")
	ts := httptest.NewUnstartedServer(httpapi.NewServer(httpapi.Config{Service: env.Service, RequestTimeout: 5 * time.Second,
		Heartbeat: 50 * time.Millisecond, Streams: limits, StreamWriteTimeout: 300 * time.Millisecond}))
	lst := &stallListener{Listener: ts.Listener}
	ts.Listener = lst
	ts.Start()
	t.Cleanup(ts.Close)
	return &streamEnv{url: ts.URL, svc: env.Service, sc: sc, key: key, lst: lst, tracer: tracer}
}

// sse is an open event stream, or a refusal.
type sse struct {
	*apitest.Stream
	status int
	code   string // the problem's, for a refusal
}

func (s *sse) close() { s.Close() }

// open opens an event stream with key.
func (e *streamEnv) open(t *testing.T, key string) *sse {
	t.Helper()
	st := apitest.NewClient(t, e.url).As(key).Stream("/api/v3/organisations/streams/events/stream")
	s := &sse{Stream: st, status: st.Status}
	if st.Status != http.StatusOK {
		s.code = st.ProblemCode()
	}
	return s
}

// endsWith waits for the stream to end, and reports whether its last comment
// contained text.
func (s *sse) endsWith(text string, timeout time.Duration) bool {
	return s.EndsWith(text, timeout)
}

// opens reports whether a stream with key opens (it is closed again at once).
func (e *streamEnv) opens(t *testing.T, key string) bool {
	t.Helper()
	s := e.open(t, key)
	defer s.close()
	return s.status == http.StatusOK
}

func (s *sse) expect(t *testing.T, status int, code string) {
	t.Helper()
	if s.status != status || s.code != code {
		t.Fatalf("stream: got %d %q, want %d %q", s.status, s.code, status, code)
	}
}

func (e *streamEnv) newKey(t *testing.T) string {
	t.Helper()
	meta, _ := command.NewMeta("", e.sc.ActorID, nil, time.Now())
	cmd, err := tenancy.NewCreateAPIKey(meta, tenancy.CreateAPIKeyInput{Name: "reader", Role: "read"})
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := e.svc.CreateAPIKey(context.Background(), e.sc, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return k.Key
}

// TestStreamCaps: streams are capped per key, per organisation and per
// instance, each refusal a 429 too_many_streams; a closed stream frees its place.
func TestStreamCaps(t *testing.T) {
	t.Parallel()
	e := newStreamEnv(t, httpapi.StreamLimits{PerKey: 2, PerOrganisation: 3, PerInstance: 100})
	var open []*sse
	for range 2 {
		s := e.open(t, e.key)
		s.expect(t, http.StatusOK, "")
		open = append(open, s)
	}
	e.open(t, e.key).expect(t, http.StatusTooManyRequests, "too_many_streams")
	other := e.newKey(t)
	e.open(t, other).expect(t, http.StatusOK, "")
	e.open(t, other).expect(t, http.StatusTooManyRequests, "too_many_streams")
	open[0].close()
	deadline := time.Now().Add(5 * time.Second)
	for !e.opens(t, other) {
		if time.Now().After(deadline) {
			t.Fatal("a closed stream must free its place")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStreamCapPerInstance: whatever the keys and organisations, one instance
// holds at most its cap of streams.
func TestStreamCapPerInstance(t *testing.T) {
	t.Parallel()
	e := newStreamEnv(t, httpapi.StreamLimits{PerKey: 10, PerOrganisation: 10, PerInstance: 2})
	e.open(t, e.key).expect(t, http.StatusOK, "")
	e.open(t, e.key).expect(t, http.StatusOK, "")
	e.open(t, e.newKey(t)).expect(t, http.StatusTooManyRequests, "too_many_streams")
}

// TestStalledStreamClientIsDropped: a client that stops reading loses its
// stream at the next write's deadline, and its place with it, instead of
// holding a goroutine (and a stream slot) blocked in Write forever.
func TestStalledStreamClientIsDropped(t *testing.T) {
	t.Parallel()
	e := newStreamEnv(t, httpapi.StreamLimits{PerKey: 1, PerOrganisation: 10, PerInstance: 100})
	e.open(t, e.key).expect(t, http.StatusOK, "")
	e.lst.stallAll() // the client stops reading; the heartbeats (every 50 ms) now block
	deadline := time.Now().Add(10 * time.Second)
	for !e.opens(t, e.key) {
		if time.Now().After(deadline) {
			t.Fatal("the stalled stream still holds the key's only place after 10 s: its writes have no deadline")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestHeartbeatsDoNotLookUpTheKey: streams re-check their key at every
// heartbeat through the instance's credential cache, so a stream costs one key
// lookup when it opens, not one per heartbeat; a revocation still ends them.
func TestHeartbeatsDoNotLookUpTheKey(t *testing.T) {
	t.Parallel()
	e := newStreamEnv(t, httpapi.StreamLimits{PerKey: 5, PerOrganisation: 10, PerInstance: 100})
	var streams []*sse
	for range 5 {
		s := e.open(t, e.key)
		s.expect(t, http.StatusOK, "")
		streams = append(streams, s)
	}
	before := e.tracer.lookups.Load()
	time.Sleep(time.Second) // 5 streams × 20 heartbeats
	if n := e.tracer.lookups.Load() - before; n > 0 {
		t.Errorf("5 streams heartbeating every 50 ms for 1 s looked the key up %d times, want 0 within %s", n, tenancy.RecheckInterval)
	}
	meta, _ := command.NewMeta("", e.sc.ActorID, nil, time.Now())
	if _, _, err := e.svc.RevokeAPIKey(context.Background(), e.sc, tenancy.RevokeAPIKey{Meta: meta, KeyID: e.sc.ActorID}); err != nil {
		t.Fatal(err)
	}
	for i, s := range streams {
		if !s.endsWith("no longer valid", 5*time.Second) {
			t.Fatalf("stream %d of a revoked key must end within 5 s, saying so", i)
		}
	}
}
