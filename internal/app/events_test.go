package app_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// TestStreamFansOutAcrossInstances: two servers on one database; a stream on one
// shows a booking made through the other, woken by LISTEN/NOTIFY. The instance
// taking the booking is API-only (VACANCY_WORKERS=false).
func TestStreamFansOutAcrossInstances(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	a := serve(t, url, map[string]string{"VACANCY_WORKERS": "false"})
	b := serve(t, url, nil)
	viaA := newOrganisation(t, a, "acme")
	viaB := viaA.via(b)

	s := viaB.openStream("", "")
	s.Comment("stream open", 5*time.Second)
	item := viaA.createItem("Sea room")
	start := time.Now()
	bk := viaA.book(item.ID, 3, 5)
	posted := time.Since(start)

	_, e1 := s.next(5 * time.Second)
	_, e2 := s.next(5 * time.Second)
	lag := time.Since(start) - posted
	if e1.Type != "item.created" || e1.dataID(t) != item.ID || e2.Type != "booking.created" || e2.dataID(t) != bk.ID {
		t.Fatalf("B's stream must show A's item.created then booking.created, got %s %s", e1.Type, e2.Type)
	}
	t.Logf("booking through A appeared on B's stream %v after A answered", lag)
	if lag > 500*time.Millisecond {
		t.Fatalf("a notification must wake B's stream at once (the fallback poll is 1s), took %v", lag)
	}
	if !strings.Contains(a.logs.String(), `"workers":false`) {
		t.Fatal("instance A must run without workers")
	}
}

// TestStreamResumesFromLastEventID: a client that reconnects with the id of the
// last event it saw gets exactly the events it missed; the stream outlives the
// per-request deadline, sends heartbeats, and uses the feed's cursors as ids.
func TestStreamResumesFromLastEventID(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	in := serve(t, url, map[string]string{"VACANCY_REQUEST_TIMEOUT": "1s", "VACANCY_STREAM_HEARTBEAT": "300ms"})
	org := newOrganisation(t, in, "acme")
	reader := org.withKey(org.apiKey("read"))

	s := reader.openStream("", "")
	s.Comment("stream open", 5*time.Second)
	first := org.createItem("one")
	f1, e1 := s.next(5 * time.Second)
	if e1.dataID(t) != first.ID {
		t.Fatalf("want item one's event, got %+v", e1)
	}
	s.Close()

	second, third := org.createItem("two"), org.createItem("three")
	s2 := reader.openStream("", f1.ID)
	_, e2 := s2.next(5 * time.Second)
	_, e3 := s2.next(5 * time.Second)
	if e2.dataID(t) != second.ID || e3.dataID(t) != third.ID {
		t.Fatalf("resuming after event one must give two then three, got %s, %s", e2.dataID(t), e3.dataID(t))
	}

	// The polling feed agrees: after the same cursor come the same two events.
	var page struct {
		Data       []event `json:"data"`
		NextCursor string  `json:"next_cursor"`
		HasMore    bool    `json:"has_more"`
	}
	reader.do("GET", "/events?after="+f1.ID, nil).Expect(200).JSON(&page)
	if len(page.Data) != 2 || page.Data[0].ID != e2.ID || page.Data[1].ID != e3.ID || page.HasMore {
		t.Fatalf("GET /events?after=<stream id> must list the same events, got %+v", page)
	}

	// Past the 1s request deadline, with heartbeats in between, the stream still delivers.
	s2.Comment("heartbeat", 2*time.Second)
	time.Sleep(1200 * time.Millisecond)
	fourth := org.createItem("four")
	if _, e4 := s2.next(5 * time.Second); e4.dataID(t) != fourth.ID {
		t.Fatalf("the stream must outlive the request deadline, got %+v", e4)
	}

	if r := reader.do("GET", "/events/stream", nil, apitest.Header("Last-Event-ID", "not-a-cursor")); r.Status != 422 || r.ProblemCode() != "validation_failed" {
		t.Fatalf("a malformed Last-Event-ID is a 422, got %d %s", r.Status, r.Body)
	}
	// A revoked key's stream ends at the next heartbeat.
	var keys struct {
		Data []struct {
			ID   string
			Role string
		}
	}
	org.do("GET", "/api-keys", nil).Expect(200).JSON(&keys)
	for _, k := range keys.Data {
		if k.Role == "read" {
			org.do("DELETE", "/api-keys/"+k.ID, nil).Expect(200)
		}
	}
	if !s2.Ended(3 * time.Second) {
		t.Fatal("a stream must end once its API key is revoked")
	}
}

// TestShutdownEndsStreams: SIGTERM (context cancellation) ends open streams and
// stops River; the server returns cleanly well within its shutdown timeout.
func TestShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	in := serve(t, testenv.DatabaseURL(t), nil)
	org := newOrganisation(t, in, "acme")
	s := org.openStream("", "")
	s.Comment("stream open", 5*time.Second)
	start := time.Now()
	if err := in.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("an open stream must not hold the shutdown up (10s timeout), took %v", d)
	}
	if !s.Ended(2 * time.Second) {
		t.Fatal("the stream must end when the server shuts down")
	}
	if !strings.Contains(in.logs.String(), `"msg":"stopped"`) {
		t.Fatalf("the server must log a clean stop:\n%s", in.logs.String())
	}
}

// TestHoldExpiryByJob: the periodic River job expires an unpaid hold past its
// deadline (status, items, booking.expired event) without any booking touching
// its dates.
func TestHoldExpiryByJob(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	db := pgtest.Superuser(t, url)
	in := serve(t, url, map[string]string{"VACANCY_HOLD_SWEEP_INTERVAL": "200ms"})
	org := newOrganisation(t, in, "acme")
	item := org.createItem("Sea room")
	due, live := org.book(item.ID, 3, 5), org.book(item.ID, 6, 8)
	db.Exec(t, "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = $1", due.ID)
	db.Exec(t, "UPDATE booking_items SET hold_expires_at = now() - interval '1 second' WHERE booking_id = $1", due.ID)
	db.Exec(t, "UPDATE occupancies SET hold_expires_at = now() - interval '1 second' WHERE booking_id = $1", due.ID)

	testenv.Eventually(t, 10*time.Second, "the sweep expires the due hold", func() bool {
		return db.Int(t, `SELECT count(*) FROM bookings b JOIN booking_items bi ON bi.booking_id = b.id
			WHERE b.id = $1 AND b.status = 'expired' AND bi.status = 'expired'`, due.ID) == 1
	})
	var page struct{ Data []event }
	testenv.Eventually(t, 5*time.Second, "booking.expired in the feed", func() bool {
		org.do("GET", "/events?types=booking.expired", nil).Expect(200).JSON(&page)
		return len(page.Data) == 1
	})
	var b bookingOut
	if err := json.Unmarshal(page.Data[0].Data, &b); err != nil || b.ID != due.ID || b.Status != "expired" {
		t.Fatalf("the event must carry the expired booking, got %s", page.Data[0].Data)
	}
	if page.Data[0].CommandID == nil || *page.Data[0].CommandID != "hold-expiry:"+due.ID {
		t.Fatalf("the expiry is recorded as the sweep's command, got %v", page.Data[0].CommandID)
	}
	if n := db.Int(t, "SELECT count(*) FROM bookings WHERE id = $1 AND status = 'unpaid'", live.ID); n != 1 {
		t.Fatal("a hold before its deadline stays unpaid")
	}
}
