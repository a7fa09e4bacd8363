package reliability_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// slowLink is a TCP proxy between the server's pool and PostgreSQL, running in
// the test process, that can delay every answer from the database.
type slowLink struct {
	proxy *toxiproxy.Proxy
	url   string // the database URL through the proxy
}

func newSlowLink(t testing.TB, databaseURL string) *slowLink {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(api, "postgres", "127.0.0.1:0", u.Host)
	if err := p.Start(); err != nil {
		t.Fatalf("start proxy: %v", err)
	}
	t.Cleanup(p.Stop)
	u.Host = p.Listen
	return &slowLink{proxy: p, url: u.String()}
}

// slow delays every packet from PostgreSQL by about latency.
func (l *slowLink) slow(t testing.TB, latency time.Duration) {
	t.Helper()
	ms := latency.Milliseconds()
	js, _ := json.Marshal(map[string]any{"name": "slow", "type": "latency", "stream": "downstream",
		"attributes": map[string]int64{"latency": ms, "jitter": ms / 2}})
	if _, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(string(js))); err != nil {
		t.Fatalf("add latency: %v", err)
	}
}

// heal removes the delay; it may be called from any goroutine.
func (l *slowLink) heal(t testing.TB) {
	t.Helper()
	if err := l.proxy.Toxics.RemoveToxic(context.Background(), "slow"); err != nil {
		t.Errorf("remove latency: %v", err)
	}
}

// outcome is the definitive answer a client got for one idempotency key.
type outcome struct {
	status   int
	code     string    // problem code, for refusals
	id       uuid.UUID // booking id, for 201
	replayed bool
}

func outcomeOf(r *apitest.Response) outcome {
	o := outcome{status: r.Status, replayed: r.Header.Get("Idempotent-Replayed") == "true"}
	if r.Status == http.StatusCreated {
		var b bookingBody
		_ = json.Unmarshal(r.Body, &b)
		o.id = b.ID
	} else {
		o.code = r.ProblemCode()
	}
	return o
}

// retryable reports answers after which a client retries with the same key:
// no answer at all (it gave up waiting), the database being unavailable, or the
// first attempt still executing.
func retryable(r *apitest.Response, err error) bool {
	if err != nil {
		return true
	}
	return r.Status == http.StatusServiceUnavailable ||
		(r.Status == http.StatusConflict && r.ProblemCode() == domain.CodeKeyInUse)
}

