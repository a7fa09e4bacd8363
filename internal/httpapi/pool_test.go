package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

// poolItem creates an item with n units through the API.
func (o *org) poolItem(t *testing.T, name string, units int, price int64) item {
	t.Helper()
	var it item
	o.as(t, "admin").Post(o.path("/items"), map[string]any{"name": name, "capacity": 2, "nightly_price": price, "units": units}).
		Expect(http.StatusCreated).JSON(&it)
	return it
}

// pooledLine is a booking line asking for quantity units.
func pooledBody(itemID, checkIn, checkOut string, quantity int) map[string]any {
	b := bookingBody(itemID, checkIn, checkOut)
	b["items"].([]any)[0].(map[string]any)["quantity"] = quantity
	return b
}

// block is a block as the API returns it.
type block struct {
	ID      string `json:"id"`
	UnitID  string `json:"unit_id"`
	Version int    `json:"version"`
}

type unitRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type pooledBooking struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
	Total   int64  `json:"total"`
	Items   []struct {
		ID        string    `json:"id"`
		Quantity  int       `json:"quantity"`
		RoomTotal int64     `json:"room_total"`
		Units     []unitRef `json:"units"`
	} `json:"items"`
}

// overlapsInSQL counts pairs of active occupancies of one unit that overlap: the
// exclusion constraint must keep it at zero whatever happened.
func overlapsInSQL(t *testing.T, srv *apitest.Server, itemID string) int {
	t.Helper()
	return srv.Env.Superuser.Int(t, `SELECT count(*) FROM occupancies a JOIN occupancies b
		ON a.organisation_id = b.organisation_id AND a.unit_id = b.unit_id AND a.id < b.id
		WHERE a.item_id = $1 AND a.date_range && b.date_range
		  AND a.status IN ('unpaid', 'paid', 'complete', 'blocked') AND b.status IN ('unpaid', 'paid', 'complete', 'blocked')`, itemID)
}

// TestPoolRace: a pool of 5 units, 200 concurrent one-unit bookings of the same
// nights. Exactly 5 win, each on its own unit; the 195 others are told
// booking_conflict naming the item; no unit is booked twice.
func TestPoolRace(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "pool-race")
	pool := o.poolItem(t, "Hot desk", 5, 3000)
	write := o.as(t, "write")

	res, took := race(200, func(int) *apitest.Response {
		return write.Post(o.path("/bookings"), bookingBody(pool.ID, day(10), day(12)))
	})
	statuses := map[int]int{}
	units := map[string]bool{}
	for _, r := range res {
		statuses[r.Status]++
		switch r.Status {
		case http.StatusCreated:
			var b pooledBooking
			r.JSON(&b)
			for _, u := range b.Items[0].Units {
				if units[u.ID] {
					t.Errorf("unit %s was handed out twice", u.Name)
				}
				units[u.ID] = true
			}
		case http.StatusConflict:
			if p := r.Problem(http.StatusConflict, "booking_conflict"); !slices.Equal(p.ItemIDs, []string{pool.ID}) {
				t.Errorf("the conflict must name the pool, got %v", p.ItemIDs)
			}
		}
	}
	t.Logf("200 concurrent bookings of a 5-unit pool answered in %v: %v", took.Round(time.Millisecond), statuses)
	if statuses[http.StatusCreated] != 5 || statuses[http.StatusConflict] != 195 {
		t.Errorf("want exactly 5 × 201 and 195 × 409, got %v", statuses)
	}
	if len(units) != 5 {
		t.Errorf("the 5 bookings must hold the 5 units, got %d distinct units", len(units))
	}
	if n := overlapsInSQL(t, srv, pool.ID); n != 0 {
		t.Errorf("no two active occupancies of a unit may overlap, found %d pairs", n)
	}
}

// TestPoolRaceByTwos: the same race asking for 2 units each: two bookings fit
// (4 units), the fifth unit stays free, never more than 5 units are booked.
func TestPoolRaceByTwos(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "pool-twos")
	pool := o.poolItem(t, "Twin room", 5, 8000)
	write := o.as(t, "write")

	res, _ := race(200, func(int) *apitest.Response {
		return write.Post(o.path("/bookings"), pooledBody(pool.ID, day(10), day(12), 2))
	})
	statuses := map[int]int{}
	for _, r := range res {
		statuses[r.Status]++
	}
	if statuses[http.StatusCreated] != 2 || statuses[http.StatusConflict] != 198 {
		t.Errorf("want exactly 2 × 201 and 198 × 409, got %v", statuses)
	}
	booked := srv.Env.Superuser.Int(t, `SELECT count(*) FROM occupancies WHERE item_id = $1 AND status = 'unpaid'`, pool.ID)
	if booked > 5 || booked != 2*statuses[http.StatusCreated] {
		t.Errorf("units booked: %d for %d bookings of 2; never more than the pool's 5", booked, statuses[http.StatusCreated])
	}
	if n := overlapsInSQL(t, srv, pool.ID); n != 0 {
		t.Errorf("no two active occupancies of a unit may overlap, found %d pairs", n)
	}
}

