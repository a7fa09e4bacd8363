package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
)

func TestParseRateLimit(t *testing.T) {
	t.Parallel()
	good := []struct {
		in    string
		per   rate.Limit
		burst int
	}{
		{"20/s burst 40", 20, 40},
		{"20/s", 20, 20},
		{" 120/m  burst 10 ", 2, 10},
		{"3600/h", 1, 3600},
	}
	for _, c := range good {
		l, err := ParseRateLimit(c.in)
		if err != nil || l.Per != c.per || l.Burst != c.burst || !l.Enabled() {
			t.Errorf("ParseRateLimit(%q) = %v/s burst %d, %v; want %v/s burst %d", c.in, l.Per, l.Burst, err, c.per, c.burst)
		}
	}
	if l, err := ParseRateLimit("off"); err != nil || l.Enabled() {
		t.Errorf(`"off" must disable limiting, got %+v, %v`, l, err)
	}
	for _, in := range []string{"", "20", "20/d", "0/s", "-1/s", "x/s", "20/s burst", "20/s burst 0", "20/s bust 40", "20/s burst 4 extra"} {
		if _, err := ParseRateLimit(in); err == nil || !strings.Contains(err.Error(), "20/s burst 40") {
			t.Errorf("ParseRateLimit(%q) must fail with an example of the format, got %v", in, err)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, in := range []string{"10.0.0.0/33", "proxy.example.com", "10.0.0"} {
		if _, err := ParseTrustedProxies(in); err == nil {
			t.Errorf("%q must be rejected", in)
		}
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted, _ := ParseTrustedProxies("10.0.0.0/8")
	cases := []struct {
		name    string
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies trusted: the peer, whatever the header says", "203.0.113.9:5000", []string{"198.51.100.1"}, nil, "203.0.113.9"},
		{"untrusted peer: its header is ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, trusted, "203.0.113.9"},
		{"trusted peer: the address it appended", "10.1.2.3:5000", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"a client cannot spoof by prepending", "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"chains of trusted proxies are skipped", "10.1.2.3:5000", []string{"1.1.1.1, 198.51.100.1", "10.9.9.9"}, trusted, "198.51.100.1"},
		{"all hops trusted: the leftmost", "10.1.2.3:5000", []string{"10.4.4.4, 10.9.9.9"}, trusted, "10.4.4.4"},
		{"garbage stops the walk at the last trusted hop", "10.1.2.3:5000", []string{"198.51.100.1, not-an-ip, 10.9.9.9"}, trusted, "10.9.9.9"},
		{"trusted peer without the header", "10.1.2.3:5000", nil, trusted, "10.1.2.3"},
		{"IPv4-mapped IPv6 peer", "[::ffff:203.0.113.9]:5000", nil, nil, "203.0.113.9"},
		{"hop with a port", "10.1.2.3:5000", []string{"[2001:db8::7]:443"}, trusted, "2001:db8::7"},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientIP(r, c.trusted).String(); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
	a := netip.MustParseAddr("2001:db8:1:2:3:4:5:6")
	b := netip.MustParseAddr("2001:db8:1:2:ffff::1")
	if addrKey(a) != addrKey(b) {
		t.Errorf("addresses of one IPv6 /64 must share a bucket: %s vs %s", addrKey(a), addrKey(b))
	}
}

// fakeClock is a settable clock for buckets.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

type countingMetrics struct {
	noMetrics
	limited map[string]int
}

func (m *countingMetrics) RateLimited(limit string) { m.limited[limit]++ }

// limitedServer is the rate limiting of the API around a handler that answers
// 200, with an authentication that refuses keys ending in "bad", puts every
// other key in the organisation named by its X-Org header, and lets requests
// without a key through (as the platform's route does).
func limitedServer(t *testing.T, limit string, orgLimit ...string) (http.Handler, *fakeClock, *countingMetrics) {
	t.Helper()
	l, err := ParseRateLimit(limit)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	m := &countingMetrics{limited: map[string]int{}}
	s := &server{log: slog.New(slog.DiscardHandler), limits: newBuckets(l, clock.now), metrics: m}
	if len(orgLimit) > 0 {
		ol, err := ParseRateLimit(orgLimit[0])
		if err != nil {
			t.Fatal(err)
		}
		s.orgLimits = newBuckets(ol, clock.now)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	authenticate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, keyed := bearer(r)
			if !keyed {
				ok(w, r)
				return
			}
			if strings.HasSuffix(tok, "bad") {
				unauthorized(w, r)
				return
			}
			sc := scope.Scope{ActorID: uuid.NewSHA1(uuid.Nil, []byte(tok)), OrganisationID: uuid.NewSHA1(uuid.Nil, []byte(r.Header.Get("X-Org")))}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey, tenancy.Principal{Scope: sc})))
		})
	}
	return s.rateLimit(authenticate(s.limitTenant(ok))), clock, m
}

func key(c byte) string { return "vac_live_" + strings.Repeat(string(c), 48) }

func badKey(c byte) string { return "vac_live_" + strings.Repeat(string(c), 45) + "bad" }

func send(h http.Handler, addr, bearer string, org ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/api/v3/organisations/acme/items", nil)
	r.RemoteAddr = addr
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	if len(org) > 0 {
		r.Header.Set("X-Org", org[0])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	h, clock, m := limitedServer(t, "2/s burst 3")
	for i, wantLeft := range []string{"2", "1", "0"} {
		w := send(h, "192.0.2.1:1000", key('a'))
		if w.Code != http.StatusOK {
			t.Fatalf("request %d within the burst: status %d", i+1, w.Code)
		}
		if got, want := w.Header().Get("RateLimit-Policy"), `"key";q=3;w=2`; got != want {
			t.Errorf("RateLimit-Policy = %q, want %q", got, want)
		}
		if got := w.Header().Get("RateLimit"); !strings.HasPrefix(got, `"key";r=`+wantLeft+";t=") {
			t.Errorf("request %d: RateLimit = %q, want r=%s", i+1, got, wantLeft)
		}
	}

	w := send(h, "192.0.2.1:1000", key('a'))
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("the request after the burst must get 429, got %d", w.Code)
	}
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1 (a token every 0.5 s, rounded up)", got)
	}
	if got := w.Header().Get("RateLimit"); got != `"key";r=0;t=2` {
		t.Errorf("RateLimit on 429 = %q", got)
	}
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Code != "rate_limited" || p.Status != 429 {
		t.Errorf("429 body must be a rate_limited problem, got %s (%v)", w.Body, err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if m.limited["key"] != 1 {
		t.Errorf("rate-limited metric by key = %d, want 1", m.limited["key"])
	}

	if w := send(h, "192.0.2.1:1000", key('b')); w.Code != http.StatusOK {
		t.Errorf("another key from the same address has its own bucket: got %d", w.Code)
	}
	clock.advance(500 * time.Millisecond)
	if w := send(h, "192.0.2.1:1000", key('a')); w.Code != http.StatusOK {
		t.Errorf("after 0.5 s one token is back: got %d", w.Code)
	}
	if w := send(h, "192.0.2.1:1000", key('a')); w.Code != http.StatusTooManyRequests {
		t.Errorf("and only one: got %d", w.Code)
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	t.Parallel()
	h, _, m := limitedServer(t, "1/m burst 2")
	for range 2 {
		if w := send(h, "198.51.100.5:1", ""); w.Code != http.StatusOK {
			t.Fatalf("within the burst: %d", w.Code)
		}
	}
	w := send(h, "198.51.100.5:2", "")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("an unauthenticated address over its limit must get 429, got %d", w.Code)
	}
	if got := w.Header().Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After = %q, want 60 (one token a minute)", got)
	}
	if got := w.Header().Get("RateLimit-Policy"); got != `"ip";q=2;w=120` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
	if w := send(h, "198.51.100.6:1", ""); w.Code != http.StatusOK {
		t.Errorf("another address is not affected: %d", w.Code)
	}
	if w := send(h, "198.51.100.5:3", key('c')); w.Code != http.StatusTooManyRequests {
		t.Errorf("an address over its limit is refused even with a key (key guessing costs the guesser): %d", w.Code)
	}
	if m.limited["ip"] != 2 {
		t.Errorf("rate-limited metric by ip = %d, want 2", m.limited["ip"])
	}
}

func TestFailedKeysCountAgainstTheAddress(t *testing.T) {
	t.Parallel()
	h, _, _ := limitedServer(t, "1/m burst 3")
	// Every guess uses a fresh key, so per-key buckets never fill up.
	for i := range 3 {
		if w := send(h, "203.0.113.7:1", badKey(byte('d'+i))); w.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: want 401, got %d", i+1, w.Code)
		}
	}
	w := send(h, "203.0.113.7:1", badKey('x'))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("RateLimit-Policy") != `"ip";q=3;w=180` {
		t.Errorf("after a burst of failed keys the address must be limited: %d %q", w.Code, w.Header().Get("RateLimit-Policy"))
	}
	if w := send(h, "203.0.113.8:1", key('e')); w.Code != http.StatusOK {
		t.Errorf("other addresses are unaffected: %d", w.Code)
	}
}

