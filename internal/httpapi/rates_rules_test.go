package httpapi_test

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

// TestRateRulesAndCharges: the rule set's ETag and If-Match, a rule's own
// version, PATCH with null, DELETE, replace-all, the events, and charges' CRUD.
func TestRateRulesAndCharges(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "rate-crud")
	admin := o.as(t, "admin")
	it := o.newItem(t, "Loft", 2, 10000)

	res := admin.Get(o.path("/items/%s/rates", it.ID)).Expect(http.StatusOK)
	if res.ETag() != `"1"` {
		t.Fatalf("a new item's rule set is at version 1, got ETag %s", res.ETag())
	}
	r := o.newRule(t, it.ID, map[string]any{"start": day(10), "end": day(20), "nightly_price": 12000, "min_nights": 2})
	if r.Version != 1 || r.Days != nil || *r.NightlyPrice != 12000 || r.Closed != nil {
		t.Fatalf("a new rule: %+v", r)
	}
	set, _ := o.rates(t, it.ID)
	if set.Version != 2 || len(set.Rules) != 1 || set.Rules[0].ID != r.ID {
		t.Fatalf("adding a rule bumps the set's version: %+v", set)
	}

	// PATCH: absent fields stay, null unsets one; If-Match is the rule's version.
	admin.Patch(o.path("/items/%s/rates/%s", it.ID, r.ID), map[string]any{"min_nights": nil}, apitest.BreaksContract("no If-Match")).
		Problem(http.StatusPreconditionRequired, "if_match_required")
	admin.Patch(o.path("/items/%s/rates/%s", it.ID, r.ID), map[string]any{"min_nights": nil}, apitest.IfMatch(`"7"`)).
		Problem(http.StatusPreconditionFailed, "stale_version")
	var patched rateRule
	admin.Patch(o.path("/items/%s/rates/%s", it.ID, r.ID), map[string]any{"min_nights": nil, "days": []string{"sat", "fri"}},
		apitest.IfMatch(`"1"`)).Expect(http.StatusOK).JSON(&patched)
	if patched.Version != 2 || patched.MinNights != nil || *patched.NightlyPrice != 12000 || !slices.Equal(patched.Days, []string{"fri", "sat"}) {
		t.Fatalf("PATCH must unset min_nights, keep the price and order the days: %+v", patched)
	}
	admin.Patch(o.path("/items/%s/rates/%s", it.ID, r.ID), map[string]any{"nightly_price": nil}, apitest.IfMatch(`"2"`)).
		Problem(http.StatusUnprocessableEntity, "validation_failed")

	// PUT replaces all, against the set's version.
	put := func(version int, rules ...map[string]any) *apitest.Response {
		if rules == nil {
			rules = []map[string]any{}
		}
		return admin.Do(http.MethodPut, o.path("/items/%s/rates", it.ID), map[string]any{"rules": rules}, apitest.IfMatch(etag(version)))
	}
	put(2, map[string]any{"start": day(1), "end": day(5), "closed": true}).Problem(http.StatusPreconditionFailed, "stale_version")
	var replaced rateSet
	res = put(3, map[string]any{"start": day(1), "end": day(40), "nightly_price": 9000},
		map[string]any{"start": day(10), "end": day(12), "nightly_price": 20000})
	res.Expect(http.StatusOK).JSON(&replaced)
	if replaced.Version != 4 || res.ETag() != `"4"` || len(replaced.Rules) != 2 || *replaced.Rules[1].NightlyPrice != 20000 {
		t.Fatalf("PUT must replace the rules in order: %+v", replaced)
	}
	var q pricedQuote
	o.as(t, "write").Post(o.path("/quotes"), map[string]any{"items": []any{stayLine(it.ID, day(9), day(12), nil)}}).
		Expect(http.StatusOK).JSON(&q)
	if q.Total != 9000+20000+20000 {
		t.Fatalf("a later rule of the PUT wins: total %d, want 49000", q.Total)
	}
	admin.Get(o.path("/items/%s/rates/%s", it.ID, r.ID)).Problem(http.StatusNotFound, "not_found")
	var gone rateRule
	admin.Delete(o.path("/items/%s/rates/%s", it.ID, replaced.Rules[1].ID), apitest.IfMatch(`"1"`)).Expect(http.StatusOK).JSON(&gone)
	if gone.ID != replaced.Rules[1].ID {
		t.Fatalf("DELETE answers the rule as it was: %+v", gone)
	}
	put(5).Expect(http.StatusOK).JSON(&replaced)
	if len(replaced.Rules) != 0 || replaced.Version != 6 {
		t.Fatalf("PUT [] removes every rule: %+v", replaced)
	}

	t.Run("an item has at most 500 rules", func(t *testing.T) {
		it := o.newItem(t, "Busy "+uniq(), 2, 10000)
		rules := make([]map[string]any, 500)
		for i := range rules {
			rules[i] = map[string]any{"start": day(1 + i%300), "end": day(2 + i%300), "nightly_price": 10000 + i}
		}
		admin := o.as(t, "admin")
		admin.Do(http.MethodPut, o.path("/items/%s/rates", it.ID), map[string]any{"rules": rules}, apitest.IfMatch(`"1"`)).Expect(http.StatusOK)
		admin.Post(o.path("/items/%s/rates", it.ID), map[string]any{"start": day(3), "end": day(4), "closed": true}).
			Problem(http.StatusConflict, "rate_rule_limit_reached")
	})

	t.Run("charges: create, read, change with If-Match, delete", func(t *testing.T) {
		admin := o.as(t, "admin")
		c := o.newCharge(t, map[string]any{"name": "VAT", "kind": "tax", "percent": 13.5})
		if c.Percent == nil || *c.Percent != 13.5 || c.Amount != nil || c.Per != "stay" || c.ItemIDs != nil {
			t.Fatalf("a percent tax on every item: %+v", c)
		}
		var got charge
		o.as(t, "read").Get(o.path("/charges/%s", c.ID)).Expect(http.StatusOK).JSON(&got)
		var l list[charge]
		o.as(t, "read").Get(o.path("/charges")).Expect(http.StatusOK).JSON(&l)
		if got.ID != c.ID || !slices.ContainsFunc(l.Data, func(x charge) bool { return x.ID == c.ID }) {
			t.Fatalf("the charge must be readable and listed")
		}
		admin.Patch(o.path("/charges/%s", c.ID), map[string]any{"amount": 200}, apitest.IfMatch(`"1"`)).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		var changed charge
		admin.Patch(o.path("/charges/%s", c.ID), map[string]any{"amount": 200, "percent": nil, "per": "night", "item_ids": []string{it.ID}},
			apitest.IfMatch(`"1"`)).Expect(http.StatusOK).JSON(&changed)
		if changed.Percent != nil || *changed.Amount != 200 || changed.Per != "night" || !slices.Equal(changed.ItemIDs, []string{it.ID}) || changed.Version != 2 {
			t.Fatalf("a percent tax becomes 200 a night on one item: %+v", changed)
		}
		admin.Delete(o.path("/charges/%s", c.ID), apitest.IfMatch(`"1"`)).Problem(http.StatusPreconditionFailed, "stale_version")
		admin.Delete(o.path("/charges/%s", c.ID), apitest.IfMatch(`"2"`)).Expect(http.StatusOK)
		admin.Get(o.path("/charges/%s", c.ID)).Problem(http.StatusNotFound, "not_found")
	})

	t.Run("every change is an event with the whole set", func(t *testing.T) {
		// The feed shows an event once no older transaction runs: wait for all nine.
		f := feedOf(t, o.as(t, "read"), o, "types=rates.changed,charges.changed&limit=100", 9)
		var rates, charges int
		for _, e := range f.Data {
			switch e.Type {
			case "rates.changed":
				rates++
			case "charges.changed":
				charges++
			}
		}
		// Loft: add, PATCH, PUT, DELETE, PUT []; the busy item: PUT. Charges: add, PATCH, DELETE.
		if rates != 6 || charges != 3 {
			t.Fatalf("want 6 rates.changed and 3 charges.changed events, got %d and %d", rates, charges)
		}
		var last struct {
			ItemID  string     `json:"item_id"`
			Version int        `json:"version"`
			Rules   []rateRule `json:"rules"`
		}
		for _, e := range f.Data {
			if e.Type == "rates.changed" {
				_ = json.Unmarshal(e.Data, &last)
				if last.ItemID == it.ID && last.Version == 6 && len(last.Rules) != 0 {
					t.Errorf("the event after PUT [] carries no rules: %s", e.Data)
				}
			}
		}
	})
}

