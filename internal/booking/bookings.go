package booking

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/rates"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Booking statuses and the lifecycle between them:
//
//	unpaid → paid | cancelled | expired
//	paid   → complete | cancelled
//
// cancelled, expired and complete are final.
const (
	StatusUnpaid    = "unpaid"
	StatusPaid      = "paid"
	StatusCancelled = "cancelled"
	StatusExpired   = "expired"
	StatusComplete  = "complete"
)

var transitions = map[string][]string{
	StatusUnpaid: {StatusPaid, StatusCancelled, StatusExpired},
	StatusPaid:   {StatusComplete, StatusCancelled},
}

// CanTransition reports whether the lifecycle allows from → to.
func CanTransition(from, to string) bool { return slices.Contains(transitions[from], to) }

// Guest is who the booking is for.
type Guest struct {
	Name  string  `json:"name"`
	Email string  `json:"email"`
	Phone *string `json:"phone"`
}

// BookingLine is a booked stay and the units it occupies.
type BookingLine struct {
	ID uuid.UUID `json:"id"`
	PricedLine
	Units []UnitRef `json:"units"`
}

// Booking is a reservation of one or more stays.
type Booking struct {
	ID               uuid.UUID     `json:"id"`
	Status           string        `json:"status"`
	Guest            Guest         `json:"guest"`
	Notes            string        `json:"notes"`
	Items            []BookingLine `json:"items"`
	Total            int64         `json:"total"`
	Currency         string        `json:"currency"`
	ExpiresAt        time.Time     `json:"expires_at"`
	PaymentReference *string       `json:"payment_reference"`
	CancelReason     *string       `json:"cancel_reason"`
	Version          int32         `json:"version"`
	CreatedAt        time.Time     `json:"created_at"`
	UpdatedAt        time.Time     `json:"updated_at"`
	ConfirmedAt      *time.Time    `json:"confirmed_at"`
	CancelledAt      *time.Time    `json:"cancelled_at"`
	CompletedAt      *time.Time    `json:"completed_at"`
	ExpiredAt        *time.Time    `json:"expired_at"`
}

// effectiveStatus is the status a client sees: an unpaid hold past its deadline is
// expired, whether or not the sweep has recorded it yet.
func effectiveStatus(status string, expiresAt, now time.Time) string {
	if status == StatusUnpaid && !now.Before(expiresAt) {
		return StatusExpired
	}
	return status
}

// GuestInput is the guest as clients send it.
type GuestInput struct {
	Name  string  `json:"name"`
	Email string  `json:"email"`
	Phone *string `json:"phone"`
}

func parseGuest(p *domain.Problems, in GuestInput) Guest {
	g := Guest{Name: strings.TrimSpace(in.Name), Email: strings.TrimSpace(in.Email)}
	domain.CheckText(p, "guest.name", g.Name, 1, 200)
	if a, err := mail.ParseAddress(g.Email); err != nil || a.Address != g.Email || len(g.Email) > 254 {
		p.Add("guest.email", "invalid", "guest.email must be an email address like guest@example.com")
	}
	if in.Phone != nil {
		ph := strings.TrimSpace(*in.Phone)
		if len(ph) > 40 || strings.ContainsFunc(ph, func(r rune) bool { return !strings.ContainsRune("0123456789+-() .", r) }) {
			p.Add("guest.phone", "invalid", "guest.phone must be at most 40 digits, spaces and + - ( ) .")
		}
		g.Phone = &ph
	}
	return g
}

// CreateBookingInput is the body of a booking request.
type CreateBookingInput struct {
	Guest GuestInput  `json:"guest"`
	Items []LineInput `json:"items"`
	Notes *string     `json:"notes"`
}

// CreateBooking places a hold: an unpaid booking that expires unless confirmed.
type CreateBooking struct {
	command.Meta `json:"-"`
	Guest        Guest  `json:"guest"`
	Lines        []Line `json:"lines"`
	Notes        string `json:"notes"`
}

// NewCreateBooking validates in.
func NewCreateBooking(meta command.Meta, in CreateBookingInput) (CreateBooking, error) {
	var p domain.Problems
	cmd := CreateBooking{Meta: meta, Guest: parseGuest(&p, in.Guest)}
	cmd.Lines = parseLines(&p, "items", in.Items)
	if in.Notes != nil {
		cmd.Notes = *in.Notes
		domain.CheckText(&p, "notes", cmd.Notes, 0, 5000)
	}
	return cmd, p.Err()
}

