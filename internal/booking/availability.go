package booking

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/rates"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// AvailabilityQuery asks which items have Quantity units free for a stay.
type AvailabilityQuery struct {
	CheckIn    domain.Date
	CheckOut   domain.Date
	Guests     int32
	Quantity   int32
	PropertyID *uuid.UUID
	// Breakdown asks for each item's nightly prices.
	Breakdown bool
	Page      domain.Page
}

// AvailabilityParams are the availability search's query parameters as they arrive.
type AvailabilityParams struct {
	CheckIn, CheckOut, Guests, Quantity, PropertyID, Breakdown string
}

// NewAvailabilityQuery validates the query parameters.
func NewAvailabilityQuery(in AvailabilityParams, page domain.Page) (AvailabilityQuery, error) {
	var p domain.Problems
	q := AvailabilityQuery{Guests: 1, Quantity: 1, Page: page}
	q.CheckIn, q.CheckOut = parseStay(&p, "check_in", "check_out", in.CheckIn, in.CheckOut)
	guests := in.Guests
	if in.Quantity != "" {
		n, err := strconv.ParseInt(in.Quantity, 10, 32)
		if err != nil || n < 1 || n > maxQuantity {
			p.Add("quantity", "out_of_range", "quantity must be a whole number between 1 and %d", maxQuantity)
		}
		q.Quantity = int32(n)
	}
	if in.PropertyID != "" {
		id, err := uuid.Parse(in.PropertyID)
		if err != nil {
			p.Add("property_id", "invalid", "property_id must be a property id")
		}
		q.PropertyID = &id
	}
	switch in.Breakdown {
	case "", "false":
	case "true":
		q.Breakdown = true
	default:
		p.Add("breakdown", "invalid", "breakdown must be true or false")
	}
	if guests != "" {
		n, err := strconv.ParseInt(guests, 10, 32)
		if err != nil || n < 1 || n > 10000 {
			p.Add("guests", "out_of_range", "guests must be a whole number between 1 and 10000")
		}
		q.Guests = int32(n)
	}
	return q, p.Err()
}

// AvailableItem is an item with enough units free for the whole stay and whose
// rates sell it: how many units are free, and the price of the requested
// quantity for the stay and guests, fees and taxes included (as a quote without
// add-ons would price it); with breakdown, each night's price per unit.
type AvailableItem struct {
	catalogue.Item
	AvailableUnits int32         `json:"available_units"`
	Nights         int32         `json:"nights"`
	Total          int64         `json:"total"`
	NightlyPrices  []rates.Night `json:"nightly_prices,omitempty"`
}

// Availability searches the organisation's items free and sellable for the
// stay: one query over the items, their units' occupancies and the rates of the
// stay's dates, sent with the clock and the organisation's charges.
func (s *Bookings) Availability(ctx context.Context, sc scope.Scope, aq AvailabilityQuery) (domain.List[AvailableItem], error) {
	if err := domain.Authorize(sc, domain.OpSearchAvailability); err != nil {
		return domain.List[AvailableItem]{}, err
	}
	var out domain.List[AvailableItem]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		// One round trip: generic plans (AvailableItems is written so that its
		// generic plan is the plan for every search, and running it saves
		// planning the statement anew each time, which cost about as much as
		// executing it), the clock, the organisation's charges and the search,
		// which reads the clock itself. A check_in before today wastes the
		// search: it is refused after.
		var clock db.OrganisationClockRow
		var all []db.Charge
		var rows []db.AvailableItemsRow
		nights := int32(aq.CheckIn.DaysUntil(aq.CheckOut))
		err := q.Pipeline(ctx, command.PreferGenericPlans(ctx), domain.ReadClock(ctx, sc, &clock),
			func(q *db.Queries) (err error) {
				if all, err = q.AllCharges(ctx, sc.OrganisationID); err != nil {
					return fmt.Errorf("load charges: %w", err)
				}
				return nil
			},
			func(q *db.Queries) (err error) {
				rows, err = q.AvailableItems(ctx, db.AvailableItemsParams{OrganisationID: sc.OrganisationID, Guests: aq.Guests,
					Nights: nights, Quantity: aq.Quantity, PropertyID: aq.PropertyID, After: aq.Page.Cursor,
					CheckIn: aq.CheckIn.Time(), CheckOut: aq.CheckOut.Time(), Breakdown: aq.Breakdown, RowLimit: aq.Page.Limit + 1})
				if err != nil {
					return fmt.Errorf("search availability: %w", err)
				}
				return nil
			})
		if err != nil {
			return err
		}
		c, err := domain.ClockOf(clock)
		if err != nil {
			return err
		}
		if aq.CheckIn.Before(c.Today) {
			return domain.Invalid("check_in", "in_past", fmt.Sprintf("check_in %s is before today (%s) in the organisation's time zone", aq.CheckIn, c.Today))
		}
		// Pricing picks each item's charges from the organisation's (a charge
		// for every item, or listing it), in the order ChargesForItems has.
		charges := make([]rates.Charge, len(all))
		for i, r := range all {
			charges[i] = rates.ChargeFromRow(r, "")
		}
		var decodeErr error
		out = domain.Paginate(rows, aq.Page, func(r db.AvailableItemsRow) (AvailableItem, uuid.UUID) {
			it := catalogue.ItemFromRow(r.Item, c.Currency)
			price, _ := rates.PriceStay(rates.Stay{ItemID: it.ID, Nights: nights, NightsTotal: r.RoomPrice, Quantity: aq.Quantity,
				Guests: aq.Guests, Settings: it.PriceSettings, Charges: charges})
			ai := AvailableItem{Item: it, AvailableUnits: r.AvailableUnits, Nights: nights, Total: price.Total}
			if aq.Breakdown {
				if err := json.Unmarshal(r.NightlyPrices, &ai.NightlyPrices); err != nil {
					decodeErr = fmt.Errorf("nightly prices of item %s: %w", it.ID, err)
				}
			}
			return ai, r.Item.ID
		})
		return decodeErr
	})
	return out, err
}

