package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

func TestBookingLifecycle(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "lifecycle")
	write := o.as(t, "write")
	room := o.newItem(t, "Room", 2, 10000)
	suite := o.newItem(t, "Suite", 3, 25000)
	breakfast := o.newAddon(t, room.ID, "Breakfast", 1500, "night", 2)

	body := bookingBody(room.ID, day(20), day(23))
	body["items"] = []any{map[string]any{"item_id": room.ID, "check_in": day(20), "check_out": day(23),
		"addons": []any{map[string]any{"addon_id": breakfast.ID, "quantity": 2}}}}
	body["guest"] = map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000"}
	body["notes"] = "arriving late"
	res := write.Post(o.path("/bookings"), body).Expect(http.StatusCreated)
	var b booking
	res.JSON(&b)
	if res.ETag() != `"1"` || res.Header.Get("Location") != o.path("/bookings/%s", b.ID) {
		t.Errorf("a new booking must carry ETag \"1\" and its Location; got %q, %q", res.ETag(), res.Header.Get("Location"))
	}
	// 3 nights × 10000 + breakfast 2 × 1500 × 3 nights.
	if b.Status != "unpaid" || b.Total != 30000+9000 || b.Currency != "EUR" || len(b.Items) != 1 ||
		b.Items[0].Nights != 3 || b.Items[0].AddonsTotal != 9000 || b.Guest.Phone == nil || b.Notes != "arriving late" {
		t.Errorf("new booking: %+v", b)
	}
	if hold := b.ExpiresAt.Sub(b.CreatedAt); hold != 30*time.Minute {
		t.Errorf("an unpaid booking must be held for the organisation's 30 minutes, expires_at - created_at = %v", hold)
	}

	t.Run("an overlapping booking is 409 booking_conflict naming the item", func(t *testing.T) {
		write := o.as(t, "write")
		p := write.Post(o.path("/bookings"), map[string]any{"guest": map[string]any{"name": "B", "email": "b@example.com"},
			"items": []any{
				map[string]any{"item_id": suite.ID, "check_in": day(21), "check_out": day(22)},
				map[string]any{"item_id": room.ID, "check_in": day(22), "check_out": day(25)},
			}}).Problem(http.StatusConflict, "booking_conflict")
		if !slices.Equal(p.ItemIDs, []string{room.ID}) {
			t.Errorf("the conflict must name the booked item only, got %v", p.ItemIDs)
		}
		if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM booking_items WHERE item_id = $1", suite.ID); n != 0 {
			t.Errorf("a refused booking must book nothing, found %d stays of the suite", n)
		}
	})

	t.Run("invalid requests name the field", func(t *testing.T) {
		write := o.as(t, "write")
		p := write.Post(o.path("/bookings"), map[string]any{"guest": map[string]any{"name": "", "email": "not-an-email"},
			"items": []any{
				map[string]any{"item_id": room.ID, "check_in": day(-3), "check_out": day(-1)},
				map[string]any{"item_id": room.ID, "check_in": day(40), "check_out": day(39)},
				map[string]any{"item_id": "nope", "check_in": day(40), "check_out": day(41)},
			}}, apitest.BreaksContract("email and item_id malformed")).Problem(http.StatusUnprocessableEntity, "validation_failed")
		for _, f := range [][2]string{{"guest.name", "required"}, {"guest.email", "invalid"},
			{"items[1].check_out", "before_check_in"}, {"items[2].item_id", "invalid"}} {
			if !p.HasField(f[0], f[1]) {
				t.Errorf("%s %s must be reported: %+v", f[0], f[1], p.Errors)
			}
		}
		p = write.Post(o.path("/bookings"), bookingBody(room.ID, day(-3), day(-1))).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("items[0].check_in", "in_past") {
			t.Errorf("a stay in the past must name items[0].check_in: %+v", p.Errors)
		}
		var short item
		o.as(t, "admin").Post(o.path("/items"), map[string]any{"name": "Weekly", "capacity": 2, "nightly_price": 100, "min_nights": 7}).
			Expect(http.StatusCreated).JSON(&short)
		p = write.Post(o.path("/bookings"), bookingBody(short.ID, day(40), day(42))).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("items[0].check_out", "nights_out_of_range") {
			t.Errorf("a stay shorter than min_nights must name items[0].check_out: %+v", p.Errors)
		}
	})

	t.Run("list filters by status, item and dates", func(t *testing.T) {
		read := o.as(t, "read")
		get := func(query string) []string {
			var l list[booking]
			read.Get(o.path("/bookings?%s", query)).Expect(http.StatusOK).JSON(&l)
			return ids(l.Data)
		}
		other := o.newBooking(t, suite.ID, day(30), day(31))
		if got := get("item_id=" + room.ID); !slices.Equal(got, []string{b.ID}) {
			t.Errorf("item_id filter: %v", got)
		}
		if got := get("from=" + day(22) + "&to=" + day(40)); !slices.Equal(got, []string{other.ID, b.ID}) {
			t.Errorf("date filter, newest first: %v", got)
		}
		if got := get("from=" + day(23) + "&to=" + day(30)); len(got) != 0 {
			t.Errorf("[23, 30) overlaps neither half-open stay: %v", got)
		}
		if got := get("status=paid"); len(got) != 0 {
			t.Errorf("status filter: %v", got)
		}
		p := read.Get(o.path("/bookings?from=%s", day(1))).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("from", "required") {
			t.Errorf("from without to: %+v", p.Errors)
		}
	})

	t.Run("PATCH changes details, re-prices new dates and re-checks availability", func(t *testing.T) {
		write := o.as(t, "write")
		write.Patch(o.path("/bookings/%s", b.ID), map[string]any{"notes": "x"}, apitest.BreaksContract("no If-Match")).
			Problem(http.StatusPreconditionRequired, "if_match_required")
		var changed booking
		res := write.Patch(o.path("/bookings/%s", b.ID), map[string]any{"notes": "arriving at 23:00"}, apitest.IfMatch(`"1"`)).Expect(http.StatusOK)
		res.JSON(&changed)
		if changed.Notes != "arriving at 23:00" || changed.Version != 2 || res.ETag() != `"2"` || changed.Total != b.Total {
			t.Errorf("notes PATCH: %+v", changed)
		}
		write.Patch(o.path("/bookings/%s", b.ID), map[string]any{"notes": "stale"}, apitest.IfMatch(`"1"`)).
			Problem(http.StatusPreconditionFailed, "stale_version")
		blocker := o.newBooking(t, suite.ID, day(50), day(52))
		p := write.Patch(o.path("/bookings/%s", b.ID), map[string]any{"items": []any{
			map[string]any{"item_id": suite.ID, "check_in": day(51), "check_out": day(53)}}}, apitest.IfMatch(`"2"`)).
			Problem(http.StatusConflict, "booking_conflict")
		if !slices.Equal(p.ItemIDs, []string{suite.ID}) {
			t.Errorf("moving onto a booked item must name it: %v", p.ItemIDs)
		}
		// Moving within its own dates never conflicts with itself; the new stay is re-priced.
		write.Patch(o.path("/bookings/%s", b.ID), map[string]any{"items": []any{
			map[string]any{"item_id": room.ID, "check_in": day(21), "check_out": day(23)}}}, apitest.IfMatch(`"2"`)).
			Expect(http.StatusOK).JSON(&changed)
		if changed.Total != 20000 || changed.Version != 3 || changed.Items[0].CheckIn != day(21) {
			t.Errorf("re-dated booking must be re-priced at 2 × 10000 without add-ons: %+v", changed)
		}
		write.Patch(o.path("/bookings/%s", b.ID), map[string]any{}, apitest.IfMatch(`"3"`), apitest.BreaksContract("empty PATCH")).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		write.Post(o.path("/bookings/%s/cancel", blocker.ID), nil).Expect(http.StatusOK)
	})

	t.Run("confirm, complete, and what the lifecycle refuses", func(t *testing.T) {
		write := o.as(t, "write")
		write.Post(o.path("/bookings/%s/complete", b.ID), nil, apitest.IfMatch(`"3"`)).Problem(http.StatusConflict, "invalid_transition")
		write.Post(o.path("/bookings/%s/confirm", b.ID), map[string]any{"payment_reference": "pay_1"}, apitest.IfMatch(`"2"`)).
			Problem(http.StatusPreconditionFailed, "stale_version")
		p := write.Post(o.path("/bookings/%s/confirm", b.ID), map[string]any{"reason": "wrong field"}, apitest.BreaksContract("reason on confirm")).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("reason", "unexpected") {
			t.Errorf("confirm must refuse a reason: %+v", p.Errors)
		}
		var paid booking
		res := write.Post(o.path("/bookings/%s/confirm", b.ID), map[string]any{"payment_reference": "pay_1"}, apitest.IfMatch(`"3"`)).Expect(http.StatusOK)
		res.JSON(&paid)
		if paid.Status != "paid" || paid.PaymentReference == nil || *paid.PaymentReference != "pay_1" || res.ETag() != `"4"` {
			t.Errorf("confirmed booking: %+v", paid)
		}
		write.Post(o.path("/bookings/%s/confirm", b.ID), nil).Problem(http.StatusConflict, "invalid_transition")
		var done booking
		write.Post(o.path("/bookings/%s/complete", b.ID), nil).Expect(http.StatusOK).JSON(&done)
		if done.Status != "complete" {
			t.Errorf("completed booking: %+v", done)
		}
		write.Post(o.path("/bookings/%s/cancel", b.ID), nil).Problem(http.StatusConflict, "invalid_transition")
		write.Patch(o.path("/bookings/%s", b.ID), map[string]any{"notes": "too late"}, apitest.IfMatch(etag(done.Version))).
			Problem(http.StatusConflict, "invalid_transition")
		write.Post(o.path("/bookings/%s/confirm", randomID()), nil).Problem(http.StatusNotFound, "not_found")
		// A completed stay still holds its dates.
		write.Post(o.path("/bookings"), bookingBody(room.ID, day(21), day(22))).Problem(http.StatusConflict, "booking_conflict")
	})

	t.Run("cancel frees the dates, of an unpaid and of a paid booking", func(t *testing.T) {
		write := o.as(t, "write")
		for _, pay := range []bool{false, true} {
			hold := o.newBooking(t, suite.ID, day(60), day(62))
			if pay {
				write.Post(o.path("/bookings/%s/confirm", hold.ID), nil).Expect(http.StatusOK)
			}
			write.Post(o.path("/bookings"), bookingBody(suite.ID, day(61), day(63))).Problem(http.StatusConflict, "booking_conflict")
			var cancelled booking
			write.Post(o.path("/bookings/%s/cancel", hold.ID), map[string]any{"reason": "guest called"}).Expect(http.StatusOK).JSON(&cancelled)
			if cancelled.Status != "cancelled" || cancelled.CancelReason == nil || *cancelled.CancelReason != "guest called" {
				t.Errorf("cancelled booking: %+v", cancelled)
			}
			var free list[availableItem]
			write.Get(o.path("/availability?check_in=%s&check_out=%s", day(60), day(62))).Expect(http.StatusOK).JSON(&free)
			if !slices.Contains(ids(free.Data), suite.ID) {
				t.Error("a cancelled booking's dates must be available again")
			}
			again := o.newBooking(t, suite.ID, day(60), day(62))
			write.Post(o.path("/bookings/%s/cancel", again.ID), nil).Expect(http.StatusOK)
			write.Post(o.path("/bookings/%s/cancel", hold.ID), nil).Problem(http.StatusConflict, "invalid_transition")
		}
	})

	t.Run("a price change does not re-price existing bookings", func(t *testing.T) {
		admin := o.as(t, "admin")
		lodge := o.newItem(t, "Lodge", 2, 7000)
		held := o.newBooking(t, lodge.ID, day(75), day(77))
		admin.Patch(o.path("/items/%s", lodge.ID), map[string]any{"nightly_price": 9000}, apitest.IfMatch(`"1"`)).Expect(http.StatusOK)
		var still booking
		admin.Get(o.path("/bookings/%s", held.ID)).Expect(http.StatusOK).JSON(&still)
		if still.Total != 14000 || still.Version != held.Version {
			t.Errorf("the booking keeps the price it was made at (2 × 7000): %+v", still)
		}
	})

	t.Run("archiving an item keeps its bookings", func(t *testing.T) {
		admin := o.as(t, "admin")
		cabin := o.newItem(t, "Cabin", 2, 8000)
		kept := o.newBooking(t, cabin.ID, day(70), day(72))
		admin.Delete(o.path("/items/%s", cabin.ID)).Expect(http.StatusOK)
		var still booking
		admin.Get(o.path("/bookings/%s", kept.ID)).Expect(http.StatusOK).JSON(&still)
		if still.Status != "unpaid" || len(still.Items) != 1 || still.Items[0].ItemID != cabin.ID {
			t.Errorf("the archived item's booking must stay as it was: %+v", still)
		}
	})
}

