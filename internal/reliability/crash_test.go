package reliability_test

import (
	"context"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/testenv"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// apiBinary builds cmd/api once per test binary, with the race detector when
// the tests run with it.
func apiBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vacancy-reliability-")
		if err != nil {
			buildErr = err
			return
		}
		var flags []string
		if raceEnabled {
			flags = append(flags, "-race")
		}
		binary, buildErr = testenv.BuildAPI(dir, nil, flags...)
	})
	if buildErr != nil {
		t.Fatalf("build the api binary: %v", buildErr)
	}
	return binary
}

// startAPI runs `api serve` as a child process over databaseURL.
func startAPI(t testing.TB, databaseURL string, requestTimeout time.Duration) *testenv.API {
	t.Helper()
	return testenv.StartAPI(t, apiBinary(t), append(os.Environ(), "DATABASE_URL="+databaseURL, "VACANCY_ADDR=127.0.0.1:0",
		"VACANCY_REQUEST_TIMEOUT="+requestTimeout.String(),
		// The package's tests share one PostgreSQL (max_connections 200).
		"VACANCY_DB_MAX_CONNS=8",
		// Eight clients on one API key are far above the default per-key limit.
		"VACANCY_RATE_LIMIT=off")...)
}

// TestServerCrash SIGKILLs `api serve` in the middle of a booking load, starts
// it again, and replays every request that got no answer (or a 503 telling it
// to retry) with its Idempotency-Key (some were never executed, some committed
// just before the kill, some died holding their key's claim). Every
// acknowledged booking must be present exactly once, every key must end with
// exactly one booking, and nothing may be half-written: no booking without its
// items or its event, no command left running.
func TestServerCrash(t *testing.T) {
	t.Parallel()
	const requestTimeout = 5 * time.Second
	env := testenv.New(t)
	tn := newTenant(t, env, "crash")
	var items []uuid.UUID
	for range 6 {
		items = append(items, addItem(t, env.Service, tn.sc, "room"))
	}
	first := startAPI(t, env.URL, requestTimeout)
	g := &loadGen{c: newClient(t, first.URL, tn, 30*time.Second), items: items}

	ctx, stopLoad := context.WithCancel(context.Background())
	wg := g.run(ctx, 8)
	// Kill it once 150 attempts were answered, or after 20 s whatever the count.
	testenv.Poll(20*time.Second, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.log) >= 150
	})
	first.Kill()
	stopLoad()
	wg.Wait()

	acked := g.acknowledged()
	unanswered, timedOut := 0, 0
	for _, a := range g.log {
		switch {
		case a.status == http.StatusCreated:
		case a.err != nil:
			unanswered++
		case a.status == http.StatusServiceUnavailable:
			// The request deadline passed (a loaded machine, -race): the
			// answer tells the client to retry with the same key, and the
			// replay below does.
			timedOut++
		default:
			t.Errorf("before the crash a request was answered %d: want 201, or 503 to retry", a.status)
		}
	}
	if len(acked) == 0 || unanswered == 0 {
		t.Fatalf("the crash must fall between acknowledged and unanswered requests: %d acknowledged, %d unanswered", len(acked), unanswered)
	}

	second := startAPI(t, env.URL, requestTimeout)
	g.c = newClient(t, second.URL, tn, 30*time.Second)
	started := time.Now()
	final := g.replay(t, time.Minute)
	t.Logf("%d acknowledged before the kill, %d unanswered, %d answered 503; replays took %s", len(acked), unanswered, timedOut, time.Since(started).Round(time.Millisecond))

	checkAcknowledged(t, env.Superuser, acked, final)
	if n := env.Superuser.Int(t, "SELECT count(*) FROM commands WHERE state <> 'done'"); n != 0 {
		t.Errorf("%d commands are still marked running after every key was answered", n)
	}
}
