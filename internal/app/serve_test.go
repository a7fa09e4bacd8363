package app_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

func item(name string) map[string]any {
	return map[string]any{"name": name, "capacity": 2, "nightly_price": 12000}
}

func stay(itemID string, inDays int) map[string]any {
	in := time.Now().UTC().AddDate(0, 0, inDays)
	return map[string]any{"item_id": itemID, "check_in": in.Format(time.DateOnly), "check_out": in.AddDate(0, 0, 2).Format(time.DateOnly)}
}

func TestRateLimitOverHTTP(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	_, key := env.Organisation(t, "limited")
	srv := serve(t, env.URL, map[string]string{"VACANCY_RATE_LIMIT": "3/m"})
	c := srv.client(t)
	const items = "/api/v3/organisations/limited/items"

	for i := range 3 {
		res := c.As(key).Get(items)
		if res.Status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i+1, res.Status, res.Body)
		}
		if got, want := res.Header.Get("RateLimit"), `"key";r=`+strconv.Itoa(2-i)+";t="; !strings.HasPrefix(got, want) {
			t.Errorf("request %d: RateLimit = %q, want it to start with %q", i+1, got, want)
		}
	}
	res := c.As(key).Get(items)
	if res.Status != http.StatusTooManyRequests || res.ProblemCode() != "rate_limited" {
		t.Fatalf("the request after the burst must be a 429 rate_limited problem, got %d %s", res.Status, res.Body)
	}
	if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 20 {
		t.Errorf("Retry-After must be the seconds until a token is back (20 at 3/min), got %q", res.Header.Get("Retry-After"))
	}
	if got := res.Header.Get("RateLimit-Policy"); got != `"key";q=3;w=60` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
	if got := res.Header.Get("RateLimit"); !strings.HasPrefix(got, `"key";r=0;t=`) {
		t.Errorf("RateLimit = %q", got)
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("a 429 carries the security headers too: %v", res.Header)
	}

	// Health probes are never limited: a load balancer must see the truth.
	for range 5 {
		if res := c.Get("/readyz"); res.Status != http.StatusOK {
			t.Fatalf("readyz under rate limiting: %d %s", res.Status, res.Body)
		}
	}
	// The organisation's other key has a bucket of its own.
	_, key2 := env.Organisation(t, "limited-too")
	if res := c.As(key2).Get("/api/v3/organisations/limited-too/items"); res.Status != http.StatusOK {
		t.Errorf("another key is not limited by the first one's traffic: %d %s", res.Status, res.Body)
	}
}

