package httpapi_test

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
)

type (
	icalFeed struct {
		ID                string  `json:"id"`
		ItemID            string  `json:"item_id"`
		UnitID            *string `json:"unit_id"`
		IncludeGuestNames bool    `json:"include_guest_names"`
		RevokedAt         *string `json:"revoked_at"`
		Path              string  `json:"path"`
	}
	calendarImport struct {
		ID         string  `json:"id"`
		URL        string  `json:"url"`
		LastStatus *string `json:"last_status"`
		LastError  *string `json:"last_error"`
		Version    int     `json:"version"`
	}
)

// publicFeed is an import URL the server's default policy accepts without DNS.
// The API-only test server runs no jobs, so nothing fetches it.
const publicFeed = "https://93.184.215.14/calendar.ics"

func (o *org) newFeed(t *testing.T, itemID string, body map[string]any) icalFeed {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	var f icalFeed
	o.as(t, "admin").Post(o.path("/items/%s/ical-feeds", itemID), body).Expect(http.StatusCreated).JSON(&f)
	return f
}

func (o *org) newImport(t *testing.T, itemID string) calendarImport {
	t.Helper()
	var im calendarImport
	o.as(t, "admin").Post(o.path("/items/%s/calendar-imports", itemID), map[string]any{"url": publicFeed, "name": "Airbnb"}).
		Expect(http.StatusCreated).JSON(&im)
	return im
}

func getImport(o *org, itemID, id string) func(t *testing.T) string {
	return func(t *testing.T) string {
		return string(o.as(t, "admin").Get(o.path("/items/%s/calendar-imports/%s", itemID, id)).Expect(http.StatusOK).Body)
	}
}

// checkICS checks a feed's raw text as RFC 5545 wants it (CRLF line ends, lines
// of at most 75 octets, folded without splitting a character) and parses it
// with github.com/arran4/golang-ical.
func checkICS(t *testing.T, raw []byte) *ics.Calendar {
	t.Helper()
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		t.Errorf("the feed must end with CRLF")
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(raw), "\r\n"), "\r\n") {
		if strings.ContainsAny(line, "\r\n") {
			t.Errorf("line %d holds a bare CR or LF: %q", i+1, line)
		}
		if len(line) > 75 {
			t.Errorf("line %d is %d octets, over 75: %q", i+1, len(line), line)
		}
		if !utf8.ValidString(line) {
			t.Errorf("line %d was folded inside a UTF-8 character: %q", i+1, line)
		}
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the feed does not parse: %v\n%s", err, raw)
	}
	props := map[string]string{}
	for _, p := range cal.CalendarProperties {
		props[p.IANAToken] = p.Value
	}
	if props["VERSION"] != "2.0" || props["PRODID"] == "" {
		t.Errorf("the feed must carry VERSION:2.0 and a PRODID, got %v", props)
	}
	return cal
}

func prop(e *ics.VEvent, name ics.ComponentProperty) string {
	if p := e.GetProperty(name); p != nil {
		return p.Value
	}
	return ""
}

func icalDate(d string) string { return strings.ReplaceAll(d, "-", "") }

