package app_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/app"
	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// TestHungDatabaseGives503WithinTheDeadline freezes PostgreSQL (docker pause):
// connections stay open and nothing answers. Every request must end with 503
// database_unavailable soon after its deadline, and the server must recover
// by itself once the database runs again.
func TestHungDatabaseGives503WithinTheDeadline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := pgtest.StartOwnContainer(t) // its own: pausing the shared one would stall other tests
	if err := dbmigrate.Up(pg.URL); err != nil {
		t.Fatal(err)
	}
	d, err := scope.Open(ctx, pg.URL, scope.Config{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	org, err := app.CreateOrganisation(ctx, service.New(d, service.Config{}), "frozen", "Frozen Stays", "EUR", "UTC", 30)
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	key := org.APIKey.Key

	const timeout = time.Second
	srv := serve(t, pg.URL, map[string]string{"VACANCY_REQUEST_TIMEOUT": timeout.String(), "VACANCY_RATE_LIMIT": "off"})
	c := srv.client(t).As(key)
	const base = "/api/v3/organisations/frozen"
	res := c.Post(base+"/items", item("Ice Room"))
	if res.Status != http.StatusCreated {
		t.Fatalf("create item: %d %s", res.Status, res.Body)
	}
	itemID := res.Field("id")
	newBooking := map[string]any{"guest": map[string]any{"name": "Elsa", "email": "elsa@example.com"},
		"items": []any{stay(itemID, 20)}}

	if err := pg.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		name    string
		status  int
		code    string
		elapsed time.Duration
		limit   time.Duration
	}
	// After the deadline a query gets 250 ms to be cancelled before its
	// connection is dropped; 1.5 s of slack covers that and a busy machine.
	slack := 1500 * time.Millisecond
	// Every probe carries the API key and the booking's Idempotency-Key; the
	// contract declares the key only on the POST.
	breach := apitest.BreaksContract("an Idempotency-Key on a GET")
	probes := []struct {
		name, method, path string
		body               any
		limit              time.Duration
		opts               []apitest.Option
	}{
		{"list items", "GET", base + "/items", nil, timeout + slack, []apitest.Option{breach}},
		// A command also releases its idempotency claim, for at most 2 s more
		// (the key was authenticated a moment ago, so the command, not the key
		// lookup, meets the frozen database).
		{"create booking", "POST", base + "/bookings", newBooking, timeout + 2*time.Second + slack, nil},
		{"readyz", "GET", "/readyz", nil, 2*time.Second + slack, []apitest.Option{breach}},
	}
	results := make([]outcome, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() {
			start := time.Now()
			// Do reports a transport failure with t.Errorf, which is safe here.
			res := c.Do(p.method, p.path, p.body, append(p.opts, apitest.IdempotencyKey("frozen-booking"))...)
			results[i] = outcome{p.name, res.Status, res.ProblemCode(), time.Since(start), p.limit}
		})
	}
	wg.Wait()
	for _, r := range results {
		t.Logf("%s while the database is frozen: %d %s after %v", r.name, r.status, r.code, r.elapsed.Round(time.Millisecond))
		if r.status != http.StatusServiceUnavailable || r.code != "database_unavailable" {
			t.Errorf("%s: want 503 database_unavailable, got %d %q", r.name, r.status, r.code)
		}
		if r.elapsed > r.limit {
			t.Errorf("%s took %v: it must end within %v", r.name, r.elapsed, r.limit)
		}
	}

	if err := pg.Unpause(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var last *apitest.Response
	if !testenv.Poll(15*time.Second, func() bool {
		last = c.Get(base + "/items")
		return last.Status == http.StatusOK
	}) {
		t.Fatalf("the server did not recover within 15 s of the database coming back: %d %s", last.Status, last.Body)
	}
	t.Logf("recovered %v after the database came back", time.Since(start).Round(time.Millisecond))
	// The booking refused while frozen changed nothing: the same key books now.
	res = c.Post(base+"/bookings", newBooking, apitest.IdempotencyKey("frozen-booking"))
	if res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("a retry with the same Idempotency-Key must run the booking now: %d %s", res.Status, res.Body)
	}
	if res := srv.client(t).Get("/readyz"); res.Status != http.StatusOK {
		t.Errorf("ready again: %d %s", res.Status, res.Body)
	}
}

// TestStatementsAreCancelled checks the deadline and the client's departure
// reach PostgreSQL itself: the statement stops there, it is not merely
// abandoned by the server (which would leave it holding or waiting for locks).
func TestStatementsAreCancelled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testenv.New(t)
	_, key := env.Organisation(t, "blocked")
	short := serve(t, env.URL, map[string]string{"VACANCY_REQUEST_TIMEOUT": "1s", "VACANCY_RATE_LIMIT": "off", "VACANCY_WORKERS": "false",
		"VACANCY_METRICS_ADDR": "127.0.0.1:0"})
	long := serve(t, env.URL, map[string]string{"VACANCY_REQUEST_TIMEOUT": "60s", "VACANCY_RATE_LIMIT": "off", "VACANCY_WORKERS": "false"})
	const items = "/api/v3/organisations/blocked/items"

	if res := short.client(t).As(key).Get(items); res.Status != http.StatusOK {
		t.Fatalf("warm up: %d %s", res.Status, res.Body)
	}
	newConns := func() float64 {
		m, ok := sample(scrape(t, short.metrics), "vacancy_db_pool_new_connections_total", nil)
		if !ok {
			t.Fatal("no vacancy_db_pool_new_connections_total")
		}
		return value(m)
	}
	connsBefore := newConns()

	tx, err := env.Superuser.Conn(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE items IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	waiting := func() int {
		return env.Superuser.Int(t, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND state = 'active'`)
	}
	gone := func(what string) {
		t.Helper()
		testenv.Eventually(t, 2*time.Second, "PostgreSQL ends the statement "+what, func() bool { return waiting() == 0 })
	}

	res := short.client(t).As(key).Get(items)
	if res.Status != http.StatusServiceUnavailable || res.ProblemCode() != "database_unavailable" {
		t.Fatalf("a statement past the deadline: want 503 database_unavailable, got %d %s", res.Status, res.Body)
	}
	gone("after the deadline")

	impatient := long.client(t).As(key).Using(&http.Client{Timeout: 300 * time.Millisecond})
	if _, err := impatient.Send(ctx, http.MethodGet, items, nil); err == nil {
		t.Fatal("the request should have been blocked by the lock")
	}
	gone("after the client went away")

	// The cancelled statement's connection was kept: PostgreSQL confirmed the
	// cancellation, so nothing had to reconnect (a slow database is not also
	// hit by a storm of new connections).
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if res := short.client(t).As(key).Get(items); res.Status != http.StatusOK {
		t.Fatalf("after the lock is gone: %d %s", res.Status, res.Body)
	}
	if after := newConns(); after != connsBefore {
		t.Errorf("the pool opened %v new connections: a cancelled statement must not cost its connection", after-connsBefore)
	}
}
