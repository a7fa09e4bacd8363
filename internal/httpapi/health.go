package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// NotReady is a reason for /readyz to refuse traffic (shutting down, schema
// behind): the public /readyz shows its Code, the metrics listener's also its
// Detail. Any other error from Config.Ready is logged and answered as
// database_unavailable, without its details.
type NotReady struct {
	Code   string
	Detail string
}

func (e *NotReady) Error() string { return e.Detail }

// readyTimeout bounds a readiness check: a probe must get an answer even when
// the database hangs.
const readyTimeout = 2 * time.Second

// publicReasons are what the public /readyz says for each reason: whether, and
// roughly why, but not the schema's versions or any other detail, which the
// metrics listener's /readyz gives (ReadinessDetail).
var publicReasons = map[string]string{
	"shutting_down":   "this instance is shutting down",
	"schema_outdated": "the database schema is behind this binary: run `api migrate up`",
	"schema_dirty":    "a migration stopped halfway: repair it, then run `api migrate up`",
}

// readyz answers 200 when this instance should receive traffic: the database
// answers and its schema is the one this binary expects; 503 otherwise, and
// from the moment a graceful shutdown begins. It is public (load balancers
// probe it), so its problems say only which reason applies.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	readiness(s.ready, s.log, false).ServeHTTP(w, r)
}

// ReadinessDetail is /readyz with the whole reason (the schema's versions, for
// one), for a listener that only operators reach (VACANCY_METRICS_ADDR).
func ReadinessDetail(ready func(ctx context.Context) error, log *slog.Logger) http.Handler {
	return readiness(ready, log, true)
}

func readiness(ready func(ctx context.Context) error, log *slog.Logger, detailed bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		err := ready(ctx)
		if err == nil {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		var nr *NotReady
		if errors.As(err, &nr) {
			detail := nr.Detail
			if public, ok := publicReasons[nr.Code]; ok && !detailed {
				detail = public
			}
			writeProblem(w, r, newProblem(http.StatusServiceUnavailable, nr.Code, detail))
			return
		}
		log.WarnContext(r.Context(), "not ready", "err", err)
		writeProblem(w, r, newProblem(http.StatusServiceUnavailable, "database_unavailable", "the database did not answer"))
	})
}
