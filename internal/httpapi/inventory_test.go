package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

// Units of items and properties, as the tests read them.
type (
	unit struct {
		ID      string `json:"id"`
		ItemID  string `json:"item_id"`
		Name    string `json:"name"`
		Status  string `json:"status"`
		Version int    `json:"version"`
	}
	property struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Address struct {
			Lines       []string `json:"lines"`
			City        string   `json:"city"`
			CountryCode *string  `json:"country_code"`
		} `json:"address"`
		Timezone string `json:"timezone"`
		Status   string `json:"status"`
		Version  int    `json:"version"`
	}
)

func (u unit) id() string     { return u.ID }
func (p property) id() string { return p.ID }

func names(us []unit) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.Name)
	}
	return out
}

// unitsOf lists an item's units (the first 100).
func (o *org) unitsOf(t *testing.T, itemID string) []unit {
	t.Helper()
	var l list[unit]
	o.as(t, "read").Get(o.path("/items/%s/units?limit=100", itemID)).Expect(http.StatusOK).JSON(&l)
	return l.Data
}

func (o *org) newProperty(t *testing.T, name string) property {
	t.Helper()
	var p property
	o.as(t, "admin").Post(o.path("/properties"), map[string]any{"name": name}).Expect(http.StatusCreated).JSON(&p)
	return p
}

func (o *org) getItem(t *testing.T, id string) item {
	t.Helper()
	var it item
	o.as(t, "read").Get(o.path("/items/%s", id)).Expect(http.StatusOK).JSON(&it)
	return it
}

func TestItemsWithUnits(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "item-units")
	admin := o.as(t, "admin")

	t.Run("an item created as before has one unit named 1 and no property", func(t *testing.T) {
		it := o.newItem(t, "Cottage", 4, 20000)
		if it.UnitCount != 1 || it.PropertyID != nil {
			t.Errorf("a plain item must have unit_count 1 and property_id null: %+v", it)
		}
		us := o.unitsOf(t, it.ID)
		if !slices.Equal(names(us), []string{"1"}) || us[0].ItemID != it.ID || us[0].Status != "active" || us[0].Version != 1 {
			t.Errorf("a plain item's units: %+v", us)
		}
	})

	t.Run("units: 3 makes units named 1, 2 and 3", func(t *testing.T) {
		var it item
		admin.Post(o.path("/items"), map[string]any{"name": "Standard Double", "capacity": 2, "nightly_price": 9000, "units": 3}).
			Expect(http.StatusCreated).JSON(&it)
		if it.UnitCount != 3 {
			t.Errorf("unit_count must be 3: %+v", it)
		}
		if got := names(o.unitsOf(t, it.ID)); !slices.Equal(got, []string{"1", "2", "3"}) {
			t.Errorf("units of units: 3 must be 1, 2, 3 in order, got %v", got)
		}
	})

	t.Run("units as names keep the names", func(t *testing.T) {
		var it item
		admin.Post(o.path("/items"), map[string]any{"name": "Desks", "capacity": 1, "nightly_price": 1500,
			"units": []any{map[string]any{"name": "101"}, map[string]any{"name": "  102 "}, map[string]any{"name": "Attic"}}}).
			Expect(http.StatusCreated).JSON(&it)
		if it.UnitCount != 3 {
			t.Errorf("unit_count must be 3: %+v", it)
		}
		if got := names(o.unitsOf(t, it.ID)); !slices.Equal(got, []string{"101", "102", "Attic"}) {
			t.Errorf("named units must keep their (trimmed) names in order, got %v", got)
		}
	})

	t.Run("hostile units are a 422 that creates nothing", func(t *testing.T) {
		long := strings.Repeat("x", 101)
		for _, c := range []struct {
			name        string
			units       any
			field, code string
			inContract  bool
		}{
			{"zero", 0, "units", "out_of_range", false},
			{"negative", -3, "units", "out_of_range", false},
			{"over the pool limit", 1001, "units", "out_of_range", false},
			{"far over int64", json.RawMessage("100000000000000000000"), "units", "out_of_range", false},
			{"a fraction", 1.5, "units", "invalid", false},
			{"a string", "3", "units", "invalid", false},
			{"an object", map[string]any{"count": 3}, "units", "invalid", false},
			{"an empty list", []any{}, "units", "out_of_range", false},
			{"a list of strings", []any{"101"}, "units[0]", "invalid", false},
			{"a unit without a name", []any{map[string]any{}}, "units[0].name", "required", false},
			{"a unit with another field", []any{map[string]any{"name": "1", "floor": 2}}, "units[0]", "invalid", false},
			{"an empty name", []any{map[string]any{"name": " "}}, "units[0].name", "required", true},
			{"a name over 100 characters", []any{map[string]any{"name": long}}, "units[0].name", "length", false},
			{"duplicate names", []any{map[string]any{"name": "101"}, map[string]any{"name": "102"}, map[string]any{"name": "101"}},
				"units[2].name", "duplicate", true},
		} {
			t.Run(c.name, func(t *testing.T) {
				name := "Hostile " + uniq()
				body, err := json.Marshal(map[string]any{"name": name, "capacity": 2, "nightly_price": 9000, "units": c.units})
				if err != nil {
					t.Fatal(err)
				}
				opts := []apitest.Option{apitest.RawBody("application/json", body)}
				if !c.inContract {
					opts = append(opts, apitest.BreaksContract("units: "+c.name))
				}
				p := admin.Post(o.path("/items"), nil, opts...).Problem(http.StatusUnprocessableEntity, "validation_failed")
				if !p.HasField(c.field, c.code) {
					t.Errorf("units %s must be named %s %s: %+v", c.name, c.field, c.code, p.Errors)
				}
				if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM items WHERE name = $1", name); n != 0 {
					t.Errorf("a refused item must not be created, found %d", n)
				}
			})
		}
		it := o.newItem(t, "Room", 2, 9000)
		p := admin.Patch(o.path("/items/%s", it.ID), map[string]any{"units": 3}, apitest.IfMatch(etag(it.Version)),
			apitest.BreaksContract("units on PATCH")).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("units", "read_only") {
			t.Errorf("units cannot change through PATCH /items: %+v", p.Errors)
		}
	})
}

