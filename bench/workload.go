package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Dates of benchmarked bookings lie after the loaded history, so they never
// collide with it: uncontended bookings from freeDay on, the contended ones from
// contendedDay on.
const (
	freeDay      = historyDays - pastDays + 30
	contendedDay = freeDay + 4000
)

// workload generates the requests of every scenario against one dataset, for
// the API (vegeta targets against the server at a base URL), for the same-SQL
// floor (the same SQL, through the same scoped transactions and sqlc queries the
// server uses) and for the minimal floor (minimal.go).
type workload struct {
	ds *dataset

	// slot numbers uncontended bookings (see freeSlot), for the API and both
	// floors alike, so that no two requests of the run ever overlap.
	slot   atomic.Uint64
	spread int // stays per window of freeSlot
	// contended numbers bookings under contention; the window they aim at moves
	// on slowly so that some succeed while most collide.
	contended       atomic.Uint64
	contentionItems int
}

func newWorkload(ds *dataset, contentionItems, clients int) *workload {
	// At least 256 bookings per client between two of one item and stay.
	items := len(ds.Orgs) * len(ds.Orgs[0].Items)
	return &workload{ds: ds, contentionItems: contentionItems, spread: max(1, (256*clients+items-1)/items)}
}

func (w *workload) org(rng func(int) int) *organisation { return w.ds.Orgs[rng(len(w.ds.Orgs))] }

func day(d time.Time) string { return d.Format("2006-01-02") }

func (w *workload) target(t *vegeta.Target, base string, o *organisation, method, path string, body any) error {
	t.Method = method
	t.URL = base + "/api/v3/organisations/" + o.Slug + path
	t.Header = http.Header{"Authorization": {"Bearer " + o.Key}}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode body: %w", err)
		}
		t.Body = b
		t.Header.Set("Content-Type", "application/json")
	}
	return nil
}

// stay is a random two-night stay within the loaded future.
func (w *workload) stay(rng func(int) int) (time.Time, time.Time) {
	in := w.ds.Today.AddDate(0, 0, 1+rng(historyDays-pastDays-3))
	return in, in.AddDate(0, 0, 2)
}

// --- availability

// availabilityTargeter searches a random organisation for a random two-night
// stay and party; quantity 0 leaves the parameter out (the server's default, 1).
func (w *workload) availabilityTargeter(base string, quantity int) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		o := w.org(rand.IntN)
		in, out := w.stay(rand.IntN)
		path := fmt.Sprintf("/availability?check_in=%s&check_out=%s&guests=%d", day(in), day(out), 1+rand.IntN(4))
		if quantity > 0 {
			path += fmt.Sprintf("&quantity=%d", quantity)
		}
		return w.target(t, base, o, http.MethodGet, path, nil)
	}
}

// availabilityFloor is what GET /availability costs PostgreSQL: one scoped
// transaction with one pipeline of generic plans, the organisation's clock, its
// charges and the availability query, with the server's parameters (first page
// of 50).
func (w *workload) availabilityFloor(d *scope.DB, quantity int) func(context.Context, *rand.Rand) error {
	return func(ctx context.Context, rng *rand.Rand) error {
		o := w.org(rng.IntN)
		in, out := w.stay(rng.IntN)
		guests := int32(1 + rng.IntN(4))
		// No key lookup: the server authenticates a key it checked within the
		// last second from memory (tenancy.AuthCacheTTL), as it does under load.
		return d.Tx(ctx, o.Scope(), func(q *db.Queries) error {
			err := q.Pipeline(ctx,
				func(q *db.Queries) error { return q.PreferGenericPlans(ctx) },
				func(q *db.Queries) error { _, err := q.OrganisationClock(ctx, o.ID); return err },
				func(q *db.Queries) error { _, err := q.AllCharges(ctx, o.ID); return err },
				func(q *db.Queries) error {
					_, err := q.AvailableItems(ctx, db.AvailableItemsParams{OrganisationID: o.ID, Guests: guests, Nights: 2,
						CheckIn: in, CheckOut: out, Quantity: int32(max(1, quantity)), RowLimit: domain.DefaultLimit + 1})
					return err
				})
			if err != nil {
				return fmt.Errorf("clock, charges and availability: %w", err)
			}
			return nil
		})
	}
}

