package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/testenv"
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

// receiver is a local webhook receiver that answers with the statuses it is
// given, in turn (the last one repeats), and records every request.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []received
}

type received struct {
	at     time.Time
	header http.Header
	body   []byte
}

// Every delivery it gets is checked against openapi.yaml's webhooks section.
func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	contract, err := apitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if problems := contract.ValidateWebhook(req); len(problems) > 0 {
			t.Errorf("a webhook delivery does not conform to the webhooks section of %s:\n  - %s",
				apitest.SpecFile, strings.Join(problems, "\n  - "))
		}
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{at: time.Now(), header: req.Header.Clone(), body: body})
		status := r.statuses[min(len(r.got), len(r.statuses))-1]
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// webhooksAllowedLocally lets webhooks reach the receiver on 127.0.0.1 over http.
var webhooksAllowedLocally = map[string]string{"VACANCY_WEBHOOK_ALLOW_PRIVATE": "true", "VACANCY_WEBHOOK_ALLOW_HTTP": "true"}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

type endpointOut struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	EventTypes     []string   `json:"event_types"`
	Enabled        bool       `json:"enabled"`
	DisabledReason *string    `json:"disabled_reason"`
	FailingSince   *time.Time `json:"failing_since"`
	Secret         string     `json:"secret"`
	Version        int        `json:"version"`
	// PreviousExpiresAt: until when a rotation's replaced secret still signs.
	PreviousExpiresAt *time.Time `json:"previous_secret_expires_at"`
}

