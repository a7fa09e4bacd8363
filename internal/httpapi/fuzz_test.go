package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/command"
)

// Fuzz targets for the request decoding every handler starts with. Whatever the
// body and its Content-Type, decoding either succeeds or writes a 4xx problem,
// and a decoded body either becomes a command or a 422; nothing panics and
// nothing is a 5xx. The whole handler chain, database included, is fuzzed in
// internal/reliability. Seed corpora live in testdata/fuzz.

// checkProblem asserts that rec holds a well-formed 4xx problem.
func checkProblem(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code < 400 || rec.Code >= 500 {
		t.Fatalf("refused with status %d: want a 4xx", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("refused with Content-Type %q", ct)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Code == "" {
		t.Fatalf("malformed problem (%v): %s", err, rec.Body)
	}
}

// decodeAndBuild runs what a handler does before it calls the service.
func decodeAndBuild[T any](t *testing.T, body []byte, contentType string, build func(command.Meta, T) (any, error)) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v3/organisations/o/bookings", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	in, ok := decode[T](rec, req)
	if !ok {
		checkProblem(t, rec)
		return
	}
	if rec.Body.Len() != 0 {
		t.Fatalf("decode succeeded but wrote %q", rec.Body)
	}
	cmd, err := build(command.Meta{ID: "k", Actor: uuid.Nil, IssuedAt: time.Now()}, in)
	if err != nil {
		p := problemFor(context.Background(), slog.New(slog.DiscardHandler), err)
		if p.Status != http.StatusUnprocessableEntity || len(p.Errors) == 0 {
			t.Fatalf("a constructor refused with %d %s: want 422 with field errors", p.Status, p.Code)
		}
		return
	}
	if _, err := json.Marshal(cmd); err != nil {
		t.Fatalf("an accepted command cannot be fingerprinted: %v", err)
	}
}

func FuzzDecodeBooking(f *testing.F) {
	f.Add([]byte(`{"guest":{"name":"Ada","email":"ada@example.com"},"items":[{"item_id":"0190e6a5-7d7a-7cc5-8a5e-6f4f4d3a2b1c","check_in":"2030-01-01","check_out":"2030-01-03"}]}`), "application/json")
	f.Add([]byte(`{"guest":{"name":"Ada"}} {}`), "application/json; charset=utf-8")
	f.Add([]byte(`{"guest":{"name":"Jos\xe9"}}`), "application/json")
	f.Add([]byte(strings.Repeat("[", 300)), "application/json")
	f.Add([]byte(`{"currency":"USD"}`), "application/vnd.api+json")
	f.Add([]byte(`{}`), "text/plain")
	f.Add([]byte(`{"items":[{"addons":[{"quantity":1e400}]}]}`), "application/json")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		decodeAndBuild(t, body, contentType, func(m command.Meta, in booking.CreateBookingInput) (any, error) {
			return booking.NewCreateBooking(m, in)
		})
	})
}

func FuzzDecodeQuote(f *testing.F) {
	f.Add([]byte(`{"items":[{"item_id":"0190e6a5-7d7a-7cc5-8a5e-6f4f4d3a2b1c","check_in":"2030-01-01","check_out":"2030-01-03","addons":[{"addon_id":"0190e6a5-7d7a-7cc5-8a5e-6f4f4d3a2b1d","quantity":3}]}]}`), "application/json")
	f.Add([]byte(`{"items":null}`), "application/json")
	f.Add([]byte(`null`), "application/json")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		decodeAndBuild(t, body, contentType, func(m command.Meta, in booking.QuoteInput) (any, error) {
			return booking.NewQuote(m, in)
		})
	})
}

func FuzzDecodeBookingUpdate(f *testing.F) {
	f.Add([]byte(`{"notes":"late","items":[{"item_id":"0190e6a5-7d7a-7cc5-8a5e-6f4f4d3a2b1c","check_in":"2030-01-01","check_out":"2030-01-03"}]}`), "application/json")
	f.Add([]byte(`{"guest":null,"notes":null,"items":null}`), "application/json")
	f.Add([]byte(`{"payment_reference":"x","reason":"y"}`), "application/json")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		id := uuid.Must(uuid.NewV7())
		decodeAndBuild(t, body, contentType, func(m command.Meta, in booking.UpdateBookingInput) (any, error) {
			return booking.NewUpdateBooking(m, id, in)
		})
		for _, build := range []func(command.Meta, uuid.UUID, booking.TransitionInput) (booking.TransitionBooking, error){
			booking.NewConfirmBooking, booking.NewCancelBooking, booking.NewCompleteBooking} {
			decodeAndBuild(t, body, contentType, func(m command.Meta, in booking.TransitionInput) (any, error) {
				return build(m, id, in)
			})
		}
	})
}

func FuzzIfMatch(f *testing.F) {
	for _, h := range []string{"", " ", "*", `"1"`, `W/"2"`, `"0"`, `"-1"`, `"2147483648"`, `"abc"`, `"`, `""`, "1", `"1", "2"`} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		v, present, err := parseIfMatch(h)
		if strings.TrimSpace(h) == "" {
			if present || v != nil || err != nil {
				t.Fatalf("an absent If-Match must mean no expectation")
			}
			return
		}
		if !present {
			t.Fatalf("If-Match %q is present", h)
		}
		if err != nil {
			if v != nil {
				t.Fatalf("If-Match %q is refused but gave a version", h)
			}
			return
		}
		if v == nil {
			if strings.TrimSpace(h) != "*" {
				t.Fatalf("If-Match %q accepted without a version", h)
			}
			return
		}
		if *v < 1 {
			t.Fatalf("If-Match %q accepted version %d: versions start at 1", h, *v)
		}
		// What the server sends as ETag, it accepts back as the same version.
		back, _, err := parseIfMatch(etag(*v))
		if err != nil || back == nil || *back != *v {
			t.Fatalf("ETag %s does not round-trip through If-Match: %v", etag(*v), err)
		}
	})
}