// TestExpiredHoldNeverBlocks moves a hold's deadline into the past (as time
// would) and books the same dates before any sweep has run.
func TestExpiredHoldNeverBlocks(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "expiry")
	write := o.as(t, "write")
	room := o.newItem(t, "Room", 2, 10000)
	hold := o.newBooking(t, room.ID, day(5), day(8))
	write.Post(o.path("/bookings"), bookingBody(room.ID, day(6), day(7))).Problem(http.StatusConflict, "booking_conflict")

	srv.Env.Superuser.Exec(t, `UPDATE bookings SET expires_at = now() - interval '1 minute' WHERE id = $1`, hold.ID)
	srv.Env.Superuser.Exec(t, `UPDATE booking_items SET hold_expires_at = now() - interval '1 minute' WHERE booking_id = $1`, hold.ID)
	srv.Env.Superuser.Exec(t, `UPDATE occupancies SET hold_expires_at = now() - interval '1 minute' WHERE booking_id = $1`, hold.ID)

	var seen booking
	write.Get(o.path("/bookings/%s", hold.ID)).Expect(http.StatusOK).JSON(&seen)
	if seen.Status != "expired" {
		t.Errorf("a hold past its deadline must read as expired, got %s", seen.Status)
	}
	var expired list[booking]
	write.Get(o.path("/bookings?status=expired")).Expect(http.StatusOK).JSON(&expired)
	if !slices.Equal(ids(expired.Data), []string{hold.ID}) {
		t.Errorf("status=expired must list the lapsed hold: %v", ids(expired.Data))
	}
	var free list[availableItem]
	write.Get(o.path("/availability?check_in=%s&check_out=%s", day(5), day(8))).Expect(http.StatusOK).JSON(&free)
	if !slices.Contains(ids(free.Data), room.ID) {
		t.Error("an expired hold must not block availability")
	}
	var cal calendar
	write.Get(o.path("/items/%s/calendar?from=%s&to=%s", room.ID, day(5), day(8))).Expect(http.StatusOK).JSON(&cal)
	for _, d := range cal.Days {
		if !d.Available {
			t.Errorf("an expired hold must not block %s in the calendar", d.Date)
		}
	}
	write.Post(o.path("/bookings/%s/confirm", hold.ID), nil).Problem(http.StatusConflict, "invalid_transition")

	fresh := o.newBooking(t, room.ID, day(5), day(8))
	if fresh.Status != "unpaid" {
		t.Errorf("the new booking: %+v", fresh)
	}
	if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM bookings WHERE id = $1 AND status = 'expired' AND expired_at IS NOT NULL`, hold.ID); n != 1 {
		t.Error("booking over a lapsed hold must record its expiry")
	}
	if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM events WHERE type = 'booking.expired' AND data->>'id' = $1`, hold.ID); n != 1 {
		t.Errorf("the expiry must be published as one booking.expired event, found %d", n)
	}
}

