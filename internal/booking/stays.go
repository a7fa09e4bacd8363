package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/rates"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// LineInput is one requested stay: an item, dates, how many of its units (or
// one given unit), guests per unit and add-ons, as clients send it.
type LineInput struct {
	ItemID   string           `json:"item_id"`
	CheckIn  string           `json:"check_in"`
	CheckOut string           `json:"check_out"`
	Quantity *int32           `json:"quantity"`
	Guests   *int32           `json:"guests,omitempty"`
	UnitID   *string          `json:"unit_id"`
	Addons   []AddonLineInput `json:"addons"`
}

// AddonLineInput asks for an add-on with a stay; quantity defaults to 1.
type AddonLineInput struct {
	AddonID  string `json:"addon_id"`
	Quantity *int32 `json:"quantity"`
}

// Line is a validated stay request: Quantity units of the item for the same
// nights, or (Quantity 1) the unit UnitID, each for Guests guests.
type Line struct {
	ItemID   uuid.UUID   `json:"item_id"`
	CheckIn  domain.Date `json:"check_in"`
	CheckOut domain.Date `json:"check_out"`
	Quantity int32       `json:"quantity"`
	Guests   int32       `json:"guests"`
	UnitID   *uuid.UUID  `json:"unit_id,omitempty"`
	Addons   []AddonQty  `json:"addons"`
}

// maxQuantity bounds a line's units: an item has at most this many.
const maxQuantity = 1000

// maxGuests bounds guests per unit: an item takes at most this many.
const maxGuests = 10000

// AddonQty is a validated add-on request.
type AddonQty struct {
	AddonID  uuid.UUID `json:"addon_id"`
	Quantity int32     `json:"quantity"`
}

// Nights is the length of the stay.
func (l Line) Nights() int { return l.CheckIn.DaysUntil(l.CheckOut) }

const maxLines = 20

// parseStay validates a stay's dates: both dates, check_out after check_in, and no
// longer than the longest stay. Problems are reported under inField and outField.
func parseStay(p *domain.Problems, inField, outField, checkIn, checkOut string) (in, out domain.Date) {
	in, errIn := domain.ParseDate(checkIn)
	if errIn != nil {
		p.Add(inField, "invalid", "%s", errIn.Error())
	}
	out, errOut := domain.ParseDate(checkOut)
	if errOut != nil {
		p.Add(outField, "invalid", "%s", errOut.Error())
	}
	if errIn == nil && errOut == nil {
		switch n := in.DaysUntil(out); {
		case n < 1:
			p.Add(outField, "before_check_in", "check_out must be after check_in")
		case n > catalogue.MaxNights:
			p.Add(outField, "too_long", "a stay is at most %d nights", catalogue.MaxNights)
		}
	}
	return in, out
}