// TestBookingsRaceABlock: on a one-unit item, bookings and a maintenance block
// of the same nights race; exactly one of them wins.
func TestBookingsRaceABlock(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "block-race")
	room := o.newItem(t, "Suite", 2, 20000)
	write, admin := o.as(t, "write"), o.as(t, "admin")

	res, _ := race(40, func(i int) *apitest.Response {
		if i%2 == 0 {
			return admin.Post(o.path("/items/%s/blocks", room.ID), map[string]any{"start": day(20), "end": day(23), "kind": "maintenance"})
		}
		return write.Post(o.path("/bookings"), bookingBody(room.ID, day(21), day(22)))
	})
	wins := 0
	for _, r := range res {
		switch r.Status {
		case http.StatusCreated:
			wins++
		case http.StatusConflict:
			var p apitest.Problem
			if r.JSON(&p); p.Code != "booking_conflict" && p.Code != "block_conflict" {
				t.Errorf("a loser must be told booking_conflict or block_conflict, got %s", p.Code)
			}
		default:
			t.Errorf("unexpected answer %d", r.Status)
		}
	}
	if wins != 1 {
		t.Errorf("exactly one of the racing bookings and blocks must win, got %d", wins)
	}
	if n := overlapsInSQL(t, srv, room.ID); n != 0 {
		t.Errorf("no two active occupancies of the unit may overlap, found %d pairs", n)
	}
}

// TestPoolWalkThrough is the README's pool: "Standard Double" with 3 units, two
// booked in one line, one left; blocking the last takes the item out of
// availability; cancelling frees both units again.
func TestPoolWalkThrough(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "pool-walk")
	double := o.poolItem(t, "Standard Double", 3, 12000)
	write, admin := o.as(t, "write"), o.as(t, "admin")
	in, out := day(30), day(33)

	var b pooledBooking
	write.Post(o.path("/bookings"), pooledBody(double.ID, in, out, 2)).Expect(http.StatusCreated).JSON(&b)
	if got := b.Items[0]; got.Quantity != 2 || len(got.Units) != 2 || got.Units[0].ID == got.Units[1].ID {
		t.Fatalf("a line of quantity 2 must hold two units, got %+v", got)
	}
	if b.Items[0].RoomTotal != 2*3*12000 || b.Total != 2*3*12000 {
		t.Errorf("the price is per unit: want %d, got room_total %d, total %d", 2*3*12000, b.Items[0].RoomTotal, b.Total)
	}

	type avail struct {
		Data []struct {
			ID             string `json:"id"`
			AvailableUnits int    `json:"available_units"`
			Total          int64  `json:"total"`
		} `json:"data"`
	}
	search := func(quantity int) avail {
		var a avail
		o.as(t, "read").Get(o.path("/availability?check_in=%s&check_out=%s&quantity=%d", in, out, quantity)).Expect(http.StatusOK).JSON(&a)
		return a
	}
	if a := search(1); len(a.Data) != 1 || a.Data[0].AvailableUnits != 1 || a.Data[0].Total != 3*12000 {
		t.Fatalf("one unit of the double must be left, got %+v", a.Data)
	}
	if a := search(2); len(a.Data) != 0 {
		t.Errorf("two units are not free: the double must not be listed for quantity 2, got %+v", a.Data)
	}

	var blk struct {
		ID     string `json:"id"`
		UnitID string `json:"unit_id"`
	}
	admin.Post(o.path("/items/%s/blocks", double.ID), map[string]any{"start": in, "end": out, "kind": "maintenance", "reason": "new carpet"}).
		Expect(http.StatusCreated).JSON(&blk)
	if slices.ContainsFunc(b.Items[0].Units, func(u unitRef) bool { return u.ID == blk.UnitID }) {
		t.Errorf("the block must take the free unit, not a booked one")
	}
	if a := search(1); len(a.Data) != 0 {
		t.Errorf("with every unit booked or blocked the double must drop out of availability, got %+v", a.Data)
	}

	var cal struct {
		Days []struct {
			Date           string `json:"date"`
			Available      bool   `json:"available"`
			AvailableUnits int    `json:"available_units"`
			TotalUnits     int    `json:"total_units"`
			Blocks         []struct {
				ID string `json:"id"`
			} `json:"blocks"`
		} `json:"days"`
	}
	o.as(t, "read").Get(o.path("/items/%s/calendar?from=%s&to=%s", double.ID, day(29), day(34))).Expect(http.StatusOK).JSON(&cal)
	wantFree := []int{3, 0, 0, 0, 3}
	for i, d := range cal.Days {
		if d.TotalUnits != 3 || d.AvailableUnits != wantFree[i] || d.Available != (wantFree[i] > 0) {
			t.Errorf("%s: want %d of 3 units free, got %+v", d.Date, wantFree[i], d)
		}
		if blocked := i >= 1 && i <= 3; blocked != (len(d.Blocks) == 1 && d.Blocks[0].ID == blk.ID) {
			t.Errorf("%s: the block must be listed on exactly its days, got %+v", d.Date, d.Blocks)
		}
	}

	write.Post(o.path("/bookings/%s/cancel", b.ID), map[string]any{}, apitest.IfMatch(etag(b.Version))).Expect(http.StatusOK)
	if a := search(2); len(a.Data) != 1 || a.Data[0].AvailableUnits != 2 {
		t.Errorf("cancelling must free both units, got %+v", a.Data)
	}
}