// --- quotes

type line struct {
	ItemID   uuid.UUID `json:"item_id"`
	CheckIn  string    `json:"check_in"`
	CheckOut string    `json:"check_out"`
}

func (w *workload) quoteTargeter(base string) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		o := w.org(rand.IntN)
		in, out := w.stay(rand.IntN)
		return w.target(t, base, o, http.MethodPost, "/quotes", map[string]any{
			"items": []line{{ItemID: o.Items[rand.IntN(len(o.Items))], CheckIn: day(in), CheckOut: day(out)}},
		})
	}
}

// --- bookings without contention

type guest struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

var benchGuest = guest{Name: "Bench Guest", Email: "guest@example.com"}

// freeSlot returns the organisation, item and stay of the next uncontended
// booking, from a sequence that never books a unit twice: booking n takes
// organisation n mod (organisations), then each of its items in turn, over a
// window of w.spread consecutive two-night stays; then the same again (the
// next unit of each pool, which the server picks) until every unit of every
// item is booked for the window, and then the next window. One item and stay
// comes round again only after organisations × items × spread bookings, so two
// bookings of it are never in flight together, even behind a slow request:
// the minimal floor, which takes no lock, relies on that.
func (w *workload) freeSlot() (*organisation, uuid.UUID, time.Time, time.Time) {
	n := int(w.slot.Add(1) - 1)
	orgs := len(w.ds.Orgs)
	items := len(w.ds.Orgs[0].Items)
	perRound := orgs * items * w.spread
	window, k := n/(perRound*w.ds.Units), n%perRound
	o := w.ds.Orgs[k%orgs]
	item := o.Items[(k/orgs)%items]
	in := w.ds.Today.AddDate(0, 0, freeDay+2*(window*w.spread+k/(orgs*items)))
	return o, item, in, in.AddDate(0, 0, 2)
}

func (w *workload) bookingTarget(t *vegeta.Target, base string, o *organisation, item uuid.UUID, in, out time.Time) error {
	if err := w.target(t, base, o, http.MethodPost, "/bookings", map[string]any{
		"guest": benchGuest,
		"items": []line{{ItemID: item, CheckIn: day(in), CheckOut: day(out)}},
	}); err != nil {
		return err
	}
	t.Header.Set("Idempotency-Key", uuid.Must(uuid.NewV7()).String())
	return nil
}

// bookingTargeter books one unit of the next free slot.
func (w *workload) bookingTargeter(base string) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		o, item, in, out := w.freeSlot()
		return w.bookingTarget(t, base, o, item, in, out)
	}
}