// TestJunkSecretsCannotEmptyAKey: the key's bucket is charged only once the
// key has authenticated, so requests that carry a key's public prefix with a
// wrong secret cost their sender's address, never the key.
func TestJunkSecretsCannotEmptyAKey(t *testing.T) {
	t.Parallel()
	h, _, _ := limitedServer(t, "1/m burst 3")
	victim := key('v')
	junk := victim[:len(victim)-3] + "bad" // the same public prefix, another secret
	for i := range 10 {
		if w := send(h, fmt.Sprintf("203.0.113.%d:1", 10+i), junk); w.Code != http.StatusUnauthorized {
			t.Fatalf("junk secret %d: want 401, got %d", i+1, w.Code)
		}
	}
	for i := range 3 {
		if w := send(h, "192.0.2.50:1", victim); w.Code != http.StatusOK {
			t.Fatalf("the key's own request %d after 10 junk secrets with its prefix must pass, got %d", i+1, w.Code)
		}
	}
}

// TestServedRequestsAreCountedOnceAndRefusedOnesCostTheAddress: the address
// pays up front and is paid back when the key and its organisation pay, so
// several keys behind one address are limited per key, not as one client;
// a request its key refuses keeps the address's token.
func TestServedRequestsAreCountedOnceAndRefusedOnesCostTheAddress(t *testing.T) {
	t.Parallel()
	h, _, m := limitedServer(t, "1/m burst 3")
	for _, k := range []byte("abc") {
		for i := range 3 {
			if w := send(h, "192.0.2.9:1", key(k)); w.Code != http.StatusOK {
				t.Fatalf("key %c request %d from a shared address: want 200, got %d", k, i+1, w.Code)
			}
		}
	}
	for i := range 3 {
		w := send(h, "192.0.2.9:1", key('a'))
		if w.Code != http.StatusTooManyRequests || !strings.HasPrefix(w.Header().Get("RateLimit-Policy"), `"key"`) {
			t.Fatalf("refusal %d must come from the key: %d %q", i+1, w.Code, w.Header().Get("RateLimit-Policy"))
		}
	}
	w := send(h, "192.0.2.9:1", key('d'))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("RateLimit-Policy") != `"ip";q=3;w=180` {
		t.Errorf("three refused requests have emptied the address: %d %q", w.Code, w.Header().Get("RateLimit-Policy"))
	}
	if m.limited["key"] != 3 || m.limited["ip"] != 1 {
		t.Errorf("rate-limited metric: %v", m.limited)
	}
}