// TestRetriesWhileTheServerIsSlow: clients give up after 0.3 to 1.2 s and retry
// with the same Idempotency-Key while every database round trip of the server
// takes 20 to 60 ms (a booking takes about as long as a client waits), then the
// database speeds up again. Some attempts are cut off before they commit, some
// after (the client never hears of the booking), some retries arrive while an
// earlier attempt still holds the key. Every key must end with exactly one outcome: one booking, or
// one refusal, that every later retry replays.
func TestRetriesWhileTheServerIsSlow(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	tn := newTenant(t, env, "retries")
	link := newSlowLink(t, env.URL)
	// A small pool: the package's tests share one PostgreSQL (max_connections 200).
	sdb, err := scope.Open(context.Background(), link.url, scope.Config{MaxConns: 12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sdb.Close)
	svc := service.New(sdb, service.Config{})
	base := serve(t, svc, 30*time.Second)
	impatient := newClient(t, base, tn, time.Minute)

	// 8 items; on each, two requests for overlapping stays (one of them must be
	// refused) and one for a stay of its own.
	type request struct {
		key  string
		body map[string]any
	}
	var reqs []request
	start := today().AddDate(0, 0, 30)
	for i := range 8 {
		item := addItem(t, env.Service, tn.sc, "room")
		in := start.AddDate(0, 0, 7*i)
		for _, stay := range [][2]int{{0, 3}, {1, 4}, {4, 6}} {
			reqs = append(reqs, request{key: uuid.NewString(),
				body: bookingRequest(item, in.AddDate(0, 0, stay[0]), in.AddDate(0, 0, stay[1]))})
		}
	}

	link.slow(t, 40*time.Millisecond)
	healed := make(chan struct{})
	time.AfterFunc(8*time.Second, func() { link.heal(t); close(healed) })

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var (
		mu       sync.Mutex
		final    = map[string]outcome{}
		attempts = map[string]int{}
		timeouts int
		replays  int
		inUse    int
	)
	var wg sync.WaitGroup
	for i, rq := range reqs {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				actx, cancel := context.WithTimeout(ctx, time.Duration(300+rng.IntN(900))*time.Millisecond)
				r, err := impatient.do(actx, http.MethodPost, "/bookings", rq.body, apitest.IdempotencyKey(rq.key))
				cancel()
				mu.Lock()
				attempts[rq.key]++
				if errors.Is(err, context.DeadlineExceeded) {
					timeouts++
				}
				if err == nil && r.Status == http.StatusConflict && r.ProblemCode() == domain.CodeKeyInUse {
					inUse++
				}
				mu.Unlock()
				if retryable(r, err) {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				o := outcomeOf(r)
				mu.Lock()
				final[rq.key] = o
				if o.replayed {
					replays++
				}
				mu.Unlock()
				return
			}
		})
	}
	wg.Wait()
	<-healed
	t.Logf("%d requests: %d client timeouts, %d answered idempotency_key_in_use, %d first definitive answers were replays",
		len(reqs), timeouts, inUse, replays)
	if timeouts == 0 {
		t.Fatal("no attempt timed out: the database was not slow enough to test retries")
	}

	// Every key got a definitive answer: a booking, or a clean conflict.
	created := 0
	for _, rq := range reqs {
		o, ok := final[rq.key]
		switch {
		case !ok:
			t.Errorf("key %s: no definitive answer after %d attempts in 90 s", rq.key, attempts[rq.key])
		case o.status == http.StatusCreated:
			created++
		case o.status == http.StatusConflict && o.code == domain.CodeBookingConflict:
		default:
			t.Errorf("key %s: answered %d %s; want 201 or 409 booking_conflict", rq.key, o.status, o.code)
		}
	}
	if created != 16 {
		t.Errorf("%d bookings: on every item exactly two of the three stays fit", created)
	}

	// Every retry now replays the outcome the client got.
	patient := newClient(t, base, tn, 30*time.Second)
	for _, rq := range reqs {
		r, err := patient.do(context.Background(), http.MethodPost, "/bookings", rq.body, apitest.IdempotencyKey(rq.key))
		if err != nil {
			t.Fatal(err)
		}
		got, want := outcomeOf(r), final[rq.key]
		if !got.replayed || got.status != want.status || got.id != want.id || got.code != want.code {
			t.Errorf("key %s: a retry got %+v; the client's answer was %+v (it must be replayed as is)", rq.key, got, want)
		}
	}

	db := env.Superuser
	checkIntegrity(t, db)
	if n := db.Int(t, "SELECT count(*) FROM bookings"); n != created {
		t.Errorf("the database holds %d bookings for %d acknowledged creations: a retry was executed twice", n, created)
	}
	for _, rq := range reqs {
		o := final[rq.key]
		n := db.Int(t, "SELECT count(*) FROM events WHERE type = 'booking.created' AND command_id = $1", rq.key)
		want := 0
		if o.status == http.StatusCreated {
			want = 1
			if m := db.Int(t, "SELECT count(*) FROM events WHERE command_id = $1 AND data->>'id' = $2", rq.key, o.id.String()); m != 1 {
				t.Errorf("key %s: the stored booking is not the one the client was given (%s)", rq.key, o.id)
			}
		}
		if n != want {
			t.Errorf("key %s (answered %d): %d bookings created, want %d", rq.key, o.status, n, want)
		}
	}
	if n := db.Int(t, "SELECT count(*) FROM commands WHERE state <> 'done'"); n != 0 {
		t.Errorf("%d commands are still marked running after every client got its answer", n)
	}
}
