package httpapi_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

// TestCreatedBookingIsWhatWasStored: POST /bookings answers with the booking it
// made from what it wrote (no read-back), so that answer, the booking.created
// event's data and GET /bookings/{id} must be the same JSON, down to the order
// of stays, units (by name, not the order they were picked in) and add-ons (by
// id, not the order asked), with rate rules, fees and taxes in the breakdown.
func TestCreatedBookingIsWhatWasStored(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "created-booking")
	admin, write := o.as(t, "admin"), o.as(t, "write")

	pool := o.poolItem(t, "Dorm bed", 12, 3000)
	var units struct {
		Data []unitRef `json:"data"`
	}
	admin.Get(o.path("/items/%s/units", pool.ID)).Expect(http.StatusOK).JSON(&units)
	two := units.Data[slices.IndexFunc(units.Data, func(u unitRef) bool { return u.Name == "2" })]
	// Unit "2" held the night before: the best fit for the next stay, so the
	// units are picked 2, 1, 10 but listed by name 1, 10, 2.
	write.Post(o.path("/bookings"), map[string]any{"guest": map[string]any{"name": "Bo", "email": "bo@example.com"},
		"items": []any{map[string]any{"item_id": pool.ID, "check_in": day(9), "check_out": day(10), "unit_id": two.ID}}}).
		Expect(http.StatusCreated)

	room := o.newItem(t, "Suite", 2, 20000)
	o.newRule(t, room.ID, map[string]any{"start": day(0), "end": day(30), "nightly_price": 25000})
	o.newCharge(t, map[string]any{"name": "Cleaning", "kind": "fee", "amount": 3000, "taxable": true})
	o.newCharge(t, map[string]any{"name": "VAT", "kind": "tax", "percent": 10, "inclusive": false})
	var addons []addon
	for _, name := range []string{"Breakfast", "Parking", "Late check-out"} {
		addons = append(addons, o.newAddon(t, room.ID, name, 1500, "night", 3))
	}
	slices.Reverse(addons) // asked in an order other than by id
	var asked []any
	for i, a := range addons {
		asked = append(asked, map[string]any{"addon_id": a.ID, "quantity": i + 1})
	}

	res := write.Post(o.path("/bookings"), map[string]any{
		"guest": map[string]any{"name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0000"},
		"notes": "late arrival",
		"items": []any{
			map[string]any{"item_id": room.ID, "check_in": day(12), "check_out": day(15), "guests": 2, "addons": asked},
			map[string]any{"item_id": pool.ID, "check_in": day(10), "check_out": day(12), "quantity": 3},
		}}).Expect(http.StatusCreated)
	var created map[string]any
	res.JSON(&created)
	id := created["id"].(string)

	var got map[string]any
	o.as(t, "read").Get(o.path("/bookings/%s", id)).Expect(http.StatusOK).JSON(&got)
	if !reflect.DeepEqual(created, got) {
		a, _ := json.MarshalIndent(created, "", "  ")
		b, _ := json.MarshalIndent(got, "", "  ")
		t.Fatalf("the created booking must be the stored one\nPOST answered:\n%s\nGET answers:\n%s", a, b)
	}

	var f feed
	o.as(t, "read").Get(o.path("/events?types=booking.created")).Expect(http.StatusOK).JSON(&f)
	i := slices.IndexFunc(f.Data, func(e event) bool {
		var d struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(e.Data, &d)
		return d.ID == id
	})
	if i < 0 {
		t.Fatalf("no booking.created event for %s", id)
	}
	var data map[string]any
	if err := json.Unmarshal(f.Data[i].Data, &data); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(data, got) {
		t.Errorf("the booking.created event must carry the stored booking")
	}

	// The test has teeth only if the picking order differs from the listing's.
	lines := got["items"].([]any)
	var names []string
	for _, u := range lines[1].(map[string]any)["units"].([]any) {
		names = append(names, u.(map[string]any)["name"].(string))
	}
	if !slices.Equal(names, []string{"1", "10", "2"}) {
		t.Errorf("the pool stay must hold units 1, 10 and 2 listed by name, got %v", names)
	}
	if n := len(lines[0].(map[string]any)["addons"].([]any)); n != 3 {
		t.Errorf("the suite must carry its 3 add-ons, got %d", n)
	}
}
