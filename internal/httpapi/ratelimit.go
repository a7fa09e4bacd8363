package httpapi

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is a token bucket: a bucket holds at most Burst requests and refills
// at Per requests per second. The zero value disables rate limiting.
type RateLimit struct {
	Per   rate.Limit // requests per second
	Burst int
	text  string // as configured, for messages
}

// Enabled reports whether requests are limited at all.
func (l RateLimit) Enabled() bool { return l.Per > 0 && l.Burst > 0 }

func (l RateLimit) String() string {
	if !l.Enabled() {
		return "off"
	}
	if l.text != "" {
		return l.text
	}
	return fmt.Sprintf("%g/s burst %d", float64(l.Per), l.Burst)
}

// window is how long an empty bucket takes to fill up again: the w of the
// RateLimit-Policy header, and how long an untouched bucket must be kept.
func (l RateLimit) window() time.Duration {
	return time.Duration(math.Ceil(float64(l.Burst)/float64(l.Per)*1e9)) * time.Nanosecond
}

// ParseRateLimit reads a limit such as "20/s burst 40": a number of requests per
// second, minute or hour (s, m, h), with an optional burst (default: that number).
// "off" disables limiting.
func ParseRateLimit(s string) (RateLimit, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return RateLimit{}, nil
	}
	bad := fmt.Errorf(`must look like "20/s burst 40" (requests per s, m or h; the burst is optional) or "off", not %q`, s)
	f := strings.Fields(s)
	if len(f) != 1 && (len(f) != 3 || f[1] != "burst") {
		return RateLimit{}, bad
	}
	count, unit, ok := strings.Cut(f[0], "/")
	n, err := strconv.Atoi(count)
	if !ok || err != nil || n < 1 || n > 1_000_000 {
		return RateLimit{}, bad
	}
	var per time.Duration
	switch unit {
	case "s":
		per = time.Second
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		return RateLimit{}, bad
	}
	burst := n
	if len(f) == 3 {
		burst, err = strconv.Atoi(f[2])
		if err != nil || burst < 1 || burst > 1_000_000 {
			return RateLimit{}, bad
		}
	}
	return RateLimit{Per: rate.Limit(float64(n) / per.Seconds()), Burst: burst, text: strings.Join(f, " ")}, nil
}

// ParseTrustedProxies reads a comma-separated list of IP addresses and CIDR
// prefixes (e.g. "10.0.0.0/8, 192.0.2.7"): the reverse proxies whose
// X-Forwarded-For is believed.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if strings.Contains(part, "/") {
			p, err := netip.ParsePrefix(part)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", part)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", part)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func trustedAddr(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the address a request came from. The TCP peer is the client unless
// it is a trusted proxy; then X-Forwarded-For is read from the right (the entry
// the trusted proxy appended) leftwards, skipping further trusted proxies, and
// the first address not trusted is the client. Entries left of it were written by
// the client itself and are never believed.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if len(trusted) == 0 || !trustedAddr(ip, trusted) {
		return ip
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		a, err := netip.ParseAddr(hop)
		if err != nil {
			ap, perr := netip.ParseAddrPort(hop)
			if perr != nil {
				return ip // garbage: the last trusted hop is the best we know
			}
			a = ap.Addr()
		}
		a = a.Unmap()
		if !trustedAddr(a, trusted) {
			return a
		}
		ip = a
	}
	return ip
}

// addrKey names an address's bucket. An IPv6 client usually holds a whole /64,
// so the /64 is counted as one client.
func addrKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}

// buckets holds one token bucket per API key or client address. Memory is
// bounded: a bucket untouched for a whole window is full again, so dropping it
// changes nothing and sweeps do; past max buckets (a flood of distinct
// addresses), arbitrary buckets are dropped, which at worst refills them early.
type buckets struct {
	limit RateLimit
	idle  time.Duration
	max   int
	now   func() time.Time

	mu        sync.Mutex
	m         map[string]*bucket
	lastSweep time.Time
}

// bucket is one token bucket. (golang.org/x/time/rate's Limiter cannot hand a
// spent token back, which charging the address up front needs.)
type bucket struct {
	seen time.Time // guarded by buckets.mu

	mu     sync.Mutex
	tokens float64
	last   time.Time // when tokens was computed
}

// refill brings tokens up to now; b.mu is held.
func (e *bucket) refill(now time.Time, l RateLimit) {
	if now.After(e.last) {
		e.tokens = min(float64(l.Burst), e.tokens+now.Sub(e.last).Seconds()*float64(l.Per))
		e.last = now
	}
}

// take spends a token if there is a whole one; it reports the tokens left.
func (e *bucket) take(now time.Time, l RateLimit) (bool, float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refill(now, l)
	if e.tokens < 1 {
		return false, e.tokens
	}
	e.tokens--
	return true, e.tokens
}

// give hands a token back.
func (e *bucket) give(now time.Time, l RateLimit) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refill(now, l)
	e.tokens = min(float64(l.Burst), e.tokens+1)
}

const maxBuckets = 100_000

func newBuckets(l RateLimit, now func() time.Time) *buckets {
	return &buckets{limit: l, idle: l.window() + time.Second, max: maxBuckets, now: now, m: make(map[string]*bucket)}
}

func (b *buckets) get(key string, now time.Time) *bucket {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.lastSweep) >= b.idle || len(b.m) >= b.max {
		b.sweep(now)
	}
	e, ok := b.m[key]
	if !ok {
		e = &bucket{tokens: float64(b.limit.Burst), last: now}
		b.m[key] = e
	}
	e.seen = now
	return e
}

