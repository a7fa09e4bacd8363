package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

// Rates as the tests read them.
type (
	rateRule struct {
		ID                string   `json:"id"`
		ItemID            string   `json:"item_id"`
		Start             string   `json:"start"`
		End               string   `json:"end"`
		Days              []string `json:"days"`
		NightlyPrice      *int64   `json:"nightly_price"`
		MinNights         *int     `json:"min_nights"`
		MaxNights         *int     `json:"max_nights"`
		ClosedToArrival   *bool    `json:"closed_to_arrival"`
		ClosedToDeparture *bool    `json:"closed_to_departure"`
		Closed            *bool    `json:"closed"`
		Version           int      `json:"version"`
	}
	rateSet struct {
		ItemID  string     `json:"item_id"`
		Version int        `json:"version"`
		Rules   []rateRule `json:"rules"`
	}
	charge struct {
		ID        string   `json:"id"`
		Name      string   `json:"name"`
		Kind      string   `json:"kind"`
		Percent   *float64 `json:"percent"`
		Amount    *int64   `json:"amount"`
		Per       string   `json:"per"`
		Inclusive bool     `json:"inclusive"`
		Taxable   bool     `json:"taxable"`
		ItemIDs   []string `json:"item_ids"`
		Version   int      `json:"version"`
	}
	nightPrice struct {
		Date   string  `json:"date"`
		Price  int64   `json:"price"`
		RuleID *string `json:"rule_id"`
	}
	chargeLine struct {
		ChargeID  string `json:"charge_id"`
		Name      string `json:"name"`
		Amount    int64  `json:"amount"`
		Inclusive bool   `json:"inclusive"`
	}
	// pricedLine is a quote's or a booking's stay with its breakdown.
	pricedLine struct {
		ItemID           string       `json:"item_id"`
		CheckIn          string       `json:"check_in"`
		CheckOut         string       `json:"check_out"`
		Nights           int          `json:"nights"`
		Quantity         int          `json:"quantity"`
		Guests           int          `json:"guests"`
		NightlyPrice     int64        `json:"nightly_price"`
		NightlyPrices    []nightPrice `json:"nightly_prices"`
		RoomTotal        int64        `json:"room_total"`
		ExtraGuestsTotal int64        `json:"extra_guests_total"`
		Discount         int64        `json:"discount"`
		AddonsTotal      int64        `json:"addons_total"`
		Fees             []chargeLine `json:"fees"`
		Taxes            []chargeLine `json:"taxes"`
		Total            int64        `json:"total"`
	}
	pricedQuote struct {
		Total     int64        `json:"total"`
		Available bool         `json:"available"`
		Lines     []pricedLine `json:"lines"`
	}
	pricedBooking struct {
		ID       string       `json:"id"`
		Version  int          `json:"version"`
		Total    int64        `json:"total"`
		Items    []pricedLine `json:"items"`
		Repriced *bool        `json:"repriced"`
	}
)

func (o *org) newRule(t *testing.T, itemID string, body map[string]any) rateRule {
	t.Helper()
	var r rateRule
	o.as(t, "admin").Post(o.path("/items/%s/rates", itemID), body).Expect(http.StatusCreated).JSON(&r)
	return r
}

func (o *org) newCharge(t *testing.T, body map[string]any) charge {
	t.Helper()
	var c charge
	o.as(t, "admin").Post(o.path("/charges"), body).Expect(http.StatusCreated).JSON(&c)
	return c
}

// itemWith creates an item from a full body (price settings, units...).
func (o *org) itemWith(t *testing.T, body map[string]any) item {
	t.Helper()
	b := map[string]any{"name": "Room " + uniq(), "capacity": 2, "nightly_price": 10000}
	for k, v := range body {
		b[k] = v
	}
	var it item
	o.as(t, "admin").Post(o.path("/items"), b).Expect(http.StatusCreated).JSON(&it)
	return it
}

func (o *org) rates(t *testing.T, itemID string) (rateSet, string) {
	t.Helper()
	var set rateSet
	res := o.as(t, "read").Get(o.path("/items/%s/rates", itemID)).Expect(http.StatusOK)
	res.JSON(&set)
	return set, string(res.Body)
}

// monthStart is the first day of the first month that starts at least 20
// days from today (UTC, the test organisations' time zone): m(n) is n days
// after it, so m(-3) to m(4) crosses a month boundary.
func monthStart() time.Time {
	d := time.Now().UTC().AddDate(0, 0, 20)
	first := time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
	if first.Before(d) {
		first = first.AddDate(0, 1, 0)
	}
	return first
}

func ymd(t time.Time) string { return t.Format("2006-01-02") }

