package e2e

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// startServe starts `api serve` from bin with the rate limit off and the
// environment given (nothing else of the test's own).
func startServe(t *testing.T, bin string, env ...string) *testenv.API {
	t.Helper()
	return testenv.StartAPI(t, bin, append([]string{"VACANCY_RATE_LIMIT=off"}, env...)...)
}

// lockItems holds an exclusive lock on the items table until release, so
// requests touching items wait in PostgreSQL: requests in flight for as long
// as the test wants. waiting counts the statements queued behind it.
func lockItems(t *testing.T, env *testenv.Env) (waiting func() int, release func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := env.Superuser.Conn(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE items IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	waiting = func() int {
		return env.Superuser.Int(t, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND state = 'active'`)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback(ctx) }) }
	t.Cleanup(release)
	return waiting, release
}

type result struct {
	status int
	err    error
}

// inFlight starts n requests that need the items table: half list, half create.
func inFlight(t *testing.T, base, key string, n int) []chan result {
	c := apitest.NewClient(t, base).As(key).Using(fresh)
	out := make([]chan result, n)
	for i := range out {
		out[i] = make(chan result, 1)
		go func() {
			const items = "/api/v3/organisations/draining/items"
			var r *apitest.Response
			var err error
			if i%2 == 0 {
				r, err = c.Send(context.Background(), http.MethodGet, items, nil)
			} else {
				r, err = c.Send(context.Background(), http.MethodPost, items, item("Room"))
			}
			out[i] <- result{r.Status, err}
		}()
	}
	return out
}

// TestSIGTERMLetsInFlightRequestsFinish: on SIGTERM /readyz turns 503 at
// once, the listener closes after VACANCY_SHUTDOWN_DELAY, the requests
// already in flight still complete normally, and the process exits 0.
func TestSIGTERMLetsInFlightRequestsFinish(t *testing.T) {
	t.Parallel()
	bin := buildAPI(t, t.TempDir(), "")
	env := testenv.New(t)
	_, key := env.Organisation(t, "draining")
	const delay = 1500 * time.Millisecond
	p := startServe(t, bin, "DATABASE_URL="+env.URL, "VACANCY_SHUTDOWN_DELAY="+delay.String(), "VACANCY_SHUTDOWN_TIMEOUT=20s")
	probe := apitest.NewClient(t, p.URL).Using(fresh)
	readyz := func() (*apitest.Response, error) {
		return probe.Send(context.Background(), http.MethodGet, "/readyz", nil)
	}
	if r, err := readyz(); err != nil || r.Status != http.StatusOK {
		t.Fatalf("readyz before shutdown: %d %s %v", r.Status, r.Body, err)
	}

	waiting, release := lockItems(t, env)
	const n = 4
	results := inFlight(t, p.URL, key, n)
	if !testenv.Poll(10*time.Second, func() bool { return waiting() == n }) {
		t.Fatalf("the %d requests did not reach PostgreSQL (%d waiting)", n, waiting())
	}

	signalled := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var ready *apitest.Response
	if !testenv.Poll(delay/2, func() bool {
		ready, _ = readyz()
		return ready.Status == http.StatusServiceUnavailable
	}) {
		t.Fatalf("readyz must answer 503 as soon as the shutdown starts, got %d", ready.Status)
	}
	if r, _ := readyz(); r.Status != http.StatusServiceUnavailable || r.ProblemCode() != "shutting_down" {
		t.Errorf("readyz during the shutdown delay: want 503 shutting_down, got %d %s", r.Status, r.Body)
	}

	var refusedAt time.Time
	if !testenv.Poll(delay+5*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(p.URL, "http://"), time.Second)
		if err == nil {
			c.Close()
			return false
		}
		refusedAt = time.Now()
		return true
	}) {
		t.Fatal("the listener did not close")
	}
	if refusedAt.Sub(signalled) < delay {
		t.Errorf("the listener closed %v after SIGTERM, before VACANCY_SHUTDOWN_DELAY (%v)", refusedAt.Sub(signalled), delay)
	}
	if w := waiting(); w != n {
		t.Fatalf("in-flight requests must still be running when the listener closes: %d of %d", w, n)
	}
	select {
	case <-p.Exited():
		t.Fatalf("the process exited with requests in flight: %v\n%s", p.Err(), p.Logs)
	default:
	}

	release()
	for i, ch := range results {
		r := <-ch
		if r.err != nil || (r.status != http.StatusOK && r.status != http.StatusCreated) {
			t.Errorf("in-flight request %d must complete normally, got %d %v", i, r.status, r.err)
		}
	}
	select {
	case <-p.Exited():
		if p.Err() != nil {
			t.Errorf("the process must exit 0 after a graceful shutdown, got %v\n%s", p.Err(), p.Logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the process did not exit after its requests finished\n%s", p.Logs)
	}
	for _, msg := range []string{"shutting down", "stopped"} {
		if p.Logs.Find(msg) == nil {
			t.Errorf("no %q log line:\n%s", msg, p.Logs)
		}
	}
	t.Logf("SIGTERM to exit: %v (delay %v)", time.Since(signalled).Round(time.Millisecond), delay)
}

// TestShutdownTimeoutCancelsStragglers: requests still running when
// VACANCY_SHUTDOWN_TIMEOUT is over are cancelled (in PostgreSQL too), and the
// process exits non-zero so the orchestrator knows the stop was not clean.
func TestShutdownTimeoutCancelsStragglers(t *testing.T) {
	t.Parallel()
	bin := buildAPI(t, t.TempDir(), "")
	env := testenv.New(t)
	_, key := env.Organisation(t, "draining")
	p := startServe(t, bin, "DATABASE_URL="+env.URL, "VACANCY_SHUTDOWN_TIMEOUT=1s")
	waiting, _ := lockItems(t, env)
	results := inFlight(t, p.URL, key, 2)
	if !testenv.Poll(10*time.Second, func() bool { return waiting() == 2 }) {
		t.Fatalf("requests did not reach PostgreSQL")
	}
	signalled := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
		var exit *exec.ExitError
		if !errors.As(p.Err(), &exit) || exit.ExitCode() != 1 {
			t.Errorf("a shutdown that ran out of time must exit 1, got %v", p.Err())
		}
		if !strings.Contains(p.Logs.String(), "shutdown: context deadline exceeded") {
			t.Errorf("the reason must be printed:\n%s", p.Logs)
		}
		if took := time.Since(signalled); took > 6*time.Second {
			t.Errorf("exit took %v with a 1 s shutdown timeout", took)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the process did not exit after its shutdown timeout")
	}
	for _, ch := range results {
		if r := <-ch; r.status == http.StatusOK || r.status == http.StatusCreated {
			t.Errorf("a request cut off by the shutdown timeout cannot have succeeded")
		}
	}
	if !testenv.Poll(3*time.Second, func() bool { return waiting() == 0 }) {
		t.Errorf("the cut-off statements must be cancelled in PostgreSQL, %d still waiting", waiting())
	}
}
