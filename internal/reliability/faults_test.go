package reliability_test

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// attempt is one request of a load generator: what was asked, when, and what
// came back.
type attempt struct {
	key     string
	body    map[string]any
	sent    time.Time
	latency time.Duration
	status  int // 0: no answer
	err     error
	id      uuid.UUID
}

// loadGen books distinct stays (so nothing conflicts) with fresh keys from a
// few clients until stopped, recording every attempt. It never retries: the
// test replays the unanswered ones afterwards.
type loadGen struct {
	c     *client
	items []uuid.UUID
	next  atomic.Int64
	mu    sync.Mutex
	log   []attempt
}

func (g *loadGen) request() (string, map[string]any) {
	n := int(g.next.Add(1))
	in := today().AddDate(0, 0, 10+2*(n/len(g.items)))
	return uuid.NewString(), bookingRequest(g.items[n%len(g.items)], in, in.AddDate(0, 0, 2))
}

func (g *loadGen) run(ctx context.Context, clients int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				key, body := g.request()
				a := attempt{key: key, body: body, sent: time.Now()}
				r, err := g.c.do(context.Background(), http.MethodPost, "/bookings", body, apitest.IdempotencyKey(key))
				a.latency, a.status, a.err = time.Since(a.sent), r.Status, err
				if r.Status == http.StatusCreated {
					a.id = outcomeOf(r).id
				}
				g.mu.Lock()
				g.log = append(g.log, a)
				g.mu.Unlock()
				if err != nil || r.Status != http.StatusCreated {
					time.Sleep(20 * time.Millisecond) // do not spin while the database is away
				}
			}
		})
	}
	return &wg
}

