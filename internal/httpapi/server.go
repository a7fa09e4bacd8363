// Package httpapi is Vacancy's HTTP adapter: routes, authentication into a
// scope.Scope, request decoding, and the mapping of domain outcomes to JSON and
// RFC 9457 problems. Handlers decode, authorise, build a command, dispatch it to
// internal/booking and encode the outcome; they hold no domain rules.
package httpapi

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"time"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/stream"
)

// Config is what the HTTP layer needs.
type Config struct {
	Service       *booking.Service
	Logger        *slog.Logger
	PlatformToken string // bearer token that may create organisations; empty disables it
	// RequestTimeout is every request's deadline, database calls included.
	RequestTimeout time.Duration
	// Events wakes event streams when events are committed (nil: streams poll).
	Events *stream.Hub
	// Heartbeat is how often an idle event stream sends a comment line (default 15s).
	Heartbeat time.Duration
}

type server struct {
	svc           *booking.Service
	log           *slog.Logger
	platformToken string
	events        *stream.Hub
	heartbeat     time.Duration
}

// NewServer returns the API handler.
func NewServer(cfg Config) http.Handler {
	s := &server{svc: cfg.Service, log: cfg.Logger, platformToken: cfg.PlatformToken, events: cfg.Events, heartbeat: cfg.Heartbeat}
	if s.heartbeat <= 0 {
		s.heartbeat = 15 * time.Second
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return requestLog(s.log, cfg.RequestTimeout)(s.routes())
}

type ctxKey int

const principalKey ctxKey = iota

func principalFrom(ctx context.Context) booking.Principal {
	p, _ := ctx.Value(principalKey).(booking.Principal)
	return p
}

func scopeFrom(r *http.Request) scope.Scope { return principalFrom(r.Context()).Scope }

func (s *server) isPlatform(r *http.Request) bool {
	tok, ok := bearer(r)
	return ok && s.platformToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.platformToken)) == 1
}
