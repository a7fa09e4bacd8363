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
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

// Service handles commands and queries against the database.
type Service struct {
	db       *scope.DB
	log      *slog.Logger
	observer Observer
	tracer   trace.Tracer // nil: no command spans
	now      func() time.Time
	jobs     scope.JobQueue // background jobs enqueued by commands (webhook deliveries)
	webhooks webhook.Policy // which webhook URLs may be registered

	touched sync.Map // api key id -> time.Time of the last recorded use
}

// Option configures a Service.
type Option func(*Service)

// WithLogger sets the logger for command records.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// WithObserver adds a hook called after every handled command.
func WithObserver(o Observer) Option { return func(s *Service) { s.observer = o } }

// WithJobQueue sets the queue that commands enqueue background jobs on, in their
// own transaction (webhook deliveries). Without one, a command whose events an
// enabled webhook endpoint wants fails.
func WithJobQueue(jq scope.JobQueue) Option { return func(s *Service) { s.jobs = jq } }

// WithWebhookPolicy sets which webhook URLs may be registered. The default
// refuses plain http and private, loopback, link-local and metadata addresses.
func WithWebhookPolicy(p webhook.Policy) Option { return func(s *Service) { s.webhooks = p } }

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
