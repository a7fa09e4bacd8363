package vacancy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	vacancy "github.com/vacancy-dev/vacancy/client"
	"github.com/vacancy-dev/vacancy/client/api"
)

// flaky answers each request with the next of its answers, and records the
// Idempotency-Key and If-Match of every request it saw.
type flaky struct {
	mu      sync.Mutex
	answers []func(w http.ResponseWriter)
	keys    []string
	ifMatch []string
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = append(f.keys, r.Header.Get("Idempotency-Key"))
	f.ifMatch = append(f.ifMatch, r.Header.Get("If-Match"))
	next := f.answers[0]
	if len(f.answers) > 1 {
		f.answers = f.answers[1:]
	}
	next(w)
}

func problem(status int, code, retryAfter string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"type":"https://vacancy.dev/problems/%s","title":"x","status":%d,"code":%q,"detail":"d","instance":"/"}`, code, status, code)
	}
}

const itemJSON = `{"id":"0190b6d4-6a7e-7cc2-9c1e-3f4b1d2e5a60","name":"Room","description":"","capacity":2,"nightly_price":100,
"currency":"EUR","min_nights":1,"max_nights":365,"unit_count":1,"property_id":null,"status":"active","version":%d,
"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}`

func item(version int) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, version))
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, itemJSON, version)
	}
}

func newClient(t *testing.T, h http.Handler) *vacancy.Client {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	c, err := vacancy.New(vacancy.Config{BaseURL: ts.URL, Key: "vac_live_x"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRetriesKeepTheIdempotencyKey(t *testing.T) {
	f := &flaky{answers: []func(http.ResponseWriter){
		problem(http.StatusServiceUnavailable, "database_unavailable", "0"),
		problem(http.StatusConflict, "idempotency_key_in_use", "0"),
		problem(http.StatusTooManyRequests, "rate_limited", "0"),
		item(2),
	}}
	c := newClient(t, f)
	name := "Renamed"
	r, err := c.UpdateItemWithResponse(context.Background(), "acme", api.ItemID{}, &api.UpdateItemParams{IfMatch: `"1"`},
		api.UpdateItemRequest{Name: &name})
	if err != nil || r.JSON200 == nil || r.JSON200.Version != 2 {
		t.Fatalf("503, 409 in use and 429 must be retried until the answer, got %v", err)
	}
	if len(f.keys) != 4 || f.keys[0] == "" || f.keys[1] != f.keys[0] || f.keys[3] != f.keys[0] {
		t.Errorf("every attempt must carry one generated Idempotency-Key, got %q", f.keys)
	}
}

func TestFinalProblemsAreTypedErrors(t *testing.T) {
	f := &flaky{answers: []func(http.ResponseWriter){problem(http.StatusConflict, "booking_conflict", "")}}
	c := newClient(t, f)
	_, err := c.GetItemWithResponse(context.Background(), "acme", api.ItemID{}, &api.GetItemParams{})
	var p vacancy.Problem
	if !errors.As(err, &p) || p.Code != "booking_conflict" || p.Status != http.StatusConflict {
		t.Fatalf("a problem must come back as a vacancy.Problem, got %v", err)
	}
	if len(f.keys) != 1 {
		t.Errorf("a final problem must not be retried, saw %d requests", len(f.keys))
	}
}

func TestBoundedRetries(t *testing.T) {
	f := &flaky{answers: []func(http.ResponseWriter){problem(http.StatusServiceUnavailable, "database_unavailable", "0")}}
	c := newClient(t, f)
	_, err := c.GetItemWithResponse(context.Background(), "acme", api.ItemID{}, &api.GetItemParams{})
	var p vacancy.Problem
	if !errors.As(err, &p) || p.Status != http.StatusServiceUnavailable {
		t.Fatalf("when the budget is spent the last problem must be returned, got %v", err)
	}
	if len(f.keys) != 5 {
		t.Errorf("want the default 5 attempts, saw %d", len(f.keys))
	}
}

func TestETagsAreCarriedAsIfMatch(t *testing.T) {
	f := &flaky{answers: []func(http.ResponseWriter){item(3), item(4)}}
	c := newClient(t, f)
	ctx := context.Background()
	if _, err := c.GetItemWithResponse(ctx, "acme", api.ItemID{}, &api.GetItemParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ArchiveItemWithResponse(ctx, "acme", api.ItemID{}, &api.ArchiveItemParams{}); err != nil {
		t.Fatal(err)
	}
	if f.ifMatch[1] != `"3"` {
		t.Errorf("a change after a read must send the read ETag as If-Match, sent %q", f.ifMatch[1])
	}
}
