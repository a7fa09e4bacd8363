package calendar

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"
	"github.com/teambition/rrule-go"

	"github.com/vacancy-dev/vacancy/internal/domain"
)

// Occurrence is a range of nights an imported event occupies: what one external
// block mirrors.
type Occurrence struct {
	// Key identifies the occurrence among the feed's: the event's UID, or, when one
	// UID yields several ranges (a recurring event, duplicated UIDs, an event longer
	// than a block may be), the UID and "#" and the range's first date (YYYYMMDD).
	Key        string
	UID        string
	Start, End domain.Date
	Summary    string
}

// Limits on what one feed may ask for.
const (
	maxOccurrences    = 5000 // ranges per feed, in the sync window
	maxPerRecurrence  = 1000 // occurrences of one recurring event
	maxBlockNights    = 366  // as for blocks made through the API
	maxSummaryRunes   = 200
	maxUIDLength      = 1000
	recurrenceIDParam = "RECURRENCE-ID"
)

// Occurrences reads a feed: the ranges of nights its events occupy within
// [from, to), in loc (the item's property's time zone, else the organisation's).
// All-day events are taken as they are (one night without DTEND or DURATION);
// timed ones become the dates they start and end on in loc, using their TZID or
// UTC (a floating time is in loc), and occupy at least one night. Cancelled
// events and transparent (free) ones occupy nothing. A recurring event (RRULE
// with FREQ DAILY, WEEKLY, MONTHLY or YEARLY, EXDATE, and RECURRENCE-ID
// overrides) occupies each of its occurrences. Anything that is not an iCalendar
// object, or an event without a usable DTSTART, fails the whole feed, so that a
// broken download never reads as "every event vanished".
func Occurrences(body []byte, loc *time.Location, from, to domain.Date) ([]Occurrence, error) {
	if err := checkDocument(body); err != nil {
		return nil, err
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("the feed is not valid iCalendar: %v", err)
	}
	type override struct {
		r         dateRange
		cancelled bool
	}
	var masters []*ics.VEvent
	overrides := map[string]map[domain.Date]override{} // uid → original start date → override
	for _, e := range cal.Events() {
		uid := eventUID(e)
		rid := e.GetProperty(ics.ComponentProperty(recurrenceIDParam))
		if rid == nil {
			masters = append(masters, e)
			continue
		}
		at, allDay, err := when(rid, loc)
		if err != nil {
			return nil, fmt.Errorf("event %q: RECURRENCE-ID: %v", uid, err)
		}
		r, err := eventRange(e, loc)
		if err != nil {
			return nil, fmt.Errorf("event %q: %v", uid, err)
		}
		if overrides[uid] == nil {
			overrides[uid] = map[domain.Date]override{}
		}
		overrides[uid][dateOf(at, allDay, loc)] = override{r: r, cancelled: !busy(e)}
	}

	byUID := map[string][]dateRange{}      // one-off events, by UID
	recurring := map[string][]Occurrence{} // occurrences of recurring events, by UID
	var order []string
	seen := map[string]bool{}
	for _, e := range masters {
		uid := eventUID(e)
		if !seen[uid] {
			seen[uid] = true
			order = append(order, uid)
		}
		r, err := eventRange(e, loc)
		if err != nil {
			return nil, fmt.Errorf("event %q: %v", uid, err)
		}
		if e.GetProperty(ics.ComponentPropertyRrule) == nil {
			if busy(e) {
				byUID[uid] = append(byUID[uid], r)
			}
			continue
		}
		if !busy(e) {
			continue
		}
		starts, err := recurrences(e, loc, r, from, to)
		if err != nil {
			return nil, fmt.Errorf("event %q: %v", uid, err)
		}
		for _, s := range starts {
			occ := dateRange{start: s, end: s.AddDays(r.nights())}
			if o, ok := overrides[uid][s]; ok {
				delete(overrides[uid], s)
				if o.cancelled {
					continue
				}
				occ = o.r
			}
			recurring[uid] = append(recurring[uid], Occurrence{Key: uid + "#" + compact(s), UID: uid, Start: occ.start, End: occ.end,
				Summary: summary(e)})
		}
	}

	var out []Occurrence
	add := func(o Occurrence) error {
		if !o.Start.Before(to) || !from.Before(o.End) {
			return nil // outside the window
		}
		o.Start, o.End = maxDate(o.Start, from), minDate(o.End, to)
		for first := true; o.Start.Before(o.End); first = false {
			piece := o
			piece.End = minDate(o.End, o.Start.AddDays(maxBlockNights))
			if !first {
				piece.Key = o.Key + "#" + compact(piece.Start)
			}
			out = append(out, piece)
			if len(out) > maxOccurrences {
				return fmt.Errorf("the feed has more than %d events between %s and %s", maxOccurrences, from, to)
			}
			o.Start = piece.End
		}
		return nil
	}
	for _, uid := range order {
		for _, o := range recurring[uid] {
			if err := add(o); err != nil {
				return nil, err
			}
		}
		ranges := uniqueRanges(byUID[uid])
		for _, r := range ranges {
			key := uid
			if len(ranges) > 1 {
				key = uid + "#" + compact(r.start)
			}
			if err := add(Occurrence{Key: key, UID: uid, Start: r.start, End: r.end, Summary: summaryOf(masters, uid)}); err != nil {
				return nil, err
			}
		}
	}
	// Overrides whose occurrence no master produced (their master is missing, or
	// its rule does not reach them) stand on their own.
	for _, uid := range slices.Sorted(maps.Keys(overrides)) {
		for _, at := range slices.SortedFunc(maps.Keys(overrides[uid]), func(a, b domain.Date) int { return cmp.Compare(a.String(), b.String()) }) {
			if o := overrides[uid][at]; !o.cancelled {
				if err := add(Occurrence{Key: uid + "#" + compact(at), UID: uid, Start: o.r.start, End: o.r.end}); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// checkDocument refuses what cannot be a whole iCalendar object before parsing:
// text that is not UTF-8, an HTML error page, a truncated download.
func checkDocument(body []byte) error {
	if !utf8.Valid(body) {
		return errors.New("the feed is not UTF-8 text")
	}
	text := strings.TrimPrefix(string(body), "\uFEFF")
	lines := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' })
	if len(lines) == 0 {
		return errors.New("the feed is empty")
	}
	if !strings.EqualFold(strings.TrimSpace(lines[0]), "BEGIN:VCALENDAR") {
		return fmt.Errorf("the feed is not an iCalendar object: it begins %q, not BEGIN:VCALENDAR", excerpt(lines[0]))
	}
	if !strings.EqualFold(strings.TrimSpace(lines[len(lines)-1]), "END:VCALENDAR") {
		return errors.New("the feed is cut short: it does not end with END:VCALENDAR")
	}
	return nil
}

func excerpt(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "..."
	}
	return s
}

// eventUID is the event's UID, or, for an event without one, a name made from
// its dates and summary, so it stays the same from one sync to the next.
func eventUID(e *ics.VEvent) string {
	if p := e.GetProperty(ics.ComponentPropertyUniqueId); p != nil && strings.TrimSpace(p.Value) != "" {
		uid := ics.FromText(strings.TrimSpace(p.Value))
		if len(uid) > maxUIDLength {
			uid = uid[:maxUIDLength]
		}
		return strings.ToValidUTF8(uid, "")
	}
	h := sha256.New()
	for _, name := range []ics.ComponentProperty{ics.ComponentPropertyDtStart, ics.ComponentPropertyDtEnd, ics.ComponentPropertySummary} {
		if p := e.GetProperty(name); p != nil {
			h.Write([]byte(p.Value + "\n"))
		}
	}
	return "no-uid-" + hex.EncodeToString(h.Sum(nil)[:12])
}

// busy reports whether the event occupies its time: not cancelled, not
// transparent (free time, as calendars mark "available" events).
func busy(e *ics.VEvent) bool {
	if p := e.GetProperty(ics.ComponentPropertyStatus); p != nil && strings.EqualFold(strings.TrimSpace(p.Value), "CANCELLED") {
		return false
	}
	if p := e.GetProperty(ics.ComponentPropertyTransp); p != nil && strings.EqualFold(strings.TrimSpace(p.Value), "TRANSPARENT") {
		return false
	}
	return true
}

func summary(e *ics.VEvent) string {
	p := e.GetProperty(ics.ComponentPropertySummary)
	if p == nil {
		return ""
	}
	s := strings.ToValidUTF8(strings.TrimSpace(ics.FromText(p.Value)), "")
	if r := []rune(s); len(r) > maxSummaryRunes {
		s = string(r[:maxSummaryRunes])
	}
	return s
}

func summaryOf(events []*ics.VEvent, uid string) string {
	for _, e := range events {
		if eventUID(e) == uid && busy(e) {
			return summary(e)
		}
	}
	return ""
}

// dateRange is [start, end) in nights; start, when timed events are concerned,
// is kept as an instant for recurrences.
type dateRange struct {
	start, end domain.Date
	// at is the start instant and length of a timed event (zero for all-day).
	at     time.Time
	length time.Duration
	allDay bool
}

func (r dateRange) nights() int { return r.start.DaysUntil(r.end) }

// eventRange is the nights an event occupies.
func eventRange(e *ics.VEvent, loc *time.Location) (dateRange, error) {
	sp := e.GetProperty(ics.ComponentPropertyDtStart)
	if sp == nil {
		return dateRange{}, errors.New("no DTSTART")
	}
	start, allDay, err := when(sp, loc)
	if err != nil {
		return dateRange{}, fmt.Errorf("DTSTART: %v", err)
	}
	end := start
	switch ep, dp := e.GetProperty(ics.ComponentPropertyDtEnd), e.GetProperty(ics.ComponentPropertyDuration); {
	case ep != nil:
		end, _, err = when(ep, loc)
		if err != nil {
			return dateRange{}, fmt.Errorf("DTEND: %v", err)
		}
	case dp != nil:
		d, err := parseDuration(dp.Value)
		if err != nil {
			return dateRange{}, fmt.Errorf("DURATION: %v", err)
		}
		end = start.Add(d)
	case allDay:
		end = start.AddDate(0, 0, 1) // an all-day event without an end is one day
	}
	r := dateRange{start: dateOf(start, allDay, loc), end: dateOf(end, allDay, loc), allDay: allDay}
	if !allDay {
		r.at, r.length = start, end.Sub(start)
	}
	if !r.start.Before(r.end) {
		r.end = r.start.AddDays(1) // a timed event within one day still takes that night
	}
	return r, nil
}

// dateOf is the calendar date of a DATE (as parsed, at UTC midnight) or of a
// DATE-TIME in loc.
func dateOf(t time.Time, allDay bool, loc *time.Location) domain.Date {
	if allDay {
		return domain.DateFromTime(t)
	}
	return domain.DateOf(t, loc)
}

var dateTimeValue = regexp.MustCompile(`^(\d{8})(T(\d{6})(Z)?)?$`)

// when reads a DATE or DATE-TIME property. A DATE is returned at UTC midnight
// with allDay set; a DATE-TIME is in UTC (a trailing Z), in its TZID's zone, or,
// floating or with a TZID this server does not know (a Windows zone name), in loc.
func when(p *ics.IANAProperty, loc *time.Location) (t time.Time, allDay bool, err error) {
	v := strings.TrimSpace(p.Value)
	m := dateTimeValue.FindStringSubmatch(v)
	if m == nil {
		return time.Time{}, false, fmt.Errorf("%q is not a DATE or DATE-TIME", excerpt(v))
	}
	valueDate := false
	for _, x := range p.ICalParameters["VALUE"] {
		valueDate = valueDate || strings.EqualFold(x, "DATE")
	}
	if m[2] == "" || valueDate {
		t, err := time.ParseInLocation("20060102", m[1], time.UTC)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%q is not a date", v)
		}
		return t, true, nil
	}
	zone := loc
	if m[4] == "Z" {
		zone = time.UTC
	} else if tzid := p.ICalParameters["TZID"]; len(tzid) > 0 {
		name := strings.TrimPrefix(strings.Trim(tzid[0], `"`), "/")
		if l, err := domain.LoadLocation(name); err == nil {
			zone = l
		}
	}
	t, err = time.ParseInLocation("20060102150405", m[1]+m[3], zone)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%q is not a date and time", v)
	}
	return t, false, nil
}

var durationValue = regexp.MustCompile(`^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)

// parseDuration reads an RFC 5545 DURATION (P1D, PT2H30M, P2W).
func parseDuration(v string) (time.Duration, error) {
	m := durationValue.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil || strings.TrimSpace(v) == "P" || strings.HasSuffix(strings.TrimSpace(v), "T") {
		return 0, fmt.Errorf("%q is not a duration", excerpt(v))
	}
	var d time.Duration
	for i, unit := range []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second} {
		if m[i+2] == "" {
			continue
		}
		n, err := strconv.Atoi(m[i+2])
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("%q is out of range", excerpt(v))
		}
		d += time.Duration(n) * unit
	}
	if m[1] == "-" {
		return 0, fmt.Errorf("%q is negative", v)
	}
	return d, nil
}

// recurrences lists the start dates of a recurring event's occurrences that can
// overlap [from, to), EXDATEs removed.
func recurrences(e *ics.VEvent, loc *time.Location, r dateRange, from, to domain.Date) ([]domain.Date, error) {
	rule := e.GetProperty(ics.ComponentPropertyRrule)
	opt, err := rrule.StrToROption(strings.TrimSpace(rule.Value))
	if err != nil {
		return nil, fmt.Errorf("RRULE: %v", err)
	}
	switch opt.Freq {
	case rrule.DAILY, rrule.WEEKLY, rrule.MONTHLY, rrule.YEARLY:
	default:
		return nil, fmt.Errorf("RRULE: FREQ=%s is not supported (DAILY, WEEKLY, MONTHLY and YEARLY are)", opt.Freq)
	}
	start := r.start.Time() // all-day: the date at UTC midnight
	if !r.allDay {
		start = r.at
	}
	opt.Dtstart = start
	rr, err := rrule.NewRRule(*opt)
	if err != nil {
		return nil, fmt.Errorf("RRULE: %v", err)
	}
	set := rrule.Set{}
	set.RRule(rr)
	set.DTStart(start)
	for _, p := range e.GetProperties(ics.ComponentPropertyExdate) {
		for _, v := range strings.Split(p.Value, ",") {
			x := *p
			x.Value = v
			t, allDay, err := when(&x, loc)
			if err != nil {
				return nil, fmt.Errorf("EXDATE: %v", err)
			}
			if allDay && !r.allDay {
				t = time.Date(t.Year(), t.Month(), t.Day(), start.Hour(), start.Minute(), start.Second(), 0, start.Location())
			}
			set.ExDate(t)
		}
	}
	// An occurrence that starts before from can still overlap it.
	after := from.AddDays(-max(r.nights(), 1)).Time().Add(-48 * time.Hour)
	before := to.Time().Add(48 * time.Hour)
	var out []domain.Date
	next := set.Iterator()
	for t, ok := next(); ok && t.Before(before); t, ok = next() {
		if t.Before(after) {
			continue
		}
		out = append(out, dateOf(t, r.allDay, loc))
		if len(out) > maxPerRecurrence {
			return nil, fmt.Errorf("RRULE: more than %d occurrences in the sync window", maxPerRecurrence)
		}
	}
	return out, nil
}

// uniqueRanges drops repeated ranges of one UID (a feed that lists an event
// twice) and keeps, of ranges starting the same day, the longest.
func uniqueRanges(rs []dateRange) []dateRange {
	byStart := map[domain.Date]dateRange{}
	for _, r := range rs {
		if cur, ok := byStart[r.start]; !ok || cur.end.Before(r.end) {
			byStart[r.start] = r
		}
	}
	out := make([]dateRange, 0, len(byStart))
	for _, r := range byStart {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b dateRange) int { return a.start.Time().Compare(b.start.Time()) })
	return out
}

func compact(d domain.Date) string { return d.Time().Format("20060102") }

func maxDate(a, b domain.Date) domain.Date {
	if a.Before(b) {
		return b
	}
	return a
}

func minDate(a, b domain.Date) domain.Date {
	if a.Before(b) {
		return a
	}
	return b
}
