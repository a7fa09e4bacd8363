// Package booking is Vacancy's domain: organisations and their API keys, the
// catalogue of items and add-ons, availability, quotes, and the booking lifecycle.
// Every change is an explicit command (a plain struct built by a validating
// constructor) handled by a Service method in one tenant-scoped transaction that
// also writes the command's record and its events. The package knows nothing of
// HTTP; it returns results or *Error values of a few kinds.
package booking

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Service handles commands and queries against the database.
type Service struct {
	db       *scope.DB
	log      *slog.Logger
	observer Observer
	tracer   trace.Tracer // nil: no command spans
	now      func() time.Time

	touched sync.Map // api key id -> time.Time of the last recorded use
}

// Option configures a Service.
type Option func(*Service)

// WithLogger sets the logger for command records.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithObserver adds a hook called after every handled command.
func WithObserver(o Observer) Option { return func(s *Service) { s.observer = o } }

// NewService returns a Service over d.
func NewService(d *scope.DB, opts ...Option) *Service {
	s := &Service{db: d, log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Now is the service's clock, used to stamp commands.
func (s *Service) Now() time.Time { return s.now() }

// Ping checks that the database answers.
func (s *Service) Ping(ctx context.Context) error { return s.db.Pool().Ping(ctx) }
