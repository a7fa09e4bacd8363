package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

// testModeOf is o's test mode: the same slug, with vac_test_ keys of each role
// (the first made by o's live admin key, the others by it).
func testModeOf(t *testing.T, o *org) *org {
	t.Helper()
	var admin apiKey
	o.as(t, "admin").Post(o.path("/api-keys"), map[string]any{"name": "test admin", "role": "admin", "livemode": false}).
		Expect(http.StatusCreated).JSON(&admin)
	if !strings.HasPrefix(admin.Key, "vac_test_") {
		t.Fatalf("a test-mode key must start vac_test_, got %q", admin.Key)
	}
	tm := &org{srv: o.srv, Admin: admin.Key}
	c := o.srv.Client(t).As(admin.Key)
	c.Get(o.path("/")).Expect(http.StatusOK).JSON(&tm.organisation)
	if tm.Slug != o.Slug || tm.ID == o.ID {
		t.Fatalf("test mode must be another organisation behind the same slug, got %+v", tm.organisation)
	}
	tm.Write = newKey(t, c, tm, "write").Key
	tm.Read = newKey(t, c, tm, "read").Key
	return tm
}

type testClock struct {
	Now      time.Time `json:"now"`
	Livemode bool      `json:"livemode"`
}

// TestTestClockExpiresHolds: a hold placed in test mode expires the moment the
// test clock passes its deadline, with its booking.expired event; the clock never
// goes back, runs at most 2 years ahead, and does not exist for live keys.
func TestTestClockExpiresHolds(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	live := newOrg(t, srv, "clock")
	test := testModeOf(t, live)
	admin := test.as(t, "admin")

	room := test.newItem(t, "Test room", 2, 10000)
	hold := test.newBooking(t, room.ID, day(3), day(5))
	var b struct {
		Status    string    `json:"status"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	admin.Get(test.path("/bookings/%s", hold.ID)).Expect(http.StatusOK).JSON(&b)
	if b.Status != "unpaid" {
		t.Fatalf("a new hold is unpaid, got %s", b.Status)
	}

	var clock testClock
	admin.Post(test.path("/test-clock/advance"), map[string]any{"to": b.ExpiresAt.Add(time.Minute).Format(time.RFC3339)}).
		Expect(http.StatusOK).JSON(&clock)
	if clock.Livemode || clock.Now.Before(b.ExpiresAt) {
		t.Fatalf("the clock must read past the hold's deadline, got %+v", clock)
	}
	admin.Get(test.path("/bookings/%s", hold.ID)).Expect(http.StatusOK).JSON(&b)
	if b.Status != "expired" {
		t.Errorf("advancing past expires_at must expire the hold at once, got %s", b.Status)
	}
	if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM bookings WHERE id = $1 AND status = 'expired' AND expired_at IS NOT NULL`, hold.ID); n != 1 {
		t.Errorf("the expiry must be recorded, not only displayed")
	}
	var feed struct {
		Data []struct {
			Type     string `json:"type"`
			Livemode bool   `json:"livemode"`
		} `json:"data"`
	}
	admin.Get(test.path("/events?types=booking.expired")).Expect(http.StatusOK).JSON(&feed)
	if len(feed.Data) != 1 || feed.Data[0].Livemode {
		t.Errorf("one test-mode booking.expired event must be in the feed, got %+v", feed.Data)
	}

	admin.Post(test.path("/test-clock/advance"), map[string]any{"to": time.Now().UTC().Format(time.RFC3339)}).
		Problem(http.StatusUnprocessableEntity, "validation_failed")
	admin.Post(test.path("/test-clock/advance"), map[string]any{"to": time.Now().AddDate(2, 1, 0).UTC().Format(time.RFC3339)}).
		Problem(http.StatusUnprocessableEntity, "validation_failed")

	for _, role := range []string{"admin", "read"} {
		live.as(t, role).Get(live.path("/test-clock")).Problem(http.StatusNotFound, "not_found")
		live.as(t, role).Post(live.path("/test-clock/advance"), map[string]any{"to": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}).
			Problem(http.StatusNotFound, "not_found")
		live.as(t, role).Post(live.path("/test-data/reset"), nil).Problem(http.StatusNotFound, "not_found")
	}
	if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM organisations WHERE id = $1 AND clock_offset = '0'`, live.ID); n != 1 {
		t.Errorf("the live clock must stay the database's")
	}
}

// TestTestDataReset deletes test data and nothing live.
func TestTestDataReset(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	live := newOrg(t, srv, "reset")
	test := testModeOf(t, live)
	liveRoom := live.newItem(t, "Live room", 2, 10000)
	live.newBooking(t, liveRoom.ID, day(3), day(5))
	testRoom := test.newItem(t, "Test room", 2, 10000)
	test.newBooking(t, testRoom.ID, day(3), day(5))
	test.newEndpoint(t)

	test.as(t, "write").Post(test.path("/test-data/reset"), nil).Problem(http.StatusForbidden, "forbidden")
	test.as(t, "admin").Post(test.path("/test-data/reset"), nil).Expect(http.StatusOK)

	if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM items WHERE organisation_id = $1`, test.ID); n != 0 {
		t.Errorf("reset must delete test items, %d left", n)
	}
	if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM bookings WHERE organisation_id = $1`, test.ID); n != 0 {
		t.Errorf("reset must delete test bookings, %d left", n)
	}
	if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM webhook_endpoints WHERE organisation_id = $1`, test.ID); n != 0 {
		t.Errorf("reset must delete test webhook endpoints, %d left", n)
	}
	live.as(t, "read").Get(live.path("/items/%s", liveRoom.ID)).Expect(http.StatusOK)
	if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM bookings WHERE organisation_id = $1`, live.ID); n != 1 {
		t.Errorf("reset must not touch live data: %d live bookings, want 1", n)
	}
	test.newItem(t, "Again", 2, 10000) // test keys still work after a reset
}

// TestTestModeWebhooksStayInTestMode: a live booking makes no delivery to a
// test-mode endpoint, and the other way round.
func TestTestModeWebhooksStayInTestMode(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	live := newOrg(t, srv, "hooks-modes")
	test := testModeOf(t, live)
	liveEP, testEP := live.newEndpoint(t), test.newEndpoint(t)
	liveRoom, testRoom := live.newItem(t, "Live", 2, 100), test.newItem(t, "Test", 2, 100)
	live.newBooking(t, liveRoom.ID, day(3), day(4))
	test.newBooking(t, testRoom.ID, day(3), day(4))
	for _, c := range []struct{ endpoint, org string }{{liveEP.ID, live.ID}, {testEP.ID, test.ID}} {
		if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM webhook_deliveries d JOIN events e ON e.organisation_id = d.organisation_id
			AND e.seq = d.event_seq WHERE d.endpoint_id = $1 AND e.organisation_id <> $2`, c.endpoint, c.org); n != 0 {
			t.Errorf("endpoint %s got %d deliveries of the other mode's events", c.endpoint, n)
		}
		if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1`, c.endpoint); n == 0 {
			t.Errorf("endpoint %s must get its own mode's events", c.endpoint)
		}
	}
}