// CreateBooking handles CreateBooking. Availability is checked first so a conflict
// can name every blocked item, but the exclusion constraint is the arbiter: a
// concurrent booking that wins the race makes this insert fail, and that failure
// becomes the same booking_conflict.
func (s *Bookings) CreateBooking(ctx context.Context, sc scope.Scope, cmd CreateBooking) (Booking, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpCreateBooking, cmd, func(q *db.Queries) (Booking, []domain.Event, error) {
		// Three round trips: the clock, the items' locks, the catalogue and the
		// rates; then the stale holds and the free units; then the inserts.
		var clock db.OrganisationClockRow
		var facts stayFacts
		calls := append([]db.Call{domain.ReadClock(ctx, sc, &clock), lockItemsCall(ctx, sc, cmd.Lines, nil)},
			facts.read(ctx, sc, cmd.Lines)...)
		if err := q.Pipeline(ctx, calls...); err != nil {
			return Booking{}, nil, err
		}
		c, err := domain.ClockOf(clock)
		if err != nil {
			return Booking{}, nil, err
		}
		priced, err := facts.price(c, "items", cmd.Lines)
		if err != nil {
			return Booking{}, nil, err
		}
		events, units, err := s.settleUnits(ctx, q, sc, c, priced, nil, nil)
		if err != nil {
			return Booking{}, nil, err
		}
		var total int64
		for _, l := range priced {
			total += l.Total
		}
		id := uuid.Must(uuid.NewV7())
		var row db.Booking
		insert := func(q *db.Queries) (err error) {
			row, err = q.InsertBooking(ctx, db.InsertBookingParams{OrganisationID: sc.OrganisationID, ID: id,
				GuestName: cmd.Guest.Name, GuestEmail: cmd.Guest.Email, GuestPhone: cmd.Guest.Phone, Notes: cmd.Notes,
				Currency: c.Currency, Total: total, ExpiresAt: c.HoldTill})
			if err != nil {
				return fmt.Errorf("insert booking: %w", err)
			}
			return nil
		}
		lineIDs, lines, err := lineInserts(ctx, sc, id, StatusUnpaid, c.HoldTill, priced, units)
		if err != nil {
			return Booking{}, nil, err
		}
		if err := q.Pipeline(ctx, append([]db.Call{insert}, lines...)...); err != nil {
			return Booking{}, nil, err
		}
		b, err := newBooking(ctx, q, sc, c, row, priced, lineIDs, units)
		if err != nil {
			return Booking{}, nil, err
		}
		return b, append(events, domain.Event{Type: domain.EventBookingCreated, Data: b}), nil
	})
}

// lockItemsCall takes the items of lines (and, for a change, those the booking
// holds now) in one id-ordered statement, so bookings of an item are serialised
// before they check availability: a loser then sees the winner's committed stay
// and answers booking_conflict at once, instead of inserting, waiting on the
// winner inside the exclusion check, and deadlocking with the other losers. It
// is a call of a pipeline.
func lockItemsCall(ctx context.Context, sc scope.Scope, lines []Line, booking *uuid.UUID) db.Call {
	ids := make([]uuid.UUID, len(lines))
	for i, l := range lines {
		ids[i] = l.ItemID
	}
	return func(q *db.Queries) error {
		if _, err := q.LockItemsForBooking(ctx, db.LockItemsForBookingParams{OrganisationID: sc.OrganisationID,
			ItemIds: ids, BookingID: booking}); err != nil {
			return fmt.Errorf("lock items: %w", err)
		}
		return nil
	}
}

func overlapConflict(items []uuid.UUID) *domain.Error {
	e := domain.Conflict(domain.CodeBookingConflict, "the requested dates overlap active bookings or blocks")
	e.ItemIDs = items
	return e
}

// insertLines writes a booking's stays in item order (so two bookings of the same
// items lock them in the same order) and the occupancy of each of their units,
// in one round trip, mapping an overlap the exclusion constraint refuses to
// booking_conflict. It returns the ids of the stays, in the order of lines.
func insertLines(ctx context.Context, q *db.Queries, sc scope.Scope, bookingID uuid.UUID, status string, holdTill time.Time,
	lines []PricedLine, units [][]UnitRef) ([]uuid.UUID, error) {
	ids, calls, err := lineInserts(ctx, sc, bookingID, status, holdTill, lines, units)
	if err != nil {
		return nil, err
	}
	if err := q.Pipeline(ctx, calls...); err != nil {
		return nil, err
	}
	return ids, nil
}

