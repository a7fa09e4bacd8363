package app_test

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// blackHole accepts connections and never answers, counting how many are open
// at once: a webhook receiver that has stopped working.
type blackHole struct {
	ln        net.Listener
	open, max atomic.Int32
	mu        sync.Mutex
	conns     []net.Conn
}

func newBlackHole(t *testing.T) *blackHole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackHole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := b.open.Add(1)
			for m := b.max.Load(); n > m && !b.max.CompareAndSwap(m, n); m = b.max.Load() {
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			go func() {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						b.open.Add(-1)
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			c.Close()
		}
	})
	return b
}

func (b *blackHole) url() string { return "http://" + b.ln.Addr().String() + "/hook" }

// TestWebhookDeliveriesPerOrganisationAreCapped: an organisation whose
// endpoint hangs holds at most its quota of delivery workers
// (webhook_deliveries), and another organisation's deliveries go out at once.
func TestWebhookDeliveriesPerOrganisationAreCapped(t *testing.T) {
	t.Parallel()
	hole := newBlackHole(t)
	rcv := newReceiver(t, 200)
	in := serve(t, testenv.DatabaseURL(t), with(webhooksAllowedLocally, "VACANCY_QUOTAS", "webhook_deliveries=2",
		"VACANCY_WEBHOOK_TIMEOUT", "3s"))
	noisy := newOrganisation(t, in, "noisy")
	noisy.createEndpoint(hole.url())
	for i := range 6 {
		noisy.createItem("Room " + string(rune('a'+i)))
	}
	testenv.Eventually(t, 10*time.Second, "the black hole holds the organisation's two delivery slots", func() bool { return hole.open.Load() == 2 })

	quiet := newOrganisation(t, in, "quiet")
	quiet.createEndpoint(rcv.srv.URL)
	start := time.Now()
	quiet.createItem("Sea room")
	testenv.Eventually(t, 5*time.Second, "the other organisation's delivery arrives", func() bool { return len(rcv.requests()) == 1 })
	t.Logf("the other organisation's delivery arrived %v after its change", time.Since(start))
	time.Sleep(500 * time.Millisecond)
	if m := hole.max.Load(); m > 2 {
		t.Fatalf("the hanging endpoint got %d connections at once; its organisation may hold 2 delivery slots", m)
	}
}

// TestReadyzIsCachedAndKeepsDetailPrivate: anybody may probe /readyz, so a
// flood of probes costs at most about one database check a second (a success is
// remembered that long; concurrent probes share one check), and the public
// answer says only the reason: the schema's versions are for the metrics
// listener's /readyz.
func TestReadyzIsCachedAndKeepsDetailPrivate(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	srv := serve(t, env.URL, map[string]string{"VACANCY_METRICS_ADDR": "127.0.0.1:0", "VACANCY_WORKERS": "false"})
	c := srv.client(t)
	acquires := func() float64 {
		m, ok := sample(scrape(t, srv.metrics), "vacancy_db_pool_acquires_total", nil)
		if !ok {
			t.Fatal("no pool acquisitions metric")
		}
		return value(m)
	}
	before := acquires()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if res := c.Get("/readyz"); res.Status != http.StatusOK {
				t.Errorf("readyz: %d %s", res.Status, res.Body)
			}
		})
	}
	wg.Wait()
	if n := acquires() - before; n > 3 {
		t.Errorf("50 probes within a second took %v connections from the pool: each one ran its own check", n)
	}

	if testenv.Citus(t) {
		t.Skip("the rest not run on Citus: migrating down is refused on a distributed schema")
	}
	if err := dbmigrate.Down(env.URL, 1); err != nil {
		t.Fatal(err)
	}
	var res *apitest.Response
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res = c.Get("/readyz"); res.Status != http.StatusOK || time.Now().After(deadline) {
			break
		}
	}
	if res.Status != http.StatusServiceUnavailable || res.ProblemCode() != "schema_outdated" {
		t.Fatalf("a schema behind the binary: want 503 schema_outdated, got %d %s", res.Status, res.Body)
	}
	if d := res.Field("detail"); strings.Contains(d, "version") || strings.ContainsAny(d, "0123456789") {
		t.Errorf("the public /readyz must not report the schema's version: %q", d)
	}
	res = apitest.NewClient(t, srv.metrics).Unchecked("the metrics listener is not part of the API").Get("/readyz")
	if res.Status != http.StatusServiceUnavailable || !strings.Contains(res.Field("detail"), "version") {
		t.Errorf("the metrics listener's /readyz gives the detail: %d %s", res.Status, res.Body)
	}
}

// TestFairnessSettings: the settings of quotas, ports and HSTS parse, with
// their defaults, and a wrong value is refused naming its variable.
func TestFairnessSettings(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Quotas.APIKeys != 100 || cfg.Quotas.WebhookEndpoints != 10 || cfg.Events.WebhookConcurrency != 4 ||
		cfg.Streams.PerKey != 5 || cfg.Streams.PerOrganisation != 50 || cfg.Streams.PerInstance != 2000 ||
		cfg.OrgRateLimit.String() != "100/s burst 200" || cfg.HSTS != "" || cfg.Events.WebhookPorts != nil {
		t.Errorf("defaults: %+v %+v %+v %q %v", cfg.Quotas, cfg.Streams, cfg.OrgRateLimit, cfg.HSTS, cfg.Events.WebhookPorts)
	}
	cfg, err = loadConfig(map[string]string{"VACANCY_QUOTAS": "api_keys=3, streams=7", "VACANCY_WEBHOOK_PORTS": "443,8443",
		"VACANCY_HSTS": "max-age=63072000; includeSubDomains", "VACANCY_RATE_LIMIT": "off"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Quotas.APIKeys != 3 || cfg.Streams.PerInstance != 7 || cfg.Quotas.WebhookEndpoints != 10 ||
		len(cfg.Events.WebhookPorts) != 2 || cfg.HSTS != "max-age=63072000; includeSubDomains" || cfg.OrgRateLimit.Enabled() {
		t.Errorf("set: %+v %+v %v %q %v", cfg.Quotas, cfg.Streams, cfg.Events.WebhookPorts, cfg.HSTS, cfg.OrgRateLimit)
	}
	for name, value := range map[string]string{
		"VACANCY_QUOTAS":         "api_keys=lots",
		"VACANCY_WEBHOOK_PORTS":  "443,70000",
		"VACANCY_HSTS":           "forever",
		"VACANCY_ORG_RATE_LIMIT": "many",
	} {
		if _, err := loadConfig(map[string]string{name: value}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q must be refused naming it, got %v", name, value, err)
		}
	}
	if _, err := loadConfig(map[string]string{"VACANCY_QUOTAS": "keys=3"}); err == nil || !strings.Contains(err.Error(), "api_keys") {
		t.Errorf("an unknown quota must be refused, listing the known ones: %v", err)
	}
}

// TestStrictTransportSecurityWhenConfigured: HSTS is sent on every response
// when VACANCY_HSTS says so, and never otherwise (TLS usually ends at a proxy).
func TestStrictTransportSecurityWhenConfigured(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	plain := serve(t, env.URL, map[string]string{"VACANCY_WORKERS": "false"}).client(t)
	hsts := serve(t, env.URL, map[string]string{"VACANCY_WORKERS": "false", "VACANCY_HSTS": "max-age=31536000"}).client(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if res := plain.Get(path); res.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: no HSTS unless configured", path)
		}
		if res := hsts.Get(path); res.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
			t.Errorf("%s: HSTS must be sent when configured, got %q", path, res.Header.Get("Strict-Transport-Security"))
		}
	}
}
