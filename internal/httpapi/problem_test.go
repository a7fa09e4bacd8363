package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"testing"
)

// A client that goes away must not be reported (and logged) as the database
// being unavailable: pgx wraps the cancellation in a network timeout error.
func TestProblemForCancelledRequestIsNotUnavailable(t *testing.T) {
	var logged bool
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) { logged = true; return len(p), nil }), nil))
	cases := []struct {
		name   string
		err    error
		status int
	}{
		{"client went away mid-query", fmt.Errorf("load organisation: %w", &net.OpError{Op: "read", Err: context.Canceled}), 499},
		{"deadline passed", fmt.Errorf("load organisation: %w", context.DeadlineExceeded), http.StatusServiceUnavailable},
		{"connection refused", fmt.Errorf("begin: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), http.StatusServiceUnavailable},
	}
	for _, tc := range cases {
		logged = false
		p := problemFor(context.Background(), log, tc.err)
		if p.Status != tc.status {
			t.Errorf("%s: answered %d, want %d", tc.name, p.Status, tc.status)
		}
		if tc.status == 499 && logged {
			t.Errorf("%s: a client that went away was logged as a database problem", tc.name)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
