package httpapi_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

func TestItems(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "items")
	admin := o.as(t, "admin")

	res := admin.Post(o.path("/items"), map[string]any{"name": "Harbour View", "description": "Sea side", "capacity": 2,
		"nightly_price": 12900, "min_nights": 2, "max_nights": 14}).Expect(http.StatusCreated)
	var it item
	res.JSON(&it)
	if res.ETag() != `"1"` || res.Header.Get("Location") != o.path("/items/%s", it.ID) {
		t.Errorf("a new item must carry ETag \"1\" and its Location; got %q, %q", res.ETag(), res.Header.Get("Location"))
	}
	if it.Status != "active" || it.Version != 1 || it.Currency != "EUR" || it.MinNights != 2 || it.MaxNights != 14 {
		t.Errorf("new item: %+v", it)
	}
	if got := admin.Get(o.path("/items/%s", it.ID)).Expect(http.StatusOK).ETag(); got != `"1"` {
		t.Errorf("GET must carry the ETag, got %q", got)
	}

	t.Run("PATCH needs the current version", func(t *testing.T) {
		admin := o.as(t, "admin")
		admin.Patch(o.path("/items/%s", it.ID), map[string]any{"name": "No precondition"},
			apitest.BreaksContract("PATCH without If-Match")).Problem(http.StatusPreconditionRequired, "if_match_required")
		admin.Patch(o.path("/items/%s", it.ID), map[string]any{"name": "Bad tag"}, apitest.IfMatch("3"),
			apitest.BreaksContract("If-Match is not an entity tag")).Problem(http.StatusBadRequest, "invalid_if_match")

		var changed item
		res := admin.Patch(o.path("/items/%s", it.ID), map[string]any{"name": "Harbour View Deluxe", "nightly_price": 14900},
			apitest.IfMatch(`"1"`)).Expect(http.StatusOK)
		res.JSON(&changed)
		if changed.Version != 2 || res.ETag() != `"2"` || changed.Name != "Harbour View Deluxe" || changed.NightlyPrice != 14900 || changed.Capacity != 2 {
			t.Errorf("PATCH must change the given fields only and bump the version: %+v, ETag %s", changed, res.ETag())
		}
		admin.Patch(o.path("/items/%s", it.ID), map[string]any{"name": "Stale"}, apitest.IfMatch(`"1"`)).
			Problem(http.StatusPreconditionFailed, "stale_version")
		var now item
		admin.Get(o.path("/items/%s", it.ID)).Expect(http.StatusOK).JSON(&now)
		if now.Name != "Harbour View Deluxe" || now.Version != 2 {
			t.Errorf("a stale PATCH must change nothing, item is now %+v", now)
		}
		p := admin.Patch(o.path("/items/%s", it.ID), map[string]any{"capacity": 0},
			apitest.IfMatch(`"2"`), apitest.BreaksContract("capacity 0")).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("capacity", "out_of_range") {
			t.Errorf("capacity 0 must be named: %+v", p.Errors)
		}
		// Valid on its own, but above the item's current max_nights (14).
		p = admin.Patch(o.path("/items/%s", it.ID), map[string]any{"min_nights": 20}, apitest.IfMatch(`"2"`)).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("max_nights", "out_of_range") {
			t.Errorf("min_nights above the current max_nights must be refused: %+v", p.Errors)
		}
		admin.Get(o.path("/items/%s", it.ID)).Expect(http.StatusOK).JSON(&now)
		if now.Version != 2 || now.MinNights != 2 {
			t.Errorf("a refused PATCH must change nothing, item is now %+v", now)
		}
		admin.Patch(o.path("/items/%s", randomID()), map[string]any{"name": "x"}, apitest.IfMatch(`"1"`)).Problem(http.StatusNotFound, "not_found")
	})

	t.Run("create validates and never sets the status", func(t *testing.T) {
		p := o.as(t, "admin").Post(o.path("/items"), map[string]any{"description": "no name", "status": "archived"},
			apitest.BreaksContract("missing required fields, status on create")).Problem(http.StatusUnprocessableEntity, "validation_failed")
		for _, f := range []string{"name", "capacity", "nightly_price"} {
			if !p.HasField(f, "required") {
				t.Errorf("%s must be reported as required: %+v", f, p.Errors)
			}
		}
		if !p.HasField("status", "read_only") {
			t.Errorf("status on create must be refused: %+v", p.Errors)
		}
	})

	t.Run("DELETE archives; archived items leave availability and lists filter by status", func(t *testing.T) {
		admin := o.as(t, "admin")
		gone := o.newItem(t, "Old Barn", 2, 5000)
		res := admin.Delete(o.path("/items/%s", gone.ID), apitest.IfMatch(`"1"`)).Expect(http.StatusOK)
		var archived item
		res.JSON(&archived)
		if archived.Status != "archived" || res.ETag() != `"2"` {
			t.Errorf("DELETE must archive and bump the version: %+v, %s", archived, res.ETag())
		}
		var active, old list[item]
		admin.Get(o.path("/items?status=active")).Expect(http.StatusOK).JSON(&active)
		admin.Get(o.path("/items?status=archived")).Expect(http.StatusOK).JSON(&old)
		if ids(active.Data) == nil || slices.Contains(ids(active.Data), gone.ID) || !slices.Equal(ids(old.Data), []string{gone.ID}) {
			t.Errorf("status filters: active %v, archived %v", ids(active.Data), ids(old.Data))
		}
		var free list[item]
		admin.Get(o.path("/availability?check_in=%s&check_out=%s", day(5), day(7))).Expect(http.StatusOK).JSON(&free)
		if slices.Contains(ids(free.Data), gone.ID) {
			t.Error("an archived item must not be available")
		}
		p := o.as(t, "write").Post(o.path("/bookings"), bookingBody(gone.ID, day(5), day(7))).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("items[0].item_id", "item_archived") {
			t.Errorf("booking an archived item must name items[0].item_id: %+v", p.Errors)
		}
		admin.Get(o.path("/items?status=gone"), apitest.BreaksContract("unknown status")).Problem(http.StatusUnprocessableEntity, "validation_failed")
	})
}

