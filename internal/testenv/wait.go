package testenv

import (
	"testing"
	"time"
)

// pollInterval is how often Poll asks: often enough that a wait ends soon
// after its condition holds, seldom enough that a condition which queries the
// database or the API does not load the machine the test runs on.
const pollInterval = 20 * time.Millisecond

// Poll asks cond until it holds, at once and then every 20 ms, and reports
// whether it held within timeout. cond runs on the caller's goroutine. Use it
// where a test says more than Eventually does when the wait fails, or goes on
// either way.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
}

// Eventually waits until cond holds (see Poll) and fails the test at once if it
// does not within timeout; what names the awaited condition. Call it from the
// test's goroutine.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("timed out after %v waiting until %s", timeout, what)
	}
}
