package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// The feed's ordering under concurrent transactions is tested in internal/booking;
// live fan-out across instances, resumption and heartbeats in internal/app. Here:
// what the feed and the stream answer over HTTP.

func TestEventFeed(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "feed")
	reader := o.as(t, "read")

	it := o.newItem(t, "Room", 2, 10000)
	var b booking
	o.as(t, "write").Post(o.path("/bookings"), bookingBody(it.ID, day(3), day(5)), apitest.IdempotencyKey("book-1")).
		Expect(http.StatusCreated).JSON(&b)
	o.as(t, "write").Post(o.path("/bookings/%s/cancel", b.ID), map[string]any{"reason": "plans changed"}).Expect(http.StatusOK)

	all := feedOf(t, reader, o, "", 3)
	if len(all.Data) != 3 || all.HasMore {
		t.Fatalf("the feed must list the three changes, got %+v", all)
	}
	for i, want := range []struct{ typ, id string }{{"item.created", it.ID}, {"booking.created", b.ID}, {"booking.cancelled", b.ID}} {
		e := all.Data[i]
		var data struct {
			ID      string
			Status  string
			Version int
		}
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatal(err)
		}
		if e.Type != want.typ || data.ID != want.id || e.OrganisationID != o.ID {
			t.Errorf("event %d: want %s of %s, got %s of %s in %s", i, want.typ, want.id, e.Type, data.ID, e.OrganisationID)
		}
		if want.typ == "booking.cancelled" && (data.Status != "cancelled" || data.Version != 2) {
			t.Errorf("an event carries the resource after the change: %s", e.Data)
		}
	}
	if c := all.Data[1].CommandID; c == nil || *c != "book-1" {
		t.Errorf("an event names its request's Idempotency-Key as command_id, got %v", c)
	}

	t.Run("pages resume from next_cursor and polling at the end stays put", func(t *testing.T) {
		reader := o.as(t, "read")
		var page feed
		reader.Get(o.path("/events?limit=2")).Expect(http.StatusOK).JSON(&page)
		if len(page.Data) != 2 || !page.HasMore || page.Data[1].ID != all.Data[1].ID {
			t.Fatalf("a full page says there is more: %+v", page)
		}
		reader.Get(o.path("/events?after=%s", page.NextCursor)).Expect(http.StatusOK).JSON(&page)
		if len(page.Data) != 1 || page.HasMore || page.Data[0].ID != all.Data[2].ID {
			t.Fatalf("after the cursor comes the third event only: %+v", page)
		}
		end := page.NextCursor
		reader.Get(o.path("/events?after=%s", end)).Expect(http.StatusOK).JSON(&page)
		if len(page.Data) != 0 || page.NextCursor != end || page.HasMore {
			t.Fatalf("polling at the end answers nothing and the same position: %+v", page)
		}
		o.newItem(t, "Suite", 2, 20000)
		page = feedOf(t, reader, o, "after="+end, 1)
		if len(page.Data) != 1 || page.Data[0].Type != "item.created" {
			t.Fatalf("a consumer polling from the end sees the next change: %+v", page)
		}
	})

	t.Run("types filters", func(t *testing.T) {
		var page feed
		o.as(t, "read").Get(o.path("/events?types=booking.cancelled,item.updated")).Expect(http.StatusOK).JSON(&page)
		if len(page.Data) != 1 || page.Data[0].ID != all.Data[2].ID {
			t.Fatalf("types=booking.cancelled,item.updated must list the cancellation only: %+v", page)
		}
	})

	t.Run("wrong parameters are 422 and name the parameter", func(t *testing.T) {
		reader := o.as(t, "read")
		for _, c := range []struct{ query, field, breach string }{
			{"after=zzz", "after", ""},
			{"after=" + all.NextCursor + "x", "after", ""},
			{"limit=0", "limit", "limit below 1"},
			{"limit=101", "limit", "limit above 100"},
			{"limit=x", "limit", "limit not a number"},
			{"types=booking.exploded", "types", "unknown event type"},
		} {
			var opts []apitest.Option
			if c.breach != "" {
				opts = append(opts, apitest.BreaksContract(c.breach))
			}
			p := reader.Get(o.path("/events?%s", c.query), opts...).Problem(http.StatusUnprocessableEntity, "validation_failed")
			if len(p.Errors) != 1 || p.Errors[0].Field != c.field {
				t.Errorf("?%s must name %s: %+v", c.query, c.field, p.Errors)
			}
		}
	})
}

