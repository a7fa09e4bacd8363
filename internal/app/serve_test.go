package app_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

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
	srv := serveEnv(t, map[string]string{"DATABASE_URL": env.URL, "VACANCY_RATE_LIMIT": "3/m"})
	items := srv.base + "/api/v3/organisations/limited/items"

	for i := range 3 {
		res, body := call(t, "GET", items, key, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i+1, res.StatusCode, body)
		}
		if got, want := res.Header.Get("RateLimit"), `"key";r=`+strconv.Itoa(2-i)+";t="; !strings.HasPrefix(got, want) {
			t.Errorf("request %d: RateLimit = %q, want it to start with %q", i+1, got, want)
		}
	}
	res, body := call(t, "GET", items, key, nil)
	if res.StatusCode != http.StatusTooManyRequests || problemCode(body) != "rate_limited" {
		t.Fatalf("the request after the burst must be a 429 rate_limited problem, got %d %s", res.StatusCode, body)
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
		if res, body := call(t, "GET", srv.base+"/readyz", "", nil); res.StatusCode != http.StatusOK {
			t.Fatalf("readyz under rate limiting: %d %s", res.StatusCode, body)
		}
	}
	// The organisation's other key has a bucket of its own.
	_, key2 := env.Organisation(t, "limited-too")
	if res, body := call(t, "GET", srv.base+"/api/v3/organisations/limited-too/items", key2, nil); res.StatusCode != http.StatusOK {
		t.Errorf("another key is not limited by the first one's traffic: %d %s", res.StatusCode, body)
	}
}

func TestBodyAndHeaderLimits(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	_, key := env.Organisation(t, "limits")
	srv := serveEnv(t, map[string]string{"DATABASE_URL": env.URL, "VACANCY_RATE_LIMIT": "off"})
	items := srv.base + "/api/v3/organisations/limits/items"

	big := append([]byte(`{"name":"`), bytes.Repeat([]byte("x"), 1<<20)...)
	big = append(big, `"}`...)
	res, body := call(t, "POST", items, key, big)
	if res.StatusCode != http.StatusRequestEntityTooLarge || problemCode(body) != "body_too_large" {
		t.Errorf("a body over 1 MiB must get 413 body_too_large, got %d %s", res.StatusCode, body)
	}
	res, body = call(t, "GET", items, key, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"data":[]`) {
		t.Errorf("the refused body must have created nothing: %d %s", res.StatusCode, body)
	}

	res, _ = call(t, "GET", items, key, nil, "X-Padding", strings.Repeat("p", 100<<10))
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB of headers must get 431, got %d", res.StatusCode)
	}
	if res, body := call(t, "GET", items, key, nil, "X-Padding", strings.Repeat("p", 8<<10)); res.StatusCode != http.StatusOK {
		t.Errorf("8 KiB of headers is fine: %d %s", res.StatusCode, body)
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	srv := serveEnv(t, map[string]string{"DATABASE_URL": env.URL})

	res, body := call(t, "GET", srv.base+"/readyz", "", nil)
	if res.StatusCode != http.StatusOK || field(t, body, "status") != "ready" {
		t.Fatalf("a migrated database must be ready: %d %s", res.StatusCode, body)
	}
	if res, body := call(t, "GET", srv.base+"/healthz", "", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d %s", res.StatusCode, body)
	}

	// All the way down, one migration at a time (their numbers need not be contiguous).
	for v, _, err := dbmigrate.Version(env.URL); err == nil && v > 0; v, _, err = dbmigrate.Version(env.URL) {
		if err := dbmigrate.Down(env.URL, 1); err != nil {
			t.Fatal(err)
		}
	}
	// A success is remembered for a second.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res, body = call(t, "GET", srv.base+"/readyz", "", nil); res.StatusCode != http.StatusOK || time.Now().After(deadline) {
			break
		}
	}
	if res.StatusCode != http.StatusServiceUnavailable || problemCode(body) != "schema_outdated" ||
		!strings.Contains(field(t, body, "detail"), "migrate up") {
		t.Errorf("a schema behind the binary must make readyz 503 schema_outdated with a hint, got %d %s", res.StatusCode, body)
	}
	if res, _ := call(t, "GET", srv.base+"/healthz", "", nil); res.StatusCode != http.StatusOK {
		t.Errorf("healthz only says the process is alive: %d", res.StatusCode)
	}

	if err := dbmigrate.Up(env.URL); err != nil {
		t.Fatal(err)
	}
	if res, body := call(t, "GET", srv.base+"/readyz", "", nil); res.StatusCode != http.StatusOK {
		t.Errorf("ready again once migrated: %d %s", res.StatusCode, body)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	_, key := env.Organisation(t, "cors")
	preflight := func(base, origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", base+"/api/v3/organisations/cors/items", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, idempotency-key")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}

	off := serveEnv(t, map[string]string{"DATABASE_URL": env.URL})
	if got := preflight(off.base, "https://app.example.com").Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("without VACANCY_CORS_ORIGINS no origin may be allowed, got %q", got)
	}

	on := serveEnv(t, map[string]string{"DATABASE_URL": env.URL, "VACANCY_CORS_ORIGINS": "https://app.example.com"})
	res := preflight(on.base, "https://app.example.com")
	if res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("a listed origin's preflight must be allowed: %d %v", res.StatusCode, res.Header)
	}
	if res.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("credentials must stay off (keys are sent as headers, not cookies)")
	}
	if got := preflight(on.base, "https://evil.example.net").Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("an unlisted origin must not be allowed, got %q", got)
	}
	res, body := call(t, "GET", on.base+"/api/v3/organisations/cors/items", key, nil, "Origin", "https://app.example.com")
	if res.StatusCode != http.StatusOK || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Ratelimit") {
		t.Errorf("a listed origin's request must be allowed with the API's headers exposed: %d %v %s", res.StatusCode, res.Header, body)
	}
}

func TestSecurityHeadersEverywhere(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	srv := serveEnv(t, map[string]string{"DATABASE_URL": env.URL})
	for _, path := range []string{"/healthz", "/readyz", "/nope", "/api/v3/organisations/x/items"} {
		res, _ := call(t, "GET", srv.base+path, "", nil)
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
			if got := res.Header.Get(h); got != want {
				t.Errorf("%s (%d): %s = %q, want %q", path, res.StatusCode, h, got, want)
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
