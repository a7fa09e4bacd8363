package apitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/domain"
)

func TestContractIsAValidOpenAPI31Document(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.Operations()); n < 20 {
		t.Fatalf("the contract lists %d operations; the API has more than 20", n)
	}
}

// recorder is a Reporter that keeps what it is told.
type recorder struct {
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

const (
	orgPath = "/api/v3/organisations/acme"
	itemID  = "0190b6d4-6a7e-7cc2-9c1e-3f4b1d2e5a60"
	item    = `{"id":"` + itemID + `","name":"Room","description":"","capacity":2,"nightly_price":100,` +
		`"currency":"EUR","min_nights":1,"max_nights":365,"unit_count":1,"property_id":null,"base_guests":1,"extra_guest_price":0,"min_lead_hours":0,"max_advance_days":null,"discounts":[],"status":"active","version":1,` +
		`"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}`
	key = "vac_live_abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnop"
)

// TestTransportReportsEveryKindOfMismatch runs the transport against a fake server
// whose answers are chosen per case, and checks what it reports.
func TestTransportReportsEveryKindOfMismatch(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		status  int
		ctype   string
		headers map[string]string
		body    string
	}
	okItem := answer{200, "application/json", map[string]string{"ETag": `"1"`, "X-Request-ID": "r1"}, item}
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		opts   []Option
		answer answer
		want   string // substring of the one report expected; "" for none
	}{
		{"conforming exchange", "GET", orgPath + "/items/" + itemID, "", nil, okItem, ""},
		{"undocumented status", "GET", orgPath + "/items/" + itemID, "", nil,
			answer{418, "application/json", map[string]string{"X-Request-ID": "r1"}, `{}`}, "response 418"},
		{"missing required header", "GET", orgPath + "/items/" + itemID, "", nil,
			answer{200, "application/json", map[string]string{"X-Request-ID": "r1"}, item}, "ETag"},
		{"response body missing a required property", "GET", orgPath + "/items/" + itemID, "", nil,
			answer{200, "application/json", okItem.headers, strings.Replace(item, `"currency":"EUR",`, "", 1)}, "currency"},
		{"response property the contract does not declare", "GET", orgPath + "/items/" + itemID, "", nil,
			answer{200, "application/json", okItem.headers, strings.Replace(item, `"name"`, `"colour":"red","name"`, 1)}, "colour"},
		{"wrong format in response", "GET", orgPath + "/items/" + itemID, "", nil,
			answer{200, "application/json", okItem.headers, strings.Replace(item, `"2026-01-02T03:04:05Z"`, `"yesterday"`, 1)}, "response 200"},
		{"problem with an undocumented code", "GET", orgPath + "/items/" + itemID, "", nil,
			answer{404, "application/problem+json", map[string]string{"X-Request-ID": "r1"},
				`{"type":"https://vacancy.dev/problems/gone","title":"Not Found","status":404,"detail":"x","code":"gone","instance":"/"}`}, "response 404"},
		{"request with an unknown field", "POST", orgPath + "/items", `{"name":"A","capacity":1,"nightly_price":1,"colour":"red"}`, nil,
			answer{201, "application/json", map[string]string{"ETag": `"1"`, "X-Request-ID": "r1", "Location": orgPath + "/items/" + itemID}, item}, "request POST"},
		{"request marked as a breach that conforms", "POST", orgPath + "/items", `{"name":"A","capacity":1,"nightly_price":1}`,
			[]Option{BreaksContract("test")},
			answer{201, "application/json", map[string]string{"ETag": `"1"`, "X-Request-ID": "r1", "Location": orgPath + "/items/" + itemID}, item}, "conforms"},
		{"breach that breaks the contract", "PATCH", orgPath + "/items/" + itemID, `{"name":"B"}`,
			[]Option{BreaksContract("no If-Match")},
			answer{428, "application/problem+json", map[string]string{"X-Request-ID": "r1"},
				`{"type":"https://vacancy.dev/problems/if_match_required","title":"Precondition Required","status":428,"detail":"x","code":"if_match_required","instance":"/"}`}, ""},
		{"undeclared query parameter", "GET", orgPath + "/items?colour=red", "", nil, answer{200, "application/json",
			map[string]string{"X-Request-ID": "r1"}, `{"data":[],"next_cursor":null}`}, "colour"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.answer.headers {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", tc.answer.ctype)
				w.WriteHeader(tc.answer.status)
				fmt.Fprint(w, tc.answer.body)
			}))
			defer srv.Close()
			rec := &recorder{}
			client := &Client{t: t, base: srv.URL, key: key, contract: c, report: rec, timeout: 10 * time.Second}
			opts := tc.opts
			if tc.body != "" {
				opts = append(opts, RawBody("application/json", []byte(tc.body)))
			}
			if tc.method == "PATCH" || tc.method == "POST" {
				opts = append(opts, IdempotencyKey("k1"))
			}
			res := client.Do(tc.method, tc.path, nil, opts...)
			if res.Status != tc.answer.status {
				t.Fatalf("the transport must pass the response through: status %d, want %d", res.Status, tc.answer.status)
			}
			switch {
			case tc.want == "" && len(rec.errs) > 0:
				t.Fatalf("a conforming exchange must not be reported, got:\n%s", strings.Join(rec.errs, "\n"))
			case tc.want != "" && len(rec.errs) == 0:
				t.Fatalf("the mismatch (%s) must be reported, nothing was", tc.name)
			case tc.want != "" && !strings.Contains(strings.Join(rec.errs, "\n"), tc.want):
				t.Fatalf("the report must mention %q, got:\n%s", tc.want, strings.Join(rec.errs, "\n"))
			}
		})
	}
}