func TestBodyAndHeaderLimits(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	_, key := env.Organisation(t, "limits")
	srv := serve(t, env.URL, map[string]string{"VACANCY_RATE_LIMIT": "off"})
	c := srv.client(t).As(key)
	const items = "/api/v3/organisations/limits/items"

	big := append([]byte(`{"name":"`), bytes.Repeat([]byte("x"), 1<<20)...)
	big = append(big, `"}`...)
	res := c.Post(items, nil, apitest.RawBody("application/json", big), apitest.BreaksContract("a name of 1 MiB and no capacity or price"))
	if res.Status != http.StatusRequestEntityTooLarge || res.ProblemCode() != "body_too_large" {
		t.Errorf("a body over 1 MiB must get 413 body_too_large, got %d %s", res.Status, res.Body)
	}
	res = c.Get(items)
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"data":[]`) {
		t.Errorf("the refused body must have created nothing: %d %s", res.Status, res.Body)
	}

	res = c.Unchecked("a 431, which the contract does not list").Get(items, apitest.Header("X-Padding", strings.Repeat("p", 100<<10)))
	if res.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB of headers must get 431, got %d", res.Status)
	}
	if res := c.Get(items, apitest.Header("X-Padding", strings.Repeat("p", 8<<10)), apitest.BreaksContract("an undeclared header")); res.Status != http.StatusOK {
		t.Errorf("8 KiB of headers is fine: %d %s", res.Status, res.Body)
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	srv := serve(t, env.URL, nil)
	c := srv.client(t)

	res := c.Get("/readyz")
	if res.Status != http.StatusOK || res.Field("status") != "ready" {
		t.Fatalf("a migrated database must be ready: %d %s", res.Status, res.Body)
	}
	if res := c.Get("/healthz"); res.Status != http.StatusOK {
		t.Fatalf("healthz: %d %s", res.Status, res.Body)
	}

	if err := dbmigrate.To(env.URL, 0); err != nil {
		t.Fatal(err)
	}
	res = c.Get("/readyz")
	if res.Status != http.StatusServiceUnavailable || res.ProblemCode() != "schema_outdated" ||
		!strings.Contains(res.Field("detail"), "migrate up") {
		t.Errorf("a schema behind the binary must make readyz 503 schema_outdated with a hint, got %d %s", res.Status, res.Body)
	}
	if res := c.Get("/healthz"); res.Status != http.StatusOK {
		t.Errorf("healthz only says the process is alive: %d", res.Status)
	}

	if err := dbmigrate.Up(env.URL); err != nil {
		t.Fatal(err)
	}
	if res := c.Get("/readyz"); res.Status != http.StatusOK {
		t.Errorf("ready again once migrated: %d %s", res.Status, res.Body)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	_, key := env.Organisation(t, "cors")
	// CORS is the browser's protocol: the contract describes neither its
	// preflight (OPTIONS) nor its headers.
	const why = "CORS preflights and headers are not part of the contract"
	preflight := func(in *instance, origin string) *apitest.Response {
		res := in.client(t).Unchecked(why).Do(http.MethodOptions, "/api/v3/organisations/cors/items", nil,
			apitest.Header("Origin", origin), apitest.Header("Access-Control-Request-Method", "POST"),
			apitest.Header("Access-Control-Request-Headers", "authorization, content-type, idempotency-key"))
		if res.Status == 0 {
			t.FailNow() // the client has said why
		}
		return res
	}

	off := serve(t, env.URL, nil)
	if got := preflight(off, "https://app.example.com").Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("without VACANCY_CORS_ORIGINS no origin may be allowed, got %q", got)
	}

	on := serve(t, env.URL, map[string]string{"VACANCY_CORS_ORIGINS": "https://app.example.com"})
	res := preflight(on, "https://app.example.com")
	if res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("a listed origin's preflight must be allowed: %d %v", res.Status, res.Header)
	}
	if res.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("credentials must stay off (keys are sent as headers, not cookies)")
	}
	if got := preflight(on, "https://evil.example.net").Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("an unlisted origin must not be allowed, got %q", got)
	}
	res = on.client(t).Unchecked(why).As(key).Get("/api/v3/organisations/cors/items", apitest.Header("Origin", "https://app.example.com"))
	if res.Status != http.StatusOK || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Ratelimit") {
		t.Errorf("a listed origin's request must be allowed with the API's headers exposed: %d %v %s", res.Status, res.Header, res.Body)
	}
}

func TestSecurityHeadersEverywhere(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	srv := serve(t, env.URL, nil)
	c := srv.client(t)
	for _, tc := range []struct {
		path string
		c    *apitest.Client
		opts []apitest.Option
	}{
		{"/healthz", c, nil},
		{"/readyz", c, nil},
		{"/nope", c.Unchecked("a path the API does not have"), nil},
		{"/api/v3/organisations/x/items", c, []apitest.Option{apitest.BreaksContract("no API key")}},
	} {
		path, res := tc.path, tc.c.Get(tc.path, tc.opts...)
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
			if got := res.Header.Get(h); got != want {
				t.Errorf("%s (%d): %s = %q, want %q", path, res.Status, h, got, want)
			}
		}
		if res.Header.Get("X-Request-ID") == "" {
			t.Errorf("%s: no X-Request-ID", path)
		}
	}
}

func TestConfigRejectsBadOperationsSettings(t *testing.T) {
	t.Parallel()
	for name, value := range map[string]string{
		"VACANCY_RATE_LIMIT":                 "lots",
		"VACANCY_TRUSTED_PROXIES":            "the-proxy",
		"VACANCY_CORS_ORIGINS":               "app.example.com",
		"VACANCY_METRICS_ADDR":               "9090",
		"VACANCY_SHUTDOWN_DELAY":             "-1s",
		"VACANCY_LOG_LEVEL":                  "loud",
		"OTEL_EXPORTER_OTLP_PROTOCOL":        "grpc",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json",
	} {
		_, err := loadConfig(map[string]string{name: value})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q must be rejected with a message naming it, got %v", name, value, err)
		}
	}
	cfg, err := loadConfig(map[string]string{})
	if err != nil || cfg.RateLimit.String() != "20/s burst 40" || cfg.MetricsAddr != "" || cfg.Tracing || len(cfg.CORSOrigins) != 0 {
		t.Errorf("defaults: rate limit 20/s burst 40, no metrics listener, no tracing, no CORS; got %+v, %v", cfg.Operations, err)
	}
}
