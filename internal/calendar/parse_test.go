package calendar

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"

	"github.com/vacancy-dev/vacancy/internal/domain"
)

func date(s string) domain.Date {
	d, err := domain.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func cal(lines ...string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n" + strings.Join(lines, "\r\n") + "\r\nEND:VCALENDAR\r\n")
}

func TestOccurrences(t *testing.T) {
	t.Parallel()
	paris, _ := time.LoadLocation("Europe/Paris")
	from, to := date("2030-01-01"), date("2031-12-31")
	cases := []struct {
		name  string
		loc   *time.Location
		lines []string
		want  string // "key start end" per occurrence, in order
	}{
		{"all-day without DTEND is one night", time.UTC,
			[]string{"BEGIN:VEVENT", "UID:a", "DTSTART;VALUE=DATE:20300110", "END:VEVENT"}, "a 2030-01-10 2030-01-11"},
		{"DURATION", time.UTC,
			[]string{"BEGIN:VEVENT", "UID:a", "DTSTART;VALUE=DATE:20300110", "DURATION:P3D", "END:VEVENT"}, "a 2030-01-10 2030-01-13"},
		{"floating time in the property's zone", paris,
			[]string{"BEGIN:VEVENT", "UID:a", "DTSTART:20300110T230000", "DTEND:20300112T100000", "END:VEVENT"}, "a 2030-01-10 2030-01-12"},
		{"UTC read in the property's zone", paris,
			[]string{"BEGIN:VEVENT", "UID:a", "DTSTART:20300110T233000Z", "DTEND:20300112T100000Z", "END:VEVENT"}, "a 2030-01-11 2030-01-12"},
		{"an unknown TZID is local", time.UTC,
			[]string{"BEGIN:VEVENT", "UID:a", "DTSTART;TZID=Pacific Standard Time:20300110T150000", "DTEND;TZID=Pacific Standard Time:20300111T100000", "END:VEVENT"},
			"a 2030-01-10 2030-01-11"},
		{"a timed event within one day takes that night", time.UTC,
			[]string{"BEGIN:VEVENT", "UID:a", "DTSTART:20300110T090000Z", "DTEND:20300110T170000Z", "END:VEVENT"}, "a 2030-01-10 2030-01-11"},
		{"transparent and cancelled events occupy nothing", time.UTC,
			[]string{"BEGIN:VEVENT", "UID:a", "TRANSP:TRANSPARENT", "DTSTART;VALUE=DATE:20300110", "END:VEVENT",
				"BEGIN:VEVENT", "UID:b", "STATUS:CANCELLED", "DTSTART;VALUE=DATE:20300110", "END:VEVENT"}, ""},
		{"a duplicated UID with other dates blocks both", time.UTC,
			[]string{"BEGIN:VEVENT", "UID:d", "DTSTART;VALUE=DATE:20300110", "DTEND;VALUE=DATE:20300112", "END:VEVENT",
				"BEGIN:VEVENT", "UID:d", "DTSTART;VALUE=DATE:20300120", "DTEND;VALUE=DATE:20300122", "END:VEVENT",
				"BEGIN:VEVENT", "UID:d", "DTSTART;VALUE=DATE:20300110", "DTEND;VALUE=DATE:20300112", "END:VEVENT"},
			"d#20300110 2030-01-10 2030-01-12, d#20300120 2030-01-20 2030-01-22"},
		{"RRULE with EXDATE and an override", time.UTC,
			[]string{"BEGIN:VEVENT", "UID:r", "DTSTART;VALUE=DATE:20300107", "DTEND;VALUE=DATE:20300108",
				"RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;VALUE=DATE:20300114", "END:VEVENT",
				"BEGIN:VEVENT", "UID:r", "RECURRENCE-ID;VALUE=DATE:20300121", "DTSTART;VALUE=DATE:20300122",
				"DTEND;VALUE=DATE:20300124", "END:VEVENT",
				"BEGIN:VEVENT", "UID:r", "RECURRENCE-ID;VALUE=DATE:20300128", "STATUS:CANCELLED", "DTSTART;VALUE=DATE:20300128", "END:VEVENT"},
			"r#20300107 2030-01-07 2030-01-08, r#20300121 2030-01-22 2030-01-24"},
		{"outside the window is left out, across its edge is cut", time.UTC,
			[]string{"BEGIN:VEVENT", "UID:old", "DTSTART;VALUE=DATE:20290101", "DTEND;VALUE=DATE:20290105", "END:VEVENT",
				"BEGIN:VEVENT", "UID:edge", "DTSTART;VALUE=DATE:20291230", "DTEND;VALUE=DATE:20300103", "END:VEVENT"},
			"edge 2030-01-01 2030-01-03"},
		{"longer than a block is split", time.UTC,
			[]string{"BEGIN:VEVENT", "UID:long", "DTSTART;VALUE=DATE:20300101", "DTEND;VALUE=DATE:20310201", "END:VEVENT"},
			"long 2030-01-01 2031-01-02, long#20310102 2031-01-02 2031-02-01"},
		{"no UID: a stable name from the dates", time.UTC,
			[]string{"BEGIN:VEVENT", "DTSTART;VALUE=DATE:20300110", "END:VEVENT"}, "no-uid-"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			occs, err := Occurrences(cal(tc.lines...), tc.loc, from, to)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range occs {
				got = append(got, fmt.Sprintf("%s %s %s", o.Key, o.Start, o.End))
			}
			if s := strings.Join(got, ", "); s != tc.want && !(strings.HasSuffix(tc.want, "-") && strings.HasPrefix(s, tc.want)) {
				t.Errorf("got  %q\nwant %q", s, tc.want)
			}
		})
	}
}

