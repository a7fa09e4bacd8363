package httpapi_test

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

// race sends n requests at once (released together) and returns the responses.
func race(n int, send func(i int) *apitest.Response) ([]*apitest.Response, time.Duration) {
	start := make(chan struct{})
	out := make([]*apitest.Response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = send(i)
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	return out, time.Since(began)
}

// TestConcurrentBookingsOfOneStay: 100 requests book the same item for
// overlapping dates at once. Exactly one wins; every other one is told
// booking_conflict naming the item; nothing fails; one booking is stored.
func TestConcurrentBookingsOfOneStay(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "race")
	room := o.newItem(t, "Contested room", 2, 10000)
	write := o.as(t, "write")

	// Stays [10,13), [11,14) and [12,15): every pair overlaps.
	res, took := race(100, func(i int) *apitest.Response {
		return write.Post(o.path("/bookings"), bookingBody(room.ID, day(10+i%3), day(13+i%3)))
	})
	statuses := map[int]int{}
	for _, r := range res {
		statuses[r.Status]++
	}
	t.Logf("100 concurrent bookings answered in %v: %v", took.Round(time.Millisecond), statuses)
	if statuses[http.StatusCreated] != 1 || statuses[http.StatusConflict] != 99 {
		t.Errorf("want exactly one 201 and 99 409s, got %v", statuses)
	}
	for _, r := range res {
		if r.Status == http.StatusConflict {
			if p := r.Problem(http.StatusConflict, "booking_conflict"); !slices.Equal(p.ItemIDs, []string{room.ID}) {
				t.Errorf("the conflict must name the room, got %v", p.ItemIDs)
			}
		}
	}
	if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM booking_items WHERE item_id = $1 AND status IN ('unpaid', 'paid', 'complete')`, room.ID); n != 1 {
		t.Errorf("exactly one active stay of the room must be stored, found %d", n)
	}
	if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM bookings`); n != 1 {
		t.Errorf("exactly one booking must be stored, found %d", n)
	}
}

// TestConcurrentRetriesOfOneRequest: 50 identical requests with one
// Idempotency-Key at once. One runs; every other answer is its replay or 409
// idempotency_key_in_use; one booking is stored.
func TestConcurrentRetriesOfOneRequest(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "retries")
	room := o.newItem(t, "Room", 2, 10000)
	write := o.as(t, "write")
	body := bookingBody(room.ID, day(10), day(12))

	res, took := race(50, func(int) *apitest.Response {
		return write.Post(o.path("/bookings"), body, apitest.IdempotencyKey("one-booking"))
	})
	var original *apitest.Response
	var replays, inUse int
	for _, r := range res {
		switch {
		case r.Status == http.StatusCreated && !r.Replayed():
			if original != nil {
				t.Errorf("two responses claim to be the first execution:\n%s\n%s", original.Body, r.Body)
			}
			original = r
		case r.Status == http.StatusCreated:
			replays++
		case r.Status == http.StatusConflict:
			r.Problem(http.StatusConflict, "idempotency_key_in_use")
			inUse++
		default:
			t.Errorf("unexpected answer %d: %s", r.Status, r.Body)
		}
	}
	t.Logf("50 concurrent retries answered in %v: 1 execution, %d replays, %d in use", took.Round(time.Millisecond), replays, inUse)
	if original == nil {
		t.Fatal("one request must have run the command")
	}
	for _, r := range res {
		if r.Status == http.StatusCreated && !bytes.Equal(r.Body, original.Body) {
			t.Errorf("a replay must be the first response:\nfirst:  %s\nreplay: %s", original.Body, r.Body)
		}
	}
	if n := srv.Env.Superuser.Int(t, `SELECT count(*) FROM bookings`); n != 1 {
		t.Errorf("exactly one booking must be stored, found %d", n)
	}
}

// TestConcurrentChangesOfOneVersion: 20 PATCHes with the same If-Match at once.
// One applies; the others are 412 stale_version and change nothing.
func TestConcurrentChangesOfOneVersion(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "versions")
	room := o.newItem(t, "Room", 2, 10000)
	b := o.newBooking(t, room.ID, day(10), day(12))
	write := o.as(t, "write")

	res, _ := race(20, func(i int) *apitest.Response {
		return write.Patch(o.path("/bookings/%s", b.ID), map[string]any{"notes": "writer " + strconv.Itoa(i)}, apitest.IfMatch(`"1"`))
	})
	var winner string
	statuses := map[int]int{}
	for i, r := range res {
		statuses[r.Status]++
		switch r.Status {
		case http.StatusOK:
			winner = "writer " + strconv.Itoa(i)
		case http.StatusPreconditionFailed:
			r.Problem(http.StatusPreconditionFailed, "stale_version")
		}
	}
	if statuses[http.StatusOK] != 1 || statuses[http.StatusPreconditionFailed] != 19 {
		t.Fatalf("want one 200 and 19 412s, got %v", statuses)
	}
	var now booking
	write.Get(o.path("/bookings/%s", b.ID)).Expect(http.StatusOK).JSON(&now)
	if now.Version != 2 || now.Notes != winner {
		t.Errorf("only the winner's change may be stored: version %d, notes %q, winner %q", now.Version, now.Notes, winner)
	}
}