// parseLines validates stay requests, reporting problems under field (e.g. "items").
func parseLines(p *domain.Problems, field string, in []LineInput) []Line {
	if len(in) == 0 {
		p.Add(field, "required", "at least one item is required")
		return nil
	}
	if len(in) > maxLines {
		p.Add(field, "too_many", "at most %d items per request", maxLines)
		return nil
	}
	lines := make([]Line, len(in))
	for i, li := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		var l Line
		var err error
		if l.ItemID, err = uuid.Parse(li.ItemID); err != nil {
			p.Add(f+".item_id", "invalid", "item_id must be an item id")
		}
		l.CheckIn, l.CheckOut = parseStay(p, f+".check_in", f+".check_out", li.CheckIn, li.CheckOut)
		l.Quantity = 1
		if li.Quantity != nil {
			l.Quantity = *li.Quantity
			if l.Quantity < 1 || l.Quantity > maxQuantity {
				p.Add(f+".quantity", "out_of_range", "quantity must be between 1 and %d units", maxQuantity)
			}
		}
		l.Guests = 1
		if li.Guests != nil {
			if l.Guests = *li.Guests; l.Guests < 1 || l.Guests > maxGuests {
				p.Add(f+".guests", "out_of_range", "guests must be between 1 and %d", maxGuests)
			}
		}
		if li.UnitID != nil {
			id, err := uuid.Parse(*li.UnitID)
			if err != nil {
				p.Add(f+".unit_id", "invalid", "unit_id must be a unit id")
			}
			l.UnitID = &id
			if l.Quantity != 1 {
				p.Add(f+".quantity", "with_unit_id", "a line with unit_id books that one unit: quantity must be 1")
			}
		}
		if len(li.Addons) > 50 {
			p.Add(f+".addons", "too_many", "at most 50 add-ons per item")
		}
		seen := map[uuid.UUID]bool{}
		for j, a := range li.Addons {
			af := fmt.Sprintf("%s.addons[%d]", f, j)
			var q AddonQty
			if q.AddonID, err = uuid.Parse(a.AddonID); err != nil {
				p.Add(af+".addon_id", "invalid", "addon_id must be an add-on id")
			} else if seen[q.AddonID] {
				p.Add(af+".addon_id", "duplicate", "each add-on may appear once per item")
			}
			seen[q.AddonID] = true
			q.Quantity = 1
			if a.Quantity != nil {
				q.Quantity = *a.Quantity
				if q.Quantity < 1 || q.Quantity > 1000 {
					p.Add(af+".quantity", "out_of_range", "quantity must be between 1 and 1000")
				}
			}
			l.Addons = append(l.Addons, q)
		}
		for j := range i {
			o := lines[j]
			differentUnits := o.UnitID != nil && l.UnitID != nil && *o.UnitID != *l.UnitID
			if o.ItemID == l.ItemID && !differentUnits && l.CheckIn.Before(o.CheckOut) && o.CheckIn.Before(l.CheckOut) {
				p.Add(f, "overlap", "overlaps %s[%d] for the same item", field, j)
			}
		}
		lines[i] = l
	}
	return lines
}

// PricedLine is a stay with its price breakdown (see rates.PriceStay for how
// it adds up): each night's price per unit and the rule that set it, the room
// amount (the nights × quantity), extra guests, the length-of-stay discount,
// the add-ons, the fees and taxes, and the total. NightlyPrice is the item's
// own nightly price when the stay was priced (the default of every night).
type PricedLine struct {
	ItemID           uuid.UUID          `json:"item_id"`
	CheckIn          domain.Date        `json:"check_in"`
	CheckOut         domain.Date        `json:"check_out"`
	Nights           int32              `json:"nights"`
	Quantity         int32              `json:"quantity"`
	Guests           int32              `json:"guests"`
	UnitID           *uuid.UUID         `json:"-"` // the unit asked for, if any
	PropertyID       *uuid.UUID         `json:"-"` // the item's property, which the stay records for list filters
	NightlyPrice     int64              `json:"nightly_price"`
	NightlyPrices    []rates.Night      `json:"nightly_prices"`
	RoomTotal        int64              `json:"room_total"`
	ExtraGuestsTotal int64              `json:"extra_guests_total"`
	Discount         int64              `json:"discount"`
	Addons           []AddonLine        `json:"addons"`
	AddonsTotal      int64              `json:"addons_total"`
	Fees             []rates.ChargeLine `json:"fees"`
	Taxes            []rates.ChargeLine `json:"taxes"`
	Total            int64              `json:"total"`
}

// AddonLine is a priced add-on of a stay.
type AddonLine struct {
	AddonID   uuid.UUID `json:"addon_id"`
	Name      string    `json:"name"`
	Per       string    `json:"per"`
	UnitPrice int64     `json:"unit_price"`
	Quantity  int32     `json:"quantity"`
	Total     int64     `json:"total"`
}

// addonTotal prices an add-on for a stay of nights.
func addonTotal(per string, unit int64, qty int32, nights int32) int64 {
	t := unit * int64(qty)
	if per == catalogue.PerNight {
		t *= int64(nights)
	}
	return t
}