type deliveryOut struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	LastLatencyMs  *int       `json:"last_latency_ms"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	DeliveredAt    *time.Time `json:"delivered_at"`
	AttemptLog     []struct {
		Attempt    int     `json:"attempt"`
		StatusCode *int    `json:"status_code"`
		Error      *string `json:"error"`
		LatencyMs  int     `json:"latency_ms"`
	} `json:"attempt_log"`
}

func (a api) createEndpoint(url string, types ...string) endpointOut {
	a.t.Helper()
	body := map[string]any{"url": url, "description": "test receiver"}
	if types != nil {
		body["event_types"] = types
	}
	var ep endpointOut
	r := a.do("POST", "/webhook-endpoints", body).Expect(201)
	r.JSON(&ep)
	if ep.Secret == "" || r.ETag() != `"1"` || !strings.HasSuffix(r.Header.Get("Location"), "/webhook-endpoints/"+ep.ID) {
		a.t.Fatalf("creation must answer with the secret, ETag and Location: %s %v", r.Body, r.Header)
	}
	return ep
}

func (a api) deliveries(endpointID string) []deliveryOut {
	a.t.Helper()
	var page struct{ Data []deliveryOut }
	a.do("GET", "/webhook-endpoints/"+endpointID+"/deliveries", nil).Expect(200).JSON(&page)
	return page.Data
}

// TestWebhookDeliveredAndSigned: a change is POSTed to the receiver with the
// event headers and a signature that webhook.Verify accepts; the body is the event
// exactly as the feed shows it; the delivery log records the attempt.
func TestWebhookDeliveredAndSigned(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, 200)
	in := serve(t, testenv.DatabaseURL(t), webhooksAllowedLocally)
	org := newOrganisation(t, in, "acme")
	ep := org.createEndpoint(rcv.srv.URL+"/hooks", "booking.created")
	item := org.createItem("Sea room") // not subscribed
	bk := org.book(item.ID, 3, 5)
	booked := time.Now()

	testenv.Eventually(t, 10*time.Second, "the receiver gets the delivery", func() bool { return len(rcv.requests()) == 1 })
	got := rcv.requests()[0]
	t.Logf("delivered %v after the booking was answered", got.at.Sub(booked))
	if err := webhook.Verify(ep.Secret, got.header.Get("Vacancy-Signature"), got.body, 5*time.Minute); err != nil {
		t.Fatalf("the signature must verify with the endpoint's secret: %v (header %q)", err, got.header.Get("Vacancy-Signature"))
	}
	var e event
	if err := json.Unmarshal(got.body, &e); err != nil || e.Type != "booking.created" || e.dataID(t) != bk.ID {
		t.Fatalf("the body must be the booking.created event, got %s", got.body)
	}
	if got.header.Get("Vacancy-Event-Id") != e.ID || got.header.Get("Vacancy-Event-Type") != "booking.created" ||
		got.header.Get("Content-Type") != "application/json" {
		t.Fatalf("delivery headers: %v", got.header)
	}
	// The delivery can beat the feed: the feed holds an event back while any older
	// transaction on the database server still runs.
	var page struct{ Data []json.RawMessage }
	testenv.Eventually(t, 5*time.Second, "booking.created in the feed", func() bool {
		org.do("GET", "/events?types=booking.created", nil).Expect(200).JSON(&page)
		return len(page.Data) > 0
	})
	if len(page.Data) != 1 || !jsonEqual(t, page.Data[0], got.body) {
		t.Fatalf("the webhook body must be the event as the feed shows it:\nfeed: %s\nhook: %s", page.Data, got.body)
	}

	var ds []deliveryOut
	testenv.Eventually(t, 5*time.Second, "the delivery is logged as succeeded", func() bool {
		ds = org.deliveries(ep.ID)
		return len(ds) == 1 && ds[0].Status == "succeeded"
	})
	d := ds[0]
	if d.Attempts != 1 || d.LastStatusCode == nil || *d.LastStatusCode != 200 || d.DeliveredAt == nil || d.NextAttemptAt != nil ||
		d.EventID != e.ID || len(d.AttemptLog) != 1 || d.LastLatencyMs == nil {
		t.Fatalf("delivery log: %+v", d)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// TestWebhookRetriedAfterFailure: the receiver answers 500, then 200: the
// delivery is retried after the backoff and succeeds; the log shows both
// attempts. A manual retry sends it once more.
func TestWebhookRetriedAfterFailure(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, 500, 200)
	in := serve(t, testenv.DatabaseURL(t), with(webhooksAllowedLocally, "VACANCY_WEBHOOK_BACKOFF", "400ms"))
	org := newOrganisation(t, in, "acme")
	ep := org.createEndpoint(rcv.srv.URL, "item.created")
	org.createItem("Sea room")

	var ds []deliveryOut
	testenv.Eventually(t, 15*time.Second, "the delivery succeeds on its retry", func() bool {
		ds = org.deliveries(ep.ID)
		return len(ds) == 1 && ds[0].Status == "succeeded"
	})
	d := ds[0]
	if d.Attempts != 2 || len(d.AttemptLog) != 2 || *d.AttemptLog[0].StatusCode != 500 || *d.AttemptLog[1].StatusCode != 200 ||
		d.AttemptLog[0].Error == nil || !strings.Contains(*d.AttemptLog[0].Error, "500") {
		t.Fatalf("the log must show a 500 then a 200: %+v", d)
	}
	reqs := rcv.requests()
	if len(reqs) != 2 {
		t.Fatalf("the receiver must have been called twice, was %d times", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 200*time.Millisecond {
		t.Fatalf("the retry must wait at least half the 400ms backoff, waited %v", gap)
	}
	for _, r := range reqs {
		if err := webhook.Verify(ep.Secret, r.header.Get("Vacancy-Signature"), r.body, time.Minute); err != nil {
			t.Fatalf("every attempt is signed: %v", err)
		}
		if r.header.Get("Vacancy-Event-Id") != d.EventID {
			t.Fatal("a retry carries the same event id, for the receiver's deduplication")
		}
	}

	var retried deliveryOut
	org.do("POST", "/webhook-endpoints/"+ep.ID+"/deliveries/"+d.ID+"/retry", nil).Expect(202).JSON(&retried)
	if retried.Status != "pending" {
		t.Fatalf("a retried delivery is pending, got %+v", retried)
	}
	testenv.Eventually(t, 10*time.Second, "the manual retry is delivered", func() bool {
		ds = org.deliveries(ep.ID)
		return len(rcv.requests()) == 3 && ds[0].Status == "succeeded" && ds[0].Attempts == 3
	})
	if r := org.do("POST", "/webhook-endpoints/"+ep.ID+"/deliveries/"+"0190a000-0000-7000-8000-000000000000"+"/retry", nil); r.Status != 404 {
		t.Fatalf("retrying an unknown delivery is 404, got %d", r.Status)
	}
}

// TestWebhookEndpointDisabledAfterContinuousFailure: an endpoint that keeps
// failing for longer than VACANCY_WEBHOOK_DISABLE_AFTER is disabled, with a
// warning in the log; its delivery fails for good; enabling it again forgets
// the failures.
func TestWebhookEndpointDisabledAfterContinuousFailure(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, 503)
	url := testenv.DatabaseURL(t)
	db := pgtest.Superuser(t, url)
	in := serve(t, url, with(webhooksAllowedLocally, "VACANCY_WEBHOOK_BACKOFF", "100ms",
		"VACANCY_WEBHOOK_DISABLE_AFTER", "700ms", "VACANCY_WEBHOOK_MAX_ATTEMPTS", "30"))
	org := newOrganisation(t, in, "acme")
	ep := org.createEndpoint(rcv.srv.URL)
	org.createItem("Sea room")

	var cur endpointOut
	testenv.Eventually(t, 15*time.Second, "the endpoint is disabled", func() bool {
		org.do("GET", "/webhook-endpoints/"+ep.ID, nil).Expect(200).JSON(&cur)
		return !cur.Enabled
	})
	if cur.DisabledReason == nil || *cur.DisabledReason != "failing" || cur.FailingSince == nil || cur.Version != 2 {
		t.Fatalf("a disabled endpoint says why and since when: %+v", cur)
	}
	if !strings.Contains(in.logs.String(), "webhook endpoint disabled") || !strings.Contains(in.logs.String(), `"level":"WARN"`) {
		t.Fatal("disabling an endpoint must log a warning")
	}
	var ds []deliveryOut
	testenv.Eventually(t, 5*time.Second, "the delivery fails for good", func() bool {
		ds = org.deliveries(ep.ID)
		return len(ds) == 1 && ds[0].Status == "failed"
	})
	if ds[0].Attempts < 2 || ds[0].NextAttemptAt != nil {
		t.Fatalf("the delivery was retried until the endpoint was disabled: %+v", ds[0])
	}
	if r := org.do("POST", "/webhook-endpoints/"+ep.ID+"/deliveries/"+ds[0].ID+"/retry", nil); r.Status != 409 || r.ProblemCode() != "endpoint_disabled" {
		t.Fatalf("retrying a delivery of a disabled endpoint is 409 endpoint_disabled, got %d %s", r.Status, r.Body)
	}
	// The delivery's job reaching a final state is the signal that the decision
	// to stop is made: once no delivery job of the endpoint is left to run, no
	// attempt can follow, and the receiver must have had exactly the attempts
	// the delivery log records.
	testenv.Eventually(t, 10*time.Second, "no delivery job of the disabled endpoint is left to run", func() bool {
		return db.Int(t, `SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery'
			AND state NOT IN ('completed', 'cancelled', 'discarded')`) == 0
	})
	ds = org.deliveries(ep.ID)
	if got := len(rcv.requests()); len(ds) != 1 || got != ds[0].Attempts {
		t.Fatalf("a disabled endpoint gets no further attempts: the receiver got %d, the delivery log records %+v", got, ds)
	}
	org.do("PATCH", "/webhook-endpoints/"+ep.ID, map[string]any{"enabled": true}, apitest.IfMatch(`"2"`)).Expect(200).JSON(&cur)
	if !cur.Enabled || cur.DisabledReason != nil || cur.FailingSince != nil || cur.Version != 3 {
		t.Fatalf("enabling forgets the failure run: %+v", cur)
	}
}

// TestWebhookSSRFRefused: without VACANCY_WEBHOOK_ALLOW_PRIVATE, URLs that name
// or resolve to loopback, private or metadata addresses are refused with 422,
// and so is plain http without VACANCY_WEBHOOK_ALLOW_HTTP.
func TestWebhookSSRFRefused(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, 200)
	in := serve(t, testenv.DatabaseURL(t), map[string]string{"VACANCY_WEBHOOK_ALLOW_HTTP": "true"})
	strictHTTP := serve(t, testenv.DatabaseURL(t), nil)
	org := newOrganisation(t, in, "acme")
	cases := []struct{ url, code string }{
		{rcv.srv.URL + "/hook", "forbidden_address"},
		{"http://localhost:8080/hook", "forbidden_address"},
		{"http://169.254.169.254/latest/meta-data/", "forbidden_address"},
		{"http://[::1]/hook", "forbidden_address"},
		{"http://10.0.0.5/hook", "forbidden_address"},
		{"http://[::ffff:127.0.0.1]/hook", "forbidden_address"},
		{"http://no-such-host.invalid/hook", "unresolvable_host"},
		{"ftp://93.184.215.14/hook", "scheme_not_allowed"},
	}
	for _, c := range cases {
		r := org.do("POST", "/webhook-endpoints", map[string]any{"url": c.url})
		var p struct {
			Code   string
			Errors []struct{ Field, Code string }
		}
		r.JSON(&p)
		if r.Status != 422 || len(p.Errors) != 1 || p.Errors[0].Field != "url" || p.Errors[0].Code != c.code {
			t.Errorf("%s must be refused with 422 url/%s, got %d %s", c.url, c.code, r.Status, r.Body)
		}
	}
	strict := newOrganisation(t, strictHTTP, "strict")
	if r := strict.do("POST", "/webhook-endpoints", map[string]any{"url": "http://93.184.215.14/hook"}); r.Status != 422 ||
		!strings.Contains(string(r.Body), "scheme_not_allowed") {
		t.Fatalf("plain http is refused by default, got %d %s", r.Status, r.Body)
	}
	var page struct{ Data []endpointOut }
	org.do("GET", "/webhook-endpoints", nil).Expect(200).JSON(&page)
	if len(page.Data) != 0 {
		t.Fatalf("refused URLs must create nothing, found %d endpoints", len(page.Data))
	}
	// A public address is accepted, and changing it to an internal one is refused.
	ep := org.createEndpoint("https://93.184.215.14/hook")
	r := org.do("PATCH", "/webhook-endpoints/"+ep.ID, map[string]any{"url": rcv.srv.URL}, apitest.IfMatch(`"1"`))
	if r.Status != 422 || !strings.Contains(string(r.Body), "forbidden_address") {
		t.Fatalf("PATCHing the URL to a loopback address must be refused, got %d %s", r.Status, r.Body)
	}
	if len(rcv.requests()) != 0 {
		t.Fatal("the receiver must never have been called")
	}
}
