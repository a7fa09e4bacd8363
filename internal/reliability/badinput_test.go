package reliability_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// snapshot is what a rejected request must leave unchanged: the row count of
// every table, and a digest of every row of the tables a request could modify.
func snapshot(t testing.TB, db *pgtest.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range tableCounts(t, db) {
		out[k] = fmt.Sprint(v)
	}
	for _, table := range []string{"organisations", "items", "addons", "bookings", "booking_items", "booking_item_addons", "events"} {
		q := fmt.Sprintf("SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM %s r", table)
		out[table+" digest"] = pgtest.Scalar[string](t, db, q)
	}
	return out
}

// TestBadInputCatalogue sends hostile and malformed requests, each of which has
// a documented 4xx answer, and checks both the answer and that the database is
// exactly as it was: nothing created, changed or deleted (a rejected command may
// only leave its record in the command log, so that a retry replays the
// rejection).
func TestBadInputCatalogue(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	a := newTenant(t, env, "tenant-a")
	b := newTenant(t, env, "tenant-b")
	aItem := addItem(t, env.Service, a.sc, "a room")
	bItem := addItem(t, env.Service, b.sc, "b room")
	base := serve(t, env.Service, 10*time.Second)
	ca, cb := newClient(t, base, a, 30*time.Second), newClient(t, base, b, 30*time.Second)
	ctx := context.Background()

	in := today().AddDate(0, 0, 20)
	book := func(c *client, item uuid.UUID, days int) bookingBody {
		r, err := c.do(ctx, http.MethodPost, "/bookings", bookingRequest(item, in.AddDate(0, 0, days), in.AddDate(0, 0, days+2)))
		if err != nil || r.Status != http.StatusCreated {
			t.Fatalf("book: %v %d %s", err, r.Status, r.Body)
		}
		return decodeBooking(t, r)
	}
	aBooking := book(ca, aItem, 0)
	book(ca, aItem, 5)
	bBooking := book(cb, bItem, 0)
	r, err := ca.do(ctx, http.MethodGet, "/bookings?limit=1", nil)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("list: %v %d", err, r.Status)
	}
	var page struct {
		NextCursor string `json:"next_cursor"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil || page.NextCursor == "" {
		t.Fatalf("a one-row page of two bookings must have a next cursor: %s", r.Body)
	}
	cursor := page.NextCursor

	valid := func(mut func(map[string]any)) map[string]any {
		body := bookingRequest(aItem, in.AddDate(0, 0, 40), in.AddDate(0, 0, 42))
		mut(body)
		return body
	}
	stay := func(item, checkIn, checkOut string) []map[string]any {
		return []map[string]any{{"item_id": item, "check_in": checkIn, "check_out": checkOut}}
	}
	raw := func(s string) []byte { return []byte(s) }
	guestWith := func(name string) []byte {
		return []byte(`{"guest":{"name":"` + name + `","email":"g@example.com"},"items":[{"item_id":"` + aItem.String() +
			`","check_in":"` + day(in.AddDate(0, 0, 40)) + `","check_out":"` + day(in.AddDate(0, 0, 42)) + `"}]}`)
	}
	huge := append([]byte(`{"guest":{"name":"`), bytes.Repeat([]byte("a"), 10<<20)...)
	huge = append(huge, `","email":"g@example.com"}}`...)
	aPath := "/bookings/" + aBooking.ID.String()
	bPath := "/bookings/" + bBooking.ID.String()

	cases := []struct {
		name    string
		c       *client
		method  string
		path    string // under /api/v3/organisations/<tenant>; a leading "!" replaces the organisation too
		body    any
		headers []string
		status  int
		code    string
	}{
		// SQL metacharacters: parsed as data, never as SQL.
		{"SQL in the organisation", ca, "GET", "!/api/v3/organisations/tenant-a'%20OR%20'1'%3D'1/bookings", nil, nil, 404, "not_found"},
		{"SQL in a booking id", ca, "GET", "/bookings/1'%3B%20DROP%20TABLE%20bookings%3B--", nil, nil, 404, "not_found"},
		{"SQL in an item id", ca, "POST", "/bookings", valid(func(m map[string]any) {
			m["items"] = stay("' OR 1=1 --", day(in), day(in.AddDate(0, 0, 2)))
		}), nil, 422, "validation_failed"},
		{"SQL in a status filter", ca, "GET", "/bookings?status=paid'%20OR%20'1'%3D'1", nil, nil, 422, "validation_failed"},
		{"SQL in a date", ca, "GET", "/availability?check_in=2030-01-01'%3B--&check_out=2030-01-03", nil, nil, 422, "validation_failed"},
		{"SQL in the guest of an invalid booking", ca, "POST", "/bookings", valid(func(m map[string]any) {
			m["guest"] = map[string]string{"name": "Robert'); DROP TABLE bookings;--", "email": "bobby@example.com"}
			m["items"] = []any{}
		}), nil, 422, "validation_failed"},
		{"SQL in the Idempotency-Key", ca, "POST", "/bookings", valid(func(map[string]any) {}),
			[]string{"Idempotency-Key", "k' OR '1'='1"}, 422, "validation_failed"},

		// Sizes and shapes.
		{"10 MB body", ca, "POST", "/bookings", huge, nil, 413, "body_too_large"},
		{"deeply nested JSON", ca, "POST", "/bookings", raw(strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)), nil, 400, "malformed_json"},
		{"deeply nested JSON in a field", ca, "POST", "/bookings", raw(`{"guest":{"name":` + strings.Repeat(`{"a":`, 20_000) + "1" + strings.Repeat("}", 20_000) + `}}`), nil, 400, "malformed_json"},
		{"a JSON array instead of an object", ca, "POST", "/bookings", raw(`[1,2,3]`), nil, 400, "malformed_json"},
		{"two JSON values", ca, "POST", "/bookings", raw(`{} {}`), nil, 400, "malformed_json"},
		{"truncated JSON", ca, "POST", "/bookings", raw(`{"guest":{"name":"x"`), nil, 400, "malformed_json"},
		{"unknown field", ca, "POST", "/bookings", valid(func(m map[string]any) { m["price"] = 0 }), nil, 400, "malformed_json"},
		{"not JSON", ca, "POST", "/bookings", valid(func(map[string]any) {}), []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},

		// Encodings.
		{"invalid UTF-8 in a string", ca, "POST", "/bookings", guestWith("Jos\xe9 \xff\xfe"), nil, 400, "malformed_json"},
		{"invalid UTF-8 in a query", ca, "GET", "/bookings?status=%FF%FE", nil, nil, 422, "validation_failed"},
		{"NUL in a name", ca, "POST", "/bookings", guestWith(`Nul\u0000Guest`), nil, 422, "validation_failed"},
		{"NUL in notes", ca, "POST", "/bookings", valid(func(m map[string]any) { m["notes"] = "a\x00b" }), nil, 422, "validation_failed"},
		{"non-ASCII in the Idempotency-Key", ca, "POST", "/bookings", valid(func(map[string]any) {}),
			[]string{"Idempotency-Key", "cl\xc3\xa9"}, 422, "validation_failed"},

		// Numbers.
		{"a quantity of 1e400", ca, "POST", "/bookings", valid(func(m map[string]any) {
			m["items"] = []map[string]any{{"item_id": aItem.String(), "check_in": day(in), "check_out": day(in.AddDate(0, 0, 2)),
				"addons": []map[string]any{{"addon_id": uuid.NewString(), "quantity": json.Number("1e400")}}}}
		}), nil, 400, "malformed_json"},
		{"a quantity beyond int32", ca, "POST", "/bookings", valid(func(m map[string]any) {
			m["items"] = []map[string]any{{"item_id": aItem.String(), "check_in": day(in), "check_out": day(in.AddDate(0, 0, 2)),
				"addons": []map[string]any{{"addon_id": uuid.NewString(), "quantity": json.Number("4294967296")}}}}
		}), nil, 400, "malformed_json"},
		{"a negative quantity", ca, "POST", "/bookings", valid(func(m map[string]any) {
			m["items"] = []map[string]any{{"item_id": aItem.String(), "check_in": day(in), "check_out": day(in.AddDate(0, 0, 2)),
				"addons": []map[string]any{{"addon_id": uuid.NewString(), "quantity": -1}}}}
		}), nil, 422, "validation_failed"},
		{"huge guests", ca, "GET", "/availability?check_in=" + day(in) + "&check_out=" + day(in.AddDate(0, 0, 2)) + "&guests=99999999999999999999", nil, nil, 422, "validation_failed"},
		{"negative guests", ca, "GET", "/availability?check_in=" + day(in) + "&check_out=" + day(in.AddDate(0, 0, 2)) + "&guests=-2", nil, nil, 422, "validation_failed"},
		{"huge limit", ca, "GET", "/bookings?limit=99999999999999999999", nil, nil, 422, "validation_failed"},
		{"negative limit", ca, "GET", "/bookings?limit=-5", nil, nil, 422, "validation_failed"},
		{"zero limit", ca, "GET", "/bookings?limit=0", nil, nil, 422, "validation_failed"},

		// Dates.
		{"check-in 0000-01-01", ca, "POST", "/bookings", valid(func(m map[string]any) {
			m["items"] = stay(aItem.String(), "0000-01-01", "0000-01-03")
		}), nil, 422, "validation_failed"},
		{"check-out 9999-12-31", ca, "POST", "/bookings", valid(func(m map[string]any) {
			m["items"] = stay(aItem.String(), day(in), "9999-12-31")
		}), nil, 422, "validation_failed"},
		{"availability from 0000-01-01", ca, "GET", "/availability?check_in=0000-01-01&check_out=0000-01-03", nil, nil, 422, "validation_failed"},
		{"calendar to 9999-12-31", ca, "GET", "/items/" + aItem.String() + "/calendar?from=" + day(in) + "&to=9999-12-31", nil, nil, 422, "validation_failed"},
		{"February 30th", ca, "POST", "/quotes", map[string]any{"items": stay(aItem.String(), "2031-02-30", "2031-03-02")}, nil, 422, "validation_failed"},
		{"check-out before check-in", ca, "POST", "/bookings", valid(func(m map[string]any) {
			m["items"] = stay(aItem.String(), day(in.AddDate(0, 0, 3)), day(in))
		}), nil, 422, "validation_failed"},
		{"a stay of 400 nights", ca, "POST", "/bookings", valid(func(m map[string]any) {
			m["items"] = stay(aItem.String(), day(in), day(in.AddDate(0, 0, 400)))
		}), nil, 422, "validation_failed"},
		{"check-in in the past", ca, "POST", "/bookings", valid(func(m map[string]any) {
			m["items"] = stay(aItem.String(), day(today().AddDate(0, 0, -3)), day(today().AddDate(0, 0, -1)))
		}), nil, 422, "validation_failed"},
		{"a date with a time", ca, "GET", "/availability?check_in=" + day(in) + "T00:00:00Z&check_out=" + day(in.AddDate(0, 0, 2)), nil, nil, 422, "validation_failed"},

		// Currencies: the organisation's currency applies; a request cannot name another.
		{"a currency in a booking", ca, "POST", "/bookings", valid(func(m map[string]any) { m["currency"] = "USD" }), nil, 400, "malformed_json"},
		{"a currency in a quote", ca, "POST", "/quotes", map[string]any{"currency": "JPY", "items": stay(aItem.String(), day(in), day(in.AddDate(0, 0, 2)))}, nil, 400, "malformed_json"},

		// Cursors.
		{"a truncated cursor", ca, "GET", "/bookings?cursor=" + cursor[:len(cursor)-3], nil, nil, 422, "validation_failed"},
		{"a lengthened cursor", ca, "GET", "/bookings?cursor=" + cursor + "AA", nil, nil, 422, "validation_failed"},
		{"a cursor that is not base64", ca, "GET", "/bookings?cursor=%21%21%21%21", nil, nil, 422, "validation_failed"},
		{"a cursor of SQL", ca, "GET", "/bookings?cursor=%27%20OR%201%3D1--", nil, nil, 422, "validation_failed"},
		{"a cursor of 17 bytes", ca, "GET", "/bookings?cursor=" + base64.RawURLEncoding.EncodeToString(make([]byte, 17)), nil, nil, 422, "validation_failed"},

		// Another tenant's resources: indistinguishable from missing ones.
		{"another tenant's organisation", ca, "GET", "!/api/v3/organisations/tenant-b/bookings", nil, nil, 404, "not_found"},
		{"another tenant's booking", ca, "GET", bPath, nil, nil, 404, "not_found"},
		{"changing another tenant's booking", ca, "PATCH", bPath, map[string]any{"notes": "mine now"}, []string{"If-Match", "*"}, 404, "not_found"},
		{"cancelling another tenant's booking", ca, "POST", bPath + "/cancel", nil, nil, 404, "not_found"},
		{"confirming another tenant's booking through its path", ca, "POST", "!/api/v3/organisations/tenant-b" + bPath + "/confirm", nil, nil, 404, "not_found"},
		{"booking another tenant's item", ca, "POST", "/bookings", valid(func(m map[string]any) {
			m["items"] = stay(bItem.String(), day(in.AddDate(0, 0, 40)), day(in.AddDate(0, 0, 42)))
		}), nil, 422, "validation_failed"},
		{"quoting another tenant's item", ca, "POST", "/quotes", map[string]any{"items": stay(bItem.String(), day(in), day(in.AddDate(0, 0, 2)))}, nil, 422, "validation_failed"},
		{"another tenant's item calendar", ca, "GET", "/items/" + bItem.String() + "/calendar?from=" + day(in) + "&to=" + day(in.AddDate(0, 0, 7)), nil, nil, 404, "not_found"},
		{"moving into another tenant's item", ca, "PATCH", aPath, map[string]any{"items": stay(bItem.String(), day(in), day(in.AddDate(0, 0, 2)))}, []string{"If-Match", "*"}, 422, "validation_failed"},

		// Headers and state.
		{"PATCH without If-Match", ca, "PATCH", aPath, map[string]any{"notes": "x"}, nil, 428, "if_match_required"},
		{"If-Match that is not an entity tag", ca, "PATCH", aPath, map[string]any{"notes": "x"}, []string{"If-Match", "1"}, 400, "invalid_if_match"},
		{"If-Match beyond int32", ca, "PATCH", aPath, map[string]any{"notes": "x"}, []string{"If-Match", `"99999999999999999999"`}, 400, "invalid_if_match"},
		{"a stale If-Match", ca, "PATCH", aPath, map[string]any{"notes": "x"}, []string{"If-Match", `"7"`}, 412, "stale_version"},
		{"an Idempotency-Key of 300 characters", ca, "POST", "/bookings", valid(func(map[string]any) {}),
			[]string{"Idempotency-Key", strings.Repeat("k", 300)}, 422, "validation_failed"},
		{"completing an unpaid booking", ca, "POST", aPath + "/complete", nil, nil, 409, "invalid_transition"},
		{"booking taken dates", ca, "POST", "/bookings", valid(func(m map[string]any) {
			m["items"] = stay(aItem.String(), day(in.AddDate(0, 0, 1)), day(in.AddDate(0, 0, 3)))
		}), nil, 409, "booking_conflict"},
		{"no API key", newClient(t, base, tenant{slug: "tenant-a"}, 30*time.Second), "GET", "/bookings", nil, nil, 401, "unauthorized"},
		{"a forged API key", newClient(t, base, tenant{slug: "tenant-a", key: "vac_live_" + strings.Repeat("a", 48)}, 30*time.Second),
			"POST", "/bookings", valid(func(map[string]any) {}), nil, 401, "unauthorized"},
		{"a method the resource does not have", ca, "DELETE", aPath, nil, nil, 405, "method_not_allowed"},
	}

	db := env.Superuser
	before := snapshot(t, db)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := send(ctx, tc.c, tc.method, tc.path, tc.body, tc.headers...)
			if err != nil {
				t.Fatal(err)
			}
			if code := r.ProblemCode(); r.Status != tc.status || code != tc.code {
				t.Errorf("answered %d %q, want %d %q: %.300s", r.Status, code, tc.status, tc.code, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("a refusal must be an RFC 9457 problem, got Content-Type %q", ct)
			}
			if after := snapshot(t, db); !equal(before, after) {
				t.Errorf("the database changed:\nbefore %v\nafter  %v", before, after)
				before = after
			}
		})
	}
}

// send is client.do, except that a path starting with "!" is taken from the
// API root rather than from the tenant's organisation, a []byte body is sent
// as it is (as JSON), and headers come in name, value pairs.
func send(ctx context.Context, c *client, method, path string, body any, headers ...string) (*apitest.Response, error) {
	var opts []apitest.Option
	if b, ok := body.([]byte); ok {
		body, opts = nil, append(opts, apitest.RawBody("application/json", b))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		opts = append(opts, apitest.Header(headers[i], headers[i+1]))
	}
	if p, ok := strings.CutPrefix(path, "!"); ok {
		return c.Send(ctx, method, p, body, opts...)
	}
	return c.do(ctx, method, path, body, opts...)
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
