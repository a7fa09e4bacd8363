// Package service assembles Vacancy's domain services over one database: one
// command executor, publishing through the outbox, shared by the tenancy,
// catalogue, booking, outbox and calendar services. Callers (the HTTP API, the job
// workers, the CLI, tests) hold one *Services and call the domain methods on it.
package service

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/calendar"
	"github.com/vacancy-dev/vacancy/internal/calendar/fetch"
	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/outbox"
	"github.com/vacancy-dev/vacancy/internal/rates"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
	"github.com/vacancy-dev/vacancy/internal/testmode"
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

// Services is every domain service over one database. The embedded services'
// methods are promoted: svc.CreateBooking is svc.Bookings.CreateBooking.
type Services struct {
	*tenancy.Registry
	*catalogue.Catalogue
	*booking.Bookings
	*outbox.Outbox
	*testmode.Sandbox
	*calendar.Calendar
	*rates.Rates

	db *scope.DB
}

// Config is what the services need beyond the database; the zero value works
// (no logs, no metrics, no spans, no job queue, the default webhook policy).
type Config struct {
	Logger *slog.Logger
	// Observer hears about every handled command (metrics).
	Observer command.Observer
	// Tracer traces every command as a span.
	Tracer trace.Tracer
	// Jobs is the queue commands enqueue background jobs on (webhook deliveries).
	Jobs scope.JobQueue
	// WebhookPolicy says which webhook URLs may be registered, and which calendar
	// feed URLs may be imported.
	WebhookPolicy webhook.Policy
}

// New returns the services over d.
func New(d *scope.DB, cfg Config) *Services {
	opts := []command.Option{command.WithObserver(cfg.Observer), command.WithJobQueue(cfg.Jobs)}
	if cfg.Logger != nil {
		opts = append(opts, command.WithLogger(cfg.Logger))
	}
	if cfg.Tracer != nil {
		opts = append(opts, command.WithTracer(cfg.Tracer))
	}
	exec := command.NewExecutor(d, outbox.Publish, opts...)
	bookings := booking.NewBookings(d, exec)
	return &Services{
		Registry:  tenancy.NewRegistry(d, exec),
		Catalogue: catalogue.NewCatalogue(d, exec),
		Bookings:  bookings,
		Outbox:    outbox.NewOutbox(d, exec, cfg.WebhookPolicy),
		Sandbox:   testmode.NewSandbox(d, exec, bookings),
		Calendar: calendar.NewCalendar(d, exec, bookings, cfg.WebhookPolicy,
			fetch.New(cfg.WebhookPolicy, calendar.FetchTimeout)),
		Rates: rates.NewRates(d, exec),
		db:    d,
	}
}

// Ping checks that the database answers.
func (s *Services) Ping(ctx context.Context) error { return s.db.Pool().Ping(ctx) }