// lineInserts is insertLines' statements as calls of a pipeline, with the ids
// the stays will have.
func lineInserts(ctx context.Context, sc scope.Scope, bookingID uuid.UUID, status string, holdTill time.Time,
	lines []PricedLine, units [][]UnitRef) ([]uuid.UUID, []db.Call, error) {
	ids := make([]uuid.UUID, len(lines))
	order := make([]int, len(lines))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(lines[a].ItemID.String(), lines[b].ItemID.String()) })
	var calls []db.Call
	for _, i := range order {
		l := lines[i]
		lineID := uuid.Must(uuid.NewV7())
		ids[i] = lineID
		breakdown, err := json.Marshal(lineBreakdown{NightlyPrices: l.NightlyPrices, Fees: l.Fees, Taxes: l.Taxes})
		if err != nil {
			return nil, nil, fmt.Errorf("encode price breakdown: %w", err)
		}
		guests := l.Guests
		item := db.InsertBookingItemParams{OrganisationID: sc.OrganisationID, ID: lineID,
			BookingID: bookingID, Position: int32(i), ItemID: l.ItemID, CheckIn: l.CheckIn.Time(), CheckOut: l.CheckOut.Time(),
			Nights: l.Nights, Quantity: l.Quantity, NightlyPrice: l.NightlyPrice, RoomTotal: l.RoomTotal,
			AddonsTotal: l.AddonsTotal, Total: l.Total, Status: status, HoldExpiresAt: holdTill, Guests: &guests,
			ExtraGuestsTotal: l.ExtraGuestsTotal, Discount: l.Discount, Breakdown: breakdown, PropertyID: l.PropertyID}
		calls = append(calls, func(q *db.Queries) error {
			if err := q.InsertBookingItem(ctx, item); err != nil {
				return fmt.Errorf("insert booking item: %w", err)
			}
			return nil
		})
		for _, u := range units[i] {
			occ := db.InsertOccupancyParams{OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
				UnitID: u.ID, ItemID: l.ItemID, CheckIn: l.CheckIn.Time(), CheckOut: l.CheckOut.Time(), BookingID: &bookingID,
				BookingItemID: &lineID, Status: status, HoldExpiresAt: &holdTill}
			calls = append(calls, func(q *db.Queries) error {
				err := q.InsertOccupancy(ctx, occ)
				if isOverlap(err) {
					return overlapConflict([]uuid.UUID{l.ItemID})
				}
				if err != nil {
					return fmt.Errorf("insert occupancy: %w", err)
				}
				return nil
			})
		}
		for _, a := range l.Addons {
			addon := db.InsertBookingItemAddonParams{OrganisationID: sc.OrganisationID,
				BookingItemID: lineID, AddonID: a.AddonID, Name: a.Name, Per: a.Per, UnitPrice: a.UnitPrice,
				Quantity: a.Quantity, Total: a.Total}
			calls = append(calls, func(q *db.Queries) error {
				if err := q.InsertBookingItemAddon(ctx, addon); err != nil {
					return fmt.Errorf("insert booking add-on: %w", err)
				}
				return nil
			})
		}
	}
	return ids, calls, nil
}

// newBooking is the booking CreateBooking has just written, made from what it
// wrote instead of read back (four statements fewer): row as InsertBooking
// returned it, lines with their stay ids and units. It equals what
// loadBooking would return: stays in line order, add-ons by id, the breakdown
// as stored. The one thing Go cannot order as the database does is unit names
// (collation), so stays with more than one unit read theirs back, in one
// statement for all of them.
func newBooking(ctx context.Context, q *db.Queries, sc scope.Scope, c domain.Clock, row db.Booking, lines []PricedLine,
	lineIDs []uuid.UUID, units [][]UnitRef) (Booking, error) {
	var several []uuid.UUID
	for i, u := range units {
		if len(u) > 1 {
			several = append(several, lineIDs[i])
		}
	}
	var byName map[uuid.UUID][]UnitRef
	if len(several) > 0 {
		var err error
		if byName, err = lineUnits(ctx, q, sc, several); err != nil {
			return Booking{}, err
		}
	}
	out := make([]BookingLine, len(lines))
	for i, l := range lines {
		l.UnitID = nil // not stored: a read-back has none
		l.Addons = slices.Clone(l.Addons)
		if l.Addons == nil {
			l.Addons = []AddonLine{}
		}
		slices.SortFunc(l.Addons, func(a, b AddonLine) int { return bytes.Compare(a.AddonID[:], b.AddonID[:]) })
		us := slices.Clone(units[i])
		if len(us) > 1 {
			us = byName[lineIDs[i]]
		}
		if us == nil {
			us = []UnitRef{}
		}
		out[i] = BookingLine{ID: lineIDs[i], PricedLine: l, Units: us}
	}
	return bookingFromRow(row, out, c), nil
}

