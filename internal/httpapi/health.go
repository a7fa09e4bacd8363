package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// NotReady is a reason for /readyz to refuse traffic that callers may see
// (shutting down, schema behind). Any other error from Config.Ready is logged
// and answered as database_unavailable, without its details.
type NotReady struct {
	Code   string
	Detail string
}

func (e *NotReady) Error() string { return e.Detail }

// readyTimeout bounds a readiness check: a probe must get an answer even when
// the database hangs.
const readyTimeout = 2 * time.Second

// readyz answers 200 when this instance should receive traffic: the database
// answers and its schema is the one this binary expects; 503 otherwise, and
// from the moment a graceful shutdown begins.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	err := s.ready(ctx)
	if err == nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	var nr *NotReady
	if errors.As(err, &nr) {
		writeProblem(w, r, newProblem(http.StatusServiceUnavailable, nr.Code, nr.Detail))
		return
	}
	s.log.WarnContext(r.Context(), "not ready", "err", err)
	writeProblem(w, r, newProblem(http.StatusServiceUnavailable, "database_unavailable", "the database did not answer"))
}