func TestUnits(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "units")
	other := newOrg(t, srv, "units-other")
	admin := o.as(t, "admin")
	var pool item
	admin.Post(o.path("/items"), map[string]any{"name": "Pool", "capacity": 2, "nightly_price": 9000, "units": 2}).
		Expect(http.StatusCreated).JSON(&pool)
	first := o.unitsOf(t, pool.ID)[0]

	res := admin.Post(o.path("/items/%s/units", pool.ID), map[string]any{"name": " 3 "}).Expect(http.StatusCreated)
	var added unit
	res.JSON(&added)
	if added.Name != "3" || added.Status != "active" || added.Version != 1 || added.ItemID != pool.ID {
		t.Errorf("new unit: %+v", added)
	}
	if res.ETag() != `"1"` || res.Header.Get("Location") != o.path("/items/%s/units/%s", pool.ID, added.ID) {
		t.Errorf("a new unit must carry ETag \"1\" and its Location; got %q, %q", res.ETag(), res.Header.Get("Location"))
	}
	if got := o.getItem(t, pool.ID).UnitCount; got != 3 {
		t.Errorf("adding a unit must raise unit_count to 3, got %d", got)
	}
	if got := admin.Get(o.path("/items/%s/units/%s", pool.ID, added.ID)).Expect(http.StatusOK).ETag(); got != `"1"` {
		t.Errorf("GET must carry the ETag, got %q", got)
	}

	t.Run("names are unique per item, 1 to 100 characters", func(t *testing.T) {
		p := admin.Post(o.path("/items/%s/units", pool.ID), map[string]any{"name": "1"}).Problem(http.StatusConflict, "unit_name_taken")
		if !strings.Contains(p.Detail, `"1"`) {
			t.Errorf("the conflict must name the taken name: %q", p.Detail)
		}
		other := o.newItem(t, "Other", 2, 9000)
		admin.Post(o.path("/items/%s/units", other.ID), map[string]any{"name": "3"}).Expect(http.StatusCreated)
		p = admin.Post(o.path("/items/%s/units", pool.ID), map[string]any{"name": strings.Repeat("x", 101)},
			apitest.BreaksContract("name over 100 characters")).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("name", "length") {
			t.Errorf("a name over 100 characters must be refused: %+v", p.Errors)
		}
		p = admin.Post(o.path("/items/%s/units", pool.ID), map[string]any{"status": "archived"},
			apitest.BreaksContract("no name, status on create")).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("name", "required") || !p.HasField("status", "read_only") {
			t.Errorf("name is required and status read-only on create: %+v", p.Errors)
		}
		if got := o.getItem(t, pool.ID).UnitCount; got != 3 {
			t.Errorf("refused units must not count, unit_count %d", got)
		}
	})

	t.Run("PATCH needs the current version", func(t *testing.T) {
		admin := o.as(t, "admin")
		path := o.path("/items/%s/units/%s", pool.ID, first.ID)
		admin.Patch(path, map[string]any{"name": "One"},
			apitest.BreaksContract("PATCH without If-Match")).Problem(http.StatusPreconditionRequired, "if_match_required")
		res := admin.Patch(path, map[string]any{"name": "One"}, apitest.IfMatch(`"1"`)).Expect(http.StatusOK)
		var changed unit
		res.JSON(&changed)
		if changed.Name != "One" || changed.Version != 2 || res.ETag() != `"2"` || changed.Status != "active" {
			t.Errorf("PATCH must rename and bump the version: %+v, ETag %s", changed, res.ETag())
		}
		admin.Patch(path, map[string]any{"name": "Stale"}, apitest.IfMatch(`"1"`)).Problem(http.StatusPreconditionFailed, "stale_version")
		admin.Patch(path, map[string]any{"name": "3"}, apitest.IfMatch(`"2"`)).Problem(http.StatusConflict, "unit_name_taken")
		admin.Patch(path, map[string]any{"status": "gone"}, apitest.IfMatch(`"2"`),
			apitest.BreaksContract("unknown status")).Problem(http.StatusUnprocessableEntity, "validation_failed")
		var now unit
		admin.Get(path).Expect(http.StatusOK).JSON(&now)
		if now.Name != "One" || now.Version != 2 {
			t.Errorf("refused PATCHes must change nothing, unit is now %+v", now)
		}

		admin.Patch(path, map[string]any{"status": "archived"}, apitest.IfMatch(`"2"`)).Expect(http.StatusOK).JSON(&now)
		if now.Status != "archived" || o.getItem(t, pool.ID).UnitCount != 2 {
			t.Errorf("archiving by PATCH must leave 2 active units: %+v, unit_count %d", now, o.getItem(t, pool.ID).UnitCount)
		}
		admin.Patch(path, map[string]any{"status": "active"}, apitest.IfMatch(`"3"`)).Expect(http.StatusOK).JSON(&now)
		if now.Status != "active" || o.getItem(t, pool.ID).UnitCount != 3 {
			t.Errorf("restoring must count the unit again: %+v, unit_count %d", now, o.getItem(t, pool.ID).UnitCount)
		}
	})

	t.Run("DELETE archives; lists filter by status", func(t *testing.T) {
		admin := o.as(t, "admin")
		res := admin.Delete(o.path("/items/%s/units/%s", pool.ID, added.ID), apitest.IfMatch(`"1"`)).Expect(http.StatusOK)
		var archived unit
		res.JSON(&archived)
		if archived.Status != "archived" || res.ETag() != `"2"` {
			t.Errorf("DELETE must archive and bump the version: %+v, %s", archived, res.ETag())
		}
		if got := o.getItem(t, pool.ID).UnitCount; got != 2 {
			t.Errorf("an archived unit must leave unit_count, got %d", got)
		}
		var active, old list[unit]
		admin.Get(o.path("/items/%s/units?status=active", pool.ID)).Expect(http.StatusOK).JSON(&active)
		admin.Get(o.path("/items/%s/units?status=archived", pool.ID)).Expect(http.StatusOK).JSON(&old)
		if slices.Contains(ids(active.Data), added.ID) || !slices.Equal(ids(old.Data), []string{added.ID}) || len(active.Data) != 2 {
			t.Errorf("status filters: active %v, archived %v", ids(active.Data), ids(old.Data))
		}
		admin.Delete(o.path("/items/%s/units/%s", pool.ID, added.ID), apitest.IfMatch(`"1"`)).Problem(http.StatusPreconditionFailed, "stale_version")
		admin.Get(o.path("/items/%s/units?status=gone", pool.ID), apitest.BreaksContract("unknown status")).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
	})

	t.Run("lists page", func(t *testing.T) {
		var page1, page2 list[unit]
		o.as(t, "read").Get(o.path("/items/%s/units?limit=2", pool.ID)).Expect(http.StatusOK).JSON(&page1)
		if len(page1.Data) != 2 || page1.NextCursor == nil {
			t.Fatalf("first page of 3 units by 2: %+v", page1)
		}
		o.as(t, "read").Get(o.path("/items/%s/units?limit=2&cursor=%s", pool.ID, *page1.NextCursor)).Expect(http.StatusOK).JSON(&page2)
		if len(page2.Data) != 1 || page2.NextCursor != nil || page2.Data[0].ID == page1.Data[1].ID {
			t.Errorf("second page: %+v", page2)
		}
		o.as(t, "read").Get(o.path("/items/%s/units", randomID())).Problem(http.StatusNotFound, "not_found")
	})

	t.Run("a unit of another item or organisation is not found", func(t *testing.T) {
		admin := o.as(t, "admin")
		room := o.newItem(t, "Room", 2, 9000)
		theirs := other.newItem(t, "Their room", 2, 9000)
		theirUnit := other.unitsOf(t, theirs.ID)[0]
		for _, path := range []string{
			o.path("/items/%s/units/%s", room.ID, first.ID),       // our unit, under another of our items
			o.path("/items/%s/units/%s", pool.ID, randomID()),     // no such unit
			o.path("/items/%s/units/%s", pool.ID, theirUnit.ID),   // their unit, under our item
			o.path("/items/%s/units/%s", theirs.ID, theirUnit.ID), // their item and unit, on our path
		} {
			admin.Get(path).Problem(http.StatusNotFound, "not_found")
			admin.Patch(path, map[string]any{"name": "Mine"}, apitest.IfMatch(`"1"`)).Problem(http.StatusNotFound, "not_found")
			admin.Delete(path).Problem(http.StatusNotFound, "not_found")
		}
		if got := other.unitsOf(t, theirs.ID); got[0].Name != "1" || got[0].Status != "active" || got[0].Version != 1 {
			t.Errorf("another organisation's unit must be untouched: %+v", got[0])
		}
		admin.Post(o.path("/items/%s/units", theirs.ID), map[string]any{"name": "9"}).Problem(http.StatusNotFound, "not_found")
	})

	t.Run("an archived item takes no new units", func(t *testing.T) {
		admin := o.as(t, "admin")
		gone := o.newItem(t, "Gone", 2, 9000)
		admin.Delete(o.path("/items/%s", gone.ID)).Expect(http.StatusOK)
		admin.Post(o.path("/items/%s/units", gone.ID), map[string]any{"name": "2"}).Problem(http.StatusConflict, "item_archived")
		if got := o.unitsOf(t, gone.ID); len(got) != 1 {
			t.Errorf("an archived item must keep its one unit, has %v", names(got))
		}
	})
}