// between returns the attempts sent in [from, to) and answered before to.
func (g *loadGen) between(from, to time.Time) []attempt {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []attempt
	for _, a := range g.log {
		if !a.sent.Before(from) && a.sent.Add(a.latency).Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// acknowledged maps the key of every attempt answered 201 to its booking.
func (g *loadGen) acknowledged() map[string]uuid.UUID {
	g.mu.Lock()
	defer g.mu.Unlock()
	acked := map[string]uuid.UUID{}
	for _, a := range g.log {
		if a.status == http.StatusCreated {
			acked[a.key] = a.id
		}
	}
	return acked
}

// checkAcknowledged asserts what a load must leave once every unanswered
// request was replayed (final: the booking each key ended with): the database
// is whole (checkIntegrity), every acknowledged booking is the one its key
// ended with and is stored exactly once, and the database holds one booking
// per key, so no request was executed twice or lost.
func checkAcknowledged(t *testing.T, db *pgtest.DB, acked, final map[string]uuid.UUID) {
	t.Helper()
	checkIntegrity(t, db)
	for key, id := range acked {
		if final[key] != id {
			t.Errorf("key %s: acknowledged as booking %s, its replay gave %s", key, id, final[key])
		}
		if n := db.Int(t, "SELECT count(*) FROM bookings WHERE id = $1", id); n != 1 {
			t.Errorf("acknowledged booking %s is stored %d times", id, n)
		}
	}
	if n := db.Int(t, "SELECT count(*) FROM bookings"); n != len(final) {
		t.Errorf("the database holds %d bookings for %d keys: a request was executed twice or lost", n, len(final))
	}
}

// replay resends every unacknowledged attempt with its key until it gets a
// definitive answer, and returns the booking id each key ended with.
func (g *loadGen) replay(t *testing.T, deadline time.Duration) map[string]uuid.UUID {
	t.Helper()
	final := map[string]uuid.UUID{}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for _, a := range g.log {
		if a.status == http.StatusCreated {
			final[a.key] = a.id
			continue
		}
		for {
			r, err := g.c.do(ctx, http.MethodPost, "/bookings", a.body, apitest.IdempotencyKey(a.key))
			if ctx.Err() != nil {
				t.Fatalf("key %s: no definitive answer to its replay within %s (last: %v %d %s)", a.key, deadline, err, r.Status, r.Body)
			}
			if retryable(r, err) {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if r.Status != http.StatusCreated {
				t.Fatalf("key %s: its replay was answered %d %s; nothing conflicts, so it must be booked", a.key, r.Status, r.Body)
			}
			final[a.key] = outcomeOf(r).id
			break
		}
	}
	return final
}

// awaitBooking lets the load run for at least atLeast, and then until an
// attempt sent since since was booked, for 30 s at most (the caller checks
// what the load got).
func (g *loadGen) awaitBooking(since time.Time, atLeast time.Duration) {
	start := time.Now()
	testenv.Poll(30*time.Second, func() bool {
		return time.Since(start) >= atLeast && recovered(g.between(since, time.Now()))
	})
}

// recovered reports whether any of as was booked.
func recovered(as []attempt) bool {
	for _, a := range as {
		if a.status == http.StatusCreated {
			return true
		}
	}
	return false
}

func summarise(as []attempt) string {
	by := map[string]int{}
	var lat []time.Duration
	for _, a := range as {
		k := fmt.Sprint(a.status)
		if a.err != nil {
			k = "error"
		}
		by[k]++
		lat = append(lat, a.latency)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		return "no answers"
	}
	return fmt.Sprintf("%v, latency median %s max %s", by, lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
}

// TestDatabaseFaults books under load while PostgreSQL is first frozen (docker
// pause) and then stopped and started again. While it is gone the server must
// answer 503 within its request deadline (plus the bounded release of a claim),
// never hang and never 500; it must recover by itself once the database is
// back; and after clients replay every unanswered request with its key, every
// acknowledged booking is stored exactly once and nothing is duplicated.
func TestDatabaseFaults(t *testing.T) {
	t.Parallel()
	const requestTimeout = 2 * time.Second
	pg := pgtest.StartOwned(t)
	url := pg.URL("postgres")
	if err := dbmigrate.Up(url); err != nil {
		t.Fatal(err)
	}
	sdb, err := scope.Open(context.Background(), url, scope.Config{MaxConns: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sdb.Close)
	svc := service.New(sdb, service.Config{})
	meta, _ := command.NewMeta("", uuid.Nil, nil, time.Now())
	cmd, _ := tenancy.NewCreateOrganisation(meta, tenancy.CreateOrganisationInput{Slug: "faults", Name: "Faults"})
	org, _, err := svc.CreateOrganisation(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	tn := tenant{sc: scope.Scope{OrganisationID: org.ID, ActorID: org.APIKey.ID, Role: scope.RoleAdmin}, slug: "faults", key: org.APIKey.Key}
	var items []uuid.UUID
	for range 4 {
		items = append(items, addItem(t, svc, tn.sc, "room"))
	}
	g := &loadGen{c: newClient(t, serve(t, svc, requestTimeout), tn, 30*time.Second), items: items}
	// The longest a request may take while the database is away: its deadline,
	// then the bounded release of its claim, and scheduling slack.
	const bound = requestTimeout + 2*time.Second + 1500*time.Millisecond

	ctx, stopLoad := context.WithCancel(context.Background())
	wg := g.run(ctx, 6)
	step := func(what string, f func(context.Context) error) time.Time {
		t.Helper()
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := f(sctx); err != nil {
			stopLoad()
			wg.Wait()
			t.Fatalf("%s: %v", what, err)
		}
		return time.Now()
	}
	// Some load before the faults: at least 1.5 s, and until a booking
	// succeeded (the first ones also open the pool's connections, which a
	// loaded machine under -race takes seconds to do).
	g.awaitBooking(time.Time{}, 1500*time.Millisecond)
	paused := step("pause", pg.Pause)
	// Long enough for requests that arrive while it is frozen to reach their
	// deadline (those in flight at the pause also release their claims first).
	time.Sleep(8 * time.Second)
	unpaused := step("unpause", pg.Unpause)
	time.Sleep(2 * time.Second)
	stopping := time.Now()
	stopped := step("stop", pg.Stop)
	time.Sleep(2 * time.Second)
	restarting := time.Now()
	started := step("start", pg.Start)
	// Recovery: at least 5 s of load after the restart, and up to 30 s until a
	// booking succeeds (a loaded machine answers slowly, not never).
	g.awaitBooking(started, 5*time.Second)
	stopLoad()
	wg.Wait()

	before := g.between(time.Time{}, paused)
	whileStopped := g.between(stopped, restarting)
	after := g.between(started, time.Now())
	t.Logf("before: %s", summarise(before))
	t.Logf("paused %s: %s", unpaused.Sub(paused).Round(time.Millisecond), summarise(g.between(paused, unpaused)))
	t.Logf("stopping took %s; stopped: %s", stopped.Sub(stopping).Round(time.Millisecond), summarise(whileStopped))
	t.Logf("restart took %s; after: %s", started.Sub(restarting).Round(time.Millisecond), summarise(after))

	for _, a := range g.log {
		if a.err != nil {
			t.Errorf("a request got no answer within 30 s (%v): the server must answer while the database is away", a.err)
			continue
		}
		if a.status != http.StatusCreated && a.status != http.StatusServiceUnavailable {
			t.Errorf("a request was answered %d: while the database is away the answer is 503, else 201", a.status)
		}
		if a.status == http.StatusServiceUnavailable && a.latency > bound {
			t.Errorf("a 503 took %s: it must come within the request deadline (%s) plus the bounded claim release", a.latency, requestTimeout)
		}
	}
	count := func(as []attempt, status int) (n int) {
		for _, a := range as {
			if a.status == status {
				n++
			}
		}
		return n
	}
	if count(before, http.StatusCreated) == 0 {
		t.Error("nothing was booked before the faults")
	}
	if count(g.between(paused, unpaused), http.StatusServiceUnavailable) == 0 {
		t.Error("no request was answered 503 while the database was frozen")
	}
	if count(whileStopped, http.StatusServiceUnavailable) == 0 {
		t.Error("no request was answered 503 while the database was stopped")
	}
	for _, a := range whileStopped {
		if a.status == http.StatusServiceUnavailable && a.latency > time.Second {
			t.Errorf("a 503 while the database was stopped took %s: a refused connection must fail fast", a.latency)
		}
	}
	if !recovered(after) {
		t.Error("the server did not recover by itself: nothing was booked within 30 s of the database coming back")
	}

	// Replay every unanswered request with its key, then check the database.
	acked := g.acknowledged()
	final := g.replay(t, time.Minute)
	checkAcknowledged(t, pgtest.Superuser(t, url), acked, final)
	t.Logf("%d requests, %d acknowledged at once, %d booked by their replay", len(g.log), len(acked), len(final)-len(acked))
}