const (
	eventID = "0190b6d4-6a7e-7cc2-9c1e-3f4b1d2e5a61"
	orgID   = "0190b6d4-6a7e-7cc2-9c1e-3f4b1d2e5a62"
	event   = `{"id":"` + eventID + `","type":"item.created","occurred_at":"2026-01-02T03:04:05Z",` +
		`"organisation_id":"` + orgID + `","data":` + item + `,"command_id":"k1","livemode":true}`
)

// TestTransportChecksEveryEventOfAStream serves fixed event streams and checks
// what the transport reports as the client reads them.
func TestTransportChecksEveryEventOfAStream(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	frame := func(id, name, data string) string {
		return "id: " + id + "\nevent: " + name + "\ndata: " + data + "\n\n"
	}
	cases := []struct {
		name   string
		header map[string]string
		body   string
		want   string // substring of the report expected; "" for none
	}{
		{"conforming stream", nil, "retry: 2000\n: stream open\n\n" + frame("AAAA", "item.created", event) + ": heartbeat\n\n", ""},
		{"event name that is not the event's type", nil, frame("AAAA", "item.updated", event), "not the event's type"},
		{"event without an id", nil, "event: item.created\ndata: " + event + "\n\n", "no id"},
		{"event with an undeclared field in its resource", nil,
			frame("AAAA", "item.created", strings.Replace(event, `"name":"Room"`, `"name":"Room","colour":"red"`, 1)), "colour"},
		{"item event carrying a booking's type", nil,
			frame("AAAA", "booking.created", strings.Replace(event, `"type":"item.created"`, `"type":"booking.created"`, 1)), "does not conform"},
		{"stream without X-Accel-Buffering", map[string]string{"X-Accel-Buffering": ""}, ": stream open\n\n", "X-Accel-Buffering"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("Content-Type", "text/event-stream")
				h.Set("X-Request-ID", "r1")
				h.Set("X-Accel-Buffering", "no")
				for k, v := range tc.header {
					if v == "" {
						h.Del(k)
					} else {
						h.Set(k, v)
					}
				}
				w.WriteHeader(http.StatusOK)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			rec := &recorder{}
			client := &Client{t: t, base: srv.URL, key: key, contract: c, report: rec, timeout: 10 * time.Second}
			s := client.Stream(orgPath + "/events/stream")
			if s.Status != http.StatusOK {
				t.Fatalf("status %d", s.Status)
			}
			if !s.Ended(5 * time.Second) {
				t.Fatal("the fixed stream must end")
			}
			switch {
			case tc.want == "" && len(rec.errs) > 0:
				t.Fatalf("a conforming stream must not be reported, got:\n%s", strings.Join(rec.errs, "\n"))
			case tc.want != "" && !strings.Contains(strings.Join(rec.errs, "\n"), tc.want):
				t.Fatalf("the report must mention %q, got:\n%s", tc.want, strings.Join(rec.errs, "\n"))
			}
		})
	}
}

