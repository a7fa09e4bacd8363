// Package testmode owns what only an organisation's test-mode sandbox can do:
// read and move its clock forward, and reset its data. A sandbox is an
// organisation of its own (see scope.SandboxOf), so everything else in test
// mode is the ordinary API acting on it. Live scopes get not_found here, as if
// these endpoints did not exist.
package testmode

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// maxAdvance bounds how far ahead of the real time a test clock may run.
const maxAdvance = 2 * 365 * 24 * time.Hour

// Sandbox handles the test clock and test data.
type Sandbox struct {
	db       *scope.DB
	exec     *command.Executor
	bookings *booking.Bookings
}

// NewSandbox returns a Sandbox; bookings expires the holds a clock move makes due.
func NewSandbox(d *scope.DB, exec *command.Executor, bookings *booking.Bookings) *Sandbox {
	return &Sandbox{db: d, exec: exec, bookings: bookings}
}

// TestClock is a sandbox's clock.
type TestClock struct {
	Now      time.Time `json:"now"`
	Livemode bool      `json:"livemode"`
}

func requireSandbox(sc scope.Scope) error {
	if sc.Livemode() {
		return domain.NotFound("test clock")
	}
	return nil
}

// TestClock reads the sandbox's clock.
func (s *Sandbox) TestClock(ctx context.Context, sc scope.Scope) (TestClock, error) {
	if err := requireSandbox(sc); err != nil {
		return TestClock{}, err
	}
	if err := domain.Authorize(sc, domain.OpReadTestClock); err != nil {
		return TestClock{}, err
	}
	var out TestClock
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		c, err := domain.LoadClock(ctx, q, sc)
		out = TestClock{Now: c.Now}
		return err
	})
	return out, err
}

// AdvanceInput is the body of POST /test-clock/advance.
type AdvanceInput struct {
	To *time.Time `json:"to"`
}

// AdvanceTestClock moves a sandbox's clock forward to To.
type AdvanceTestClock struct {
	command.Meta `json:"-"`
	To           time.Time `json:"to"`
}

// NewAdvanceTestClock validates in.
func NewAdvanceTestClock(meta command.Meta, in AdvanceInput) (AdvanceTestClock, error) {
	if in.To == nil {
		return AdvanceTestClock{}, domain.Invalid("to", "required", "to is required: the time the clock should read, RFC 3339")
	}
	if in.To.After(meta.IssuedAt.Add(maxAdvance)) {
		return AdvanceTestClock{}, domain.Invalid("to", "too_far", "a test clock runs at most 2 years ahead")
	}
	return AdvanceTestClock{Meta: meta, To: in.To.UTC()}, nil
}

// AdvanceTestClock handles AdvanceTestClock. Everything that depends on time
// reads the organisation's clock, so the move takes effect at once; holds past
// their deadline at the new time expire in this command, with their
// booking.expired events (and webhooks).
func (s *Sandbox) AdvanceTestClock(ctx context.Context, sc scope.Scope, cmd AdvanceTestClock) (TestClock, command.Receipt, error) {
	if err := requireSandbox(sc); err != nil {
		return TestClock{}, command.Receipt{}, err
	}
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpAdvanceTestClock, cmd, func(q *db.Queries) (TestClock, []domain.Event, error) {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return TestClock{}, nil, err
		}
		if cmd.To.Before(c.Now) {
			return TestClock{}, nil, domain.Invalid("to", "backwards", fmt.Sprintf("the test clock reads %s; it never goes back",
				c.Now.UTC().Format(time.RFC3339)))
		}
		now, err := q.SetClockOffset(ctx, db.SetClockOffsetParams{OrganisationID: sc.OrganisationID, TargetTime: cmd.To})
		if err != nil {
			return TestClock{}, nil, fmt.Errorf("move test clock: %w", err)
		}
		c, err = domain.LoadClock(ctx, q, sc)
		if err != nil {
			return TestClock{}, nil, err
		}
		events, err := s.bookings.ExpireHoldsNow(ctx, q, sc, c)
		if err != nil {
			return TestClock{}, nil, err
		}
		return TestClock{Now: now}, events, nil
	})
}

// ResetTestData deletes a sandbox's data: catalogue, rates and charges,
// bookings, blocks, calendar feeds and imports, events, webhook endpoints and
// deliveries, command records; its keys stay, and its clock reads the real time
// again.
type ResetTestData struct {
	command.Meta `json:"-"`
}

// Reset is the outcome of ResetTestData.
type Reset struct {
	Reset bool `json:"reset"`
}

// ResetTestData handles ResetTestData.
func (s *Sandbox) ResetTestData(ctx context.Context, sc scope.Scope, cmd ResetTestData) (Reset, command.Receipt, error) {
	if err := requireSandbox(sc); err != nil {
		return Reset{}, command.Receipt{}, err
	}
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpResetTestData, struct{}{}, func(q *db.Queries) (Reset, []domain.Event, error) {
		org := sc.OrganisationID
		steps := []struct {
			what string
			run  func(context.Context, uuid.UUID) error
		}{
			{"calendar conflicts", q.ResetCalendarConflicts}, {"ical feeds", q.ResetICalFeeds},
			{"occupancies", q.ResetOccupancies}, {"blocks", q.ResetBlocks}, {"booking add-ons", q.ResetBookingItemAddons},
			{"booking items", q.ResetBookingItems}, {"bookings", q.ResetBookings}, {"calendar imports", q.ResetCalendarImports},
			{"rate rules", q.ResetRateRules}, {"charges", q.ResetCharges}, {"units", q.ResetUnits},
			{"add-ons", q.ResetAddons}, {"items", q.ResetItems}, {"properties", q.ResetProperties},
			{"webhook attempts", q.ResetWebhookAttempts}, {"webhook deliveries", q.ResetWebhookDeliveries},
			{"webhook endpoints", q.ResetWebhookEndpoints}, {"events", q.ResetEvents}, {"clock", q.ResetClock},
		}
		for _, st := range steps {
			if err := st.run(ctx, org); err != nil {
				return Reset{}, nil, fmt.Errorf("reset %s: %w", st.what, err)
			}
		}
		if err := q.ResetCommands(ctx, db.ResetCommandsParams{OrganisationID: org, ActorID: cmd.Actor, CommandID: cmd.ID}); err != nil {
			return Reset{}, nil, fmt.Errorf("reset commands: %w", err)
		}
		return Reset{Reset: true}, nil, nil
	})
}