// TestBookingsKeepTheirPrices: rate and charge changes never touch a booking;
// a PATCH re-prices only when it changes the stays, and says so.
func TestBookingsKeepTheirPrices(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "keep-prices")
	admin, write := o.as(t, "admin"), o.as(t, "write")
	it := o.itemWith(t, map[string]any{"capacity": 3, "base_guests": 2, "extra_guest_price": 1000})
	o.newCharge(t, map[string]any{"name": "City tax", "kind": "tax", "amount": 100, "per": "guest_night", "item_ids": []string{it.ID}})
	body := map[string]any{"guest": map[string]any{"name": "Ada", "email": "ada@example.com"},
		"items": []any{stayLine(it.ID, day(10), day(12), map[string]any{"guests": 2})}}
	var b pricedBooking
	write.Post(o.path("/bookings"), body).Expect(http.StatusCreated).JSON(&b)
	if b.Total != 20000+400 { // 2 × 10000; 100 × 2 guests × 2 nights
		t.Fatalf("booked total %d, want 20400", b.Total)
	}

	// The rates and taxes go up.
	admin.Do(http.MethodPut, o.path("/items/%s/rates", it.ID), map[string]any{"rules": []any{
		map[string]any{"start": day(1), "end": day(60), "nightly_price": 15000}}}, apitest.IfMatch(`"1"`)).Expect(http.StatusOK)
	o.newCharge(t, map[string]any{"name": "VAT", "kind": "tax", "percent": 10, "item_ids": []string{it.ID}})
	var now pricedBooking
	o.as(t, "read").Get(o.path("/bookings/%s", b.ID)).Expect(http.StatusOK).JSON(&now)
	if now.Total != b.Total || lineAmounts(now.Items[0]).String() != lineAmounts(b.Items[0]).String() {
		t.Fatalf("a booking keeps its prices: %s, was %s", lineAmounts(now.Items[0]), lineAmounts(b.Items[0]))
	}

	patch := func(version int, body map[string]any) pricedBooking {
		t.Helper()
		var out pricedBooking
		write.Patch(o.path("/bookings/%s", b.ID), body, apitest.IfMatch(etag(version))).Expect(http.StatusOK).JSON(&out)
		if out.Repriced == nil {
			t.Fatal("a PATCH answer says whether it re-priced")
		}
		return out
	}
	if p := patch(1, map[string]any{"notes": "late arrival", "guest": map[string]any{"name": "Ada L", "email": "ada@example.com"}}); *p.Repriced || p.Total != 20400 {
		t.Fatalf("a PATCH of guest details keeps the prices: repriced %v, total %d", *p.Repriced, p.Total)
	}
	if p := patch(2, map[string]any{"items": body["items"]}); *p.Repriced || p.Total != 20400 {
		t.Fatalf("a PATCH with the same stays keeps the prices: repriced %v, total %d", *p.Repriced, p.Total)
	}
	// Three guests now, at the rates in force: 2 × 15000 + 1 extra × 1000 × 2 nights = 32000;
	// city tax 100 × 3 × 2 = 600; VAT 10 % of 32000 = 3200.
	p := patch(3, map[string]any{"items": []any{stayLine(it.ID, day(10), day(12), map[string]any{"guests": 3})}})
	if !*p.Repriced || p.Total != 32000+600+3200 {
		t.Fatalf("a PATCH changing guests re-prices at today's rates: repriced %v, %s", *p.Repriced, lineAmounts(p.Items[0]))
	}
	// Moving the dates re-prices too: one night now, 15000 + 1000; 300; 1600.
	p = patch(4, map[string]any{"items": []any{stayLine(it.ID, day(11), day(12), map[string]any{"guests": 3})}})
	if !*p.Repriced || p.Total != 16000+300+1600 {
		t.Fatalf("a PATCH moving dates re-prices: repriced %v, %s", *p.Repriced, lineAmounts(p.Items[0]))
	}
	var again pricedBooking
	o.as(t, "read").Get(o.path("/bookings/%s", b.ID)).Expect(http.StatusOK).JSON(&again)
	if again.Total != 17900 || again.Repriced != nil {
		t.Fatalf("GET shows the re-priced booking, without repriced: %+v", again)
	}
}