// TestPatchKeepsUnits: moving a booking's dates keeps its unit while it is
// free, and an admin can move the stay to another unit.
func TestPatchKeepsUnits(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "pool-patch")
	pool := o.poolItem(t, "Cabin", 3, 9000)
	write, admin := o.as(t, "write"), o.as(t, "admin")

	var b pooledBooking
	write.Post(o.path("/bookings"), bookingBody(pool.ID, day(40), day(42))).Expect(http.StatusCreated).JSON(&b)
	unit := b.Items[0].Units[0]
	var moved pooledBooking
	write.Patch(o.path("/bookings/%s", b.ID), map[string]any{"items": []any{map[string]any{
		"item_id": pool.ID, "check_in": day(41), "check_out": day(44)}}}, apitest.IfMatch(etag(b.Version))).
		Expect(http.StatusOK).JSON(&moved)
	if got := moved.Items[0].Units; len(got) != 1 || got[0].ID != unit.ID {
		t.Errorf("moving the dates must keep the stay on unit %s while it is free, got %+v", unit.Name, got)
	}

	var units struct {
		Data []unitRef `json:"data"`
	}
	admin.Get(o.path("/items/%s/units", pool.ID)).Expect(http.StatusOK).JSON(&units)
	other := units.Data[0]
	if other.ID == unit.ID {
		other = units.Data[1]
	}
	body := map[string]any{"items": []any{map[string]any{"item_id": pool.ID, "check_in": day(41), "check_out": day(44), "unit_id": other.ID}}}
	write.Patch(o.path("/bookings/%s", b.ID), body, apitest.IfMatch(etag(moved.Version))).Problem(http.StatusForbidden, "forbidden")
	var again pooledBooking
	admin.Patch(o.path("/bookings/%s", b.ID), body, apitest.IfMatch(etag(moved.Version))).Expect(http.StatusOK).JSON(&again)
	if got := again.Items[0].Units; len(got) != 1 || got[0].ID != other.ID {
		t.Errorf("an admin must be able to move the stay to unit %s, got %+v", other.Name, got)
	}

	// A unit asked for by id that another booking holds: 409, nothing changes.
	write.Post(o.path("/bookings"), map[string]any{"guest": map[string]any{"name": "Bo", "email": "bo@example.com"},
		"items": []any{map[string]any{"item_id": pool.ID, "check_in": day(42), "check_out": day(43), "unit_id": other.ID}}}).
		Problem(http.StatusConflict, "booking_conflict")
}

