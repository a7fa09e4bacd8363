package booking

import (
	"context"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// AvailabilityQuery asks which items are free for a stay.
type AvailabilityQuery struct {
	CheckIn  Date
	CheckOut Date
	Guests   int32
	Page     Page
}

// NewAvailabilityQuery validates the query parameters as strings, as they arrive.
func NewAvailabilityQuery(checkIn, checkOut, guests string, page Page) (AvailabilityQuery, error) {
	var p problems
	q := AvailabilityQuery{Guests: 1, Page: page}
	lines := parseLines(&p, "stay", []LineInput{{ItemID: uuid.Nil.String(), CheckIn: checkIn, CheckOut: checkOut}})
	if len(lines) == 1 {
		q.CheckIn, q.CheckOut = lines[0].CheckIn, lines[0].CheckOut
	}
	if guests != "" {
		n, err := strconv.ParseInt(guests, 10, 32)
		if err != nil || n < 1 || n > 10000 {
			p.add("guests", "out_of_range", "guests must be a whole number between 1 and 10000")
		}
		q.Guests = int32(n)
	}
	// Report the stay's problems under the query parameter names.
	for i := range p {
		switch p[i].Field {
		case "stay[0].check_in":
			p[i].Field = "check_in"
		case "stay[0].check_out":
			p[i].Field = "check_out"
		}
	}
	return q, p.err()
}

// AvailableItem is an item free for the whole stay, with the stay's price.
type AvailableItem struct {
	Item
	Nights int32 `json:"nights"`
	Total  int64 `json:"total"`
}

// Availability searches the organisation's items free for the stay. It is one
// range-overlap query on the indexed daterange.
func (s *Service) Availability(ctx context.Context, sc scope.Scope, aq AvailabilityQuery) (List[AvailableItem], error) {
	var out List[AvailableItem]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		c, err := loadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		if aq.CheckIn.Before(c.today) {
			return Invalid("check_in", "in_past", fmt.Sprintf("check_in %s is before today (%s) in the organisation's time zone", aq.CheckIn, c.today))
		}
		nights := int32(aq.CheckIn.DaysUntil(aq.CheckOut))
		rows, err := q.AvailableItems(ctx, db.AvailableItemsParams{OrganisationID: sc.OrganisationID, Guests: aq.Guests,
			Nights: nights, After: aq.Page.After, CheckIn: aq.CheckIn.Time(), CheckOut: aq.CheckOut.Time(), RowLimit: aq.Page.Limit + 1})
		if err != nil {
			return fmt.Errorf("search availability: %w", err)
		}
		out = paginate(rows, aq.Page, func(r db.Item) (AvailableItem, uuid.UUID) {
			return AvailableItem{Item: itemFromRow(r, c.org.Currency), Nights: nights, Total: r.NightlyPrice * int64(nights)}, r.ID
		})
		return nil
	})
	return out, err
}

// CalendarDay says whether an item is free on a date.
type CalendarDay struct {
	Date      Date `json:"date"`
	Available bool `json:"available"`
}

// Calendar is an item's availability per day of [From, To).
type Calendar struct {
	ItemID uuid.UUID     `json:"item_id"`
	From   Date          `json:"from"`
	To     Date          `json:"to"`
	Days   []CalendarDay `json:"days"`
}

const maxCalendarDays = 366

// ItemCalendar returns an item's availability per day of [from, to), at most 366 days.
func (s *Service) ItemCalendar(ctx context.Context, sc scope.Scope, itemID uuid.UUID, from, to string) (Calendar, error) {
	var p problems
	f, err := ParseDate(from)
	if err != nil {
		p.add("from", "invalid", "%s", err.Error())
	}
	t, err2 := ParseDate(to)
	if err2 != nil {
		p.add("to", "invalid", "%s", err2.Error())
	}
	if err == nil && err2 == nil {
		if n := f.DaysUntil(t); n < 1 || n > maxCalendarDays {
			p.add("to", "out_of_range", "to must be 1 to %d days after from", maxCalendarDays)
		}
	}
	if err := p.err(); err != nil {
		return Calendar{}, err
	}
	out := Calendar{ItemID: itemID, From: f, To: t, Days: []CalendarDay{}}
	err = s.db.Tx(ctx, sc, func(q *db.Queries) error {
		if err := requireItem(ctx, q, sc, itemID); err != nil {
			return err
		}
		rows, err := q.ItemCalendar(ctx, db.ItemCalendarParams{OrganisationID: sc.OrganisationID, ItemID: itemID, FromDate: f.Time(), ToDate: t.Time()})
		if err != nil {
			return fmt.Errorf("item calendar: %w", err)
		}
		for _, r := range rows {
			out.Days = append(out.Days, CalendarDay{Date: DateFromTime(r.Day), Available: r.Available})
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
	Meta  `json:"-"`
	Lines []Line `json:"lines"`
}

// NewQuote validates in.
func NewQuote(meta Meta, in QuoteInput) (Quote, error) {
	var p problems
	lines := parseLines(&p, "items", in.Items)
	return Quote{Meta: meta, Lines: lines}, p.err()
}

// QuoteLine is a priced stay and whether it could be booked now.
type QuoteLine struct {
	PricedLine
	Available bool `json:"available"`
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
func (s *Service) Quote(ctx context.Context, sc scope.Scope, cmd Quote) (QuoteResult, Receipt, error) {
	if err := requireRole(sc, scope.RoleWrite, "request quotes"); err != nil {
		return QuoteResult{}, Receipt{}, err
	}
	return execute(ctx, s, sc, cmd.Meta, "quote.create", cmd, func(q *db.Queries) (QuoteResult, []Event, error) {
		c, err := loadClock(ctx, q, sc)
		if err != nil {
			return QuoteResult{}, nil, err
		}
		priced, err := priceLines(ctx, q, sc, c, "items", cmd.Lines)
		if err != nil {
			return QuoteResult{}, nil, err
		}
		res := QuoteResult{Currency: c.org.Currency, Available: true, Lines: make([]QuoteLine, len(priced))}
		for i, pl := range priced {
			blocked, err := blockedItems(ctx, q, sc, priced[i:i+1], nil)
			if err != nil {
				return QuoteResult{}, nil, err
			}
			res.Lines[i] = QuoteLine{PricedLine: pl, Available: len(blocked) == 0}
			res.Available = res.Available && len(blocked) == 0
			res.Total += pl.Total
		}
		return res, nil, nil
	})
}