// bookingFloor is what POST /bookings costs PostgreSQL, statement for statement
// and round trip for round trip as internal/booking runs them for a one-line
// booking, in one transaction: generic plans, the idempotency key's lock and
// record (one pipeline); the clock,
// the item lock, the catalogue and rates (one pipeline); the expiry of stale
// holds and the free units (one pipeline); the inserts (one pipeline, the
// booking returning what it wrote: no read-back); the command's record with
// the notification, the webhook endpoints and the event position (one
// pipeline); the event.
func (w *workload) bookingFloor(d *scope.DB) func(context.Context, *rand.Rand) error {
	return func(ctx context.Context, _ *rand.Rand) error {
		o, item, in, out := w.freeSlot()
		sc := o.Scope()
		// No key lookup: the server authenticates a key it checked within the
		// last second from memory (tenancy.AuthCacheTTL), as it does under load.
		key := uuid.Must(uuid.NewV7()).String()
		fp := sha256.Sum256([]byte(key))
		claim := uuid.Must(uuid.NewV7())
		return d.Tx(ctx, sc, func(q *db.Queries) error {
			var locked bool
			err := q.Pipeline(ctx,
				func(q *db.Queries) error { return q.PreferGenericPlans(ctx) },
				func(q *db.Queries) (err error) {
					locked, err = q.LockCommandKey(ctx, db.LockCommandKeyParams{OrganisationID: o.ID, ActorID: o.KeyID, ID: key})
					return err
				},
				func(q *db.Queries) error {
					if _, err := q.GetCommand(ctx, db.GetCommandParams{OrganisationID: o.ID, ActorID: o.KeyID, ID: key}); !errors.Is(err, pgx.ErrNoRows) {
						return fmt.Errorf("a new key must have no record: %w", err)
					}
					return nil
				})
			if err != nil || !locked {
				return fmt.Errorf("lock command key: %v, %w", locked, err)
			}
			ids := []uuid.UUID{item}
			var clock db.OrganisationClockRow
			var items []db.ItemsByIDsRow
			var nights []db.StayNightsRow
			err = q.Pipeline(ctx,
				func(q *db.Queries) (err error) { clock, err = q.OrganisationClock(ctx, o.ID); return err },
				func(q *db.Queries) error {
					_, err := q.LockItemsForBooking(ctx, db.LockItemsForBookingParams{OrganisationID: o.ID, ItemIds: ids})
					return err
				},
				func(q *db.Queries) (err error) {
					items, err = q.ItemsByIDs(ctx, db.ItemsByIDsParams{OrganisationID: o.ID, Ids: ids})
					return err
				},
				func(q *db.Queries) error {
					_, err := q.AddonsForItems(ctx, db.AddonsForItemsParams{OrganisationID: o.ID, ItemIds: ids})
					return err
				},
				func(q *db.Queries) (err error) {
					nights, err = q.StayNights(ctx, db.StayNightsParams{OrganisationID: o.ID, Lines: []int32{1, 1, 1},
						ItemIds: []uuid.UUID{item, item, item}, Days: []time.Time{in, in.AddDate(0, 0, 1), out}})
					return err
				},
				func(q *db.Queries) error {
					_, err := q.ChargesForItems(ctx, db.ChargesForItemsParams{OrganisationID: o.ID, ItemIds: ids})
					return err
				})
			if err != nil || len(items) != 1 || len(nights) != 3 {
				return fmt.Errorf("clock, lock, catalogue and rates: %d items, %d nights, %w", len(items), len(nights), err)
			}
			var free []db.FreeUnitsRow
			err = q.Pipeline(ctx,
				func(q *db.Queries) error {
					_, err := q.ExpireStaleHolds(ctx, db.ExpireStaleHoldsParams{OrganisationID: o.ID, Now: clock.Now, ItemIds: ids})
					return err
				},
				func(q *db.Queries) (err error) {
					free, err = q.FreeUnits(ctx, db.FreeUnitsParams{OrganisationID: o.ID, Now: clock.Now, ItemID: item, CheckIn: in, CheckOut: out})
					return err
				})
			if err != nil {
				return fmt.Errorf("stale holds and free units: %w", err)
			}
			if len(free) == 0 {
				return errors.New("floor slot unexpectedly blocked")
			}
			price := (nights[0].Price + nights[1].Price) / 2 // the floor skips the charges' arithmetic
			breakdown := fmt.Appendf(nil, `{"nightly_prices":[{"date":%q,"price":%d,"rule_id":null},{"date":%q,"price":%d,"rule_id":null}],"fees":[],"taxes":[]}`,
				day(in), nights[0].Price, day(in.AddDate(0, 0, 1)), nights[1].Price)
			holdTill := clock.Now.Add(time.Duration(clock.HoldMinutes) * time.Minute)
			id, lineID := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
			var row db.Booking
			err = q.Pipeline(ctx,
				func(q *db.Queries) (err error) {
					row, err = q.InsertBooking(ctx, db.InsertBookingParams{OrganisationID: o.ID, ID: id, GuestName: benchGuest.Name,
						GuestEmail: benchGuest.Email, Currency: clock.Currency, Total: 2 * price, ExpiresAt: holdTill})
					return err
				},
				func(q *db.Queries) error {
					return q.InsertBookingItem(ctx, db.InsertBookingItemParams{OrganisationID: o.ID, ID: lineID,
						BookingID: id, ItemID: item, CheckIn: in, CheckOut: out, Nights: 2, Quantity: 1, NightlyPrice: price,
						RoomTotal: 2 * price, Total: 2 * price, Status: booking.StatusUnpaid, HoldExpiresAt: holdTill, Breakdown: breakdown})
				},
				func(q *db.Queries) error {
					return q.InsertOccupancy(ctx, db.InsertOccupancyParams{OrganisationID: o.ID, ID: uuid.Must(uuid.NewV7()),
						UnitID: free[0].ID, ItemID: item, CheckIn: in, CheckOut: out, BookingID: &id, BookingItemID: &lineID,
						Status: booking.StatusUnpaid, HoldExpiresAt: &holdTill})
				})
			if err != nil {
				return fmt.Errorf("inserts: %w", err)
			}
			// The server answers with what it wrote (RETURNING), not a read-back.
			data, err := json.Marshal(struct {
				Booking   db.Booking
				Line      uuid.UUID
				Unit      db.FreeUnitsRow
				Breakdown json.RawMessage
			}{row, lineID, free[0], breakdown})
			if err != nil {
				return err
			}
			// The outcome's record with the publication: the notification, the
			// webhook fan-out's endpoints (the bench organisations have none) and
			// the position; then the event.
			outcome := "ok"
			var n, position int64
			err = q.Pipeline(ctx,
				func(q *db.Queries) (err error) {
					n, err = q.RecordCommand(ctx, db.RecordCommandParams{OrganisationID: o.ID, ActorID: o.KeyID, ID: key,
						Type: "booking.create", Fingerprint: fp[:], Claim: claim, Outcome: &outcome, Result: data})
					return err
				},
				func(q *db.Queries) error { return q.NotifyEvents(ctx, o.ID) },
				func(q *db.Queries) error { _, err := q.EnabledWebhookEndpoints(ctx, o.ID); return err },
				func(q *db.Queries) (err error) {
					position, err = q.TakeEventPositions(ctx, db.TakeEventPositionsParams{OrganisationID: o.ID, Taken: 1})
					return err
				})
			if err != nil || n != 1 {
				return fmt.Errorf("finish and publish: %d, %w", n, err)
			}
			var eventErr error
			q.InsertEvents(ctx, []db.InsertEventsParams{{OrganisationID: o.ID, Position: position, ID: uuid.Must(uuid.NewV7()),
				Type: domain.EventBookingCreated, CommandID: &key, Data: data}}).QueryRow(func(_ int, _ int64, err error) { eventErr = err })
			if eventErr != nil {
				return fmt.Errorf("event: %w", eventErr)
			}
			return nil
		})
	}
}