func ids[T interface{ id() string }](xs []T) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, x.id())
	}
	return out
}

func (i item) id() string    { return i.ID }
func (b booking) id() string { return b.ID }
func (a addon) id() string   { return a.ID }

func TestAddons(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "addons")
	admin := o.as(t, "admin")
	room := o.newItem(t, "Room", 2, 10000)
	other := o.newItem(t, "Other room", 2, 10000)

	breakfast := o.newAddon(t, room.ID, "Breakfast", 1500, "night", 2)
	cot := o.newAddon(t, room.ID, "Cot", 1000, "booking", 1)
	if breakfast.ItemID != room.ID || breakfast.MaxQuantity != 2 || breakfast.Per != "night" {
		t.Errorf("new add-on: %+v", breakfast)
	}
	var onSale list[addon]
	admin.Get(o.path("/items/%s/addons", room.ID)).Expect(http.StatusOK).JSON(&onSale)
	if !slices.Equal(ids(onSale.Data), []string{breakfast.ID, cot.ID}) || onSale.NextCursor != nil {
		t.Errorf("the item's add-ons: %v", ids(onSale.Data))
	}

	p := admin.Post(o.path("/items/%s/addons", room.ID), map[string]any{"name": "", "price": -1, "per": "hour", "max_quantity": 0},
		apitest.BreaksContract("every field wrong")).Problem(http.StatusUnprocessableEntity, "validation_failed")
	if len(p.Errors) != 4 {
		t.Errorf("name, price, per and max_quantity must all be named: %+v", p.Errors)
	}
	admin.Post(o.path("/items/%s/addons", randomID()), map[string]any{"name": "x", "price": 1, "per": "booking"}).
		Problem(http.StatusNotFound, "not_found")

	// Add-ons are priced per night or per stay, only with their own item, up to max_quantity.
	stayWith := func(itemID string, addons ...map[string]any) map[string]any {
		return map[string]any{"items": []any{map[string]any{"item_id": itemID, "check_in": day(3), "check_out": day(6), "addons": addons}}}
	}
	var q struct {
		Total int64  `json:"total"`
		Lines []stay `json:"lines"`
	}
	o.as(t, "write").Post(o.path("/quotes"), stayWith(room.ID, map[string]any{"addon_id": breakfast.ID, "quantity": 2},
		map[string]any{"addon_id": cot.ID})).Expect(http.StatusOK).JSON(&q)
	// 3 nights × 10000 + breakfast 1500 × 2 × 3 nights + cot 1000 once.
	if q.Total != 30000+9000+1000 || q.Lines[0].AddonsTotal != 10000 || q.Lines[0].RoomTotal != 30000 {
		t.Errorf("quote with add-ons: total %d, lines %+v", q.Total, q.Lines)
	}
	p = o.as(t, "write").Post(o.path("/quotes"), stayWith(room.ID, map[string]any{"addon_id": breakfast.ID, "quantity": 3})).
		Problem(http.StatusUnprocessableEntity, "validation_failed")
	if !p.HasField("items[0].addons[0].quantity", "out_of_range") {
		t.Errorf("more than max_quantity must be refused: %+v", p.Errors)
	}
	p = o.as(t, "write").Post(o.path("/quotes"), stayWith(other.ID, map[string]any{"addon_id": breakfast.ID})).
		Problem(http.StatusUnprocessableEntity, "validation_failed")
	if !p.HasField("items[0].addons[0].addon_id", "not_found") {
		t.Errorf("another item's add-on must be refused: %+v", p.Errors)
	}

	var archived addon
	admin.Delete(o.path("/items/%s/addons/%s", room.ID, cot.ID)).Expect(http.StatusOK).JSON(&archived)
	admin.Get(o.path("/items/%s/addons", room.ID)).Expect(http.StatusOK).JSON(&onSale)
	if !slices.Equal(ids(onSale.Data), []string{breakfast.ID}) {
		t.Errorf("an archived add-on must leave the list: %v", ids(onSale.Data))
	}
	p = o.as(t, "write").Post(o.path("/bookings"), map[string]any{"guest": map[string]any{"name": "A", "email": "a@example.com"},
		"items": stayWith(room.ID, map[string]any{"addon_id": cot.ID})["items"]}).Problem(http.StatusUnprocessableEntity, "validation_failed")
	if !p.HasField("items[0].addons[0].addon_id", "not_found") {
		t.Errorf("an archived add-on cannot be booked: %+v", p.Errors)
	}
	admin.Delete(o.path("/items/%s/addons/%s", other.ID, breakfast.ID)).Problem(http.StatusNotFound, "not_found")
}