// A unit with a booking ahead cannot leave service; once the booking is
// cancelled it can.
func TestUnitArchiveWithBookings(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "unit-bookings")
	admin := o.as(t, "admin")
	room := o.newItem(t, "Room", 2, 9000)
	only := o.unitsOf(t, room.ID)[0]
	b := o.newBooking(t, room.ID, day(10), day(12))

	path := o.path("/items/%s/units/%s", room.ID, only.ID)
	p := admin.Delete(path).Problem(http.StatusConflict, "unit_has_bookings")
	if !slices.Equal(p.BookingIDs, []string{b.ID}) {
		t.Errorf("archiving a booked unit must name the booking %s, got %v", b.ID, p.BookingIDs)
	}
	p = admin.Patch(path, map[string]any{"status": "archived"}, apitest.IfMatch(`"1"`)).Problem(http.StatusConflict, "unit_has_bookings")
	if !slices.Equal(p.BookingIDs, []string{b.ID}) {
		t.Errorf("archiving by PATCH must name the booking %s, got %v", b.ID, p.BookingIDs)
	}
	var now unit
	admin.Get(path).Expect(http.StatusOK).JSON(&now)
	if now.Status != "active" || now.Version != 1 || o.getItem(t, room.ID).UnitCount != 1 {
		t.Errorf("a refused archive must change nothing: %+v", now)
	}
	// Renaming a booked unit is fine.
	admin.Patch(path, map[string]any{"name": "Garden room"}, apitest.IfMatch(`"1"`)).Expect(http.StatusOK)

	o.as(t, "write").Post(o.path("/bookings/%s/cancel", b.ID), map[string]any{"reason": "plans changed"}).Expect(http.StatusOK)
	admin.Delete(path).Expect(http.StatusOK).JSON(&now)
	if now.Status != "archived" || o.getItem(t, room.ID).UnitCount != 0 {
		t.Errorf("with its booking cancelled the unit must archive: %+v, unit_count %d", now, o.getItem(t, room.ID).UnitCount)
	}
}