// sweep drops full buckets, then arbitrary ones while over the cap. b.mu is held.
func (b *buckets) sweep(now time.Time) {
	b.lastSweep = now
	for k, e := range b.m {
		if now.Sub(e.seen) >= b.idle {
			delete(b.m, k)
		}
	}
	for k := range b.m { // map order is random
		if len(b.m) < b.max*9/10 {
			break
		}
		delete(b.m, k)
	}
}

func (b *buckets) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// reserve takes one token of key's bucket. It reports whether there was one,
// the tokens left, and how long until the next token when there was none. A
// granted token can be handed back with refund (a request that turns out to be
// counted elsewhere).
func (b *buckets) reserve(key string, now time.Time) (refund func(), ok bool, left float64, wait time.Duration) {
	e := b.get(key, now)
	ok, left = e.take(now, b.limit)
	if !ok {
		return nil, false, 0, b.untilToken(left)
	}
	return func() { e.give(b.now(), b.limit) }, true, left, 0
}

// take is reserve without the refund.
func (b *buckets) take(key string, now time.Time) (ok bool, left float64, wait time.Duration) {
	_, ok, left, wait = b.reserve(key, now)
	return ok, left, wait
}

// untilToken is how long a bucket holding tokens takes to hold a whole one.
func (b *buckets) untilToken(tokens float64) time.Duration {
	return time.Duration((1 - tokens) / float64(b.limit.Per) * float64(time.Second))
}

// addrCharge is the context key of the token a request's address paid up front.
type addrCharge struct{}

// rateLimit charges every request to its client address up front, before any
// database work: a token of the address's bucket, or 429. A request with an API
// key gets its token back only once the key has authenticated and its key and
// organisation buckets have paid instead (limitTenant). So a key's bucket is
// never charged for a request that did not prove the key (nobody who merely
// knows a key's public prefix can empty its bucket), failed authentications
// and refused keys cost the address, and guessing keys costs the guesser, not
// the database. Counting is per instance.
func (s *server) rateLimit(next http.Handler) http.Handler {
	if s.limits == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.limits.now()
		res, ok, left, wait := s.limits.reserve(addrKey(clientIP(r, s.trustedProxies)), now)
		if !ok {
			s.tooManyRequests(w, r, "ip", s.limits, wait)
			return
		}
		s.rateLimitHeaders(w.Header(), policy{"ip", s.limits.limit, left})
		if _, keyed := bearer(r); keyed {
			r = r.WithContext(context.WithValue(r.Context(), addrCharge{}, res))
		}
		next.ServeHTTP(w, r)
	})
}

// limitTenant runs after authentication: the request is counted against its API
// key and its organisation (however many keys the organisation has), and the
// token its address paid up front is handed back.
func (s *server) limitTenant(next http.Handler) http.Handler {
	if s.limits == nil && s.orgLimits == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc := scopeFrom(r)
		var policies []policy
		var taken []func()
		refuse := func(kind string, b *buckets, wait time.Duration) {
			for _, refund := range taken {
				refund()
			}
			s.tooManyRequests(w, r, kind, b, wait)
		}
		for _, c := range []struct {
			kind string
			b    *buckets
			key  string
		}{{"key", s.limits, "key:" + sc.ActorID.String()}, {"organisation", s.orgLimits, "org:" + sc.OrganisationID.String()}} {
			if c.b == nil {
				continue
			}
			res, ok, left, wait := c.b.reserve(c.key, c.b.now())
			if !ok {
				refuse(c.kind, c.b, wait)
				return
			}
			taken = append(taken, res)
			policies = append(policies, policy{c.kind, c.b.limit, left})
		}
		if refund, ok := r.Context().Value(addrCharge{}).(func()); ok {
			refund()
		}
		s.rateLimitHeaders(w.Header(), policies...)
		next.ServeHTTP(w, r)
	})
}

// policy is one bucket's state for the RateLimit fields.
type policy struct {
	kind  string
	limit RateLimit
	left  float64
}

// rateLimitHeaders writes the IETF RateLimit-Policy and RateLimit fields
// (draft-ietf-httpapi-ratelimit-headers), one item per bucket that counted the
// request: the quota q over w seconds (the burst, and the time an empty bucket
// takes to refill), the requests r left and the seconds t until the bucket is
// full again.
func (s *server) rateLimitHeaders(h http.Header, ps ...policy) {
	var pol, cur []string
	for _, p := range ps {
		l := p.limit
		full := time.Duration((float64(l.Burst) - p.left) / float64(l.Per) * float64(time.Second))
		pol = append(pol, fmt.Sprintf("%q;q=%d;w=%d", p.kind, l.Burst, ceilSeconds(l.window())))
		cur = append(cur, fmt.Sprintf("%q;r=%d;t=%d", p.kind, int(p.left), ceilSeconds(full)))
	}
	h.Set("RateLimit-Policy", strings.Join(pol, ", "))
	h.Set("RateLimit", strings.Join(cur, ", "))
}

func ceilSeconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}

func (s *server) tooManyRequests(w http.ResponseWriter, r *http.Request, kind string, b *buckets, wait time.Duration) {
	s.metrics.RateLimited(kind)
	s.rateLimitHeaders(w.Header(), policy{kind, b.limit, 0})
	retry := max(1, ceilSeconds(wait))
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	who := map[string]string{"ip": "this client address", "key": "this API key", "organisation": "this organisation"}[kind]
	writeProblem(w, r, newProblem(http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("too many requests from %s (limit %s); retry in %d s", who, b.limit, retry)))
}
