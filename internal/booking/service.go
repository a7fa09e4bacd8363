// Package booking is Vacancy's core: stays and their prices, availability and the
// calendar, quotes, holds and the booking lifecycle. Every change is an explicit
// command (a plain struct built by a validating constructor) run by the command
// executor in one tenant-scoped transaction with its record and events. It reads
// the catalogue; it knows nothing of HTTP, of API keys or of webhook delivery.
package booking

import (
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Bookings handles availability, quotes and bookings.
type Bookings struct {
	db   *scope.DB
	exec *command.Executor
}

// NewBookings returns Bookings running its commands with exec.
func NewBookings(d *scope.DB, exec *command.Executor) *Bookings {
	return &Bookings{db: d, exec: exec}
}