// TestPoolHostileInput: every wrong input is a 422 naming the field, and
// changes nothing.
func TestPoolHostileInput(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "pool-hostile")
	pool := o.poolItem(t, "Bunk", 3, 2000)
	other := o.poolItem(t, "Other", 2, 2000)
	write, admin := o.as(t, "write"), o.as(t, "admin")
	var otherUnits struct {
		Data []unitRef `json:"data"`
	}
	admin.Get(o.path("/items/%s/units", other.ID)).Expect(http.StatusOK).JSON(&otherUnits)
	line := func(extra map[string]any) map[string]any {
		l := map[string]any{"item_id": pool.ID, "check_in": day(5), "check_out": day(7)}
		for k, v := range extra {
			l[k] = v
		}
		return map[string]any{"guest": map[string]any{"name": "Eve", "email": "eve@example.com"}, "items": []any{l}}
	}
	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"quantity 0":              {line(map[string]any{"quantity": 0}), "items[0].quantity"},
		"quantity above the pool": {line(map[string]any{"quantity": 4}), "items[0].quantity"},
		"unit of another item":    {line(map[string]any{"unit_id": otherUnits.Data[0].ID}), "items[0].unit_id"},
		"unknown unit":            {line(map[string]any{"unit_id": randomID()}), "items[0].unit_id"},
		"unit_id with quantity 2": {line(map[string]any{"unit_id": otherUnits.Data[0].ID, "quantity": 2}), "items[0].quantity"},
	} {
		var opts []apitest.Option
		if name == "quantity 0" { // below the schema's minimum, unlike the others, which need the database to tell
			opts = append(opts, apitest.BreaksContract(name))
		}
		p := write.Post(o.path("/bookings"), tc.body, opts...).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !slices.ContainsFunc(p.Errors, func(f apitest.FieldError) bool { return f.Field == tc.field }) {
			t.Errorf("%s: want a field error on %s, got %+v", name, tc.field, p.Errors)
		}
	}
	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"end before start":   {map[string]any{"start": day(9), "end": day(8), "kind": "owner"}, "end"},
		"end equals start":   {map[string]any{"start": day(9), "end": day(9), "kind": "owner"}, "end"},
		"longer than a year": {map[string]any{"start": day(9), "end": day(9 + 367), "kind": "owner"}, "end"},
		"unknown kind":       {map[string]any{"start": day(9), "end": day(10), "kind": "holiday"}, "kind"},
		"unit of another item": {map[string]any{"start": day(9), "end": day(10), "kind": "owner",
			"unit_id": otherUnits.Data[0].ID}, "unit_id"},
	} {
		var opts []apitest.Option
		if name == "unknown kind" { // outside the schema's enum
			opts = append(opts, apitest.BreaksContract(name))
		}
		p := admin.Post(o.path("/items/%s/blocks", pool.ID), tc.body, opts...).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !slices.ContainsFunc(p.Errors, func(f apitest.FieldError) bool { return f.Field == tc.field }) {
			t.Errorf("block, %s: want a field error on %s, got %+v", name, tc.field, p.Errors)
		}
	}
	if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM occupancies`); n != 0 {
		t.Errorf("refused requests must change nothing, found %d occupancies", n)
	}
}

// TestPoolChoosesTightestUnit: a booking without unit_id takes the free unit
// whose neighbouring stays leave the smallest gaps, so that a pool keeps long
// runs of free nights; taken units are never offered, and equal gaps go by
// name.
func TestPoolChoosesTightestUnit(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "pool-gaps")
	pool := o.poolItem(t, "Pod", 4, 5000)
	admin, write := o.as(t, "admin"), o.as(t, "write")
	units := o.unitsOf(t, pool.ID)
	if len(units) != 4 {
		t.Fatalf("the pool must have 4 units, has %d", len(units))
	}
	slices.SortFunc(units, func(a, b unit) int { return strings.Compare(a.Name, b.Name) })
	byUnit := func(u unit, in, out string) {
		t.Helper()
		admin.Post(o.path("/bookings"), map[string]any{"guest": map[string]any{"name": "Ann", "email": "ann@example.com"},
			"items": []any{map[string]any{"item_id": pool.ID, "check_in": in, "check_out": out, "unit_id": u.ID}}}).
			Expect(http.StatusCreated)
	}
	// The stay asked for is nights 20-22. Unit 0 is taken on night 21; unit 1
	// has a stay ending 5 nights before (gap 5 + none after); unit 2 one ending
	// on the arrival day and one starting 2 nights after the departure (gaps 0
	// and 2); unit 3 is free all along (no neighbours).
	byUnit(units[0], day(21), day(22))
	byUnit(units[1], day(10), day(15))
	byUnit(units[2], day(18), day(20))
	byUnit(units[2], day(24), day(26))

	var b pooledBooking
	write.Post(o.path("/bookings"), bookingBody(pool.ID, day(20), day(22))).Expect(http.StatusCreated).JSON(&b)
	if got := b.Items[0].Units; len(got) != 1 || got[0].ID != units[2].ID {
		t.Fatalf("the booking must take %s, whose neighbours leave the smallest gaps, got %+v", units[2].Name, got)
	}
	write.Post(o.path("/bookings"), bookingBody(pool.ID, day(20), day(22))).Expect(http.StatusCreated).JSON(&b)
	if got := b.Items[0].Units; len(got) != 1 || got[0].ID != units[1].ID {
		t.Fatalf("the next must take %s (gap 5 before, none after beats none on either side), got %+v", units[1].Name, got)
	}
	write.Post(o.path("/bookings"), bookingBody(pool.ID, day(20), day(22))).Expect(http.StatusCreated).JSON(&b)
	if got := b.Items[0].Units; len(got) != 1 || got[0].ID != units[3].ID {
		t.Fatalf("the last free unit is %s, got %+v", units[3].Name, got)
	}
	write.Post(o.path("/bookings"), bookingBody(pool.ID, day(20), day(22))).Problem(http.StatusConflict, "booking_conflict")
}