// TestDatesAreTheOrganisationsLocalCalendar: "today" is the organisation's, so
// the earliest check-in differs between organisations far east and far west of
// UTC at the same instant.
func TestDatesAreTheOrganisationsLocalCalendar(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	platform := srv.Client(t).As(srv.PlatformToken)
	for _, tz := range []string{"Pacific/Kiritimati", "Pacific/Pago_Pago"} { // UTC+14, UTC-11
		loc, err := time.LoadLocation(tz)
		if err != nil {
			t.Fatal(err)
		}
		var created organisation
		slug := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(tz))
		platform.Post(v3+"/organisations", map[string]any{"slug": slug, "name": tz, "timezone": tz}).Expect(http.StatusCreated).JSON(&created)
		write := srv.Client(t).As(created.APIKey.Key)
		var room item
		write.Post(v3+"/organisations/"+slug+"/items", map[string]any{"name": "Room", "capacity": 1, "nightly_price": 100}).
			Expect(http.StatusCreated).JSON(&room)
		// Read the local date just before booking; if midnight passes in tz during
		// the requests, try once more.
		for attempt := 0; ; attempt++ {
			today := time.Now().In(loc)
			yesterday := today.AddDate(0, 0, -1).Format("2006-01-02")
			p := write.Post(v3+"/organisations/"+slug+"/bookings", bookingBody(room.ID, yesterday, today.Format("2006-01-02"))).
				Problem(http.StatusUnprocessableEntity, "validation_failed")
			res := write.Post(v3+"/organisations/"+slug+"/bookings", bookingBody(room.ID, today.Format("2006-01-02"), today.AddDate(0, 0, 1).Format("2006-01-02")))
			if time.Now().In(loc).Format("2006-01-02") != today.Format("2006-01-02") && attempt == 0 {
				continue // midnight passed in tz during the requests
			}
			if !p.HasField("items[0].check_in", "in_past") {
				t.Errorf("%s: yesterday in %s must be in the past: %+v", tz, tz, p.Errors)
			}
			res.Expect(http.StatusCreated)
			break
		}
	}
}
