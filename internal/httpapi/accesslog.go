package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}

// requestLog gives every request an id (X-Request-ID, accepted or generated, and
// echoed back), a deadline that reaches the database, and one log line: method,
// route pattern, status, duration, organisation and API key id. It never logs
// headers or bodies, so keys and secrets stay out of the logs.
func requestLog(log *slog.Logger, timeout time.Duration, observe func(r *http.Request, route string, status int, d time.Duration)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			id := r.Header.Get("X-Request-ID")
			if !validRequestID(id) {
				id = uuid.Must(uuid.NewV7()).String()
			}
			w.Header().Set("X-Request-ID", id)
			info := &requestInfo{}
			// chi fills a route context it finds rather than making its own, so the
			// matched route pattern is readable here afterwards.
			rctx := chi.NewRouteContext()
			ctx := context.WithValue(r.Context(), requestInfoKey, info)
			ctx = context.WithValue(ctx, chi.RouteCtxKey, rctx)
			info.untimed = ctx
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			rec := &statusRecorder{ResponseWriter: w}
			r = r.WithContext(ctx)
			next.ServeHTTP(rec, r)
			route := rctx.RoutePattern()
			if route == "" {
				route = "unmatched"
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK // nothing written: net/http sends 200
			}
			d := time.Since(start)
			observe(r, route, status, d)
			log.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", route),
				slog.Int("status", status), slog.Float64("duration_ms", durationMS(d)),
				slog.String("organisation_id", info.organisationID), slog.String("api_key_id", info.apiKeyID))
		})
	}
}

// durationMS is d in milliseconds, to the microsecond.
func durationMS(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