// stayFacts is what pricing lines needs from the database: their items (with
// their property's time zone), the units asked for by id, the items' add-ons,
// every date's effective rates and the charges.
type stayFacts struct {
	items   []db.ItemsByIDsRow
	units   []db.Unit
	addons  []db.Addon
	nights  []db.StayNightsRow
	charges []db.Charge
}

// read is the statements that load f for lines, as calls of one pipeline.
func (f *stayFacts) read(ctx context.Context, sc scope.Scope, lines []Line) []db.Call {
	org := sc.OrganisationID
	ids := make([]uuid.UUID, len(lines))
	var unitIDs []uuid.UUID
	nights := db.StayNightsParams{OrganisationID: org}
	for i, l := range lines {
		ids[i] = l.ItemID
		if l.UnitID != nil {
			unitIDs = append(unitIDs, *l.UnitID)
		}
		for d := l.CheckIn; !l.CheckOut.Before(d); d = d.AddDays(1) {
			nights.Lines = append(nights.Lines, int32(i+1))
			nights.ItemIds = append(nights.ItemIds, l.ItemID)
			nights.Days = append(nights.Days, d.Time())
		}
	}
	calls := []db.Call{
		func(q *db.Queries) (err error) {
			if f.items, err = q.ItemsByIDs(ctx, db.ItemsByIDsParams{OrganisationID: org, Ids: ids}); err != nil {
				return fmt.Errorf("load items: %w", err)
			}
			return nil
		},
		func(q *db.Queries) (err error) {
			if f.addons, err = q.AddonsForItems(ctx, db.AddonsForItemsParams{OrganisationID: org, ItemIds: ids}); err != nil {
				return fmt.Errorf("load addons: %w", err)
			}
			return nil
		},
		func(q *db.Queries) (err error) {
			// Each date of each line, check_out included: by line number (from 1),
			// then date.
			if f.nights, err = q.StayNights(ctx, nights); err != nil {
				return fmt.Errorf("load the nights' rates: %w", err)
			}
			return nil
		},
		func(q *db.Queries) (err error) {
			if f.charges, err = q.ChargesForItems(ctx, db.ChargesForItemsParams{OrganisationID: org, ItemIds: ids}); err != nil {
				return fmt.Errorf("load charges: %w", err)
			}
			return nil
		},
	}
	if len(unitIDs) > 0 {
		calls = append(calls, func(q *db.Queries) (err error) {
			if f.units, err = q.UnitsByIDs(ctx, db.UnitsByIDsParams{OrganisationID: org, Ids: unitIDs}); err != nil {
				return fmt.Errorf("load units: %w", err)
			}
			return nil
		})
	}
	return calls
}

