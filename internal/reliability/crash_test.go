package reliability_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
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

// apiBinary builds cmd/api once per test binary.
func apiBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vacancy-reliability-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "api")
		args := []string{"build", "-o", binary}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "github.com/vacancy-dev/vacancy/cmd/api")...).CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("go build: %s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build the api binary: %v", buildErr)
	}
	return binary
}

// apiProcess is `api serve` running as a child process.
type apiProcess struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

func startAPI(t testing.TB, databaseURL string, requestTimeout time.Duration) *apiProcess {
	t.Helper()
	cmd := exec.Command(apiBinary(t), "serve")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+databaseURL, "VACANCY_ADDR=127.0.0.1:0",
		"VACANCY_REQUEST_TIMEOUT="+requestTimeout.String(),
		// The package's tests share one PostgreSQL (max_connections 200).
		"VACANCY_DB_MAX_CONNS=8",
		// Eight clients on one API key are far above the default per-key limit.
		"VACANCY_RATE_LIMIT=off")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start api serve: %v", err)
	}
	p := &apiProcess{cmd: cmd, done: make(chan struct{})}
	t.Cleanup(p.kill)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "serving" {
				addr <- rec.Addr
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-p.done:
		t.Fatal("api serve exited before listening")
	case <-time.After(60 * time.Second):
		t.Fatal("api serve did not listen within 60 s")
	}
	return p
}

// kill ends the process with SIGKILL: no graceful shutdown, no deferred work.
func (p *apiProcess) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// TestServerCrash SIGKILLs `api serve` in the middle of a booking load, starts
// it again, and replays every request that got no answer with its
// Idempotency-Key (some were never executed, some committed just before the
// kill, some died holding their key's claim). Every acknowledged booking must be
// present exactly once, every key must end with exactly one booking, and
// nothing may be half-written: no booking without its items or its event, no
// command left running.
func TestServerCrash(t *testing.T) {
	t.Parallel()
	const requestTimeout = 3 * time.Second
	env := testenv.New(t)
	tn := newTenant(t, env, "crash")
	var items []uuid.UUID
	for range 6 {
		items = append(items, addItem(t, env.Service, tn.sc, "room"))
	}
	first := startAPI(t, env.URL, requestTimeout)
	g := &loadGen{c: newClient(first.base, tn, 30*time.Second), items: items}

	ctx, stopLoad := context.WithCancel(context.Background())
	wg := g.run(ctx, 8)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		g.mu.Lock()
		n := len(g.log)
		g.mu.Unlock()
		if n >= 150 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.kill()
	stopLoad()
	wg.Wait()

	acked := map[string]uuid.UUID{}
	unanswered := 0
	for _, a := range g.log {
		switch {
		case a.status == http.StatusCreated:
			acked[a.key] = a.id
		case a.err != nil:
			unanswered++
		default:
			t.Errorf("before the crash a request was answered %d: want 201", a.status)
		}
	}
	if len(acked) == 0 || unanswered == 0 {
		t.Fatalf("the crash must fall between acknowledged and unanswered requests: %d acknowledged, %d unanswered", len(acked), unanswered)
	}

	second := startAPI(t, env.URL, requestTimeout)
	g.c.base = second.base
	started := time.Now()
	final := g.replay(t, time.Minute)
	t.Logf("%d acknowledged before the kill, %d unanswered; replays took %s", len(acked), unanswered, time.Since(started).Round(time.Millisecond))

	db := superuser(t, env.URL)
	checkIntegrity(t, db)
	for key, id := range acked {
		if final[key] != id {
			t.Errorf("key %s: acknowledged as booking %s, its replay gave %s", key, id, final[key])
		}
		if n := queryInt(t, db, "SELECT count(*) FROM bookings WHERE id = $1", id); n != 1 {
			t.Errorf("acknowledged booking %s is stored %d times", id, n)
		}
	}
	if n := queryInt(t, db, "SELECT count(*) FROM bookings"); n != int64(len(final)) {
		t.Errorf("the database holds %d bookings for %d keys: a request was executed twice or lost", n, len(final))
	}
	if n := queryInt(t, db, "SELECT count(*) FROM commands WHERE state <> 'done'"); n != 0 {
		t.Errorf("%d commands are still marked running after every key was answered", n)
	}
}
