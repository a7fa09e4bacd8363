package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

func TestIdempotency(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "idempotency")
	room := o.newItem(t, "Room", 2, 10000)
	suite := o.newItem(t, "Suite", 2, 20000)
	bookings := o.path("/bookings")
	body := bookingBody(room.ID, day(3), day(5))

	first := o.as(t, "write").Post(bookings, body, apitest.IdempotencyKey("book-1")).Expect(http.StatusCreated)
	if first.Replayed() {
		t.Fatal("a first execution must not be marked as replayed")
	}

	t.Run("a retry replays the first response and runs nothing again", func(t *testing.T) {
		again := o.as(t, "write").Post(bookings, body, apitest.IdempotencyKey("book-1")).Expect(http.StatusCreated)
		if !again.Replayed() {
			t.Error("the retry must carry Idempotent-Replayed: true")
		}
		if !bytes.Equal(first.Body, again.Body) || again.ETag() != first.ETag() || again.Header.Get("Location") != first.Header.Get("Location") {
			t.Errorf("the replay must be the first response:\nfirst: %s\nretry: %s", first.Body, again.Body)
		}
		if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM booking_items WHERE item_id = $1", room.ID); n != 1 {
			t.Errorf("a replay must not book again; %d stays of the room", n)
		}
	})

	t.Run("the same key for a different request is 422 idempotency_key_reused", func(t *testing.T) {
		write := o.as(t, "write")
		write.Post(bookings, bookingBody(room.ID, day(7), day(9)), apitest.IdempotencyKey("book-1")).
			Problem(http.StatusUnprocessableEntity, "idempotency_key_reused")
		write.Post(o.path("/quotes"), map[string]any{"items": body["items"]}, apitest.IdempotencyKey("book-1")).
			Problem(http.StatusUnprocessableEntity, "idempotency_key_reused")
		if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM booking_items WHERE item_id = $1", room.ID); n != 1 {
			t.Errorf("a reused key must run nothing; %d stays of the room", n)
		}
	})

	t.Run("keys belong to the API key that sent them", func(t *testing.T) {
		// The admin key's "book-1" is a new request: it runs, and finds the dates taken.
		res := o.as(t, "admin").Post(bookings, body, apitest.IdempotencyKey("book-1"))
		res.Problem(http.StatusConflict, "booking_conflict")
		if res.Replayed() {
			t.Error("another API key's request must not replay this key's response")
		}
	})

	t.Run("an error outcome is replayed as well", func(t *testing.T) {
		write := o.as(t, "write")
		blocker := o.newBooking(t, suite.ID, day(50), day(52))
		clash := bookingBody(suite.ID, day(51), day(53))
		firstErr := write.Post(bookings, clash, apitest.IdempotencyKey("clash"))
		firstErr.Problem(http.StatusConflict, "booking_conflict")
		write.Post(o.path("/bookings/%s/cancel", blocker.ID), nil).Expect(http.StatusOK)
		retry := write.Post(bookings, clash, apitest.IdempotencyKey("clash"))
		retry.Problem(http.StatusConflict, "booking_conflict")
		if !retry.Replayed() || !bytes.Equal(retry.Body, firstErr.Body) {
			t.Errorf("the retry must replay the stored 409, not run again: replayed=%v\n%s", retry.Replayed(), retry.Body)
		}
		write.Post(bookings, clash, apitest.IdempotencyKey("clash-2")).Expect(http.StatusCreated)
	})

	t.Run("PATCH and DELETE replay too", func(t *testing.T) {
		write, admin := o.as(t, "write"), o.as(t, "admin")
		b := o.newBooking(t, suite.ID, day(80), day(81))
		patch := func(ifMatch string) *apitest.Response {
			return write.Patch(o.path("/bookings/%s", b.ID), map[string]any{"notes": "quiet room"},
				apitest.IfMatch(ifMatch), apitest.IdempotencyKey("patch-1"))
		}
		p1 := patch(`"1"`).Expect(http.StatusOK)
		p2 := patch(`"1"`).Expect(http.StatusOK)
		if !p2.Replayed() || !bytes.Equal(p1.Body, p2.Body) || p2.ETag() != `"2"` {
			t.Errorf("a retried PATCH must replay version 2: %s", p2.Body)
		}
		patch(`"2"`).Problem(http.StatusUnprocessableEntity, "idempotency_key_reused")
		var now booking
		write.Get(o.path("/bookings/%s", b.ID)).Expect(http.StatusOK).JSON(&now)
		if now.Version != 2 {
			t.Errorf("the PATCH must have run once; version %d", now.Version)
		}

		it := o.newItem(t, "Shed", 1, 100)
		d1 := admin.Delete(o.path("/items/%s", it.ID), apitest.IdempotencyKey("archive-1")).Expect(http.StatusOK)
		d2 := admin.Delete(o.path("/items/%s", it.ID), apitest.IdempotencyKey("archive-1")).Expect(http.StatusOK)
		if !d2.Replayed() || !bytes.Equal(d1.Body, d2.Body) {
			t.Errorf("a retried DELETE must replay: %s", d2.Body)
		}
	})

	t.Run("409 idempotency_key_in_use while the first request runs", func(t *testing.T) {
		write := o.as(t, "write")
		b := o.newBooking(t, suite.ID, day(90), day(91))
		ctx := context.Background()
		// Hold the booking's row lock, so the confirmation blocks inside its
		// command, after it has claimed its key.
		tx, err := srv.Env.Superuser.Conn(t).Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "SELECT 1 FROM bookings WHERE organisation_id = $1 AND id = $2 FOR UPDATE", o.ID, b.ID); err != nil {
			t.Fatal(err)
		}
		confirm := func() *apitest.Response {
			return write.Post(o.path("/bookings/%s/confirm", b.ID), map[string]any{"payment_reference": "pay_9"}, apitest.IdempotencyKey("slow"))
		}
		done := make(chan *apitest.Response, 1)
		go func() { done <- confirm() }()
		// The command claims its key first in its transaction, so once it waits
		// for the booking's row it holds the key. On Citus the wait is on the
		// worker that holds the booking's shard: citus_stat_activity shows
		// every node's backends.
		activity := "pg_stat_activity"
		if testenv.Citus(t) {
			activity = "citus_stat_activity"
		}
		testenv.Eventually(t, 20*time.Second, "the first confirmation claims its key and waits for the booking", func() bool {
			return srv.Env.Superuser.Int(t, "SELECT count(*) FROM "+activity+" WHERE datname = current_database() AND wait_event_type = 'Lock'") == 1
		})

		busy := confirm()
		busy.Problem(http.StatusConflict, "idempotency_key_in_use")
		if busy.Replayed() {
			t.Error("an in-use answer is not a replay")
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		firstRes := <-done
		firstRes.Expect(http.StatusOK)
		retry := confirm().Expect(http.StatusOK)
		if !retry.Replayed() || !bytes.Equal(retry.Body, firstRes.Body) {
			t.Errorf("once the first finished, a retry must replay it: %s", retry.Body)
		}
	})
}