// lineBreakdown is the part of a priced stay that booking_items.breakdown keeps,
// so a booking shows the prices it was made at whatever the rates are now.
type lineBreakdown struct {
	NightlyPrices []rates.Night      `json:"nightly_prices"`
	Fees          []rates.ChargeLine `json:"fees"`
	Taxes         []rates.ChargeLine `json:"taxes"`
}

// breakdownOf reads a stored stay's breakdown. A stay booked before rates has
// none: each of its nights was at its nightly price, and it paid no charges.
func breakdownOf(it db.BookingItemsRow) (lineBreakdown, error) {
	b := lineBreakdown{Fees: []rates.ChargeLine{}, Taxes: []rates.ChargeLine{}}
	if it.Breakdown != nil {
		if err := json.Unmarshal(it.Breakdown, &b); err != nil {
			return b, fmt.Errorf("price breakdown of booked stay %s: %w", it.ID, err)
		}
		return b, nil
	}
	in := domain.DateFromTime(it.CheckIn)
	for d := range int(it.Nights) {
		b.NightlyPrices = append(b.NightlyPrices, rates.Night{Date: in.AddDays(d), Price: it.NightlyPrice})
	}
	return b, nil
}

// isOverlap reports whether err is the database refusing a double booking: the
// exclusion constraint (23P01), or the deadlock detector aborting one of two
// transactions that were each waiting on the other's overlapping insert (40P01).
func isOverlap(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == pgerrcode.ExclusionViolation || pgErr.Code == pgerrcode.DeadlockDetected
}

// IsOverlap is isOverlap for tests and tools outside the package.
func IsOverlap(err error) bool { return isOverlap(err) }

func loadBooking(ctx context.Context, q *db.Queries, sc scope.Scope, c domain.Clock, id uuid.UUID) (Booking, error) {
	row, err := q.GetBooking(ctx, db.GetBookingParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return Booking{}, domain.NotFound("booking")
	}
	if err != nil {
		return Booking{}, fmt.Errorf("load booking: %w", err)
	}
	bs, err := assemble(ctx, q, sc, c, []db.Booking{row})
	if err != nil {
		return Booking{}, err
	}
	return bs[0], nil
}

// assemble loads the stays and add-ons of bookings (two queries for any number).
func assemble(ctx context.Context, q *db.Queries, sc scope.Scope, c domain.Clock, rows []db.Booking) ([]Booking, error) {
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	items, err := q.BookingItems(ctx, db.BookingItemsParams{OrganisationID: sc.OrganisationID, BookingIds: ids})
	if err != nil {
		return nil, fmt.Errorf("load booking items: %w", err)
	}
	lineIDs := make([]uuid.UUID, len(items))
	for i, it := range items {
		lineIDs[i] = it.ID
	}
	addons, err := q.BookingItemAddons(ctx, db.BookingItemAddonsParams{OrganisationID: sc.OrganisationID, BookingItemIds: lineIDs})
	if err != nil {
		return nil, fmt.Errorf("load booking add-ons: %w", err)
	}
	unitsByLine, err := lineUnits(ctx, q, sc, lineIDs)
	if err != nil {
		return nil, err
	}
	addonsByLine := map[uuid.UUID][]AddonLine{}
	for _, a := range addons {
		addonsByLine[a.BookingItemID] = append(addonsByLine[a.BookingItemID], AddonLine{AddonID: a.AddonID, Name: a.Name,
			Per: a.Per, UnitPrice: a.UnitPrice, Quantity: a.Quantity, Total: a.Total})
	}
	linesByBooking := map[uuid.UUID][]BookingLine{}
	for _, it := range items {
		al := addonsByLine[it.ID]
		if al == nil {
			al = []AddonLine{}
		}
		units := unitsByLine[it.ID]
		if units == nil {
			units = []UnitRef{}
		}
		b, err := breakdownOf(it)
		if err != nil {
			return nil, err
		}
		linesByBooking[it.BookingID] = append(linesByBooking[it.BookingID], BookingLine{ID: it.ID, Units: units, PricedLine: PricedLine{
			ItemID: it.ItemID, CheckIn: domain.DateFromTime(it.CheckIn), CheckOut: domain.DateFromTime(it.CheckOut), Nights: it.Nights,
			Quantity: it.Quantity, Guests: it.Guests, NightlyPrice: it.NightlyPrice, NightlyPrices: b.NightlyPrices,
			RoomTotal: it.RoomTotal, ExtraGuestsTotal: it.ExtraGuestsTotal, Discount: it.Discount, Addons: al,
			AddonsTotal: it.AddonsTotal, Fees: b.Fees, Taxes: b.Taxes, Total: it.Total}})
	}
	out := make([]Booking, len(rows))
	for i, r := range rows {
		lines := linesByBooking[r.ID]
		if lines == nil {
			lines = []BookingLine{}
		}
		out[i] = bookingFromRow(r, lines, c)
	}
	return out, nil
}