// rateCalendar is the rates part of GET /items/{id}/calendar.
type rateCalendar struct {
	Days []struct {
		Date              string  `json:"date"`
		Price             int64   `json:"price"`
		RuleID            *string `json:"rule_id"`
		Closed            bool    `json:"closed"`
		ClosedToArrival   bool    `json:"closed_to_arrival"`
		ClosedToDeparture bool    `json:"closed_to_departure"`
		MinNights         int     `json:"min_nights"`
	} `json:"days"`
}

// TestAvailabilityAppliesRates: availability and the calendar apply the rules
// the quote applies, and availability's total is the quote's.
func TestAvailabilityAppliesRates(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "rated-search")
	read := o.as(t, "read")
	M := monthStart()
	m := func(n int) string { return ymd(M.AddDate(0, 0, n)) }
	plain := o.newItem(t, "Plain", 2, 10000)
	closedMid := o.newItem(t, "Closed mid-stay", 2, 10000)
	o.newRule(t, closedMid.ID, map[string]any{"start": m(6), "end": m(7), "closed": true})
	cta := o.newItem(t, "No arrivals on the 5th", 2, 10000)
	o.newRule(t, cta.ID, map[string]any{"start": m(5), "end": m(6), "closed_to_arrival": true})
	ctd := o.newItem(t, "No departures on the 8th", 2, 10000)
	o.newRule(t, ctd.ID, map[string]any{"start": m(8), "end": m(9), "closed_to_departure": true})
	minStay := o.newItem(t, "Three nights from the 5th", 2, 10000)
	o.newRule(t, minStay.ID, map[string]any{"start": m(5), "end": m(6), "min_nights": 4})
	priced := o.itemWith(t, map[string]any{"name": "Taxed", "capacity": 3, "base_guests": 1, "extra_guest_price": 500,
		"discounts": []any{map[string]any{"min_nights": 3, "percent": 10}}})
	o.newRule(t, priced.ID, map[string]any{"start": m(0), "end": m(30), "days": []string{"sat"}, "nightly_price": 14000})
	o.newCharge(t, map[string]any{"name": "VAT", "kind": "tax", "percent": 20, "item_ids": []string{priced.ID}})
	leadTime := o.itemWith(t, map[string]any{"name": "Two days' notice", "min_lead_hours": 48})
	advance := o.itemWith(t, map[string]any{"name": "A week ahead at most", "max_advance_days": 7})

	search := func(in, out string, guests int) map[string]availableItem {
		t.Helper()
		var l list[availableItem]
		read.Get(o.path("/availability?check_in=%s&check_out=%s&guests=%d&limit=100", in, out, guests)).Expect(http.StatusOK).JSON(&l)
		got := map[string]availableItem{}
		for _, a := range l.Data {
			got[a.ID] = a
		}
		return got
	}
	for _, tc := range []struct {
		name    string
		in, out string
		item    item
		want    bool
	}{
		{"a closed night hides the item", m(5), m(8), closedMid, false},
		{"a stay around the closed night does not", m(7), m(9), closedMid, true},
		{"closed to arrival on the arrival date", m(5), m(8), cta, false},
		{"closed to arrival on a middle date does not", m(4), m(8), cta, true},
		{"closed to departure on the departure date", m(5), m(8), ctd, false},
		{"closed to departure on a middle date does not", m(5), m(9), ctd, true},
		{"min_nights of the arrival date", m(5), m(8), minStay, false},
		{"min_nights of a middle date does not bind", m(4), m(7), minStay, true},
		{"arrival sooner than the lead time", day(1), day(3), leadTime, false},
		{"arrival after the lead time", day(3), day(5), leadTime, true},
		{"arrival beyond max_advance_days", day(8), day(9), advance, false},
		{"arrival within max_advance_days", day(7), day(9), advance, true},
		{"an item without rules", m(5), m(8), plain, true},
	} {
		if _, ok := search(tc.in, tc.out, 1)[tc.item.ID]; ok != tc.want {
			t.Errorf("%s: listed %v, want %v", tc.name, ok, tc.want)
		}
	}

	// A week from m(0) has one Saturday: 6 × 10000 + 14000 = 74000 a unit; 2 extra guests
	// × 500 × 7 nights = 7000; 10 % off 81000 is 8100; VAT 20 % of 72900 is 14580.
	in, out := m(0), m(7)
	got, ok := search(in, out, 3)[priced.ID]
	if !ok || got.Total != 72900+14580 {
		t.Fatalf("availability's total includes extra guests, the discount and taxes: %+v, want 87480", got)
	}
	var q pricedQuote
	o.as(t, "write").Post(o.path("/quotes"), map[string]any{"items": []any{stayLine(priced.ID, in, out, map[string]any{"guests": 3})}}).
		Expect(http.StatusOK).JSON(&q)
	if q.Total != got.Total {
		t.Fatalf("availability's total %d must be the quote's %d", got.Total, q.Total)
	}
	var withNights list[struct {
		ID            string       `json:"id"`
		NightlyPrices []nightPrice `json:"nightly_prices"`
	}]
	read.Get(o.path("/availability?check_in=%s&check_out=%s&guests=3&breakdown=true&limit=100", in, out)).Expect(http.StatusOK).JSON(&withNights)
	for _, a := range withNights.Data {
		if a.ID == priced.ID && !slices.EqualFunc(a.NightlyPrices, q.Lines[0].NightlyPrices, sameNight) {
			t.Errorf("breakdown=true gives the quote's nightly prices: %+v, quote %+v", a.NightlyPrices, q.Lines[0].NightlyPrices)
		}
	}
	var plainList list[map[string]any]
	read.Get(o.path("/availability?check_in=%s&check_out=%s", in, out)).Expect(http.StatusOK).JSON(&plainList)
	if _, ok := plainList.Data[0]["nightly_prices"]; ok {
		t.Error("without breakdown there are no nightly_prices")
	}
	read.Get(o.path("/availability?check_in=%s&check_out=%s&breakdown=yes", in, out), apitest.BreaksContract("not a boolean")).
		Problem(http.StatusUnprocessableEntity, "validation_failed")

	t.Run("layered rules: the newest covering rule wins night by night", func(t *testing.T) {
		layered := o.newItem(t, "Layered", 2, 10000)
		season := o.newRule(t, layered.ID, map[string]any{"start": m(0), "end": m(30), "nightly_price": 12000})
		peak := o.newRule(t, layered.ID, map[string]any{"start": m(12), "end": m(14), "nightly_price": 15000})
		// Newer still, but outside the stay's nights: one ends on the arrival date
		// (its end is not a night of it), one starts on the departure date
		// (closed applies to nights, and the departure date is not one).
		ended := o.newRule(t, layered.ID, map[string]any{"start": m(10), "end": m(11), "nightly_price": 9000, "closed": true})
		o.newRule(t, layered.ID, map[string]any{"start": m(14), "end": m(15), "closed": true})
		var l list[struct {
			ID            string       `json:"id"`
			NightlyPrices []nightPrice `json:"nightly_prices"`
		}]
		read.Get(o.path("/availability?check_in=%s&check_out=%s&breakdown=true&limit=100", m(11), m(14))).Expect(http.StatusOK).JSON(&l)
		want := []nightPrice{{m(11), 12000, &season.ID}, {m(12), 15000, &peak.ID}, {m(13), 15000, &peak.ID}}
		found := false
		for _, a := range l.Data {
			if a.ID == layered.ID {
				found = true
				if !slices.EqualFunc(a.NightlyPrices, want, sameNight) {
					t.Errorf("nightly prices %+v, want %+v", a.NightlyPrices, want)
				}
			}
		}
		if !found {
			t.Fatal("the layered item is not listed: a rule outside the stay's nights closed it")
		}

		// The calendar picks the same winners, day by day.
		var cal rateCalendar
		read.Get(o.path("/items/%s/calendar?from=%s&to=%s", layered.ID, m(9), m(16))).Expect(http.StatusOK).JSON(&cal)
		type dayRate struct {
			price  int64
			rule   string
			closed bool
		}
		wantDays := []dayRate{{12000, season.ID, false}, {9000, ended.ID, true}, {12000, season.ID, false},
			{15000, peak.ID, false}, {15000, peak.ID, false}, {12000, season.ID, true}, {12000, season.ID, false}}
		if len(cal.Days) != len(wantDays) {
			t.Fatalf("calendar has %d days, want %d", len(cal.Days), len(wantDays))
		}
		for i, d := range cal.Days {
			got := dayRate{d.Price, "", d.Closed}
			if d.RuleID != nil {
				got.rule = *d.RuleID
			}
			if got != wantDays[i] {
				t.Errorf("calendar %s: %+v, want %+v", d.Date, got, wantDays[i])
			}
		}
	})

	t.Run("the calendar shows each day's rates", func(t *testing.T) {
		rule := o.newRule(t, cta.ID, map[string]any{"start": m(2), "end": m(4), "nightly_price": 8000, "min_nights": 2, "closed_to_departure": true})
		var cal rateCalendar
		o.as(t, "read").Get(o.path("/items/%s/calendar?from=%s&to=%s", cta.ID, m(1), m(7))).Expect(http.StatusOK).JSON(&cal)
		type dayRates struct {
			price     int64
			rule      bool
			cta, ctd  bool
			minNights int
			closed    bool
		}
		want := []dayRates{{10000, false, false, false, 1, false}, {8000, true, false, true, 2, false}, {8000, true, false, true, 2, false},
			{10000, false, false, false, 1, false}, {10000, false, true, false, 1, false}, {10000, false, false, false, 1, false}}
		for i, d := range cal.Days {
			got := dayRates{d.Price, d.RuleID != nil && *d.RuleID == rule.ID, d.ClosedToArrival, d.ClosedToDeparture, d.MinNights, d.Closed}
			if got != want[i] {
				t.Errorf("%s: %+v, want %+v", d.Date, got, want[i])
			}
		}
	})
}

