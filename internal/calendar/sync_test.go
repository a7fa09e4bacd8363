package calendar_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/testenv"
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

// End-to-end tests of calendar sync: the API (through apitest's validating
// client) syncs imports from feeds a local server on 127.0.0.1 serves, in the
// shapes real channels produce.

func TestMain(m *testing.M) { testenv.Main(m) }

// start serves the API with import URLs allowed to reach 127.0.0.1 over http.
func start(t *testing.T) *apitest.Server {
	return apitest.Start(t, func(c *service.Config) { c.WebhookPolicy = webhook.Policy{AllowPrivate: true, AllowHTTP: true} })
}

// feeds is a channel's calendar server: path → body, with ETags and 304s.
type feeds struct {
	mu     sync.Mutex
	bodies map[string][]byte
	status map[string]int
	srv    *httptest.Server
}

func newFeeds(t *testing.T) *feeds {
	f := &feeds{bodies: map[string][]byte{}, status: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		body, ok := f.bodies[r.URL.Path]
		status := f.status[r.URL.Path]
		f.mu.Unlock()
		if status != 0 {
			http.Error(w, "upstream trouble", status)
			return
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		sum := sha256.Sum256(body)
		tag := `"` + hex.EncodeToString(sum[:8]) + `"`
		w.Header().Set("ETag", tag)
		if r.Header.Get("If-None-Match") == tag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
		_, _ = w.Write(body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *feeds) set(path string, body []byte, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies[path], f.status[path] = body, status
}

func (f *feeds) url(path string) string { return f.srv.URL + path }

// ics joins lines with CRLF into a calendar, the way channels write them.
func ics(lines ...string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test channel//EN\r\n" +
		strings.Join(lines, "\r\n") + "\r\nEND:VCALENDAR\r\n")
}

func day(n int) string     { return time.Now().UTC().AddDate(0, 0, n).Format("2006-01-02") }
func compact(n int) string { return strings.ReplaceAll(day(n), "-", "") }

type org struct {
	srv       *apitest.Server
	Slug, Key string
	ID        string
	t         *testing.T
}

func newOrg(t *testing.T, srv *apitest.Server, slug string) *org {
	var out struct {
		ID     string `json:"id"`
		APIKey struct {
			Key string `json:"key"`
		} `json:"api_key"`
	}
	srv.Client(t).As(srv.PlatformToken).Post("/api/v3/organisations", map[string]any{"slug": slug, "name": slug}).
		Expect(http.StatusCreated).JSON(&out)
	return &org{srv: srv, Slug: slug, Key: out.APIKey.Key, ID: out.ID, t: t}
}

func (o *org) c() *apitest.Client { return o.srv.Client(o.t).As(o.Key) }

func (o *org) path(format string, args ...any) string {
	return "/api/v3/organisations/" + o.Slug + fmt.Sprintf(format, args...)
}

func (o *org) item(name string) string {
	var it struct {
		ID string `json:"id"`
	}
	o.c().Post(o.path("/items"), map[string]any{"name": name, "capacity": 2, "nightly_price": 10000}).Expect(http.StatusCreated).JSON(&it)
	return it.ID
}

type importView struct {
	ID             string  `json:"id"`
	LastStatus     *string `json:"last_status"`
	LastError      *string `json:"last_error"`
	EventsImported int     `json:"events_imported"`
	Conflicts      int     `json:"conflicts"`
}

func (o *org) subscribe(itemID, url string) importView {
	var im importView
	o.c().Post(o.path("/items/%s/calendar-imports", itemID), map[string]any{"url": url, "name": "Channel"}).
		Expect(http.StatusCreated).JSON(&im)
	return im
}

func (o *org) sync(itemID, importID string) importView {
	var im importView
	o.c().Post(o.path("/items/%s/calendar-imports/%s/sync", itemID, importID), nil).Expect(http.StatusOK).JSON(&im)
	return im
}

type block struct {
	ID      string `json:"id"`
	UnitID  string `json:"unit_id"`
	Start   string `json:"start"`
	End     string `json:"end"`
	Kind    string `json:"kind"`
	Reason  string `json:"reason"`
	Version int    `json:"version"`
	Source  *struct {
		ImportID string `json:"import_id"`
		UID      string `json:"uid"`
	} `json:"source"`
}

// blocks lists the item's blocks as "uid start end" lines, sorted, and by uid.
func (o *org) blocks(itemID string) ([]string, map[string]block) {
	var page struct {
		Data []block `json:"data"`
	}
	o.c().Get(o.path("/blocks?item_id=%s&limit=100", itemID)).Expect(http.StatusOK).JSON(&page)
	var out []string
	by := map[string]block{}
	for _, b := range page.Data {
		uid := "(none)"
		if b.Source != nil {
			uid = b.Source.UID
		}
		out = append(out, uid+" "+b.Start+" "+b.End)
		by[uid] = b
	}
	slices.Sort(out)
	return out, by
}

// stored counts the organisation's events of a type as written (the feed shows
// an event only once every older transaction on the server has ended).
func (o *org) stored(typ string) int {
	return o.srv.Env.Superuser.Int(o.t, "SELECT count(*) FROM events WHERE organisation_id = $1 AND type = $2", o.ID, typ)
}

// events reads the organisation's events of the types through the feed, waiting
// (boundedly) until at least want are visible.
func (o *org) events(types string, want int) []json.RawMessage {
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := o.feed(types)
		if len(got) >= want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (o *org) feed(types string) []json.RawMessage {
	var f struct {
		Data []struct {
			Data json.RawMessage `json:"data"`
		} `json:"data"`
	}
	o.c().Get(o.path("/events?types=%s&limit=100", types)).Expect(http.StatusOK).JSON(&f)
	var out []json.RawMessage
	for _, e := range f.Data {
		out = append(out, e.Data)
	}
	return out
}

func status(im importView) string {
	if im.LastStatus == nil {
		return "<nil>"
	}
	return *im.LastStatus
}

func TestImportFollowsTheFeed(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ch := newFeeds(t)
	o := newOrg(t, srv, "sync")
	item := o.item("Cottage")
	long := "Reserved for a party travelling from far away with a very long summary that " +
		"channels fold over several lines"
	v1 := ics(
		// Airbnb: all-day, DTEND first, a description with an escaped newline.
		"BEGIN:VEVENT", "DTEND;VALUE=DATE:"+compact(12), "DTSTART;VALUE=DATE:"+compact(10),
		"UID:1418fb94e984-b3a7e7f4c1b0@airbnb.com",
		`DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/d`, ` etails/HM4ZK\nPhone Number (Last 4 Digits): 4321`,
		"SUMMARY:Reserved", "END:VEVENT",
		// Airbnb "Not available" without DTEND: one night.
		"BEGIN:VEVENT", "DTSTART;VALUE=DATE:"+compact(20), "UID:blocked-20@airbnb.com", "SUMMARY:Airbnb (Not available)", "END:VEVENT",
		// A timed event with a TZID, and a folded summary.
		"BEGIN:VEVENT", "UID:tz@vrbo.com", "DTSTAMP:20260101T000000Z",
		"DTSTART;TZID=Pacific/Auckland:"+compact(30)+"T080000", "DTEND;TZID=Pacific/Auckland:"+compact(33)+"T100000",
		"SUMMARY:"+long[:60], " "+long[60:], "END:VEVENT",
		// UTC times.
		"BEGIN:VEVENT", "UID:utc@google.com", "DTSTART:"+compact(70)+"T140000Z", "DTEND:"+compact(72)+"T100000Z", "END:VEVENT",
		// Cancelled: nothing.
		"BEGIN:VEVENT", "UID:cancelled@booking.com", "STATUS:CANCELLED", "DTSTART;VALUE=DATE:"+compact(40),
		"DTEND;VALUE=DATE:"+compact(42), "END:VEVENT",
		// Weekly, three times.
		"BEGIN:VEVENT", "UID:weekly@google.com", "DTSTART;VALUE=DATE:"+compact(50), "DTEND;VALUE=DATE:"+compact(51),
		"RRULE:FREQ=WEEKLY;COUNT=3", "END:VEVENT",
		// The same event twice.
		"BEGIN:VEVENT", "UID:dup@channel", "DTSTART;VALUE=DATE:"+compact(60), "DTEND;VALUE=DATE:"+compact(62), "END:VEVENT",
		"BEGIN:VEVENT", "UID:dup@channel", "DTSTART;VALUE=DATE:"+compact(60), "DTEND;VALUE=DATE:"+compact(62), "END:VEVENT",
	)
	ch.set("/cottage.ics", v1, 0)
	im := o.subscribe(item, ch.url("/cottage.ics"))
	got := o.sync(item, im.ID)
	if status(got) != "ok" || got.EventsImported != 8 || got.Conflicts != 0 {
		t.Fatalf("the first sync must import 8 events: %+v (error %v)", got, got.LastError)
	}
	want := []string{
		"1418fb94e984-b3a7e7f4c1b0@airbnb.com " + day(10) + " " + day(12),
		"blocked-20@airbnb.com " + day(20) + " " + day(21),
		"dup@channel " + day(60) + " " + day(62),
		"tz@vrbo.com " + day(29) + " " + day(32), // 08:00 in Auckland is the day before in UTC
		"utc@google.com " + day(70) + " " + day(72),
		"weekly@google.com#" + compact(50) + " " + day(50) + " " + day(51),
		"weekly@google.com#" + compact(57) + " " + day(57) + " " + day(58),
		"weekly@google.com#" + compact(64) + " " + day(64) + " " + day(65),
	}
	slices.Sort(want)
	list, by := o.blocks(item)
	if !slices.Equal(list, want) {
		t.Fatalf("blocks after the first sync:\n got %q\nwant %q", list, want)
	}
	if b := by["tz@vrbo.com"]; b.Kind != "external" || b.Reason != "Channel: "+long || b.Source.ImportID != im.ID {
		t.Errorf("an imported block is external, with the import and the unfolded summary: %+v", b)
	}
	moved := by["1418fb94e984-b3a7e7f4c1b0@airbnb.com"]

	// The feed changes: a reservation moves, a block vanishes, an event is
	// cancelled, a new one arrives.
	v2 := ics(
		"BEGIN:VEVENT", "DTEND;VALUE=DATE:"+compact(14), "DTSTART;VALUE=DATE:"+compact(11),
		"UID:1418fb94e984-b3a7e7f4c1b0@airbnb.com", "SUMMARY:Reserved", "END:VEVENT",
		"BEGIN:VEVENT", "UID:tz@vrbo.com", "STATUS:CANCELLED", "DTSTART;TZID=Pacific/Auckland:"+compact(30)+"T080000",
		"DTEND;TZID=Pacific/Auckland:"+compact(33)+"T100000", "END:VEVENT",
		"BEGIN:VEVENT", "UID:utc@google.com", "DTSTART:"+compact(70)+"T140000Z", "DTEND:"+compact(72)+"T100000Z", "END:VEVENT",
		"BEGIN:VEVENT", "UID:weekly@google.com", "DTSTART;VALUE=DATE:"+compact(50), "DTEND;VALUE=DATE:"+compact(51),
		"RRULE:FREQ=WEEKLY;COUNT=3", "EXDATE;VALUE=DATE:"+compact(57), "END:VEVENT",
		"BEGIN:VEVENT", "UID:dup@channel", "DTSTART;VALUE=DATE:"+compact(60), "DTEND;VALUE=DATE:"+compact(62), "END:VEVENT",
		"BEGIN:VEVENT", "UID:new@airbnb.com", "DTSTART;VALUE=DATE:"+compact(80), "DTEND;VALUE=DATE:"+compact(83), "END:VEVENT",
	)
	ch.set("/cottage.ics", v2, 0)
	got = o.sync(item, im.ID)
	want2 := []string{
		"1418fb94e984-b3a7e7f4c1b0@airbnb.com " + day(11) + " " + day(14),
		"dup@channel " + day(60) + " " + day(62),
		"new@airbnb.com " + day(80) + " " + day(83),
		"utc@google.com " + day(70) + " " + day(72),
		"weekly@google.com#" + compact(50) + " " + day(50) + " " + day(51),
		"weekly@google.com#" + compact(64) + " " + day(64) + " " + day(65),
	}
	slices.Sort(want2)
	list, by = o.blocks(item)
	if !slices.Equal(list, want2) || got.EventsImported != 6 || status(got) != "ok" {
		t.Fatalf("blocks after the feed changed (%+v):\n got %q\nwant %q", got, list, want2)
	}
	if b := by["1418fb94e984-b3a7e7f4c1b0@airbnb.com"]; b.ID != moved.ID || b.Version != 2 {
		t.Errorf("a moved event must move its block (same id, next version): %+v, was %+v", b, moved)
	}
	if n := o.stored("block.deleted"); n != 3 {
		t.Errorf("the vanished, the cancelled and the excluded events must each delete a block: %d block.deleted events", n)
	}

	// Unchanged: a conditional GET, nothing to do.
	if got = o.sync(item, im.ID); status(got) != "not_modified" || got.EventsImported != 6 {
		t.Errorf("an unchanged feed must be not_modified: %+v", got)
	}

	// Bad feeds change nothing and say why.
	huge := append(ics("BEGIN:VEVENT", "UID:x", "DTSTART;VALUE=DATE:"+compact(90), "END:VEVENT"), []byte(strings.Repeat("X-PAD:"+strings.Repeat("p", 70)+"\r\n", 6<<20/78))...)
	bad := []struct {
		name   string
		body   []byte
		status int
		want   string
	}{
		{"an HTML error page", []byte("<html><body>Service unavailable</body></html>"), 0, "not an iCalendar object"},
		{"invalid UTF-8", append(ics("BEGIN:VEVENT", "UID:x", "DTSTART;VALUE=DATE:"+compact(90)), []byte("\r\nSUMMARY:\xff\xfe\r\nEND:VEVENT")...), 0, "not UTF-8"},
		{"a download cut short", []byte(strings.TrimSuffix(string(v2), "END:VCALENDAR\r\n")), 0, "cut short"},
		{"a 6 MiB feed", huge, 0, "larger than 5 MiB"},
		{"a malformed property", ics("BEGIN:VEVENT", "UID:x", `DTSTART;TZID="Europe/Paris"X:`+compact(90)+"T100000", "END:VEVENT"), 0, "not valid iCalendar"},
		{"an event without DTSTART", ics("BEGIN:VEVENT", "UID:nostart", "SUMMARY:?", "END:VEVENT"), 0, "no DTSTART"},
		{"a server error", nil, http.StatusInternalServerError, "answered 500"},
	}
	for _, tc := range bad {
		ch.set("/cottage.ics", tc.body, tc.status)
		got := o.sync(item, im.ID)
		if status(got) != "error" || got.LastError == nil || !strings.Contains(*got.LastError, tc.want) {
			t.Errorf("%s: want last_status error saying %q, got %+v (%v)", tc.name, tc.want, got, deref(got.LastError))
		}
		if after, _ := o.blocks(item); !slices.Equal(after, want2) {
			t.Errorf("%s must leave the blocks as they were:\n got %q\nwant %q", tc.name, after, want2)
		}
	}

	// Deleting the import deletes its blocks.
	o.c().Delete(o.path("/items/%s/calendar-imports/%s", item, im.ID)).Expect(http.StatusOK)
	if after, _ := o.blocks(item); len(after) != 0 {
		t.Errorf("an import's blocks go with it: %q", after)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestImportConflictWithBooking: an incoming event over a Vacancy booking is
// refused by the database (the booking stands) and reported once.
func TestImportConflictWithBooking(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ch := newFeeds(t)
	o := newOrg(t, srv, "clash")
	item := o.item("Loft")
	var b struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	}
	o.c().Post(o.path("/bookings"), map[string]any{"guest": map[string]any{"name": "Ada", "email": "ada@example.com"},
		"items": []any{map[string]any{"item_id": item, "check_in": day(10), "check_out": day(13)}}}).Expect(http.StatusCreated).JSON(&b)
	clash := []string{"BEGIN:VEVENT", "UID:clash@airbnb.com", "DTSTART;VALUE=DATE:" + compact(12), "DTEND;VALUE=DATE:" + compact(15),
		"SUMMARY:Reserved", "END:VEVENT"}
	other := func(n int) []string {
		return []string{"BEGIN:VEVENT", fmt.Sprintf("UID:other-%d@airbnb.com", n), "DTSTART;VALUE=DATE:" + compact(30+n),
			"DTEND;VALUE=DATE:" + compact(31+n), "END:VEVENT"}
	}
	ch.set("/loft.ics", ics(append(slices.Clone(clash), other(1)...)...), 0)
	im := o.subscribe(item, ch.url("/loft.ics"))
	got := o.sync(item, im.ID)
	if status(got) != "ok" || got.Conflicts != 1 || got.EventsImported != 1 {
		t.Fatalf("the clashing event must be a conflict, the other imported: %+v", got)
	}
	conflicts := o.events("calendar.conflict", 1)
	if len(conflicts) != 1 || o.stored("calendar.conflict") != 1 {
		t.Fatalf("one calendar.conflict event, got %d", len(conflicts))
	}
	var c struct {
		ImportID   string   `json:"import_id"`
		UID        string   `json:"uid"`
		Start      string   `json:"start"`
		End        string   `json:"end"`
		BookingIDs []string `json:"booking_ids"`
	}
	if err := json.Unmarshal(conflicts[0], &c); err != nil || c.ImportID != im.ID || c.UID != "clash@airbnb.com" ||
		!slices.Equal(c.BookingIDs, []string{b.ID}) {
		t.Errorf("the conflict must name the import, the UID and the booking: %s", conflicts[0])
	}
	// The feed changes elsewhere: the conflict stands, reported once.
	ch.set("/loft.ics", ics(append(append(slices.Clone(clash), other(1)...), other(2)...)...), 0)
	if got = o.sync(item, im.ID); got.Conflicts != 1 || got.EventsImported != 2 {
		t.Errorf("second sync: %+v", got)
	}
	if n := o.stored("calendar.conflict"); n != 1 {
		t.Errorf("a conflict is reported once per UID and range, got %d events", n)
	}
	// The booking goes: the nights can be blocked.
	o.c().Post(o.path("/bookings/%s/cancel", b.ID), map[string]any{"reason": "double booked"}).Expect(http.StatusOK)
	ch.set("/loft.ics", ics(append(append(append(slices.Clone(clash), other(1)...), other(2)...), other(3)...)...), 0)
	if got = o.sync(item, im.ID); got.Conflicts != 0 || got.EventsImported != 4 {
		t.Errorf("after the booking is cancelled the event must be blocked: %+v", got)
	}
}

// TestTwoOrganisationsConverge: two Vacancy organisations subscribed to each
// other's feeds mirror each other's bookings, without echoes or false conflicts.
func TestTwoOrganisationsConverge(t *testing.T) {
	t.Parallel()
	srv := start(t)
	a, b := newOrg(t, srv, "org-a"), newOrg(t, srv, "org-b")
	aItem, bItem := a.item("Villa (A)"), b.item("Villa (B)")
	feed := func(o *org, item string) string {
		var f struct {
			Path string `json:"path"`
		}
		o.c().Post(o.path("/items/%s/ical-feeds", item), map[string]any{}).Expect(http.StatusCreated).JSON(&f)
		return srv.URL() + f.Path
	}
	aImport := a.subscribe(aItem, feed(b, bItem))
	bImport := b.subscribe(bItem, feed(a, aItem))
	book := func(o *org, item string, in, out int) string {
		var bk struct {
			ID string `json:"id"`
		}
		o.c().Post(o.path("/bookings"), map[string]any{"guest": map[string]any{"name": "Guest", "email": "g@example.com"},
			"items": []any{map[string]any{"item_id": item, "check_in": day(in), "check_out": day(out)}}}).Expect(http.StatusCreated).JSON(&bk)
		return bk.ID
	}
	syncBoth := func() (importView, importView) {
		a.sync(aItem, aImport.ID)
		y := b.sync(bItem, bImport.ID)
		return a.sync(aItem, aImport.ID), y // A again: it sees what B just took from A
	}

	aBooking := book(a, aItem, 10, 13)
	bBooking := book(b, bItem, 20, 22)
	for range 2 {
		x, y := syncBoth()
		if x.Conflicts != 0 || y.Conflicts != 0 || status(x) == "error" {
			t.Fatalf("synced calendars must not conflict with their own echoes: A %+v, B %+v", x, y)
		}
	}
	bBlocks, _ := b.blocks(bItem)
	aBlocks, _ := a.blocks(aItem)
	if !slices.Equal(bBlocks, []string{aBooking + "@vacancy " + day(10) + " " + day(13)}) {
		t.Errorf("A's booking must block the same nights in B: %q", bBlocks)
	}
	if !slices.Equal(aBlocks, []string{bBooking + "@vacancy " + day(20) + " " + day(22)}) {
		t.Errorf("B's booking must block the same nights in A: %q", aBlocks)
	}
	// A cannot sell the nights B sold.
	a.c().Post(a.path("/bookings"), map[string]any{"guest": map[string]any{"name": "Late", "email": "l@example.com"},
		"items": []any{map[string]any{"item_id": aItem, "check_in": day(20), "check_out": day(21)}}}).
		Problem(http.StatusConflict, "booking_conflict")
	if n := a.stored("calendar.conflict") + b.stored("calendar.conflict"); n != 0 {
		t.Errorf("no calendar.conflict events between two calendars that agree, got %d", n)
	}
	// A cancels: after a sync B's block is gone.
	a.c().Post(a.path("/bookings/%s/cancel", aBooking), map[string]any{"reason": "plans changed"}).Expect(http.StatusOK)
	b.sync(bItem, bImport.ID)
	if bBlocks, _ = b.blocks(bItem); len(bBlocks) != 0 {
		t.Errorf("A's cancellation must free the nights in B: %q", bBlocks)
	}
}
