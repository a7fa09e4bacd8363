package reliability_test

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
	"github.com/vacancy-dev/vacancy/internal/httpapi"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// problem is the part of an RFC 9457 body FuzzAPI checks: item ids must be
// UUIDs.
type problem struct {
	Status  int         `json:"status"`
	Code    string      `json:"code"`
	ItemIDs []uuid.UUID `json:"item_ids"`
	Errors  []struct {
		Field string `json:"field"`
		Code  string `json:"code"`
	} `json:"errors"`
}

// fuzzRoutes are the requests FuzzAPI can send; the fuzzer picks one by number.
// {booking} is an existing booking of the tenant, {item} one of its items.
var fuzzRoutes = []struct{ method, path string }{
	{http.MethodPost, "/bookings"},
	{http.MethodPost, "/quotes"},
	{http.MethodGet, "/availability"},
	{http.MethodGet, "/bookings"},
	{http.MethodPatch, "/bookings/{booking}"},
	{http.MethodPost, "/bookings/{booking}/confirm"},
	{http.MethodPost, "/bookings/{booking}/cancel"},
	{http.MethodGet, "/items/{item}/calendar"},
	{http.MethodGet, "/bookings/{booking}"},
}

// FuzzAPI sends fuzzed requests (route, query string, If-Match,
// Idempotency-Key, body) through the real handler chain and a real database:
// authentication, decoding, validation, the domain and SQL. Whatever arrives,
// the answer is never a 5xx (a panic would be one: the recoverer answers 500),
// and every refusal is a well-formed problem. In the inputs, {item},
// {other_item}, {booking}, {in} and {out} stand for one of the tenant's items,
// another tenant's item, one of its bookings and a bookable stay, so the fuzzer
// starts from requests that get deep into the domain.
func FuzzAPI(f *testing.F) {
	env := testenv.New(f)
	tn := newTenant(f, env, "fuzz")
	other := newTenant(f, env, "fuzz-other")
	item := addItem(f, env.Service, tn.sc, "room")
	otherItem := addItem(f, env.Service, other.sc, "their room")
	h := httpapi.NewServer(httpapi.Config{Service: env.Service, RequestTimeout: 10 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	base := httptest.NewServer(h)
	defer base.Close()
	in := today().AddDate(0, 0, 30)
	r, err := newClient(f, base.URL, tn, 30*time.Second).do(context.Background(), http.MethodPost, "/bookings", bookingRequest(item, in, in.AddDate(0, 0, 2)))
	if err != nil || r.Status != http.StatusCreated {
		f.Fatalf("seed booking: %v %d %s", err, r.Status, r.Body)
	}
	subst := strings.NewReplacer("{item}", item.String(), "{other_item}", otherItem.String(),
		"{booking}", decodeBooking(f, r).ID.String(), "{in}", day(in.AddDate(0, 0, 10)), "{out}", day(in.AddDate(0, 0, 12)))

	const stay = `{"item_id":"{item}","check_in":"{in}","check_out":"{out}"}`
	f.Add(uint8(0), "", "", "key-1", []byte(`{"guest":{"name":"Ada","email":"ada@example.com"},"items":[`+stay+`]}`))
	f.Add(uint8(0), "", "", "", []byte(`{"guest":{"name":"Ada","email":"ada@example.com"},"items":[{"item_id":"{other_item}","check_in":"{in}","check_out":"{out}"}]}`))
	f.Add(uint8(1), "", "", "", []byte(`{"items":[`+stay+`,{"item_id":"{item}","check_in":"{out}","check_out":"2199-12-31"}]}`))
	f.Add(uint8(2), "check_in={in}&check_out={out}&guests=2&limit=1", "", "", []byte(nil))
	f.Add(uint8(3), "status=unpaid&item_id={item}&from={in}&to={out}&limit=1&cursor=AZDmpX16fMWKXm9PTTorHA", "", "", []byte(nil))
	f.Add(uint8(4), "", `"1"`, "", []byte(`{"notes":"late","items":[`+stay+`]}`))
	f.Add(uint8(4), "", "*", "k", []byte(`{"guest":{"name":"B","email":"b@example.com","phone":"+1 (555) 0100"}}`))
	f.Add(uint8(5), "", `W/"1"`, "", []byte(`{"payment_reference":"pi_123"}`))
	f.Add(uint8(6), "", "", "", []byte(`{"reason":"changed plans"}`))
	f.Add(uint8(7), "from={in}&to={out}", "", "", []byte(nil))
	f.Add(uint8(8), "", "", "", []byte(nil))

	f.Fuzz(func(t *testing.T, route uint8, query, ifMatch, key string, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(rt.method, "/api/v3/organisations/fuzz"+subst.Replace(rt.path), bytes.NewReader([]byte(subst.Replace(string(body)))))
		req.URL.RawQuery = subst.Replace(query)
		req.Header.Set("Authorization", "Bearer "+tn.key)
		req.Header.Set("Content-Type", "application/json")
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s answered %d: %s", rt.method, rt.path, req.URL.RawQuery, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var p problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Code == "" ||
				rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("a %d must be a problem with its status and code: %s", rec.Code, rec.Body)
			}
			return
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("a %d carries invalid JSON: %s", rec.Code, rec.Body)
		}
	})
}