// CalendarDay is an item's units on a date: how many exist, how many are free
// (available is true while at least one is), and the blocks on that day; and
// its rates on that date: the price of the night that starts on it (and the
// rule that set it), whether that night is closed, whether a stay may arrive or
// depart on it, and the nights a stay arriving on it may have.
type CalendarDay struct {
	Date              domain.Date     `json:"date"`
	Available         bool            `json:"available"`
	AvailableUnits    int32           `json:"available_units"`
	TotalUnits        int32           `json:"total_units"`
	Blocks            []CalendarBlock `json:"blocks"`
	Price             int64           `json:"price"`
	RuleID            *uuid.UUID      `json:"rule_id"`
	Closed            bool            `json:"closed"`
	ClosedToArrival   bool            `json:"closed_to_arrival"`
	ClosedToDeparture bool            `json:"closed_to_departure"`
	MinNights         int32           `json:"min_nights"`
	MaxNights         int32           `json:"max_nights"`
}

// CalendarBlock is a block as the calendar shows it.
type CalendarBlock struct {
	ID     uuid.UUID `json:"id"`
	UnitID uuid.UUID `json:"unit_id"`
	Kind   string    `json:"kind"`
	Reason string    `json:"reason"`
}

// Calendar is an item's availability per day of [From, To).
type Calendar struct {
	ItemID uuid.UUID     `json:"item_id"`
	From   domain.Date   `json:"from"`
	To     domain.Date   `json:"to"`
	Days   []CalendarDay `json:"days"`
}

const maxCalendarDays = 366