func TestProperties(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "properties")
	other := newOrg(t, srv, "properties-other")
	admin := o.as(t, "admin")

	res := admin.Post(o.path("/properties"), map[string]any{"name": " Harbour Hotel ", "timezone": "Europe/Dublin",
		"address": map[string]any{"lines": []string{"1 Quay Street", "Floor 2"}, "city": "Cork", "country_code": "IE"}}).
		Expect(http.StatusCreated)
	var hotel property
	res.JSON(&hotel)
	if res.ETag() != `"1"` || res.Header.Get("Location") != o.path("/properties/%s", hotel.ID) {
		t.Errorf("a new property must carry ETag \"1\" and its Location; got %q, %q", res.ETag(), res.Header.Get("Location"))
	}
	if hotel.Name != "Harbour Hotel" || hotel.Timezone != "Europe/Dublin" || hotel.Status != "active" || hotel.Version != 1 ||
		!slices.Equal(hotel.Address.Lines, []string{"1 Quay Street", "Floor 2"}) || hotel.Address.City != "Cork" ||
		hotel.Address.CountryCode == nil || *hotel.Address.CountryCode != "IE" {
		t.Errorf("new property: %+v", hotel)
	}
	bare := o.newProperty(t, "Bare")
	if bare.Timezone != o.Timezone || bare.Address.Lines == nil || len(bare.Address.Lines) != 0 || bare.Address.CountryCode != nil {
		t.Errorf("a property without a time zone or address takes the organisation's zone (%s) and an empty address: %+v", o.Timezone, bare)
	}
	if got := admin.Get(o.path("/properties/%s", hotel.ID)).Expect(http.StatusOK).ETag(); got != `"1"` {
		t.Errorf("GET must carry the ETag, got %q", got)
	}

	t.Run("hostile input is a 422 that creates nothing", func(t *testing.T) {
		long := strings.Repeat("x", 201)
		for _, c := range []struct {
			name        string
			body        map[string]any
			field, code string
			inContract  bool
		}{
			{"no name", map[string]any{"timezone": "UTC"}, "name", "required", false},
			{"a long name", map[string]any{"name": long}, "name", "length", false},
			{"six address lines", map[string]any{"name": "P", "address": map[string]any{"lines": []string{"1", "2", "3", "4", "5", "6"}}},
				"address.lines", "out_of_range", false},
			{"a long address line", map[string]any{"name": "P", "address": map[string]any{"lines": []string{"1", long}}},
				"address.lines[1]", "length", false},
			{"a long city", map[string]any{"name": "P", "address": map[string]any{"city": long}}, "address.city", "length", false},
			{"a lower-case country", map[string]any{"name": "P", "address": map[string]any{"country_code": "ie"}},
				"address.country_code", "invalid", false},
			{"a country that is not one", map[string]any{"name": "P", "address": map[string]any{"country_code": "XX"}},
				"address.country_code", "invalid", true},
			{"a replaced country code", map[string]any{"name": "P", "address": map[string]any{"country_code": "UK"}},
				"address.country_code", "invalid", true},
			{"a grouping, not a country", map[string]any{"name": "P", "address": map[string]any{"country_code": "EU"}},
				"address.country_code", "invalid", true},
			{"an unknown time zone", map[string]any{"name": "P", "timezone": "Mars/Olympus"}, "timezone", "invalid", true},
			{"the server's zone", map[string]any{"name": "P", "timezone": "Local"}, "timezone", "invalid", true},
			{"a status", map[string]any{"name": "P", "status": "archived"}, "status", "read_only", false},
		} {
			t.Run(c.name, func(t *testing.T) {
				var opts []apitest.Option
				if !c.inContract {
					opts = append(opts, apitest.BreaksContract(c.name))
				}
				before := srv.Env.Superuser.Int(t, "SELECT count(*) FROM properties")
				p := admin.Post(o.path("/properties"), c.body, opts...).Problem(http.StatusUnprocessableEntity, "validation_failed")
				if !p.HasField(c.field, c.code) {
					t.Errorf("%s must be named %s %s: %+v", c.name, c.field, c.code, p.Errors)
				}
				if after := srv.Env.Superuser.Int(t, "SELECT count(*) FROM properties"); after != before {
					t.Errorf("a refused property must not be created")
				}
			})
		}
	})

	t.Run("PATCH needs the current version; an address replaces the address", func(t *testing.T) {
		admin := o.as(t, "admin")
		pr := o.newProperty(t, "Annexe")
		path := o.path("/properties/%s", pr.ID)
		admin.Patch(path, map[string]any{"name": "x"},
			apitest.BreaksContract("PATCH without If-Match")).Problem(http.StatusPreconditionRequired, "if_match_required")
		res := admin.Patch(path, map[string]any{"address": map[string]any{"lines": []string{"Back lane"}, "country_code": "FR"},
			"timezone": "Europe/Paris"}, apitest.IfMatch(`"1"`)).Expect(http.StatusOK)
		var changed property
		res.JSON(&changed)
		if changed.Version != 2 || res.ETag() != `"2"` || changed.Name != "Annexe" || changed.Timezone != "Europe/Paris" ||
			!slices.Equal(changed.Address.Lines, []string{"Back lane"}) || *changed.Address.CountryCode != "FR" {
			t.Errorf("PATCH must change the given fields only: %+v", changed)
		}
		admin.Patch(path, map[string]any{"name": "Stale"}, apitest.IfMatch(`"1"`)).Problem(http.StatusPreconditionFailed, "stale_version")
		p := admin.Patch(path, map[string]any{"timezone": "Nowhere/Else"}, apitest.IfMatch(`"2"`)).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("timezone", "invalid") {
			t.Errorf("an unknown zone must be refused: %+v", p.Errors)
		}
		var now property
		admin.Get(path).Expect(http.StatusOK).JSON(&now)
		if now.Version != 2 || now.Timezone != "Europe/Paris" {
			t.Errorf("refused PATCHes must change nothing: %+v", now)
		}
		admin.Patch(o.path("/properties/%s", randomID()), map[string]any{"name": "x"}, apitest.IfMatch(`"1"`)).
			Problem(http.StatusNotFound, "not_found")
	})

	t.Run("items belong to a property and lists filter by it", func(t *testing.T) {
		admin := o.as(t, "admin")
		var inHotel item
		admin.Post(o.path("/items"), map[string]any{"name": "Sea room", "capacity": 2, "nightly_price": 9000, "property_id": hotel.ID}).
			Expect(http.StatusCreated).JSON(&inHotel)
		if inHotel.PropertyID == nil || *inHotel.PropertyID != hotel.ID {
			t.Errorf("the new item must carry its property: %+v", inHotel)
		}
		elsewhere := o.newItem(t, "Elsewhere", 2, 9000)
		var l list[item]
		admin.Get(o.path("/items?property_id=%s", hotel.ID)).Expect(http.StatusOK).JSON(&l)
		if !slices.Equal(ids(l.Data), []string{inHotel.ID}) {
			t.Errorf("property_id must filter the items: %v", ids(l.Data))
		}
		admin.Get(o.path("/items?property_id=nope"), apitest.BreaksContract("malformed property_id")).
			Problem(http.StatusUnprocessableEntity, "validation_failed")

		// Move an item in, then out again.
		var moved item
		admin.Patch(o.path("/items/%s", elsewhere.ID), map[string]any{"property_id": bare.ID}, apitest.IfMatch(`"1"`)).
			Expect(http.StatusOK).JSON(&moved)
		if moved.PropertyID == nil || *moved.PropertyID != bare.ID {
			t.Errorf("PATCH property_id must move the item: %+v", moved)
		}
		admin.Patch(o.path("/items/%s", elsewhere.ID), map[string]any{"property_id": nil}, apitest.IfMatch(`"2"`)).
			Expect(http.StatusOK).JSON(&moved)
		if moved.PropertyID != nil {
			t.Errorf("PATCH property_id null must take the item out of its property: %+v", moved)
		}

		theirs := other.newProperty(t, "Their hotel")
		for _, id := range []string{theirs.ID, randomID()} {
			name := "Nowhere " + uniq()
			p := admin.Post(o.path("/items"), map[string]any{"name": name, "capacity": 2, "nightly_price": 9000, "property_id": id}).
				Problem(http.StatusUnprocessableEntity, "validation_failed")
			if !p.HasField("property_id", "not_found") {
				t.Errorf("another organisation's or no property must be property_id not_found: %+v", p.Errors)
			}
			if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM items WHERE name = $1", name); n != 0 {
				t.Errorf("a refused item must not be created")
			}
			p = admin.Patch(o.path("/items/%s", elsewhere.ID), map[string]any{"property_id": id}, apitest.IfMatch(`"3"`)).
				Problem(http.StatusUnprocessableEntity, "validation_failed")
			if !p.HasField("property_id", "not_found") {
				t.Errorf("moving to another organisation's property must be refused: %+v", p.Errors)
			}
		}
	})

	t.Run("a property with active items cannot be archived", func(t *testing.T) {
		admin := o.as(t, "admin")
		pr := o.newProperty(t, "Busy")
		var a, b item
		admin.Post(o.path("/items"), map[string]any{"name": "A", "capacity": 2, "nightly_price": 9000, "property_id": pr.ID}).
			Expect(http.StatusCreated).JSON(&a)
		admin.Post(o.path("/items"), map[string]any{"name": "B", "capacity": 2, "nightly_price": 9000, "property_id": pr.ID}).
			Expect(http.StatusCreated).JSON(&b)
		path := o.path("/properties/%s", pr.ID)
		p := admin.Delete(path).Problem(http.StatusConflict, "property_has_items")
		want := []string{a.ID, b.ID}
		slices.Sort(want)
		if !slices.Equal(p.ItemIDs, want) {
			t.Errorf("the conflict must name the active items %v, got %v", want, p.ItemIDs)
		}
		p = admin.Patch(path, map[string]any{"status": "archived"}, apitest.IfMatch(`"1"`)).Problem(http.StatusConflict, "property_has_items")
		if len(p.ItemIDs) != 2 {
			t.Errorf("archiving by PATCH must name the items too: %v", p.ItemIDs)
		}

		admin.Delete(o.path("/items/%s", a.ID)).Expect(http.StatusOK)
		admin.Patch(o.path("/items/%s", b.ID), map[string]any{"property_id": nil}, apitest.IfMatch(`"1"`)).Expect(http.StatusOK)
		var archived property
		admin.Delete(path, apitest.IfMatch(`"1"`)).Expect(http.StatusOK).JSON(&archived)
		if archived.Status != "archived" || archived.Version != 2 {
			t.Errorf("a property without active items must archive: %+v", archived)
		}

		// An archived property takes no items, and its archived items stay archived.
		pe := admin.Post(o.path("/items"), map[string]any{"name": "C", "capacity": 2, "nightly_price": 9000, "property_id": pr.ID}).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !pe.HasField("property_id", "property_archived") {
			t.Errorf("an archived property takes no new items: %+v", pe.Errors)
		}
		pe = admin.Patch(o.path("/items/%s", a.ID), map[string]any{"status": "active"}, apitest.IfMatch(`"2"`)).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !pe.HasField("property_id", "property_archived") {
			t.Errorf("an item of an archived property cannot come back: %+v", pe.Errors)
		}

		var active, old list[property]
		admin.Get(o.path("/properties?status=active")).Expect(http.StatusOK).JSON(&active)
		admin.Get(o.path("/properties?status=archived")).Expect(http.StatusOK).JSON(&old)
		if slices.Contains(ids(active.Data), pr.ID) || !slices.Equal(ids(old.Data), []string{pr.ID}) {
			t.Errorf("status filters: active %v, archived %v", ids(active.Data), ids(old.Data))
		}
	})

	t.Run("item events carry unit_count and property_id", func(t *testing.T) {
		var f feed
		o.as(t, "read").Get(o.path("/events?types=item.created&limit=100")).Expect(http.StatusOK).JSON(&f)
		found := false
		for _, e := range f.Data {
			var it item
			if err := json.Unmarshal(e.Data, &it); err != nil {
				t.Fatal(err)
			}
			if it.Name == "Sea room" {
				found = true
				if it.UnitCount != 1 || it.PropertyID == nil || *it.PropertyID != hotel.ID {
					t.Errorf("item.created must carry unit_count and property_id: %s", e.Data)
				}
			}
		}
		if !found {
			t.Error("no item.created event for the item created in the hotel")
		}
	})
}