// bookingFromRow is a booking row with its stays, as clients see it at c.Now.
func bookingFromRow(r db.Booking, lines []BookingLine, c domain.Clock) Booking {
	return Booking{ID: r.ID, Status: effectiveStatus(r.Status, r.ExpiresAt, c.Now),
		Guest: Guest{Name: r.GuestName, Email: r.GuestEmail, Phone: r.GuestPhone}, Notes: r.Notes, Items: lines,
		Total: r.Total, Currency: r.Currency, ExpiresAt: r.ExpiresAt, PaymentReference: r.PaymentReference,
		CancelReason: r.CancelReason, Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		ConfirmedAt: r.ConfirmedAt, CancelledAt: r.CancelledAt, CompletedAt: r.CompletedAt, ExpiredAt: r.ExpiredAt}
}

// GetBooking returns one booking.
func (s *Bookings) GetBooking(ctx context.Context, sc scope.Scope, id uuid.UUID) (Booking, error) {
	if err := domain.Authorize(sc, domain.OpReadBookings); err != nil {
		return Booking{}, err
	}
	var out Booking
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		out, err = loadBooking(ctx, q, sc, c, id)
		return err
	})
	return out, err
}

// BookingFilter narrows a booking list.
type BookingFilter struct {
	Status     *string
	ItemID     *uuid.UUID
	PropertyID *uuid.UUID
	From       *domain.Date // with To: bookings with a stay overlapping [From, To)
	To         *domain.Date
}

// NewBookingFilter validates list filters as they arrive in a query string.
func NewBookingFilter(status, itemID, propertyID, from, to string) (BookingFilter, error) {
	var f BookingFilter
	var p domain.Problems
	if status != "" {
		if status != StatusUnpaid && status != StatusPaid && status != StatusCancelled && status != StatusExpired && status != StatusComplete {
			p.Add("status", "invalid", "status must be unpaid, paid, cancelled, expired or complete")
		}
		f.Status = &status
	}
	if itemID != "" {
		id, err := uuid.Parse(itemID)
		if err != nil {
			p.Add("item_id", "invalid", "item_id must be an item id")
		}
		f.ItemID = &id
	}
	if propertyID != "" {
		id, err := uuid.Parse(propertyID)
		if err != nil {
			p.Add("property_id", "invalid", "property_id must be a property id")
		}
		f.PropertyID = &id
	}
	if (from == "") != (to == "") {
		p.Add("from", "required", "from and to go together")
	} else if from != "" {
		fd, err := domain.ParseDate(from)
		if err != nil {
			p.Add("from", "invalid", "%s", err.Error())
		}
		td, err2 := domain.ParseDate(to)
		if err2 != nil {
			p.Add("to", "invalid", "%s", err2.Error())
		}
		if err == nil && err2 == nil && !fd.Before(td) {
			p.Add("to", "before_from", "to must be after from")
		}
		f.From, f.To = &fd, &td
	}
	return f, p.Err()
}

// ListBookings lists bookings, newest first.
func (s *Bookings) ListBookings(ctx context.Context, sc scope.Scope, f BookingFilter, page domain.Page) (domain.List[Booking], error) {
	if err := domain.Authorize(sc, domain.OpReadBookings); err != nil {
		return domain.List[Booking]{}, err
	}
	var out domain.List[Booking]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		rows, err := listBookings(ctx, q, sc, f, page, c.Now)
		if err != nil {
			return fmt.Errorf("list bookings: %w", err)
		}
		bs, err := assemble(ctx, q, sc, c, rows)
		if err != nil {
			return err
		}
		out = domain.Paginate(bs, page, func(b Booking) (Booking, uuid.UUID) { return b, b.ID })
		return nil
	})
	return out, err
}

