package booking

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// UnitRef names a unit that a stay occupies.
type UnitRef struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
}

// freeUnitsCall lists the item's units free for the whole stay into dst, best
// first (see the FreeUnits query: the unit whose neighbours leave the smallest
// gaps, then by name), as a call of a pipeline. Occupancies of except (a
// booking moving its own stays) do not count.
func freeUnitsCall(ctx context.Context, sc scope.Scope, now time.Time, itemID uuid.UUID, in, out domain.Date, except *uuid.UUID,
	dst *[]UnitRef) db.Call {
	return func(q *db.Queries) error {
		rows, err := q.FreeUnits(ctx, db.FreeUnitsParams{OrganisationID: sc.OrganisationID, Now: now, ItemID: itemID,
			CheckIn: in.Time(), CheckOut: out.Time(), ExceptBooking: except})
		if err != nil {
			return fmt.Errorf("find free units: %w", err)
		}
		refs := make([]UnitRef, len(rows))
		for i, r := range rows {
			refs[i] = UnitRef{ID: r.ID, Name: r.Name}
		}
		*dst = refs
		return nil
	}
}

// freeUnits is freeUnitsCall on its own.
func freeUnits(ctx context.Context, q *db.Queries, sc scope.Scope, now time.Time, itemID uuid.UUID, in, out domain.Date, except *uuid.UUID) ([]UnitRef, error) {
	var free []UnitRef
	err := freeUnitsCall(ctx, sc, now, itemID, in, out, except, &free)(q)
	return free, err
}

// settleUnits readies the stays of lines in one round trip: it expires the
// unpaid holds past their deadline on the lines' items (a new stay may take
// their dates; see expireStaleHolds) and finds each line's free units, then
// chooses the units each line occupies (assignUnits). It returns the expiries'
// events and the units.
func (s *Bookings) settleUnits(ctx context.Context, q *db.Queries, sc scope.Scope, c domain.Clock, lines []PricedLine,
	except *uuid.UUID, prefer map[uuid.UUID][]uuid.UUID) ([]domain.Event, [][]UnitRef, error) {
	var expired []uuid.UUID
	free := make([][]UnitRef, len(lines))
	calls := []db.Call{expireStaleHoldsCall(ctx, sc, c, lineItemIDs(lines), nil, &expired)}
	for i, l := range lines {
		calls = append(calls, freeUnitsCall(ctx, sc, c.Now, l.ItemID, l.CheckIn, l.CheckOut, except, &free[i]))
	}
	if err := q.Pipeline(ctx, calls...); err != nil {
		return nil, nil, err
	}
	events, err := expiryEvents(ctx, q, sc, c, expired)
	if err != nil {
		return nil, nil, err
	}
	units, err := assignUnits(lines, free, prefer)
	if err != nil {
		return nil, nil, err
	}
	return events, units, nil
}

// assignUnits chooses the units each line occupies, in line order, from the
// units free for it. A line with a unit_id takes that unit; any other takes its
// Quantity best free units, preferring those in prefer[item] (the units a
// booking that changes its dates holds now, so a stay stays where it is when it
// can). When any line cannot be served, the answer is booking_conflict naming
// every such item and how many of its units were free. The database has the
// last word: the exclusion constraint refuses an occupancy that a concurrent
// transaction took meanwhile.
func assignUnits(lines []PricedLine, frees [][]UnitRef, prefer map[uuid.UUID][]uuid.UUID) ([][]UnitRef, error) {
	out := make([][]UnitRef, len(lines))
	var short []uuid.UUID
	var why []string
	for i, l := range lines {
		free := frees[i]
		if l.UnitID != nil {
			j := slices.IndexFunc(free, func(u UnitRef) bool { return u.ID == *l.UnitID })
			if j < 0 {
				short = append(short, l.ItemID)
				why = append(why, fmt.Sprintf("unit %s of item %s is taken on those nights", *l.UnitID, l.ItemID))
				continue
			}
			out[i] = []UnitRef{free[j]}
			continue
		}
		if p := prefer[l.ItemID]; len(p) > 0 {
			slices.SortStableFunc(free, func(a, b UnitRef) int {
				return boolRank(slices.Contains(p, a.ID)) - boolRank(slices.Contains(p, b.ID))
			})
		}
		if int32(len(free)) < l.Quantity {
			short = append(short, l.ItemID)
			why = append(why, fmt.Sprintf("item %s has %d of the %d units asked for free on those nights", l.ItemID, len(free), l.Quantity))
			continue
		}
		out[i] = free[:l.Quantity]
	}
	if len(short) > 0 {
		e := overlapConflict(short)
		e.Message = "the requested dates overlap active bookings or blocks: " + strings.Join(why, "; ")
		return nil, e
	}
	return out, nil
}

func boolRank(preferred bool) int {
	if preferred {
		return 0
	}
	return 1
}

// lineUnits loads the units each of a booking's stays occupies.
func lineUnits(ctx context.Context, q *db.Queries, sc scope.Scope, lineIDs []uuid.UUID) (map[uuid.UUID][]UnitRef, error) {
	rows, err := q.BookingItemUnits(ctx, db.BookingItemUnitsParams{OrganisationID: sc.OrganisationID, BookingItemIds: lineIDs})
	if err != nil {
		return nil, fmt.Errorf("load booking units: %w", err)
	}
	out := make(map[uuid.UUID][]UnitRef, len(lineIDs))
	for _, r := range rows {
		out[r.BookingItemID] = append(out[r.BookingItemID], UnitRef{ID: r.ID, Name: r.Name})
	}
	return out, nil
}

// heldUnits is the units a booking's stays occupy now, by item.
func heldUnits(ctx context.Context, q *db.Queries, sc scope.Scope, bookingID uuid.UUID) (map[uuid.UUID][]uuid.UUID, error) {
	lines, err := q.BookingItems(ctx, db.BookingItemsParams{OrganisationID: sc.OrganisationID, BookingIds: []uuid.UUID{bookingID}})
	if err != nil {
		return nil, fmt.Errorf("load booking items: %w", err)
	}
	ids := make([]uuid.UUID, len(lines))
	itemOf := make(map[uuid.UUID]uuid.UUID, len(lines))
	for i, l := range lines {
		ids[i], itemOf[l.ID] = l.ID, l.ItemID
	}
	units, err := lineUnits(ctx, q, sc, ids)
	if err != nil {
		return nil, err
	}
	out := map[uuid.UUID][]uuid.UUID{}
	for line, us := range units {
		for _, u := range us {
			out[itemOf[line]] = append(out[itemOf[line]], u.ID)
		}
	}
	return out, nil
}

// FreeUnits is the units of the item free for all of [in, out), best first, as a
// booking or a block without unit_id would take them (calendar sync places the
// blocks of an import without a unit with it); now is the organisation's clock.
func FreeUnits(ctx context.Context, q *db.Queries, sc scope.Scope, now time.Time, itemID uuid.UUID, in, out domain.Date) ([]UnitRef, error) {
	return freeUnits(ctx, q, sc, now, itemID, in, out, nil)
}