// TestValidateWebhook checks deliveries as a receiver gets them against the
// webhooks section.
func TestValidateWebhook(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(domain.EventTypes)
	slices.Sort(want)
	if got := strings.Join(c.Webhooks(), ","); got != strings.Join(want, ",") {
		t.Fatalf("the webhooks section must describe every event type the server sends (%s), got %s", strings.Join(want, ","), got)
	}
	headers := map[string]string{
		"Content-Type": "application/json", "User-Agent": "Vacancy-Webhooks/1",
		"Vacancy-Event-Id": eventID, "Vacancy-Event-Type": "item.created",
		"Vacancy-Delivery-Id": "0190b6d4-6a7e-7cc2-9c1e-3f4b1d2e5a63",
		"Vacancy-Signature":   "t=1767322800,v1=" + strings.Repeat("ab", 32),
	}
	cases := []struct {
		name   string
		change map[string]string // header changes ("" deletes)
		body   string
		want   string
	}{
		{"conforming delivery", nil, event, ""},
		{"no signature", map[string]string{"Vacancy-Signature": ""}, event, "Vacancy-Signature"},
		{"malformed signature", map[string]string{"Vacancy-Signature": "sha256=abc"}, event, "Vacancy-Signature"},
		{"type header of another event", map[string]string{"Vacancy-Event-Type": "item.updated"}, event, "not the Vacancy-Event-Type"},
		{"unknown event type", map[string]string{"Vacancy-Event-Type": "item.exploded"}, event, "no entry"},
		{"booking header on an item event", map[string]string{"Vacancy-Event-Type": "booking.created"},
			strings.Replace(event, `"type":"item.created"`, `"type":"booking.created"`, 1), "missing properties"},
		{"undeclared field", nil, strings.Replace(event, `"command_id"`, `"colour":"red","command_id"`, 1), "colour"},
		{"undeclared header", map[string]string{"X-Debug": "1"}, event, "X-Debug"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "http://receiver.test/hooks/vacancy", strings.NewReader(tc.body))
			for k, v := range headers {
				r.Header.Set(k, v)
			}
			for k, v := range tc.change {
				if v == "" {
					r.Header.Del(k)
				} else {
					r.Header.Set(k, v)
				}
			}
			problems := strings.Join(c.ValidateWebhook(r), "\n")
			switch {
			case tc.want == "" && problems != "":
				t.Fatalf("a conforming delivery must pass, got:\n%s", problems)
			case tc.want != "" && !strings.Contains(problems, tc.want):
				t.Fatalf("the problems must mention %q, got:\n%s", tc.want, problems)
			}
		})
	}
}

// TestClientSendReturnsTransportFailures: Send hands a failure to reach the
// server back to the caller instead of failing the test, with a Response that
// is never nil.
func TestClientSendReturnsTransportFailures(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	base := srv.URL
	srv.Close() // nothing listens there any more
	rec := &recorder{}
	client := &Client{t: t, base: base, contract: c, report: rec, timeout: 10 * time.Second}
	res, err := client.Send(t.Context(), http.MethodGet, "/healthz", nil)
	if err == nil {
		t.Fatal("a refused connection must be returned as an error")
	}
	if res == nil || res.Status != 0 {
		t.Fatalf("after a transport failure the response must be empty, not nil: %+v", res)
	}
	if len(rec.errs) > 0 {
		t.Fatalf("a transport failure is not a contract mismatch, got:\n%s", strings.Join(rec.errs, "\n"))
	}
}

// TestClientUncheckedAndUsing: an Unchecked client reports nothing about
// exchanges the contract does not describe; Using sends through the given
// client's transport and gives up after its timeout.
func TestClientUncheckedAndUsing(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	slow := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-slow:
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "# not the API\n")
	}))
	defer srv.Close()
	defer close(slow)
	rec := &recorder{}
	client := &Client{t: t, base: srv.URL, contract: c, report: rec, timeout: 10 * time.Second}

	client.Get("/metrics")
	if len(rec.errs) == 0 {
		t.Fatal("a checked client must report an exchange the contract does not describe")
	}
	rec.errs = nil
	res := client.Unchecked("a metrics listener").Get("/metrics")
	if res.Status != http.StatusOK || string(res.Body) != "# not the API\n" {
		t.Fatalf("an unchecked client must pass the answer through: %d %q", res.Status, res.Body)
	}
	if len(rec.errs) > 0 {
		t.Fatalf("an unchecked client must report nothing, got:\n%s", strings.Join(rec.errs, "\n"))
	}

	var sent atomic.Int32
	counting := roundTripper(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})
	impatient := client.Unchecked("a slow path").Using(&http.Client{Transport: counting, Timeout: 100 * time.Millisecond})
	started := time.Now()
	if _, err := impatient.Send(t.Context(), http.MethodGet, "/slow", nil); err == nil {
		t.Fatal("a request past the client's timeout must fail")
	}
	if took := time.Since(started); took > 5*time.Second {
		t.Fatalf("the timeout of the client given to Using must apply, the request took %v", took)
	}
	if sent.Load() != 1 {
		t.Fatalf("the request must go through the transport given to Using, it went %d times", sent.Load())
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