// Where a list filter is absent, these match everything (see the queries).
var (
	lastID    = uuid.Max
	firstDate = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	lastDate  = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// listBookings runs the query whose index fits the filter best, so that no
// filter makes the list walk every booking of the organisation (the plans are in
// docs/operations.md): an item's stays; else the stays overlapping the dates;
// else a property's stays; else a status; else every booking. Live holds
// (status unpaid) with a property or dates read the few live holds instead.
func listBookings(ctx context.Context, q *db.Queries, sc scope.Scope, f BookingFilter, page domain.Page, now time.Time) ([]db.Booking, error) {
	org, limit, before := sc.OrganisationID, page.Limit+1, lastID
	if page.Cursor != nil {
		before = *page.Cursor
	}
	status := ""
	if f.Status != nil {
		status = *f.Status
	}
	from, to := firstDate, lastDate
	if f.From != nil {
		from, to = f.From.Time(), f.To.Time()
	}
	switch {
	case status == StatusUnpaid && f.ItemID == nil && (f.PropertyID != nil || f.From != nil):
		return q.ListLiveHoldsByStay(ctx, db.ListLiveHoldsByStayParams{OrganisationID: org, Before: before,
			PropertyID: f.PropertyID, FromDate: from, ToDate: to, Now: now, RowLimit: limit})
	case f.ItemID != nil:
		return q.ListBookingsByItem(ctx, db.ListBookingsByItemParams{OrganisationID: org, ItemID: *f.ItemID,
			Before: before, FromDate: from, ToDate: to, PropertyID: f.PropertyID, Status: status, Now: now, RowLimit: limit})
	case f.From != nil:
		return q.ListBookingsByStay(ctx, db.ListBookingsByStayParams{OrganisationID: org, Before: before,
			FromDate: from, ToDate: to, PropertyID: f.PropertyID, Status: status, Now: now, RowLimit: limit})
	case f.PropertyID != nil:
		return q.ListBookingsByProperty(ctx, db.ListBookingsByPropertyParams{OrganisationID: org,
			PropertyID: f.PropertyID, Before: before, Status: status, Now: now, RowLimit: limit})
	case status != "":
		rows, err := q.ListBookingsByStatus(ctx, db.ListBookingsByStatusParams{OrganisationID: org, Status: status,
			Before: before, Now: now, RowLimit: limit})
		out := make([]db.Booking, len(rows))
		for i, r := range rows {
			out[i] = db.Booking(r)
		}
		return out, err
	}
	return q.ListBookings(ctx, db.ListBookingsParams{OrganisationID: org, Before: before, RowLimit: limit})
}

// UpdateBookingInput is the body of a booking PATCH; absent fields stay as they are.
type UpdateBookingInput struct {
	Guest *GuestInput `json:"guest"`
	Notes *string     `json:"notes"`
	Items []LineInput `json:"items"`
}

// UpdateBooking changes a live booking's guest, notes or stays. Stays that
// differ in any way from the booked ones (item, dates, quantity, guests, unit,
// add-ons) replace them: they are checked for availability again and priced at
// the rates in force now. Otherwise the booking keeps the prices it was made at.
type UpdateBooking struct {
	command.Meta `json:"-"`
	BookingID    uuid.UUID `json:"booking_id"`
	Guest        *Guest    `json:"guest"`
	Notes        *string   `json:"notes"`
	Lines        []Line    `json:"lines"`
}

// NewUpdateBooking validates in.
func NewUpdateBooking(meta command.Meta, id uuid.UUID, in UpdateBookingInput) (UpdateBooking, error) {
	var p domain.Problems
	cmd := UpdateBooking{Meta: meta, BookingID: id, Notes: in.Notes}
	if in.Guest != nil {
		g := parseGuest(&p, *in.Guest)
		cmd.Guest = &g
	}
	if in.Notes != nil {
		domain.CheckText(&p, "notes", *in.Notes, 0, 5000)
	}
	if in.Items != nil {
		cmd.Lines = parseLines(&p, "items", in.Items)
	}
	if in.Guest == nil && in.Notes == nil && in.Items == nil {
		p.Add("", "empty", "nothing to change: send guest, notes or items")
	}
	return cmd, p.Err()
}

// UpdatedBooking is the answer to a booking PATCH: the booking, and whether
// its stays were priced again at the rates in force now (Repriced) or kept the
// prices they were booked at.
type UpdatedBooking struct {
	Booking
	Repriced bool `json:"repriced"`
}

// sameStays reports whether lines ask for exactly the stays a booking has.
func sameStays(booked []BookingLine, lines []Line) bool {
	if len(booked) != len(lines) {
		return false
	}
	for i, l := range lines {
		b := booked[i]
		if b.ItemID != l.ItemID || b.CheckIn != l.CheckIn || b.CheckOut != l.CheckOut || b.Quantity != l.Quantity ||
			b.Guests != l.Guests || len(b.Addons) != len(l.Addons) {
			return false
		}
		if l.UnitID != nil && (len(b.Units) != 1 || b.Units[0].ID != *l.UnitID) {
			return false
		}
		for _, a := range l.Addons {
			if !slices.ContainsFunc(b.Addons, func(ba AddonLine) bool { return ba.AddonID == a.AddonID && ba.Quantity == a.Quantity }) {
				return false
			}
		}
	}
	return true
}

// UpdateBooking handles UpdateBooking.
func (s *Bookings) UpdateBooking(ctx context.Context, sc scope.Scope, cmd UpdateBooking) (UpdatedBooking, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpUpdateBooking, cmd, func(q *db.Queries) (UpdatedBooking, []domain.Event, error) {
		c, cur, err := s.lockBooking(ctx, q, sc, cmd.Meta, cmd.BookingID)
		if err != nil {
			return UpdatedBooking{}, nil, err
		}
		status := effectiveStatus(cur.Status, cur.ExpiresAt, c.Now)
		if status != StatusUnpaid && status != StatusPaid {
			return UpdatedBooking{}, nil, domain.Conflict(domain.CodeInvalidTransition, "a %s booking cannot be changed", status)
		}
		params := db.UpdateBookingDetailsParams{OrganisationID: sc.OrganisationID, ID: cur.ID, GuestName: cur.GuestName,
			GuestEmail: cur.GuestEmail, GuestPhone: cur.GuestPhone, Notes: cur.Notes, Total: cur.Total}
		if cmd.Guest != nil {
			params.GuestName, params.GuestEmail, params.GuestPhone = cmd.Guest.Name, cmd.Guest.Email, cmd.Guest.Phone
		}
		if cmd.Notes != nil {
			params.Notes = *cmd.Notes
		}
		var events []domain.Event
		repriced := false
		if cmd.Lines != nil {
			for _, l := range cmd.Lines {
				if l.UnitID != nil {
					if err := domain.Authorize(sc, domain.OpAssignUnit); err != nil {
						return UpdatedBooking{}, nil, err
					}
				}
			}
			booked, err := loadBooking(ctx, q, sc, c, cur.ID)
			if err != nil {
				return UpdatedBooking{}, nil, err
			}
			repriced = !sameStays(booked.Items, cmd.Lines)
		}
		if repriced {
			var facts stayFacts
			if err := q.Pipeline(ctx, append([]db.Call{lockItemsCall(ctx, sc, cmd.Lines, &cur.ID)}, facts.read(ctx, sc, cmd.Lines)...)...); err != nil {
				return UpdatedBooking{}, nil, err
			}
			priced, err := facts.price(c, "items", cmd.Lines)
			if err != nil {
				return UpdatedBooking{}, nil, err
			}
			held, err := heldUnits(ctx, q, sc, cur.ID)
			if err != nil {
				return UpdatedBooking{}, nil, err
			}
			var units [][]UnitRef
			if events, units, err = s.settleUnits(ctx, q, sc, c, priced, &cur.ID, held); err != nil {
				return UpdatedBooking{}, nil, err
			}
			if err := q.DeleteBookingItems(ctx, db.DeleteBookingItemsParams{OrganisationID: sc.OrganisationID, BookingID: cur.ID}); err != nil {
				return UpdatedBooking{}, nil, fmt.Errorf("replace booking items: %w", err)
			}
			if _, err := insertLines(ctx, q, sc, cur.ID, cur.Status, cur.ExpiresAt, priced, units); err != nil {
				return UpdatedBooking{}, nil, err
			}
			params.Total = 0
			for _, l := range priced {
				params.Total += l.Total
			}
		}
		if _, err := q.UpdateBookingDetails(ctx, params); err != nil {
			return UpdatedBooking{}, nil, fmt.Errorf("update booking: %w", err)
		}
		b, err := loadBooking(ctx, q, sc, c, cur.ID)
		if err != nil {
			return UpdatedBooking{}, nil, err
		}
		return UpdatedBooking{Booking: b, Repriced: repriced}, append(events, domain.Event{Type: domain.EventBookingUpdated, Data: b}), nil
	})
}