// TestRatesHostileInput: wrong rules, charges and price settings are 422 (or
// refused by the contract first) and change nothing.
func TestRatesHostileInput(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "rates-hostile")
	it := o.itemWith(t, map[string]any{"capacity": 2})
	o.newRule(t, it.ID, map[string]any{"start": day(10), "end": day(20), "nightly_price": 12000})
	const year = 365
	monday := time.Now().UTC().AddDate(0, 0, 10)
	for monday.Weekday() != time.Monday {
		monday = monday.AddDate(0, 0, 1)
	}
	for _, tc := range []struct {
		name   string
		rule   map[string]any
		field  string
		code   string
		breaks string // why the contract refuses the request too
	}{
		{"a day listed twice", map[string]any{"start": day(1), "end": day(30), "days": []string{"sat", "sat"}, "closed": true}, "days[1]", "duplicate", "days are unique"},
		{"not a day", map[string]any{"start": day(1), "end": day(30), "days": []string{"funday"}, "closed": true}, "days[0]", "invalid", "not a day"},
		{"an empty days list", map[string]any{"start": day(1), "end": day(30), "days": []string{}, "closed": true}, "days", "empty", "minItems"},
		{"days that no night of the range falls on", map[string]any{"start": ymd(monday), "end": ymd(monday.AddDate(0, 0, 2)), "days": []string{"sat"}, "closed": true}, "days", "no_nights", ""},
		{"a negative price", map[string]any{"start": day(1), "end": day(30), "nightly_price": -1}, "nightly_price", "out_of_range", "minimum"},
		{"min_nights above max_nights", map[string]any{"start": day(1), "end": day(30), "min_nights": 5, "max_nights": 3}, "max_nights", "out_of_range", ""},
		{"min_nights of 0", map[string]any{"start": day(1), "end": day(30), "min_nights": 0}, "min_nights", "out_of_range", "minimum"},
		{"a rule that sets nothing", map[string]any{"start": day(1), "end": day(30)}, "nightly_price", "sets_nothing", ""},
		{"end before start", map[string]any{"start": day(30), "end": day(1), "closed": true}, "end", "before_start", ""},
		{"dates wholly in the past", map[string]any{"start": day(-10), "end": day(-2), "closed": true}, "end", "in_past", ""},
		{"a rule ending today covers no night from today on", map[string]any{"start": day(-3), "end": day(0), "closed": true}, "end", "in_past", ""},
		{"a start more than a year ago", map[string]any{"start": day(-400), "end": day(5), "closed": true}, "start", "in_past", ""},
		{"an end beyond 3 years", map[string]any{"start": day(1), "end": day(3*year + 5), "closed": true}, "end", "too_far_ahead", ""},
		{"not a date", map[string]any{"start": "next week", "end": day(5), "closed": true}, "start", "invalid", "format date"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			admin := o.as(t, "admin")
			_, before := o.rates(t, it.ID)
			var opts []apitest.Option
			if tc.breaks != "" {
				opts = append(opts, apitest.BreaksContract(tc.breaks))
			}
			p := admin.Post(o.path("/items/%s/rates", it.ID), tc.rule, opts...).Problem(http.StatusUnprocessableEntity, "validation_failed")
			if !p.HasField(tc.field, tc.code) {
				t.Errorf("POST must name %s %s, got %+v", tc.field, tc.code, p.Errors)
			}
			// The same rule second in a PUT: the whole PUT is refused.
			good := map[string]any{"start": day(2), "end": day(4), "closed": true}
			p = admin.Do(http.MethodPut, o.path("/items/%s/rates", it.ID), map[string]any{"rules": []any{good, tc.rule}},
				append(opts, apitest.IfMatch("*"))...).Problem(http.StatusUnprocessableEntity, "validation_failed")
			if !p.HasField("rules[1]."+tc.field, tc.code) {
				t.Errorf("PUT must name rules[1].%s %s, got %+v", tc.field, tc.code, p.Errors)
			}
			if _, after := o.rates(t, it.ID); after != before {
				t.Errorf("a refused rule must change nothing:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	for _, tc := range []struct {
		name   string
		charge map[string]any
		field  string
		code   string
		breaks string
	}{
		{"a percent over 100", map[string]any{"name": "VAT", "kind": "tax", "percent": 150}, "percent", "out_of_range", "maximum"},
		{"a percent of 0", map[string]any{"name": "VAT", "kind": "tax", "percent": 0}, "percent", "out_of_range", "exclusiveMinimum"},
		{"three decimals", map[string]any{"name": "VAT", "kind": "tax", "percent": 12.345}, "percent", "invalid", "multipleOf"},
		{"a negative amount", map[string]any{"name": "Fee", "kind": "fee", "amount": -100}, "amount", "out_of_range", "minimum"},
		{"both a percent and an amount", map[string]any{"name": "Fee", "kind": "fee", "percent": 5, "amount": 100}, "amount", "one_of", ""},
		{"neither", map[string]any{"name": "Fee", "kind": "fee"}, "amount", "one_of", ""},
		{"a percent per night", map[string]any{"name": "Tax", "kind": "tax", "percent": 5, "per": "night"}, "per", "percent_per_stay", ""},
		{"a taxable tax", map[string]any{"name": "Tax", "kind": "tax", "amount": 100, "taxable": true}, "taxable", "fees_only", ""},
		{"an item of nobody", map[string]any{"name": "Fee", "kind": "fee", "amount": 100, "item_ids": []string{randomID()}}, "item_ids[0]", "not_found", ""},
		{"an item twice", map[string]any{"name": "Fee", "kind": "fee", "amount": 100, "item_ids": []string{it.ID, it.ID}}, "item_ids[1]", "duplicate", "uniqueItems"},
		{"a blank name", map[string]any{"name": " ", "kind": "fee", "amount": 100}, "name", "required", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []apitest.Option
			if tc.breaks != "" {
				opts = append(opts, apitest.BreaksContract(tc.breaks))
			}
			before := srv.Env.Superuser.Int(t, "SELECT count(*) FROM charges WHERE organisation_id = $1", o.ID)
			p := o.as(t, "admin").Post(o.path("/charges"), tc.charge, opts...).Problem(http.StatusUnprocessableEntity, "validation_failed")
			if !p.HasField(tc.field, tc.code) {
				t.Errorf("must name %s %s, got %+v", tc.field, tc.code, p.Errors)
			}
			if after := srv.Env.Superuser.Int(t, "SELECT count(*) FROM charges WHERE organisation_id = $1", o.ID); after != before {
				t.Errorf("a refused charge must not be stored: %d charges, were %d", after, before)
			}
		})
	}

	for _, tc := range []struct {
		name   string
		patch  map[string]any
		field  string
		code   string
		breaks string
	}{
		{"base guests above the capacity", map[string]any{"base_guests": 3}, "base_guests", "out_of_range", ""},
		{"a capacity below the base guests", map[string]any{"capacity": 1, "base_guests": 2}, "base_guests", "out_of_range", ""},
		{"a discount over 100 %", map[string]any{"discounts": []any{map[string]any{"min_nights": 7, "percent": 101}}}, "discounts[0].percent", "out_of_range", "maximum"},
		{"two discounts for one length", map[string]any{"discounts": []any{map[string]any{"min_nights": 7, "percent": 5}, map[string]any{"min_nights": 7, "percent": 10}}}, "discounts[1].min_nights", "duplicate", ""},
		{"a negative extra guest price", map[string]any{"extra_guest_price": -5}, "extra_guest_price", "out_of_range", "minimum"},
		{"a lead time over a year", map[string]any{"min_lead_hours": 9000}, "min_lead_hours", "out_of_range", "maximum"},
	} {
		t.Run("item: "+tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []apitest.Option
			if tc.breaks != "" {
				opts = append(opts, apitest.BreaksContract(tc.breaks))
			}
			before := o.getItem(t, it.ID)
			p := o.as(t, "admin").Patch(o.path("/items/%s", it.ID), tc.patch, append(opts, apitest.IfMatch("*"))...).
				Problem(http.StatusUnprocessableEntity, "validation_failed")
			if !p.HasField(tc.field, tc.code) {
				t.Errorf("must name %s %s, got %+v", tc.field, tc.code, p.Errors)
			}
			if after := o.getItem(t, it.ID); after != before {
				t.Errorf("a refused change must leave the item: %+v, was %+v", after, before)
			}
		})
	}

	t.Run("guests above the capacity", func(t *testing.T) {
		p := o.as(t, "write").Post(o.path("/quotes"), map[string]any{"items": []any{stayLine(it.ID, day(3), day(5), map[string]any{"guests": 3})}}).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("items[0].guests", "out_of_range") {
			t.Errorf("3 guests in a room for 2: %+v", p.Errors)
		}
	})
}

