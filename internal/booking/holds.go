package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// expireStaleHolds records the expiry of unpaid holds past their deadline, with
// their booking.expired events: those on the given items (a new booking takes
// their dates) or the given booking (the sweep). Both paths share this code, so a
// hold expires the same way whoever notices first.
func (s *Bookings) expireStaleHolds(ctx context.Context, q *db.Queries, sc scope.Scope, c domain.Clock, itemIDs []uuid.UUID, bookingID *uuid.UUID) ([]domain.Event, error) {
	var expired []uuid.UUID
	if err := expireStaleHoldsCall(ctx, sc, c, itemIDs, bookingID, &expired)(q); err != nil {
		return nil, err
	}
	return expiryEvents(ctx, q, sc, c, expired)
}

// expireStaleHoldsCall is expireStaleHolds' statement as a call of a pipeline:
// it expires the holds and lists their bookings in expired, for expiryEvents.
func expireStaleHoldsCall(ctx context.Context, sc scope.Scope, c domain.Clock, itemIDs []uuid.UUID, bookingID *uuid.UUID, expired *[]uuid.UUID) db.Call {
	return func(q *db.Queries) (err error) {
		*expired, err = q.ExpireStaleHolds(ctx, db.ExpireStaleHoldsParams{OrganisationID: sc.OrganisationID, Now: c.Now, ItemIds: itemIDs,
			BookingID: bookingID})
		if err != nil {
			return fmt.Errorf("expire stale holds: %w", err)
		}
		return nil
	}
}

// expiryEvents is the booking.expired event of each booking whose hold expired.
func expiryEvents(ctx context.Context, q *db.Queries, sc scope.Scope, c domain.Clock, expired []uuid.UUID) ([]domain.Event, error) {
	var events []domain.Event
	for _, id := range expired {
		b, err := loadBooking(ctx, q, sc, c, id)
		if err != nil {
			return nil, err
		}
		events = append(events, domain.Event{Type: domain.EventBookingExpired, Data: b})
	}
	return events, nil
}

// ExpireHoldsNow expires, in q's transaction, every unpaid hold of the scope's
// organisation past its deadline at c's time, with their booking.expired events
// (a sandbox's test clock moving forward).
func (s *Bookings) ExpireHoldsNow(ctx context.Context, q *db.Queries, sc scope.Scope, c domain.Clock) ([]domain.Event, error) {
	return s.expireStaleHolds(ctx, q, sc, c, nil, nil)
}

func lineItemIDs(lines []PricedLine) []uuid.UUID {
	ids := make([]uuid.UUID, len(lines))
	for i, l := range lines {
		ids[i] = l.ItemID
	}
	return ids
}

// ExpireHold is the sweep's command: expire one unpaid hold past its deadline.
// Its id is derived from the booking, so however often the sweep meets the hold,
// it expires once.
type ExpireHold struct {
	command.Meta `json:"-"`
	BookingID    uuid.UUID `json:"booking_id"`
}

// HoldExpiry is the outcome of ExpireHold.
type HoldExpiry struct {
	// Expired is false when the hold had already changed (paid, cancelled, or
	// expired by a booking that took its dates).
	Expired bool `json:"expired"`
}

// ExpireDueHolds expires up to limit unpaid holds past their deadline, across
// organisations, each in its organisation's scoped transaction with its
// booking.expired event. It returns how many it expired; a hold that fails is
// reported in err and left for the next sweep.
func (s *Bookings) ExpireDueHolds(ctx context.Context, limit int32) (int, error) {
	due, err := s.db.DueHolds(ctx, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, h := range due {
		meta := command.Meta{ID: "hold-expiry:" + h.BookingID.String(), IssuedAt: time.Now()}
		cmd := ExpireHold{Meta: meta, BookingID: h.BookingID}
		out, _, err := s.expireHold(ctx, scope.Platform(h.OrganisationID), cmd)
		if err != nil {
			errs = append(errs, fmt.Errorf("expire hold %s: %w", h.BookingID, err))
			continue
		}
		if out.Expired {
			n++
		}
	}
	return n, errors.Join(errs...)
}

func (s *Bookings) expireHold(ctx context.Context, sc scope.Scope, cmd ExpireHold) (HoldExpiry, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpExpireHold, cmd, func(q *db.Queries) (HoldExpiry, []domain.Event, error) {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return HoldExpiry{}, nil, err
		}
		events, err := s.expireStaleHolds(ctx, q, sc, c, nil, &cmd.BookingID)
		if err != nil {
			return HoldExpiry{}, nil, err
		}
		return HoldExpiry{Expired: len(events) > 0}, events, nil
	})
}

// ExpireItemHolds records the expiry of the item's unpaid holds past their
// deadline, in q's transaction, and returns their booking.expired events: a
// command that adds blocks (calendar sync) calls it first, as block creation
// does, so a stale hold never makes the database refuse a block.
func (s *Bookings) ExpireItemHolds(ctx context.Context, q *db.Queries, sc scope.Scope, c domain.Clock, itemID uuid.UUID) ([]domain.Event, error) {
	return s.expireStaleHolds(ctx, q, sc, c, []uuid.UUID{itemID}, nil)
}