// price prices lines from f. Everything a client can get wrong about the
// catalogue (unknown or archived item, more units than the item has, more
// guests than a unit takes, a unit of another item, a foreign or archived
// add-on, too many of one) or the rates (a closed night, an arrival closed to
// arrival or too soon or too far ahead, a departure closed to departure, a
// length of stay the arrival date's min/max nights refuse) is a field error
// under field; check_in must not be before today in the item's property's time
// zone (else the organisation's).
func (f *stayFacts) price(c domain.Clock, field string, lines []Line) ([]PricedLine, error) {
	byID := make(map[uuid.UUID]db.ItemsByIDsRow, len(f.items))
	for _, it := range f.items {
		byID[it.Item.ID] = it
	}
	units := make(map[uuid.UUID]db.Unit, len(f.units))
	for _, u := range f.units {
		units[u.ID] = u
	}
	addonByID := make(map[uuid.UUID]db.Addon, len(f.addons))
	for _, a := range f.addons {
		addonByID[a.ID] = a
	}
	nights := make(map[int][]db.StayNightsRow, len(lines))
	for _, r := range f.nights {
		nights[int(r.Line)] = append(nights[int(r.Line)], r)
	}
	charges := make([]rates.Charge, len(f.charges))
	for i, r := range f.charges {
		charges[i] = rates.ChargeFromRow(r, "")
	}
	var p domain.Problems
	out := make([]PricedLine, len(lines))
	for i, l := range lines {
		f := fmt.Sprintf("%s[%d]", field, i)
		row, ok := byID[l.ItemID]
		if !ok {
			p.Add(f+".item_id", "not_found", "no item %s in this organisation", l.ItemID)
			continue
		}
		it := row.Item
		loc, where := itemLocation(c, row.PropertyTimezone)
		today := domain.DateOf(c.Now, loc)
		if l.CheckIn.Before(today) {
			p.Add(f+".check_in", "in_past", "check_in %s is before today (%s) in the %s time zone", l.CheckIn, today, where)
		}
		if l.Quantity > it.UnitCount {
			p.Add(f+".quantity", "out_of_range", "item %s has %d units, not %d", l.ItemID, it.UnitCount, l.Quantity)
		}
		if l.Guests > it.Capacity {
			p.Add(f+".guests", "out_of_range", "item %s takes at most %d guests per unit, not %d", l.ItemID, it.Capacity, l.Guests)
		}
		if l.UnitID != nil {
			if u, ok := units[*l.UnitID]; !ok || u.ItemID != l.ItemID {
				p.Add(f+".unit_id", "not_found", "item %s has no unit %s", l.ItemID, *l.UnitID)
			} else if u.Status != catalogue.ItemActive {
				p.Add(f+".unit_id", "unit_archived", "unit %s is archived", *l.UnitID)
			}
		}
		if it.Status != catalogue.ItemActive {
			p.Add(f+".item_id", domain.CodeItemArchived, "item %s is archived", l.ItemID)
			continue
		}
		item := catalogue.ItemFromRow(it, c.Currency)
		checkWindow(&p, f, item.PriceSettings, c, loc, today, l.CheckIn)
		pl := PricedLine{ItemID: l.ItemID, CheckIn: l.CheckIn, CheckOut: l.CheckOut, Nights: int32(l.Nights()), Quantity: l.Quantity,
			Guests: l.Guests, UnitID: l.UnitID, PropertyID: it.PropertyID, NightlyPrice: it.NightlyPrice, Addons: []AddonLine{}}
		var nightsTotal int64
		pl.NightlyPrices, nightsTotal = applyNightRules(&p, f, l, nights[i+1])
		for j, aq := range l.Addons {
			a, ok := addonByID[aq.AddonID]
			if !ok || a.ItemID != l.ItemID {
				p.Add(fmt.Sprintf("%s.addons[%d].addon_id", f, j), "not_found", "item %s has no add-on %s on sale", l.ItemID, aq.AddonID)
				continue
			}
			if aq.Quantity > a.MaxQuantity {
				p.Add(fmt.Sprintf("%s.addons[%d].quantity", f, j), "out_of_range", "at most %d of add-on %s", a.MaxQuantity, a.ID)
				continue
			}
			t := addonTotal(a.Per, a.Price, aq.Quantity, pl.Nights)
			pl.Addons = append(pl.Addons, AddonLine{AddonID: a.ID, Name: a.Name, Per: a.Per, UnitPrice: a.Price, Quantity: aq.Quantity, Total: t})
			pl.AddonsTotal += t
		}
		price, ok := rates.PriceStay(rates.Stay{ItemID: l.ItemID, Nights: pl.Nights, NightsTotal: nightsTotal,
			Quantity: l.Quantity, Guests: l.Guests, Settings: item.PriceSettings, AddonsTotal: pl.AddonsTotal, Charges: charges})
		if !ok {
			p.Add(f, "too_expensive", "the stay's price exceeds %d minor units, the most Vacancy handles", int64(rates.MaxAmount))
		}
		pl.withPrice(price)
		out[i] = pl
	}
	return out, p.Err()
}