// TestPricingProperty quotes random stays of items with random rules,
// settings and charges (a seeded, bounded loop): the quote's total is the sum
// of its lines, each line's total the sum of its parts, each night's price
// the newest matching rule's (else the item's), and the booking made from
// the quote has the same total and breakdown.
func TestPricingProperty(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "pricing-property")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 20261201))
	M := monthStart()
	m := func(n int) string { return ymd(M.AddDate(0, 0, n)) }
	days := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	type modelRule struct {
		start, end int
		days       []int // time.Weekday
		price      *int64
	}
	const iterations = 24
	booked := 0
	for i := range iterations {
		price := int64(rng.IntN(20000))
		capacity := 1 + rng.IntN(4)
		settings := map[string]any{"nightly_price": price, "capacity": capacity, "base_guests": 1 + rng.IntN(capacity),
			"extra_guest_price": rng.IntN(3000), "units": 1 + rng.IntN(3)}
		if rng.IntN(2) == 0 {
			settings["discounts"] = []any{map[string]any{"min_nights": 1 + rng.IntN(5), "percent": float64(1+rng.IntN(10000)) / 100}}
		}
		it := o.itemWith(t, settings)
		var rules []modelRule
		for range rng.IntN(5) {
			start := rng.IntN(30)
			r := modelRule{start: start, end: start + 1 + rng.IntN(15)}
			body := map[string]any{"start": m(r.start), "end": m(r.end)}
			if rng.IntN(2) == 0 {
				p := int64(rng.IntN(30000))
				r.price, body["nightly_price"] = &p, p
			} else {
				body["max_nights"] = 365
			}
			if rng.IntN(3) == 0 {
				// Days that surely fall in the range: the weekday of its start, and maybe more.
				wd := M.AddDate(0, 0, r.start).Weekday()
				r.days = []int{int(wd)}
				names := []string{days[(int(wd)+6)%7]}
				if extra := (int(wd) + 1 + rng.IntN(6)) % 7; extra != int(wd) {
					r.days = append(r.days, extra)
					names = append(names, days[(extra+6)%7])
				}
				body["days"] = names
			}
			o.newRule(t, it.ID, body)
			rules = append(rules, r)
		}
		for range rng.IntN(4) {
			c := map[string]any{"name": "Charge " + strconv.Itoa(i), "kind": []string{"tax", "fee"}[rng.IntN(2)],
				"inclusive": rng.IntN(3) == 0, "item_ids": []string{it.ID}}
			if rng.IntN(2) == 0 {
				c["percent"] = float64(1+rng.IntN(3000)) / 100
			} else {
				c["amount"], c["per"] = rng.IntN(2000), []string{"stay", "night", "guest_night"}[rng.IntN(3)]
			}
			if c["kind"] == "fee" {
				c["taxable"] = rng.IntN(2) == 0
			}
			o.newCharge(t, c)
		}
		in := rng.IntN(30)
		out := in + 1 + rng.IntN(10)
		guests := 1 + rng.IntN(capacity)
		line := stayLine(it.ID, m(in), m(out), map[string]any{"guests": guests})
		if rng.IntN(2) == 0 {
			a := o.newAddon(t, it.ID, "Extra", int64(rng.IntN(5000)), []string{"night", "booking"}[rng.IntN(2)], 3)
			line["addons"] = []any{map[string]any{"addon_id": a.ID, "quantity": 1 + rng.IntN(3)}}
		}
		var q pricedQuote
		o.as(t, "write").Post(o.path("/quotes"), map[string]any{"items": []any{line}}).Expect(http.StatusOK).JSON(&q)
		l := q.Lines[0]
		var nightsSum, exclusive int64
		for k, n := range l.NightlyPrices {
			d := M.AddDate(0, 0, in+k)
			want, wantRule := price, false
			for _, r := range slices.Backward(rules) {
				if r.price != nil && in+k >= r.start && in+k < r.end && (r.days == nil || slices.Contains(r.days, int(d.Weekday()))) {
					want, wantRule = *r.price, true
					break
				}
			}
			if n.Date != ymd(d) || n.Price != want || (n.RuleID != nil) != wantRule {
				t.Fatalf("case %d (seed %d): night %s priced %d (rule %v), the newest matching rule says %d (rule %v)",
					i, seed, n.Date, n.Price, n.RuleID, want, wantRule)
			}
			nightsSum += n.Price
		}
		for _, c := range slices.Concat(l.Fees, l.Taxes) {
			if !c.Inclusive {
				exclusive += c.Amount
			}
		}
		if len(l.NightlyPrices) != out-in || l.RoomTotal != nightsSum*int64(l.Quantity) ||
			l.Total != l.RoomTotal+l.ExtraGuestsTotal-l.Discount+l.AddonsTotal+exclusive || q.Total != l.Total ||
			l.Discount > l.RoomTotal+l.ExtraGuestsTotal {
			t.Fatalf("case %d (seed %d): the parts do not add up: %s, nights %v, quote total %d", i, seed, lineAmounts(l), l.NightlyPrices, q.Total)
		}
		var b pricedBooking
		res := o.as(t, "write").Post(o.path("/bookings"), map[string]any{
			"guest": map[string]any{"name": "Prop", "email": "prop@example.com"}, "items": []any{line}})
		if res.Status == http.StatusCreated {
			res.JSON(&b)
			booked++
			if b.Total != q.Total || lineAmounts(b.Items[0]).String() != lineAmounts(l).String() ||
				!slices.EqualFunc(b.Items[0].NightlyPrices, l.NightlyPrices, sameNight) {
				t.Fatalf("case %d (seed %d): the booking must be priced as its quote: %s; quote %s", i, seed, lineAmounts(b.Items[0]), lineAmounts(l))
			}
		}
	}
	if booked < iterations/2 {
		t.Errorf("only %d of %d random stays could be booked: the property barely ran", booked, iterations)
	}
}