// lockBooking loads a booking for change and checks the expected version.
func (s *Bookings) lockBooking(ctx context.Context, q *db.Queries, sc scope.Scope, meta command.Meta, id uuid.UUID) (domain.Clock, db.Booking, error) {
	c, err := domain.LoadClock(ctx, q, sc)
	if err != nil {
		return domain.Clock{}, db.Booking{}, err
	}
	cur, err := q.GetBookingForUpdate(ctx, db.GetBookingForUpdateParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Clock{}, db.Booking{}, domain.NotFound("booking")
	}
	if err != nil {
		return domain.Clock{}, db.Booking{}, fmt.Errorf("load booking: %w", err)
	}
	if err := meta.CheckVersion(cur.Version); err != nil {
		return domain.Clock{}, db.Booking{}, err
	}
	return c, cur, nil
}

// TransitionInput is the body of the lifecycle requests.
type TransitionInput struct {
	PaymentReference *string `json:"payment_reference"`
	Reason           *string `json:"reason"`
}

// TransitionBooking moves a booking along its lifecycle: confirm (to paid),
// cancel (to cancelled, freeing its dates) or complete (from paid).
type TransitionBooking struct {
	command.Meta     `json:"-"`
	BookingID        uuid.UUID `json:"booking_id"`
	To               string    `json:"to"`
	PaymentReference *string   `json:"payment_reference,omitempty"`
	Reason           *string   `json:"reason,omitempty"`
}

