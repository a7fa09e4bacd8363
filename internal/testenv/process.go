package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BuildAPI compiles cmd/api into dir with extra go build flags and environment
// (-race; CGO_ENABLED=0 GOOS=linux for an image) and returns the binary's path.
func BuildAPI(dir string, env []string, flags ...string) (string, error) {
	out := filepath.Join(dir, "api")
	args := append(append([]string{"build", "-o", out}, flags...), "github.com/vacancy-dev/vacancy/cmd/api")
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/api: %w\n%s", err, b)
	}
	return out, nil
}

// API is `api serve` running as a child process of the test, as in production.
type API struct {
	// URL is where it serves, http://127.0.0.1:port, from its serving log line.
	URL string
	// Logs is its stdout and stderr.
	Logs *Log

	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited
	err    error         // cmd.Wait's error, set before exited closes
}

// StartAPI runs `bin serve` with exactly env (nothing of the test's own
// environment unless env holds it), listening on 127.0.0.1:0 unless env sets
// VACANCY_ADDR, and waits up to a minute for its serving log line. A process
// still running when the test ends is killed.
func StartAPI(t testing.TB, bin string, env ...string) *API {
	t.Helper()
	a := &API{Logs: &Log{}, exited: make(chan struct{})}
	a.cmd = exec.Command(bin, "serve")
	a.cmd.Env = append([]string{"VACANCY_ADDR=127.0.0.1:0"}, env...)
	a.cmd.Stdout, a.cmd.Stderr = a.Logs, a.Logs
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("start api serve: %v", err)
	}
	go func() {
		a.err = a.cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(a.Kill)
	var serving map[string]any
	exited := false
	Poll(time.Minute, func() bool {
		select {
		case <-a.exited:
			exited = true
			return true
		default:
		}
		serving = a.Logs.Find("serving")
		return serving != nil
	})
	switch {
	case exited:
		t.Fatalf("api serve exited before serving: %v\n%s", a.err, a.Logs)
	case serving == nil:
		t.Fatalf("api serve did not serve within a minute:\n%s", a.Logs)
	}
	a.URL = "http://" + serving["addr"].(string)
	return a
}

// Signal sends sig to the process.
func (a *API) Signal(sig os.Signal) error { return a.cmd.Process.Signal(sig) }

// Kill ends the process with SIGKILL (no graceful shutdown, no deferred work) and
// waits until it has exited; it does nothing once it has.
func (a *API) Kill() {
	select {
	case <-a.exited:
	default:
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
}

// Exited is closed once the process has exited.
func (a *API) Exited() <-chan struct{} { return a.exited }

// Err is how the process ended (exec.Cmd.Wait's error); call it once Exited is
// closed.
func (a *API) Err() error { return a.err }