func TestICalFeedExport(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "feeds")
	long := "Suite " + strings.Repeat("éclat ☀ ", 12) // multi-byte characters across the fold
	var it item
	o.as(t, "admin").Post(o.path("/items"), map[string]any{"name": long, "capacity": 2, "nightly_price": 10000}).
		Expect(http.StatusCreated).JSON(&it)
	guest := `Zoë "Zed" O'Brien, Jr; \ the third`
	var b booking
	body := bookingBody(it.ID, day(5), day(8))
	body["guest"] = map[string]any{"name": guest, "email": "zoe@example.com"}
	o.as(t, "write").Post(o.path("/bookings"), body).Expect(http.StatusCreated).JSON(&b)
	var blk struct {
		ID string `json:"id"`
	}
	o.as(t, "admin").Post(o.path("/items/%s/blocks", it.ID), map[string]any{"start": day(10), "end": day(12), "kind": "maintenance"}).
		Expect(http.StatusCreated).JSON(&blk)

	plain := o.newFeed(t, it.ID, map[string]any{"name": "Airbnb"})
	named := o.newFeed(t, it.ID, map[string]any{"include_guest_names": true})
	if !strings.HasPrefix(plain.Path, "/ical/vcal_") || plain.IncludeGuestNames || !named.IncludeGuestNames {
		t.Fatalf("a new feed must answer its secret path once: %+v", plain)
	}
	anon := srv.Client(t) // feeds are read without an API key
	res := anon.Get(plain.Path).Expect(http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "text/calendar; charset=utf-8" {
		t.Errorf("Content-Type %q, want text/calendar; charset=utf-8", ct)
	}
	cal := checkICS(t, res.Body)
	events := cal.Events()
	if len(events) != 2 {
		t.Fatalf("the feed must list the booking and the block, got %d events:\n%s", len(events), res.Body)
	}
	e := events[0]
	if prop(e, ics.ComponentPropertyUniqueId) != b.ID+"@vacancy" || prop(e, ics.ComponentPropertyDtStart) != icalDate(day(5)) ||
		prop(e, ics.ComponentPropertyDtEnd) != icalDate(day(8)) || prop(e, ics.ComponentPropertySummary) != "Reserved" ||
		prop(e, ics.ComponentPropertySequence) != "0" || prop(e, ics.ComponentPropertyDtstamp) == "" {
		t.Errorf("the booking must be an all-day event from check-in to check-out:\n%s", res.Body)
	}
	if v := e.GetProperty(ics.ComponentPropertyDtStart).ICalParameters["VALUE"]; !slices.Equal(v, []string{"DATE"}) {
		t.Errorf("DTSTART must be VALUE=DATE, got %v", v)
	}
	if prop(events[1], ics.ComponentPropertyUniqueId) != blk.ID+"@vacancy" || prop(events[1], ics.ComponentPropertySummary) != "Not available" {
		t.Errorf("the block must be \"Not available\":\n%s", res.Body)
	}
	if strings.Contains(string(res.Body), "Zo") || strings.Contains(string(res.Body), "zoe@") {
		t.Errorf("a feed without include_guest_names must not carry guest data:\n%s", res.Body)
	}
	if !strings.Contains(string(res.Body), "\r\n ") {
		t.Errorf("the long calendar name must be folded:\n%s", res.Body)
	}

	// Guest names, escaped as TEXT, come back intact.
	nres := anon.Get(named.Path).Expect(http.StatusOK)
	ncal := checkICS(t, nres.Body)
	if got := ics.FromText(prop(ncal.Events()[0], ics.ComponentPropertySummary)); got != "Reserved: "+guest {
		t.Errorf("SUMMARY %q, want the escaped guest name back", got)
	}

	// Conditional GET.
	tag := res.ETag()
	anon.Get(plain.Path, apitest.Header("If-None-Match", tag)).Expect(http.StatusNotModified)
	anon.Get(plain.Path, apitest.Header("If-None-Match", `"0123456789abcdef0123456789abcdef"`)).Expect(http.StatusOK)

	// A booking that moves keeps its UID; its SEQUENCE grows and the ETag changes.
	o.as(t, "write").Patch(o.path("/bookings/%s", b.ID), map[string]any{"items": []any{map[string]any{
		"item_id": it.ID, "check_in": day(6), "check_out": day(9)}}}, apitest.IfMatch(etag(b.Version))).Expect(http.StatusOK)
	res2 := anon.Get(plain.Path, apitest.Header("If-None-Match", tag)).Expect(http.StatusOK)
	e2 := checkICS(t, res2.Body).Events()[0]
	if prop(e2, ics.ComponentPropertyUniqueId) != b.ID+"@vacancy" || prop(e2, ics.ComponentPropertySequence) != "1" ||
		prop(e2, ics.ComponentPropertyDtStart) != icalDate(day(6)) || res2.ETag() == tag {
		t.Errorf("a moved booking must keep its UID with a higher SEQUENCE and a new ETag:\n%s", res2.Body)
	}

	// The list shows no secret; a revoked feed, an unknown token and garbage are 404.
	var feeds list[icalFeed]
	o.as(t, "admin").Get(o.path("/items/%s/ical-feeds", it.ID)).Expect(http.StatusOK).JSON(&feeds)
	if len(feeds.Data) != 2 || feeds.Data[0].Path != "" || feeds.Data[1].Path != "" {
		t.Errorf("the list must show both feeds without their paths: %+v", feeds.Data)
	}
	o.as(t, "admin").Delete(o.path("/items/%s/ical-feeds/%s", it.ID, plain.ID)).Expect(http.StatusOK)
	anon.Get(plain.Path).Problem(http.StatusNotFound, "not_found")
	anon.Get("/ical/vcal_"+strings.Repeat("A", 43)+".ics").Problem(http.StatusNotFound, "not_found")
	anon.Get("/ical/nothing.ics").Problem(http.StatusNotFound, "not_found")
	anon.Get(named.Path).Expect(http.StatusOK)
}

