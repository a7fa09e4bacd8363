package app_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// scrape reads the metrics listener.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	res := apitest.NewClient(t, base).Unchecked("the metrics listener is not part of the API").Get("/metrics")
	if res.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", res.Status, res.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(res.Body))
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return fams
}

// sample finds the series of family name whose labels include want; ok is
// false when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (*dto.Metric, bool) {
	f, ok := fams[name]
	if !ok {
		return nil, false
	}
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m, true
	}
	return nil, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return -1
}

func TestMetricsAfterTraffic(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	_, key := env.Organisation(t, "metered")
	srv := serve(t, env.URL, map[string]string{"VACANCY_METRICS_ADDR": "127.0.0.1:0",
		"VACANCY_DB_MAX_CONNS": "7", "VACANCY_RATE_LIMIT": "1/m burst 4"})
	if srv.metrics == "" {
		t.Fatal("the serving log line must name the metrics listener")
	}
	c := srv.client(t).As(key)
	const items = "/api/v3/organisations/metered/items"

	res := c.Post(items, item("Loft"), apitest.IdempotencyKey("create-loft"))
	if res.Status != http.StatusCreated {
		t.Fatalf("create item: %d %s", res.Status, res.Body)
	}
	res = c.Post(items, item("Loft"), apitest.IdempotencyKey("create-loft"))
	if res.Status != http.StatusCreated || !res.Replayed() {
		t.Fatalf("retry must be replayed: %d %s", res.Status, res.Body)
	}
	if res := c.Get(items+"/not-an-id", apitest.BreaksContract("an item id that is not a uuid")); res.Status != http.StatusNotFound {
		t.Fatalf("missing item: %d", res.Status)
	}
	c.Get(items)
	if res := c.Get(items); res.Status != http.StatusTooManyRequests {
		t.Fatalf("the fifth request must be rate limited, got %d", res.Status)
	}

	fams := scrape(t, srv.metrics)
	route := "/api/v3/organisations/{org}/items"
	checks := []struct {
		name   string
		labels map[string]string
		want   func(float64) bool
		what   string
	}{
		{"vacancy_http_requests_total", map[string]string{"route": route, "method": "POST", "status": "201"}, eq(2), "two POSTs answered 201"},
		{"vacancy_http_requests_total", map[string]string{"route": route + "/{itemID}", "method": "GET", "status": "404"}, eq(1), "one 404 by route pattern"},
		{"vacancy_http_request_duration_seconds", map[string]string{"route": route, "method": "POST"}, eq(2), "a duration per POST"},
		{"vacancy_commands_total", map[string]string{"type": "item.create", "outcome": "ok"}, eq(1), "the command ran once"},
		{"vacancy_command_duration_seconds", map[string]string{"type": "item.create"}, eq(1), "its duration"},
		{"vacancy_idempotent_replays_total", map[string]string{"route": route}, eq(1), "one replay"},
		{"vacancy_rate_limited_requests_total", map[string]string{"limit": "key"}, eq(1), "one 429 by key"},
		{"vacancy_db_pool_max_connections", nil, eq(7), "the configured pool size"},
		{"vacancy_db_pool_acquires_total", nil, gt(0), "connections were acquired"},
		{"vacancy_db_pool_total_connections", nil, gt(0), "connections are open"},
		{"go_goroutines", nil, gt(0), "Go runtime metrics"},
	}
	for _, c := range checks {
		m, ok := sample(fams, c.name, c.labels)
		if !ok {
			t.Errorf("%s%v missing (%s)", c.name, c.labels, c.what)
			continue
		}
		if v := value(m); !c.want(v) {
			t.Errorf("%s%v = %v: want %s", c.name, c.labels, v, c.what)
		}
	}
	// The job queue's counts are read at every scrape (River runs in this
	// instance); a failing read would count here instead of exporting zeros.
	if m, ok := sample(fams, "vacancy_jobs_scrape_errors_total", nil); !ok || value(m) != 0 {
		t.Errorf("the job counts must be registered and readable by the app role, got %v, %v", m, ok)
	}

	if res := srv.client(t).Unchecked("a path the API does not have").Get("/metrics"); res.Status != http.StatusNotFound {
		t.Errorf("metrics must not be served on the public listener, got %d", res.Status)
	}
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
func gt(min float64) func(float64) bool  { return func(v float64) bool { return v > min } }

func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	const platform = "vac_platform_test_token_0123456789abcdef"
	const marker = "Zebedee-Private-Guest-Note-4711"
	srv := serve(t, env.URL, map[string]string{"VACANCY_PLATFORM_TOKEN": platform, "VACANCY_RATE_LIMIT": "off"})
	c := srv.client(t)

	res := c.As(platform).Post("/api/v3/organisations", map[string]any{"slug": "quiet", "name": "Quiet Stays"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create organisation: %d %s", res.Status, res.Body)
	}
	var org struct {
		ID     string                   `json:"id"`
		APIKey struct{ ID, Key string } `json:"api_key"`
	}
	res.JSON(&org)
	admin := org.APIKey.Key
	if !strings.HasPrefix(admin, "vac_live_") {
		t.Fatalf("no admin key in %s", res.Body)
	}
	const base = "/api/v3/organisations/quiet"

	res = c.As(admin).Post(base+"/api-keys", map[string]any{"name": "writer", "role": "write"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create key: %d %s", res.Status, res.Body)
	}
	writer := res.Field("key")
	res = c.As(admin).Post(base+"/items", item("Harbour Room"))
	if res.Status != http.StatusCreated {
		t.Fatalf("create item: %d %s", res.Status, res.Body)
	}
	itemID := res.Field("id")
	booking := map[string]any{"guest": map[string]any{"name": "Ada Guest", "email": "ada@example.com"},
		"items": []any{stay(itemID, 40)}, "notes": marker}
	res = c.As(writer).Post(base+"/bookings", booking)
	if res.Status != http.StatusCreated {
		t.Fatalf("create booking: %d %s", res.Status, res.Body)
	}
	wrong := "vac_live_" + strings.Repeat("q", 48)
	if res := c.As(wrong).Get(base + "/items"); res.Status != http.StatusUnauthorized {
		t.Fatalf("unknown key: %d", res.Status)
	}
	if res := c.As(admin).Post(base+"/items", nil, apitest.RawBody("application/json", []byte(`{"name": "`+marker+`", "capacity": "two"}`)),
		apitest.BreaksContract("a capacity that is not a number")); res.Status != http.StatusBadRequest {
		t.Fatalf("malformed body: %d", res.Status)
	}
	srv.stop()

	logs := srv.logs.String()
	for what, secret := range map[string]string{"admin key": admin, "write key": writer, "unknown key": wrong,
		"platform token": platform, "request body": marker, "guest e-mail": "ada@example.com"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain the %s", what)
		}
	}
	for _, word := range []string{"Authorization", "Bearer", "vac_live_"} {
		if strings.Contains(logs, word) {
			t.Errorf("the logs mention %q", word)
		}
	}

	// And they do say what happened, so the checks above are not vacuous.
	var sawBooking, sawCommand bool
	for _, l := range srv.logs.Lines(t) {
		if l["msg"] == "request" && l["route"] == "/api/v3/organisations/{org}/bookings" && l["status"] == float64(201) {
			sawBooking = l["organisation_id"] == org.ID && l["api_key_id"] != "" && l["request_id"] != "" && l["duration_ms"].(float64) > 0
		}
		if l["msg"] == "command" && l["command_type"] == "booking.create" && l["outcome"] == "ok" && l["command_id"] != "" {
			sawCommand = true
		}
	}
	if !sawBooking || !sawCommand {
		t.Errorf("the logs must hold the booking request (with organisation, key id, request id, duration_ms) and its command line:\n%s", logs)
	}
}