// --- bookings under contention

// contendedTargeter books the first few items of the first organisation for
// short stays in a four-day window that moves on by a day every few requests:
// many clients collide on the same nights, and the database refuses all but one.
func (w *workload) contendedTargeter(base string, workers int) vegeta.Targeter {
	o := w.ds.Orgs[0]
	items := o.Items[:min(w.contentionItems, len(o.Items))]
	return func(t *vegeta.Target) error {
		n := int(w.contended.Add(1) - 1)
		in := w.ds.Today.AddDate(0, 0, contendedDay+n/(2*workers)+rand.IntN(4))
		return w.bookingTarget(t, base, o, items[rand.IntN(len(items))], in, in.AddDate(0, 0, 1+rand.IntN(3)))
	}
}

// --- reads

// readTargeter is half GET /bookings/{id} of a loaded booking, half the first
// page of GET /bookings (limit 20; every fourth with a status filter).
func (w *workload) readTargeter(base string) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		o := w.org(rand.IntN)
		switch r := rand.IntN(8); {
		case r < 4 && len(o.Bookings) > 0:
			return w.target(t, base, o, http.MethodGet, "/bookings/"+o.Bookings[rand.IntN(len(o.Bookings))].String(), nil)
		case r < 7:
			return w.target(t, base, o, http.MethodGet, "/bookings?limit=20", nil)
		default:
			return w.target(t, base, o, http.MethodGet, "/bookings?limit=20&status=paid", nil)
		}
	}
}