// TestICalFeedOfAUnitAndTenants: a unit's feed lists that unit's stays only, and
// a token never shows another organisation's data.
func TestICalFeedOfAUnitAndTenants(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	a := newOrg(t, srv, "feeds-a")
	b := newOrg(t, srv, "feeds-b")
	var pool struct {
		ID string `json:"id"`
	}
	a.as(t, "admin").Post(a.path("/items"), map[string]any{"name": "Double", "capacity": 2, "nightly_price": 9000, "units": 2}).
		Expect(http.StatusCreated).JSON(&pool)
	var units list[struct {
		ID string `json:"id"`
	}]
	a.as(t, "admin").Get(a.path("/items/%s/units", pool.ID)).Expect(http.StatusOK).JSON(&units)
	first := a.newBooking(t, pool.ID, day(3), day(5))
	second := a.newBooking(t, pool.ID, day(3), day(5)) // the other unit
	unitOfFirst := pgtest.Scalar[string](t, srv.Env.Superuser, "SELECT unit_id::text FROM occupancies WHERE booking_id = $1", first.ID)
	feed := a.newFeed(t, pool.ID, map[string]any{"unit_id": unitOfFirst})
	whole := a.newFeed(t, pool.ID, nil)
	bItem := b.newItem(t, "B room", 2, 5000)
	bBooking := b.newBooking(t, bItem.ID, day(3), day(5))
	bFeed := b.newFeed(t, bItem.ID, nil)

	uids := func(path string) []string {
		var out []string
		for _, e := range checkICS(t, srv.Client(t).Get(path).Expect(http.StatusOK).Body).Events() {
			out = append(out, prop(e, ics.ComponentPropertyUniqueId))
		}
		slices.Sort(out)
		return out
	}
	if got := uids(feed.Path); !slices.Equal(got, []string{first.ID + "@vacancy"}) {
		t.Errorf("the unit's feed must list only its stay, got %v", got)
	}
	if got, want := uids(whole.Path), []string{first.ID + "@vacancy", second.ID + "@vacancy"}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("the item's feed must list both stays, got %v", got)
	}
	if got := uids(bFeed.Path); !slices.Equal(got, []string{bBooking.ID + "@vacancy"}) {
		t.Errorf("B's feed must list B's booking only, got %v", got)
	}
	// B's key cannot list or revoke A's feeds.
	b.as(t, "admin").Get(b.path("/items/%s/ical-feeds", pool.ID)).Problem(http.StatusNotFound, "not_found")
	b.as(t, "admin").Delete(b.path("/items/%s/ical-feeds/%s", pool.ID, feed.ID)).Problem(http.StatusNotFound, "not_found")
	srv.Client(t).Get(feed.Path).Expect(http.StatusOK)
}
