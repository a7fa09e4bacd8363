package domain

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// The fuzz targets below feed the validating constructors whatever a client
// could send. None may panic; what they accept must satisfy the invariants the
// handlers and the database rely on; what they refuse must be a field error
// (the HTTP layer maps it to 422), never anything else. Seed corpora live in
// testdata/fuzz; `make fuzz` runs each target for a bounded time.

// mustBeInvalid fails unless err is a validation error naming fields.
func mustBeInvalid(t *testing.T, err error) {
	t.Helper()
	if err := CheckValidation(err); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2030-01-31", "0000-01-01", "9999-12-31", "2031-02-29", "2032-02-29", "1999-12-31", "2200-01-01", "", "2030-1-1", "+2030-01-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			if !strings.Contains(err.Error(), "YYYY-MM-DD") && !strings.Contains(err.Error(), "supported range") {
				t.Fatalf("unhelpful date error: %v", err)
			}
			return
		}
		if d.String() != s {
			t.Fatalf("ParseDate(%q) accepted a date that prints as %q", s, d.String())
		}
		if d.Time().Before(minDate) || !d.Time().Before(maxDate) {
			t.Fatalf("ParseDate(%q) accepted a date outside the supported range", s)
		}
		var back Date
		js, _ := json.Marshal(d)
		if err := json.Unmarshal(js, &back); err != nil || back != d {
			t.Fatalf("date %s does not survive JSON: %v", d, err)
		}
	})
}

func FuzzPage(f *testing.F) {
	id := uuid.Must(uuid.NewV7())
	for _, c := range []string{"", encodeCursor(id), encodeCursor(uuid.Nil), "AAAA", "!!!!", "' OR 1=1--", encodeCursor(id) + "A"} {
		f.Add(0, c)
		f.Add(50, c)
	}
	f.Add(-1, "")
	f.Add(101, "")
	f.Fuzz(func(t *testing.T, limit int, cursor string) {
		p, err := NewPage(limit, cursor)
		if err != nil {
			mustBeInvalid(t, err)
			return
		}
		if p.Limit < 1 || p.Limit > MaxLimit {
			t.Fatalf("NewPage(%d, %q) accepted limit %d", limit, cursor, p.Limit)
		}
		if (cursor == "") != (p.Cursor == nil) {
			t.Fatalf("NewPage(%d, %q): a cursor must give a position, and only a cursor", limit, cursor)
		}
		if p.Cursor != nil {
			// Cursors are opaque, but they must name exactly the position they encode.
			again, err := decodeCursor(encodeCursor(*p.Cursor))
			if err != nil || again != *p.Cursor {
				t.Fatalf("cursor %q does not round-trip: %v", cursor, err)
			}
		}
	})
}