func TestEventStream(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "stream")
	reader := o.as(t, "read")
	first := o.newItem(t, "Room", 2, 10000)
	b := o.newBooking(t, first.ID, day(3), day(5))
	all := feedOf(t, reader, o, "", 2)

	// From the end of the feed (as a client reconnecting now would), bookings only.
	s := reader.Stream(o.path("/events/stream?types=booking.created,booking.confirmed"), apitest.Header("Last-Event-ID", all.NextCursor))
	s.Expect(http.StatusOK)
	s.Comment("stream open", 5*time.Second)
	o.newItem(t, "Suite", 2, 20000) // filtered out
	o.as(t, "write").Post(o.path("/bookings/%s/confirm", b.ID), nil).Expect(http.StatusOK)
	f := s.Next(10 * time.Second)
	var e event
	if err := json.Unmarshal([]byte(f.Data), &e); err != nil {
		t.Fatal(err)
	}
	if f.Event != "booking.confirmed" || e.Type != "booking.confirmed" {
		t.Fatalf("the stream must skip the filtered item.created and send booking.confirmed, got %s", f.Event)
	}
	var after feed
	reader.Get(o.path("/events?after=%s", f.ID)).Expect(http.StatusOK).JSON(&after)
	if len(after.Data) != 0 {
		t.Errorf("an event's stream id is its feed position: nothing comes after the newest, got %+v", after.Data)
	}
	s.Close()

	// Resuming from the first event replays the booking's creation first.
	s = reader.Stream(o.path("/events/stream?types=booking.created"), apitest.Header("Last-Event-ID", mustCursorAfterFirst(t, reader, o)))
	if f := s.Next(5 * time.Second); f.Event != "booking.created" {
		t.Fatalf("resuming after the first event must send booking.created, got %s", f.Event)
	}
	s.Close()

	p := reader.Stream(o.path("/events/stream"), apitest.Header("Last-Event-ID", "not-a-cursor")).
		Problem(http.StatusUnprocessableEntity, "validation_failed")
	if !p.HasField("Last-Event-ID", "invalid") {
		t.Errorf("a malformed Last-Event-ID must be named: %+v", p.Errors)
	}
	reader.Stream(o.path("/events/stream?types=booking.exploded"), apitest.BreaksContract("unknown event type")).
		Problem(http.StatusUnprocessableEntity, "validation_failed")
}

// feedOf polls the feed (with query) until it lists want events, and returns that
// page. A transaction's events join the feed once every older transaction on the
// database server has ended (the other tests' databases share the server), so a
// change shows up shortly after its answer, not necessarily at once.
func feedOf(t *testing.T, reader *apitest.Client, o *org, query string, want int) feed {
	t.Helper()
	path := o.path("/events")
	if query != "" {
		path += "?" + query
	}
	var page feed
	testenv.Poll(10*time.Second, func() bool {
		page = feed{}
		reader.Get(path).Expect(http.StatusOK).JSON(&page)
		return len(page.Data) >= want
	})
	return page
}

// mustCursorAfterFirst is the feed position after the organisation's first event.
func mustCursorAfterFirst(t *testing.T, reader *apitest.Client, o *org) string {
	t.Helper()
	var page feed
	reader.Get(o.path("/events?limit=1")).Expect(http.StatusOK).JSON(&page)
	return page.NextCursor
}