// TestOrganisationLimitAcrossKeys: however many keys an organisation has, their
// requests together stay within the organisation's limit.
func TestOrganisationLimitAcrossKeys(t *testing.T) {
	t.Parallel()
	h, _, m := limitedServer(t, "100/s burst 100", "1/m burst 4")
	for i := range 4 {
		w := send(h, "192.0.2.1:1", key(byte('a'+i)), "acme")
		if w.Code != http.StatusOK {
			t.Fatalf("request %d with a fresh key: want 200, got %d", i+1, w.Code)
		}
		if got := w.Header().Get("RateLimit-Policy"); got != `"key";q=100;w=1, "organisation";q=4;w=240` {
			t.Errorf("RateLimit-Policy = %q", got)
		}
	}
	w := send(h, "192.0.2.1:1", key('z'), "acme")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("a fifth key of the organisation must be refused, got %d", w.Code)
	}
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Code != "rate_limited" || !strings.Contains(p.Detail, "organisation") {
		t.Errorf("429 body must be a rate_limited problem naming the organisation, got %s", w.Body)
	}
	if w := send(h, "192.0.2.1:1", key('z'), "globex"); w.Code != http.StatusOK {
		t.Errorf("another organisation is unaffected: %d", w.Code)
	}
	if w := send(h, "192.0.2.1:1", key('y'), "acme"); w.Code != http.StatusTooManyRequests {
		t.Errorf("the refused request must not have charged the key either way; the organisation stays empty: %d", w.Code)
	}
	if m.limited["organisation"] != 2 {
		t.Errorf("rate-limited metric by organisation = %d, want 2", m.limited["organisation"])
	}
}

func TestBucketsStayBounded(t *testing.T) {
	t.Parallel()
	l, _ := ParseRateLimit("10/s burst 10")
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	b := newBuckets(l, clock.now)
	b.max = 1000
	for i := range 5000 {
		b.take(fmt.Sprintf("ip:%d", i), clock.now())
	}
	if n := b.len(); n > b.max {
		t.Errorf("a flood of distinct clients must not grow past %d buckets, have %d", b.max, n)
	}

	// An idle bucket is full again, so dropping it is exact.
	b2 := newBuckets(l, clock.now)
	for range 10 {
		b2.take("key:a", clock.now())
	}
	if ok, _, _ := b2.take("key:a", clock.now()); ok {
		t.Fatal("bucket should be empty")
	}
	clock.advance(b2.idle)
	b2.take("key:other", clock.now()) // triggers the sweep
	if n := b2.len(); n != 1 {
		t.Errorf("idle buckets must be swept: %d left, want 1", n)
	}
	for i := range 10 {
		if ok, _, _ := b2.take("key:a", clock.now()); !ok {
			t.Fatalf("a swept bucket must come back full: request %d refused", i+1)
		}
	}
}

func BenchmarkRateLimit(b *testing.B) {
	l, _ := ParseRateLimit("1000000/s burst 1000000")
	s := &server{log: slog.New(slog.DiscardHandler), limits: newBuckets(l, time.Now), orgLimits: newBuckets(l, time.Now), metrics: noMetrics{}}
	p := tenancy.Principal{Scope: scope.Scope{ActorID: uuid.New(), OrganisationID: uuid.New()}}
	h := s.rateLimit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.limitTenant(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w,
			r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	}))
	r := httptest.NewRequest(http.MethodGet, "/api/v3/organisations/acme/items", nil)
	r.RemoteAddr = "192.0.2.1:1000"
	r.Header.Set("Authorization", "Bearer "+key('a'))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