func TestOccurrencesRefuseWhatIsNotAWholeCalendar(t *testing.T) {
	t.Parallel()
	from, to := date("2030-01-01"), date("2031-12-31")
	for name, body := range map[string]string{
		"empty":          "",
		"HTML":           "<!DOCTYPE html><html></html>",
		"cut short":      "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\n",
		"not UTF-8":      "BEGIN:VCALENDAR\r\nX:\xff\r\nEND:VCALENDAR\r\n",
		"bad parameter":  string(cal("BEGIN:VEVENT", "UID:a", `DTSTART;TZID="X"Y:20300110T100000`, "END:VEVENT")),
		"bad date":       string(cal("BEGIN:VEVENT", "UID:a", "DTSTART:tomorrow", "END:VEVENT")),
		"hourly rule":    string(cal("BEGIN:VEVENT", "UID:a", "DTSTART:20300110T100000Z", "RRULE:FREQ=HOURLY", "END:VEVENT")),
		"unbalanced END": string(cal("BEGIN:VEVENT", "UID:a", "DTSTART;VALUE=DATE:20300110", "END:VTODO")),
	} {
		if _, err := Occurrences([]byte(body), time.UTC, from, to); err == nil {
			t.Errorf("%s: a broken feed must fail, not read as no events", name)
		}
	}
}

func FuzzOccurrences(f *testing.F) {
	f.Add(string(cal("BEGIN:VEVENT", "UID:a", "DTSTART;VALUE=DATE:20300110", "RRULE:FREQ=DAILY;COUNT=3", "END:VEVENT")))
	f.Add(string(cal("BEGIN:VEVENT", "UID:a", "DTSTART;TZID=Europe/Paris:20300110T100000", "DURATION:PT5H", "END:VEVENT")))
	f.Fuzz(func(t *testing.T, body string) {
		occs, err := Occurrences([]byte(body), time.UTC, date("2030-01-01"), date("2031-12-31"))
		if err != nil {
			return
		}
		for _, o := range occs {
			if !o.Start.Before(o.End) || o.Start.DaysUntil(o.End) > maxBlockNights || !utf8.ValidString(o.Key) {
				t.Fatalf("an occurrence a block cannot be: %+v", o)
			}
		}
	})
}

func TestFoldAndEscape(t *testing.T) {
	t.Parallel()
	var w icsWriter
	name := strings.Repeat("日本語のスイート, ", 10)
	w.line("BEGIN", "VCALENDAR")
	w.line("VERSION", "2.0")
	w.line("PRODID", "-//x//EN")
	w.text("X-WR-CALNAME", name)
	w.line("BEGIN", "VEVENT")
	w.text("UID", "a@b")
	w.line("DTSTART;VALUE=DATE", "20300110")
	w.text("SUMMARY", "one; two, three\\ four\nfive")
	w.line("END", "VEVENT")
	w.line("END", "VCALENDAR")
	raw := w.b.Bytes()
	for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\r\n"), "\r\n") {
		if len(l) > maxLineOctets || !utf8.ValidString(l) {
			t.Errorf("line of %d octets, or cut inside a character: %q", len(l), l)
		}
	}
	c, err := ics.ParseCalendar(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := ics.FromText(c.Events()[0].GetProperty(ics.ComponentPropertySummary).Value); got != "one; two, three\\ four\nfive" {
		t.Errorf("SUMMARY round trip: %q", got)
	}
	for _, p := range c.CalendarProperties {
		if p.IANAToken == "X-WR-CALNAME" && ics.FromText(p.Value) != name {
			t.Errorf("a folded name must unfold to itself: %q", ics.FromText(p.Value))
		}
	}
}

func TestExportedIDAndOverlaps(t *testing.T) {
	t.Parallel()
	id := "0190b6d4-6a7e-7cc2-9c1e-3f4b1d2e5a63"
	for uid, ok := range map[string]bool{id + "@vacancy": true, id + "-2@vacancy": true, id + "x@vacancy": false,
		id + "@airbnb.com": false, "x@vacancy": false} {
		if _, got := exportedID(uid); got != ok {
			t.Errorf("exportedID(%q) = %v, want %v", uid, got, ok)
		}
	}
	occs := withoutOverlaps([]Occurrence{
		{Key: "b", Start: date("2030-01-03"), End: date("2030-01-08")},
		{Key: "a", Start: date("2030-01-01"), End: date("2030-01-05")},
		{Key: "c", Start: date("2030-01-04"), End: date("2030-01-06")},
	})
	var got []string
	for _, o := range occs {
		got = append(got, fmt.Sprintf("%s %s %s", o.Key, o.Start, o.End))
	}
	if s := strings.Join(got, ", "); s != "a 2030-01-01 2030-01-05, b 2030-01-05 2030-01-08" {
		t.Errorf("overlaps on one unit must be trimmed so the union is blocked once: %s", s)
	}
}