// ItemCalendar returns an item's availability per day of [from, to), at most 366 days.
func (s *Bookings) ItemCalendar(ctx context.Context, sc scope.Scope, itemID uuid.UUID, from, to string) (Calendar, error) {
	if err := domain.Authorize(sc, domain.OpSearchAvailability); err != nil {
		return Calendar{}, err
	}
	var p domain.Problems
	f, err := domain.ParseDate(from)
	if err != nil {
		p.Add("from", "invalid", "%s", err.Error())
	}
	t, err2 := domain.ParseDate(to)
	if err2 != nil {
		p.Add("to", "invalid", "%s", err2.Error())
	}
	if err == nil && err2 == nil {
		if n := f.DaysUntil(t); n < 1 || n > maxCalendarDays {
			p.Add("to", "out_of_range", "to must be 1 to %d days after from", maxCalendarDays)
		}
	}
	if err := p.Err(); err != nil {
		return Calendar{}, err
	}
	out := Calendar{ItemID: itemID, From: f, To: t, Days: []CalendarDay{}}
	err = s.db.Tx(ctx, sc, func(q *db.Queries) error {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		if err := catalogue.RequireItem(ctx, q, sc, itemID); err != nil {
			return err
		}
		rows, err := q.ItemCalendar(ctx, db.ItemCalendarParams{OrganisationID: sc.OrganisationID, Now: c.Now, ItemID: itemID,
			FromDate: f.Time(), ToDate: t.Time()})
		if err != nil {
			return fmt.Errorf("item calendar: %w", err)
		}
		if len(rows) == 0 { // a row per day of the item, and there is at least one day
			return domain.NotFound("item")
		}
		for _, r := range rows {
			d := CalendarDay{Date: domain.DateFromTime(r.Day), TotalUnits: r.TotalUnits,
				AvailableUnits: max(r.TotalUnits-r.OccupiedUnits, 0), Blocks: []CalendarBlock{}, Price: r.Price,
				Closed: r.Closed, ClosedToArrival: r.ClosedToArrival, ClosedToDeparture: r.ClosedToDeparture,
				MinNights: r.MinNights, MaxNights: r.MaxNights}
			if r.PriceRuleID != uuid.Nil {
				id := r.PriceRuleID
				d.RuleID = &id
			}
			d.Available = d.AvailableUnits > 0
			if err := json.Unmarshal(r.Blocks, &d.Blocks); err != nil {
				return fmt.Errorf("item calendar blocks: %w", err)
			}
			out.Days = append(out.Days, d)
		}
		return nil
	})
	return out, err
}

// QuoteInput is the body of a quote request.
type QuoteInput struct {
	Items []LineInput `json:"items"`
}

// Quote prices stays without reserving anything.
type Quote struct {
	command.Meta `json:"-"`
	Lines        []Line `json:"lines"`
}

// NewQuote validates in.
func NewQuote(meta command.Meta, in QuoteInput) (Quote, error) {
	var p domain.Problems
	lines := parseLines(&p, "items", in.Items)
	return Quote{Meta: meta, Lines: lines}, p.Err()
}

// QuoteLine is a priced stay, how many of the item's units are free for it, and
// whether it could be booked now.
type QuoteLine struct {
	PricedLine
	AvailableUnits int32 `json:"available_units"`
	Available      bool  `json:"available"`
}

// QuoteResult is the answer to a quote.
type QuoteResult struct {
	Currency  string      `json:"currency"`
	Total     int64       `json:"total"`
	Available bool        `json:"available"`
	Lines     []QuoteLine `json:"lines"`
}

// Quote handles Quote. It reserves nothing, but like every command it is
// recorded, so an Idempotency-Key replays the same quote.
func (s *Bookings) Quote(ctx context.Context, sc scope.Scope, cmd Quote) (QuoteResult, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpQuote, cmd, func(q *db.Queries) (QuoteResult, []domain.Event, error) {
		// Two round trips: the clock with the catalogue and rates, then every
		// line's free units at the clock's time.
		var clock db.OrganisationClockRow
		var facts stayFacts
		if err := q.Pipeline(ctx, append([]db.Call{domain.ReadClock(ctx, sc, &clock)}, facts.read(ctx, sc, cmd.Lines)...)...); err != nil {
			return QuoteResult{}, nil, err
		}
		c, err := domain.ClockOf(clock)
		if err != nil {
			return QuoteResult{}, nil, err
		}
		priced, err := facts.price(c, "items", cmd.Lines)
		if err != nil {
			return QuoteResult{}, nil, err
		}
		frees := make([][]UnitRef, len(priced))
		calls := make([]db.Call, len(priced))
		for i, pl := range priced {
			calls[i] = freeUnitsCall(ctx, sc, c.Now, pl.ItemID, pl.CheckIn, pl.CheckOut, nil, &frees[i])
		}
		if err := q.Pipeline(ctx, calls...); err != nil {
			return QuoteResult{}, nil, err
		}
		res := QuoteResult{Currency: c.Currency, Available: true, Lines: make([]QuoteLine, len(priced))}
		for i, pl := range priced {
			free := frees[i]
			ok := int32(len(free)) >= pl.Quantity
			if pl.UnitID != nil {
				ok = slices.ContainsFunc(free, func(u UnitRef) bool { return u.ID == *pl.UnitID })
			}
			res.Lines[i] = QuoteLine{PricedLine: pl, AvailableUnits: int32(len(free)), Available: ok}
			res.Available = res.Available && ok
			res.Total += pl.Total
		}
		return res, nil, nil
	})
}
