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

	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// process is `api serve` running as a child process.
type process struct {
	cmd    *exec.Cmd
	base   string
	logs   *logBuffer
	exited chan struct{} // closed once the process has exited
	err    error         // cmd.Wait's error, set before exited closes
}

func startServe(t *testing.T, bin string, env ...string) *process {
	t.Helper()
	p := &process{logs: &logBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve")
	p.cmd.Env = append([]string{"VACANCY_ADDR=127.0.0.1:0", "VACANCY_RATE_LIMIT=off"}, env...)
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	var serving map[string]any
	if !waitFor(20*time.Second, func() bool { serving = p.logs.find("serving"); return serving != nil }) {
		t.Fatalf("api serve did not start:\n%s", p.logs)
	}
	p.base = "http://" + serving["addr"].(string)
	return p
}

// lockItems holds an exclusive lock on the items table until release, so
// requests touching items wait in PostgreSQL: requests in flight for as long
// as the test wants. waiting counts the statements queued behind it.
func lockItems(t *testing.T, url string) (waiting func() int, release func()) {
	t.Helper()
	ctx := context.Background()
	owner, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { owner.Close(ctx) })
	tx, err := owner.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE items IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	watcher, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watcher.Close(ctx) })
	waiting = func() int {
		var n int
		if err := watcher.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND state = 'active'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
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
	out := make([]chan result, n)
	for i := range out {
		out[i] = make(chan result, 1)
		go func() {
			var st int
			var err error
			if i%2 == 0 {
				st, _, _, err = call(t, fresh, "GET", base+"/api/v3/organisations/draining/items", key, nil)
			} else {
				st, _, _, err = call(t, fresh, "POST", base+"/api/v3/organisations/draining/items", key, item("Room"))
			}
			out[i] <- result{st, err}
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
	if st, _, body, err := call(t, fresh, "GET", p.base+"/readyz", "", nil); err != nil || st != http.StatusOK {
		t.Fatalf("readyz before shutdown: %d %s %v", st, body, err)
	}

	waiting, release := lockItems(t, env.URL)
	const n = 4
	results := inFlight(t, p.base, key, n)
	if !waitFor(10*time.Second, func() bool { return waiting() == n }) {
		t.Fatalf("the %d requests did not reach PostgreSQL (%d waiting)", n, waiting())
	}

	signalled := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var readyz int
	if !waitFor(delay/2, func() bool {
		readyz, _, _, _ = call(t, fresh, "GET", p.base+"/readyz", "", nil)
		return readyz == http.StatusServiceUnavailable
	}) {
		t.Fatalf("readyz must answer 503 as soon as the shutdown starts, got %d", readyz)
	}
	st, _, body, _ := call(t, fresh, "GET", p.base+"/readyz", "", nil)
	if st != http.StatusServiceUnavailable || field(body, "code") != "shutting_down" {
		t.Errorf("readyz during the shutdown delay: want 503 shutting_down, got %d %s", st, body)
	}

	var refusedAt time.Time
	if !waitFor(delay+5*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(p.base, "http://"), time.Second)
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
	case <-p.exited:
		t.Fatalf("the process exited with requests in flight: %v\n%s", p.err, p.logs)
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
	case <-p.exited:
		if p.err != nil {
			t.Errorf("the process must exit 0 after a graceful shutdown, got %v\n%s", p.err, p.logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the process did not exit after its requests finished\n%s", p.logs)
	}
	for _, msg := range []string{"shutting down", "stopped"} {
		if p.logs.find(msg) == nil {
			t.Errorf("no %q log line:\n%s", msg, p.logs)
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
	waiting, _ := lockItems(t, env.URL)
	results := inFlight(t, p.base, key, 2)
	if !waitFor(10*time.Second, func() bool { return waiting() == 2 }) {
		t.Fatalf("requests did not reach PostgreSQL")
	}
	signalled := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		var exit *exec.ExitError
		if !errors.As(p.err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("a shutdown that ran out of time must exit 1, got %v", p.err)
		}
		if !strings.Contains(p.logs.String(), "shutdown: context deadline exceeded") {
			t.Errorf("the reason must be printed:\n%s", p.logs)
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
	if !waitFor(3*time.Second, func() bool { return waiting() == 0 }) {
		t.Errorf("the cut-off statements must be cancelled in PostgreSQL, %d still waiting", waiting())
	}
}