// withPrice copies a price breakdown into the line.
func (pl *PricedLine) withPrice(p rates.Price) {
	pl.RoomTotal, pl.ExtraGuestsTotal, pl.Discount = p.RoomTotal, p.ExtraGuestsTotal, p.Discount
	pl.AddonsTotal, pl.Fees, pl.Taxes, pl.Total = p.AddonsTotal, p.Fees, p.Taxes, p.Total
}

// applyNightRules checks a stay against its dates' effective rules (days: each
// date of the stay, check_out included) and returns its nights' prices and
// their sum. The arrival date's rules decide closed to arrival and the length
// of stay, the departure date's closed to departure; no night may be closed.
func applyNightRules(p *domain.Problems, f string, l Line, days []db.StayNightsRow) ([]rates.Night, int64) {
	nights := make([]rates.Night, 0, l.Nights())
	var total int64
	for _, d := range days {
		date := domain.DateFromTime(d.Day)
		switch {
		case date == l.CheckIn:
			if n := int32(l.Nights()); n < d.MinNights || n > d.MaxNights {
				p.Add(f+".check_out", "nights_out_of_range", "item %s takes stays of %d to %d nights arriving on %s, not %d",
					l.ItemID, d.MinNights, d.MaxNights, date, n)
			}
			if d.ClosedToArrival {
				p.Add(f+".check_in", "closed_to_arrival", "item %s takes no arrivals on %s", l.ItemID, date)
			}
		case date == l.CheckOut && d.ClosedToDeparture:
			p.Add(f+".check_out", "closed_to_departure", "item %s takes no departures on %s", l.ItemID, date)
		}
		if date == l.CheckOut {
			continue
		}
		if d.Closed {
			p.Add(f, "closed", "item %s is not sold for the night of %s", l.ItemID, date)
		}
		n := rates.Night{Date: date, Price: d.Price}
		if d.PriceRuleID != uuid.Nil {
			id := d.PriceRuleID
			n.RuleID = &id
		}
		nights = append(nights, n)
		total += d.Price
	}
	return nights, total
}

// checkWindow holds an arrival to the item's booking window: at least
// min_lead_hours from now (the arrival being 00:00 of check_in in loc) and at
// most max_advance_days after today.
func checkWindow(p *domain.Problems, f string, s catalogue.PriceSettings, c domain.Clock, loc *time.Location, today, checkIn domain.Date) {
	if s.MinLeadHours > 0 {
		earliest := c.Now.Add(time.Duration(s.MinLeadHours) * time.Hour)
		if arrival(checkIn, loc).Before(earliest) {
			first := domain.DateOf(earliest, loc)
			if arrival(first, loc).Before(earliest) {
				first = first.AddDays(1)
			}
			p.Add(f+".check_in", "lead_time", "arrivals are booked at least %d hours ahead: check_in must be on or after %s",
				s.MinLeadHours, first)
		}
	}
	if s.MaxAdvanceDays != nil && today.AddDays(int(*s.MaxAdvanceDays)).Before(checkIn) {
		p.Add(f+".check_in", "too_far_ahead", "arrivals are booked at most %d days ahead: check_in must be on or before %s",
			*s.MaxAdvanceDays, today.AddDays(int(*s.MaxAdvanceDays)))
	}
}

// arrival is the start (00:00) of date d in loc.
func arrival(d domain.Date, loc *time.Location) time.Time {
	y, m, dd := d.Time().Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, loc)
}

// itemLocation is the item's property's time zone, else the organisation's,
// and which of the two it is.
func itemLocation(c domain.Clock, propertyTimezone *string) (*time.Location, string) {
	if propertyTimezone != nil {
		if loc, err := domain.LoadLocation(*propertyTimezone); err == nil {
			return loc, "property's"
		}
	}
	return c.Location, "organisation's"
}