// NewConfirmBooking validates a confirmation.
func NewConfirmBooking(meta command.Meta, id uuid.UUID, in TransitionInput) (TransitionBooking, error) {
	var p domain.Problems
	if in.Reason != nil {
		p.Add("reason", "unexpected", "reason belongs to cancel")
	}
	if in.PaymentReference != nil {
		domain.CheckText(&p, "payment_reference", *in.PaymentReference, 1, 200)
	}
	return TransitionBooking{Meta: meta, BookingID: id, To: StatusPaid, PaymentReference: in.PaymentReference}, p.Err()
}

// NewCancelBooking validates a cancellation.
func NewCancelBooking(meta command.Meta, id uuid.UUID, in TransitionInput) (TransitionBooking, error) {
	var p domain.Problems
	if in.PaymentReference != nil {
		p.Add("payment_reference", "unexpected", "payment_reference belongs to confirm")
	}
	if in.Reason != nil {
		domain.CheckText(&p, "reason", *in.Reason, 0, 1000)
	}
	return TransitionBooking{Meta: meta, BookingID: id, To: StatusCancelled, Reason: in.Reason}, p.Err()
}

// NewCompleteBooking validates a completion.
func NewCompleteBooking(meta command.Meta, id uuid.UUID, in TransitionInput) (TransitionBooking, error) {
	var p domain.Problems
	if in.PaymentReference != nil || in.Reason != nil {
		p.Add("", "unexpected", "complete takes no fields")
	}
	return TransitionBooking{Meta: meta, BookingID: id, To: StatusComplete}, p.Err()
}

var transitionEvents = map[string]string{
	StatusPaid: domain.EventBookingConfirmed, StatusCancelled: domain.EventBookingCancelled,
	StatusComplete: domain.EventBookingCompleted, StatusExpired: domain.EventBookingExpired,
}

// TransitionBooking handles TransitionBooking.
func (s *Bookings) TransitionBooking(ctx context.Context, sc scope.Scope, cmd TransitionBooking) (Booking, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.Operation("booking."+cmd.To), cmd, func(q *db.Queries) (Booking, []domain.Event, error) {
		c, cur, err := s.lockBooking(ctx, q, sc, cmd.Meta, cmd.BookingID)
		if err != nil {
			return Booking{}, nil, err
		}
		from := effectiveStatus(cur.Status, cur.ExpiresAt, c.Now)
		if !CanTransition(from, cmd.To) {
			return Booking{}, nil, domain.Conflict(domain.CodeInvalidTransition, "a %s booking cannot become %s", from, cmd.To)
		}
		b, err := setStatus(ctx, q, sc, c, cur.ID, cmd.To, cmd.PaymentReference, cmd.Reason)
		if err != nil {
			return Booking{}, nil, err
		}
		return b, []domain.Event{{Type: transitionEvents[cmd.To], Data: b}}, nil
	})
}

func setStatus(ctx context.Context, q *db.Queries, sc scope.Scope, c domain.Clock, id uuid.UUID, to string, payRef, reason *string) (Booking, error) {
	if _, err := q.SetBookingStatus(ctx, db.SetBookingStatusParams{OrganisationID: sc.OrganisationID, ID: id, Status: to,
		PaymentReference: payRef, CancelReason: reason, Now: c.Now}); err != nil {
		return Booking{}, fmt.Errorf("set booking status: %w", err)
	}
	if err := q.SetBookingItemsStatus(ctx, db.SetBookingItemsStatusParams{OrganisationID: sc.OrganisationID, BookingID: id, Status: to}); err != nil {
		return Booking{}, fmt.Errorf("set booking items status: %w", err)
	}
	return loadBooking(ctx, q, sc, c, id)
}