// stayLine is one stay of a quote or booking request.
func stayLine(itemID, in, out string, extra map[string]any) map[string]any {
	l := map[string]any{"item_id": itemID, "check_in": in, "check_out": out}
	for k, v := range extra {
		l[k] = v
	}
	return l
}

// amounts are what a line's breakdown must add up to, written out by hand.
type amounts struct {
	room, extra, discount, addons int64
	fees, taxes                   []int64
	total                         int64
}

func lineAmounts(l pricedLine) amounts {
	a := amounts{room: l.RoomTotal, extra: l.ExtraGuestsTotal, discount: l.Discount, addons: l.AddonsTotal, total: l.Total,
		fees: []int64{}, taxes: []int64{}}
	for _, f := range l.Fees {
		a.fees = append(a.fees, f.Amount)
	}
	for _, x := range l.Taxes {
		a.taxes = append(a.taxes, x.Amount)
	}
	return a
}

func (a amounts) String() string {
	return fmt.Sprintf("room %d, extra guests %d, discount %d, add-ons %d, fees %v, taxes %v, total %d",
		a.room, a.extra, a.discount, a.addons, a.fees, a.taxes, a.total)
}

// TestPricing prices stays through POST /quotes and books them through POST
// /bookings, each case on a fresh item with its own rules and charges, against
// totals worked out by hand in the case.
func TestPricing(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "pricing")
	M := monthStart()
	m := func(n int) string { return ymd(M.AddDate(0, 0, n)) }
	vat := func(percent float64, inclusive bool) map[string]any {
		return map[string]any{"name": "VAT", "kind": "tax", "percent": percent, "inclusive": inclusive}
	}
	cases := []struct {
		name      string
		item      map[string]any   // the item's fields beyond a 2-guest room at 10000 a night
		rules     []map[string]any // created in this order
		charges   []map[string]any // limited to the case's item
		breakfast int64            // an add-on per night, booked once, when > 0
		in, out   string
		stay      map[string]any // guests, quantity
		field     string         // a refusal: the field and code named
		code      string
		want      amounts
	}{
		{name: "weekend prices across a month boundary: 7 nights hold one Friday and one Saturday",
			rules: []map[string]any{{"start": m(-10), "end": m(10), "days": []string{"fri", "sat"}, "nightly_price": 15000}},
			in:    m(-3), out: m(4),
			want: amounts{room: 80000, total: 80000}}, // 5 × 10000 + 2 × 15000
		{name: "a season inside a season: the newer peak wins inside the older summer",
			rules: []map[string]any{
				{"start": m(0), "end": m(30), "nightly_price": 20000},
				{"start": m(10), "end": m(15), "nightly_price": 30000}},
			in: m(8), out: m(12),
			want: amounts{room: 100000, total: 100000}}, // 20000 + 20000 + 30000 + 30000
		{name: "the rule created last wins, not the narrowest: a newer summer covers an older peak",
			rules: []map[string]any{
				{"start": m(10), "end": m(15), "nightly_price": 30000},
				{"start": m(0), "end": m(30), "nightly_price": 20000}},
			in: m(8), out: m(12),
			want: amounts{room: 80000, total: 80000}}, // 4 × 20000
		{name: "closed to arrival on the arrival day refuses the stay",
			rules: []map[string]any{{"start": m(5), "end": m(6), "closed_to_arrival": true}},
			in:    m(5), out: m(7), field: "items[0].check_in", code: "closed_to_arrival"},
		{name: "closed to arrival on a middle night does not",
			rules: []map[string]any{{"start": m(5), "end": m(6), "closed_to_arrival": true}},
			in:    m(4), out: m(7),
			want: amounts{room: 30000, total: 30000}},
		{name: "closed to departure on the departure day refuses the stay",
			rules: []map[string]any{{"start": m(7), "end": m(8), "closed_to_departure": true}},
			in:    m(5), out: m(7), field: "items[0].check_out", code: "closed_to_departure"},
		{name: "a closed middle night refuses the stay",
			rules: []map[string]any{{"start": m(5), "end": m(6), "closed": true}},
			in:    m(4), out: m(7), field: "items[0]", code: "closed"},
		{name: "min_nights binds stays arriving on its dates",
			rules: []map[string]any{{"start": m(5), "end": m(6), "min_nights": 3}},
			in:    m(5), out: m(7), field: "items[0].check_out", code: "nights_out_of_range"},
		{name: "min_nights does not bind a stay arriving the day before",
			rules: []map[string]any{{"start": m(5), "end": m(6), "min_nights": 3}},
			in:    m(4), out: m(6),
			want: amounts{room: 20000, total: 20000}},
		{name: "extra guests: 4 guests where the price covers 2",
			item: map[string]any{"capacity": 4, "base_guests": 2, "extra_guest_price": 2500},
			in:   m(1), out: m(4), stay: map[string]any{"guests": 4},
			want: amounts{room: 30000, extra: 15000, total: 45000}}, // 3 × 10000; 2 × 2500 × 3
		{name: "extra guests on two units",
			item: map[string]any{"capacity": 4, "base_guests": 2, "extra_guest_price": 2500, "units": 2},
			in:   m(1), out: m(3), stay: map[string]any{"guests": 3, "quantity": 2},
			want: amounts{room: 40000, extra: 10000, total: 50000}}, // 2 × 2 × 10000; 1 × 2500 × 2 nights × 2 units
		{name: "a 7-night discount: the highest that applies",
			item: map[string]any{"discounts": []any{map[string]any{"min_nights": 3, "percent": 5}, map[string]any{"min_nights": 7, "percent": 10}}},
			in:   m(1), out: m(8),
			want: amounts{room: 70000, discount: 7000, total: 63000}},
		{name: "a 6-night stay gets the 3-night discount",
			item: map[string]any{"discounts": []any{map[string]any{"min_nights": 3, "percent": 5}, map[string]any{"min_nights": 7, "percent": 10}}},
			in:   m(1), out: m(7),
			want: amounts{room: 60000, discount: 3000, total: 57000}},
		{name: "inclusive VAT and an exclusive city tax per guest-night",
			item: map[string]any{"nightly_price": 12000, "base_guests": 2},
			charges: []map[string]any{vat(20, true),
				{"name": "City tax", "kind": "tax", "amount": 250, "per": "guest_night"}},
			in: m(1), out: m(4), stay: map[string]any{"guests": 2},
			// VAT inside 36000: 36000 × 20 / 120 = 6000, shown only; city tax 250 × 2 guests × 3 nights.
			want: amounts{room: 36000, taxes: []int64{6000, 1500}, total: 37500}},
		{name: "a taxable cleaning fee is taxed, an untaxable towel fee is not",
			charges: []map[string]any{
				{"name": "Cleaning", "kind": "fee", "amount": 5000, "taxable": true},
				{"name": "Towels", "kind": "fee", "amount": 1000},
				vat(10, false)},
			in: m(1), out: m(3),
			// VAT 10 % of 20000 + 5000; total 20000 + 5000 + 1000 + 2500.
			want: amounts{room: 20000, fees: []int64{5000, 1000}, taxes: []int64{2500}, total: 28500}},
		{name: "half a minor unit rounds up: 10 % of 5 is 0.5",
			item:    map[string]any{"nightly_price": 5},
			charges: []map[string]any{vat(10, false)},
			in:      m(1), out: m(2),
			want: amounts{room: 5, taxes: []int64{1}, total: 6}},
		{name: "1.5 minor units round up: 10 % of 15",
			item:    map[string]any{"nightly_price": 15},
			charges: []map[string]any{vat(10, false)},
			in:      m(1), out: m(2),
			want: amounts{room: 15, taxes: []int64{2}, total: 17}},
		{name: "1.4 minor units round down: 10 % of 14",
			item:    map[string]any{"nightly_price": 14},
			charges: []map[string]any{vat(10, false)},
			in:      m(1), out: m(2),
			want: amounts{room: 14, taxes: []int64{1}, total: 15}},
		{name: "included VAT of half a minor unit rounds up: 3 × 20 / 120",
			item:    map[string]any{"nightly_price": 3},
			charges: []map[string]any{vat(20, true)},
			in:      m(1), out: m(2),
			want: amounts{room: 3, taxes: []int64{1}, total: 3}},
		{name: "a discount of half a minor unit rounds up: 7.5 % of 20",
			item: map[string]any{"nightly_price": 10, "discounts": []any{map[string]any{"min_nights": 2, "percent": 7.5}}},
			in:   m(1), out: m(3),
			want: amounts{room: 20, discount: 2, total: 18}}, // 1.5 → 2
		{name: "a 100 % discount leaves the add-ons and their tax",
			item:      map[string]any{"discounts": []any{map[string]any{"min_nights": 1, "percent": 100}}},
			charges:   []map[string]any{vat(10, false)},
			breakfast: 1500,
			in:        m(1), out: m(3),
			// breakfast 1500 × 2 nights; VAT 10 % of 0 + 3000.
			want: amounts{room: 20000, discount: 20000, addons: 3000, taxes: []int64{300}, total: 3300}},
		{name: "a zero-price night costs nothing and is taxed nothing",
			rules:   []map[string]any{{"start": m(5), "end": m(6), "nightly_price": 0}},
			charges: []map[string]any{vat(10, false)},
			in:      m(4), out: m(7),
			want: amounts{room: 20000, taxes: []int64{2000}, total: 22000}},
		{name: "a stay of zero-price nights pays its fees and their tax only",
			rules:   []map[string]any{{"start": m(0), "end": m(10), "nightly_price": 0}},
			charges: []map[string]any{{"name": "Cleaning", "kind": "fee", "amount": 3000, "taxable": true}, vat(10, false)},
			in:      m(2), out: m(4),
			want: amounts{room: 0, fees: []int64{3000}, taxes: []int64{300}, total: 3300}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			it := o.itemWith(t, tc.item)
			for _, r := range tc.rules {
				o.newRule(t, it.ID, r)
			}
			for _, c := range tc.charges {
				c = mapWith(c, "item_ids", []string{it.ID})
				o.newCharge(t, c)
			}
			line := stayLine(it.ID, tc.in, tc.out, tc.stay)
			if tc.breakfast > 0 {
				a := o.newAddon(t, it.ID, "Breakfast", tc.breakfast, "night", 1)
				line["addons"] = []any{map[string]any{"addon_id": a.ID}}
			}
			res := o.as(t, "write").Post(o.path("/quotes"), map[string]any{"items": []any{line}})
			if tc.code != "" {
				if p := res.Problem(http.StatusUnprocessableEntity, "validation_failed"); !p.HasField(tc.field, tc.code) {
					t.Fatalf("the quote must be refused naming %s %s, got %+v", tc.field, tc.code, p.Errors)
				}
				book := map[string]any{"guest": map[string]any{"name": "Ada", "email": "ada@example.com"}, "items": []any{line}}
				if p := o.as(t, "write").Post(o.path("/bookings"), book).Problem(http.StatusUnprocessableEntity, "validation_failed"); !p.HasField(tc.field, tc.code) {
					t.Fatalf("the booking must be refused naming %s %s, got %+v", tc.field, tc.code, p.Errors)
				}
				return
			}
			var q pricedQuote
			res.Expect(http.StatusOK).JSON(&q)
			got := lineAmounts(q.Lines[0])
			if got.String() != tc.want.normal().String() || q.Total != tc.want.total {
				t.Fatalf("quote:\n got  %s (quote total %d)\n want %s", got, q.Total, tc.want.normal())
			}
			var b pricedBooking
			o.as(t, "write").Post(o.path("/bookings"), map[string]any{
				"guest": map[string]any{"name": "Ada", "email": "ada@example.com"}, "items": []any{line}}).
				Expect(http.StatusCreated).JSON(&b)
			if b.Total != tc.want.total || lineAmounts(b.Items[0]).String() != got.String() ||
				!slices.EqualFunc(b.Items[0].NightlyPrices, q.Lines[0].NightlyPrices, sameNight) {
				t.Fatalf("the booking must be priced as the quote: %s, nights %v; quote %s, nights %v",
					lineAmounts(b.Items[0]), b.Items[0].NightlyPrices, got, q.Lines[0].NightlyPrices)
			}
		})
	}

	t.Run("each night names the rule that priced it", func(t *testing.T) {
		t.Parallel()
		it := o.itemWith(t, nil)
		wk := o.newRule(t, it.ID, map[string]any{"start": m(-10), "end": m(10), "days": []string{"fri", "sat"}, "nightly_price": 15000})
		var q pricedQuote
		o.as(t, "write").Post(o.path("/quotes"), map[string]any{"items": []any{stayLine(it.ID, m(-3), m(4), nil)}}).
			Expect(http.StatusOK).JSON(&q)
		nights := q.Lines[0].NightlyPrices
		if len(nights) != 7 || nights[0].Date != m(-3) || nights[6].Date != m(3) || nights[0].Date[:7] == nights[6].Date[:7] {
			t.Fatalf("7 nights from %s, in two months: %+v", m(-3), nights)
		}
		for _, n := range nights {
			d, _ := time.Parse("2006-01-02", n.Date)
			weekend := d.Weekday() == time.Friday || d.Weekday() == time.Saturday
			if weekend != (n.RuleID != nil && *n.RuleID == wk.ID) || (weekend && n.Price != 15000) || (!weekend && n.Price != 10000) {
				t.Errorf("night %s (%s): price %d, rule %v", n.Date, d.Weekday(), n.Price, n.RuleID)
			}
		}
	})
}

// normal writes empty fee and tax lists as empty, as lineAmounts does.
func (a amounts) normal() amounts {
	if a.fees == nil {
		a.fees = []int64{}
	}
	if a.taxes == nil {
		a.taxes = []int64{}
	}
	return a
}

func sameNight(a, b nightPrice) bool {
	return a.Date == b.Date && a.Price == b.Price && (a.RuleID == nil) == (b.RuleID == nil) && (a.RuleID == nil || *a.RuleID == *b.RuleID)
}

func mapWith(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{k: v}
	for kk, vv := range m {
		out[kk] = vv
	}
	return out
}
