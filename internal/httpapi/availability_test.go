package httpapi_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

type availableItem struct {
	item
	Nights int   `json:"nights"`
	Total  int64 `json:"total"`
}

func (a availableItem) id() string { return a.ID }

type calendar struct {
	ItemID string `json:"item_id"`
	From   string `json:"from"`
	To     string `json:"to"`
	Days   []struct {
		Date      string `json:"date"`
		Available bool   `json:"available"`
	} `json:"days"`
}

func TestAvailabilityCalendarAndQuotes(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "search")
	read := o.as(t, "read")
	double := o.newItem(t, "Double", 2, 10000)
	family := o.newItem(t, "Family", 4, 20000)
	var loft item // takes stays of 2 nights or more
	o.as(t, "admin").Post(o.path("/items"), map[string]any{"name": "Loft", "capacity": 2, "nightly_price": 15000, "min_nights": 2}).
		Expect(http.StatusCreated).JSON(&loft)
	// The double is booked for nights 10 and 11.
	o.newBooking(t, double.ID, day(10), day(12))

	search := func(checkIn, checkOut string, guests int) []availableItem {
		t.Helper()
		var l list[availableItem]
		read.Get(o.path("/availability?check_in=%s&check_out=%s&guests=%d", checkIn, checkOut, guests)).Expect(http.StatusOK).JSON(&l)
		return l.Data
	}
	cases := []struct {
		name              string
		checkIn, checkOut int
		guests            int
		want              []string
	}{
		{"everything fits a free 2-night stay", 3, 5, 1, []string{double.ID, family.ID, loft.ID}},
		{"capacity: 3 guests fit the family room only", 3, 5, 3, []string{family.ID}},
		{"min_nights: a 1-night stay excludes the loft", 3, 4, 2, []string{double.ID, family.ID}},
		{"an overlapping booking excludes the double", 11, 13, 2, []string{family.ID, loft.ID}},
		{"a stay ending on the booking's check-in day does not overlap", 8, 10, 2, []string{double.ID, family.ID, loft.ID}},
		{"a stay starting on the booking's check-out day does not overlap", 12, 14, 2, []string{double.ID, family.ID, loft.ID}},
	}
	for _, tc := range cases {
		got := search(day(tc.checkIn), day(tc.checkOut), tc.guests)
		if !slices.Equal(ids(got), tc.want) {
			t.Errorf("%s: available %v, want %v", tc.name, ids(got), tc.want)
		}
	}
	if got := search(day(3), day(6), 4); len(got) != 1 || got[0].Nights != 3 || got[0].Total != 60000 {
		t.Errorf("an available item must carry the stay's nights and total (3 × 20000): %+v", got)
	}

	t.Run("invalid searches are 422 naming the parameter", func(t *testing.T) {
		read := o.as(t, "read")
		for _, tc := range []struct {
			query, field, code string
			breaks             string
		}{
			{"check_in=" + day(-2) + "&check_out=" + day(1), "check_in", "in_past", ""},
			{"check_in=" + day(5) + "&check_out=" + day(5), "check_out", "before_check_in", ""},
			{"check_in=" + day(5) + "&check_out=" + day(400), "check_out", "too_long", ""},
			{"check_in=tomorrow&check_out=" + day(5), "check_in", "invalid", "check_in is not a date"},
			{"check_out=" + day(5), "check_in", "invalid", "check_in missing"},
			{"check_in=" + day(3) + "&check_out=" + day(5) + "&guests=0", "guests", "out_of_range", "guests 0"},
		} {
			var opts []apitest.Option
			if tc.breaks != "" {
				opts = append(opts, apitest.BreaksContract(tc.breaks))
			}
			p := read.Get(o.path("/availability?%s", tc.query), opts...).Problem(http.StatusUnprocessableEntity, "validation_failed")
			if !p.HasField(tc.field, tc.code) {
				t.Errorf("%s: want %s %s, got %+v", tc.query, tc.field, tc.code, p.Errors)
			}
		}
	})

	t.Run("calendar marks booked days", func(t *testing.T) {
		read := o.as(t, "read")
		var cal calendar
		read.Get(o.path("/items/%s/calendar?from=%s&to=%s", double.ID, day(9), day(13))).Expect(http.StatusOK).JSON(&cal)
		var got []bool
		for _, d := range cal.Days {
			got = append(got, d.Available)
		}
		if cal.From != day(9) || cal.To != day(13) || cal.Days[0].Date != day(9) ||
			!slices.Equal(got, []bool{true, false, false, true}) {
			t.Errorf("days 9..12 must read free, booked, booked, free: %+v", cal)
		}
		p := read.Get(o.path("/items/%s/calendar?from=%s&to=%s", double.ID, day(1), day(400))).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("to", "out_of_range") {
			t.Errorf("more than 366 days must be refused: %+v", p.Errors)
		}
		read.Get(o.path("/items/%s/calendar?from=%s", double.ID, day(1)), apitest.BreaksContract("to missing")).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		read.Get(o.path("/items/%s/calendar?from=%s&to=%s", randomID(), day(1), day(3))).Problem(http.StatusNotFound, "not_found")
	})

	t.Run("a quote prices every line, says which are free, and reserves nothing", func(t *testing.T) {
		write := o.as(t, "write")
		var q struct {
			Currency  string `json:"currency"`
			Total     int64  `json:"total"`
			Available bool   `json:"available"`
			Lines     []stay `json:"lines"`
		}
		write.Post(o.path("/quotes"), map[string]any{"items": []any{
			map[string]any{"item_id": family.ID, "check_in": day(3), "check_out": day(5)},
			map[string]any{"item_id": double.ID, "check_in": day(11), "check_out": day(12)},
		}}).Expect(http.StatusOK).JSON(&q)
		if q.Currency != "EUR" || q.Total != 40000+10000 || q.Available || len(q.Lines) != 2 ||
			!q.Lines[0].Available || q.Lines[1].Available || q.Lines[0].Nights != 2 || q.Lines[0].Total != 40000 {
			t.Errorf("quote: %+v", q)
		}
		if !slices.Contains(ids(search(day(3), day(5), 4)), family.ID) {
			t.Error("a quote must not reserve anything")
		}
		p := write.Post(o.path("/quotes"), map[string]any{"items": []any{
			map[string]any{"item_id": randomID(), "check_in": day(3), "check_out": day(5)},
			map[string]any{"item_id": family.ID, "check_in": day(3), "check_out": day(4)},
			map[string]any{"item_id": family.ID, "check_in": day(3), "check_out": day(5)},
		}}).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("items[2]", "overlap") {
			t.Errorf("two lines for one item on overlapping dates must be refused: %+v", p.Errors)
		}
		p = write.Post(o.path("/quotes"), map[string]any{"items": []any{
			map[string]any{"item_id": randomID(), "check_in": day(3), "check_out": day(5)},
		}}).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("items[0].item_id", "not_found") {
			t.Errorf("an unknown item must be named: %+v", p.Errors)
		}
		write.Post(o.path("/quotes"), map[string]any{"items": []any{}}, apitest.BreaksContract("no items")).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
	})
}
