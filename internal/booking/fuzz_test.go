package booking

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/domain"
)

// The fuzz targets below feed the validating constructors whatever a client
// could send. None may panic; what they accept must satisfy the invariants the
// handlers and the database rely on; what they refuse must be a field error
// (the HTTP layer maps it to 422), never anything else. Seed corpora live in
// testdata/fuzz; `make fuzz` runs each target for a bounded time.

// mustBeInvalid fails unless err is a validation error naming fields.
func mustBeInvalid(t *testing.T, err error) {
	t.Helper()
	if err := domain.CheckValidation(err); err != nil {
		t.Fatal(err)
	}
}

func FuzzAvailabilityQuery(f *testing.F) {
	f.Add("2030-01-01", "2030-01-03", "2")
	f.Add("2030-01-03", "2030-01-01", "")
	f.Add("0000-01-01", "9999-12-31", "99999999999999999999")
	f.Add("2030-01-01", "2031-01-02", "-1")
	f.Add("2030-01-01'; --", "2030-01-03", "1e3")
	f.Fuzz(func(t *testing.T, checkIn, checkOut, guests string) {
		// The corpus has three strings: guests doubles as the quantity of units.
		q, err := NewAvailabilityQuery(AvailabilityParams{CheckIn: checkIn, CheckOut: checkOut, Guests: guests, Quantity: guests},
			domain.Page{Limit: domain.DefaultLimit})
		if err != nil {
			mustBeInvalid(t, err)
			return
		}
		if n := q.CheckIn.DaysUntil(q.CheckOut); n < 1 || n > catalogue.MaxNights {
			t.Fatalf("accepted a stay of %d nights", n)
		}
		if q.Guests < 1 || q.Guests > 10000 {
			t.Fatalf("accepted %d guests", q.Guests)
		}
		if q.Quantity < 1 || q.Quantity > maxQuantity {
			t.Fatalf("accepted a quantity of %d units", q.Quantity)
		}
	})
}

func FuzzBookingFilter(f *testing.F) {
	f.Add("paid", uuid.NewString(), "2030-01-01", "2030-02-01")
	f.Add("paid' OR '1'='1", "x", "2030-02-01", "2030-01-01")
	f.Add("", "", "2030-01-01", "")
	f.Fuzz(func(t *testing.T, status, itemID, from, to string) {
		fl, err := NewBookingFilter(status, itemID, "", from, to)
		if err != nil {
			mustBeInvalid(t, err)
			return
		}
		statuses := []string{StatusUnpaid, StatusPaid, StatusCancelled, StatusExpired, StatusComplete}
		if fl.Status != nil && !slices.Contains(statuses, *fl.Status) {
			t.Fatalf("accepted status %q", *fl.Status)
		}
		if (fl.From == nil) != (fl.To == nil) || (fl.From != nil && !fl.From.Before(*fl.To)) {
			t.Fatalf("accepted an empty or half-open range %v..%v", fl.From, fl.To)
		}
	})
}

// checkLines asserts what handlers rely on in validated stays.
func checkLines(t *testing.T, lines []Line) {
	t.Helper()
	if len(lines) < 1 || len(lines) > maxLines {
		t.Fatalf("accepted %d stays", len(lines))
	}
	for i, l := range lines {
		if n := l.Nights(); n < 1 || n > catalogue.MaxNights {
			t.Fatalf("stay %d: accepted %d nights", i, n)
		}
		if len(l.Addons) > 50 {
			t.Fatalf("stay %d: accepted %d add-ons", i, len(l.Addons))
		}
		seen := map[uuid.UUID]bool{}
		for _, a := range l.Addons {
			if a.Quantity < 1 || a.Quantity > 1000 || seen[a.AddonID] {
				t.Fatalf("stay %d: accepted add-on %+v", i, a)
			}
			seen[a.AddonID] = true
		}
		for j := range i {
			o := lines[j]
			if o.ItemID == l.ItemID && l.CheckIn.Before(o.CheckOut) && o.CheckIn.Before(l.CheckOut) {
				t.Fatalf("accepted overlapping stays %d and %d of one item", j, i)
			}
		}
	}
}

// checkStored asserts what the database needs of accepted free text.
func checkStored(t *testing.T, field, v string, maxRunes int) {
	t.Helper()
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) || utf8.RuneCountInString(v) > maxRunes {
		t.Fatalf("accepted %s %q", field, v)
	}
}

const bookingSeed = `{"guest":{"name":"Ada","email":"ada@example.com","phone":"+31 20 123"},"notes":"late arrival",
"items":[{"item_id":"0190e6a5-7d7a-7cc5-8a5e-6f4f4d3a2b1c","check_in":"2030-01-01","check_out":"2030-01-04",
"addons":[{"addon_id":"0190e6a5-7d7a-7cc5-8a5e-6f4f4d3a2b1d","quantity":2}]}]}`

func FuzzNewCreateBooking(f *testing.F) {
	f.Add([]byte(bookingSeed))
	f.Add([]byte(`{"guest":{"name":" ","email":"not an email"},"items":[]}`))
	f.Add([]byte(`{"guest":{"name":"a\u0000b","email":"a@b.c"},"items":[{"item_id":"x","check_in":"2030-01-04","check_out":"2030-01-01"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in CreateBookingInput
		if json.Unmarshal(body, &in) != nil {
			return // the HTTP layer refuses it with 400 before any constructor runs
		}
		cmd, err := NewCreateBooking(command.Meta{ID: "k"}, in)
		if err != nil {
			mustBeInvalid(t, err)
			return
		}
		checkLines(t, cmd.Lines)
		checkStored(t, "guest.name", cmd.Guest.Name, 200)
		checkStored(t, "guest.email", cmd.Guest.Email, 254)
		checkStored(t, "notes", cmd.Notes, 5000)
		if cmd.Guest.Name == "" || cmd.Guest.Email == "" {
			t.Fatalf("accepted a guest without name or email: %+v", cmd.Guest)
		}
		if cmd.Guest.Phone != nil {
			checkStored(t, "guest.phone", *cmd.Guest.Phone, 40)
		}
		if _, err := json.Marshal(cmd); err != nil {
			t.Fatalf("an accepted command must have a command.Fingerprint: %v", err)
		}
	})
}

func FuzzNewQuote(f *testing.F) {
	f.Add([]byte(`{"items":[{"item_id":"0190e6a5-7d7a-7cc5-8a5e-6f4f4d3a2b1c","check_in":"2030-01-01","check_out":"2030-01-03"}]}`))
	f.Add([]byte(`{"items":[{"item_id":"0190e6a5-7d7a-7cc5-8a5e-6f4f4d3a2b1c","check_in":"2030-01-01","check_out":"2030-01-03"},` +
		`{"item_id":"0190e6a5-7d7a-7cc5-8a5e-6f4f4d3a2b1c","check_in":"2030-01-02","check_out":"2030-01-05"}]}`))
	f.Add([]byte(`{"items":[{"item_id":"0190e6a5-7d7a-7cc5-8a5e-6f4f4d3a2b1c","check_in":"2030-01-01","check_out":"2030-01-03","addons":[{"addon_id":"0190e6a5-7d7a-7cc5-8a5e-6f4f4d3a2b1d","quantity":-1}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in QuoteInput
		if json.Unmarshal(body, &in) != nil {
			return
		}
		cmd, err := NewQuote(command.Meta{ID: "k"}, in)
		if err != nil {
			mustBeInvalid(t, err)
			return
		}
		checkLines(t, cmd.Lines)
	})
}
