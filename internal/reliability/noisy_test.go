package reliability_test

// The noisy neighbour: one organisation floods a real `api serve` (run in this
// process with its production limits, quotas and delivery workers) while
// another books and reads.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/app"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// TestNoisyNeighbour: organisation A floods the server while organisation B
// books and reads at a steady, modest rate within its limits. A, for
// floodFor:
//   - holds every event stream its quota allows (50 over 11 keys, the rest
//     refused with 429 too_many_streams), and does not read them;
//   - runs 24 clients without pause, far beyond its rate limits (20/s per key,
//     5/s burst 100 for the organisation: a twentieth of the default rate, so
//     that the flood outruns it on a slow, loaded CI machine too, where the
//     server answered A only 10 to 33 requests a second and, at the default
//     100/s and later at 25/s and 10/s, refused none: the load it let through
//     pushed B's p99 to 2.06 and 2.48 s): bookings, items, list scans
//     with rare filters (status=cancelled and an item, from a far date);
//   - has its 10 webhook endpoints (the quota; the 11th is refused) at a black
//     hole that accepts connections and never answers, so every attempt holds a
//     delivery worker for the whole 10 s timeout.
//
// B's requests (~3.3 a second, within its own organisation limit) must all
// succeed (2xx), with a p99 latency under 3 s, and each of B's bookings must
// reach B's webhook receiver within 10 s. A must get work done, and be let
// through no more than its organisation's bucket allows; the rest of A's
// requests get 429, and at most 1 in 20 of those let through may get 503
// (past the request deadline on an overloaded machine).
//
// Measured on a 2-core machine (go test -race -count=1, 2026-12-02, at 5/s
// burst 100): alone, A got 86 answers in 12 s and ~1,400 429s a second; B's 38
// requests p50 87 ms, p99 (= max at this count) 618 ms, its webhooks p50 0.34
// s, at most 2.3 s. The whole package beside three busy loops: A 87 answers,
// ~170 429s a second; B p50 477 ms, p99 1.51 s; webhooks p50 1.8 s, at most
// 4.7 s. The black hole held 4 connections (the webhook_deliveries quota).
// Peak RSS of the test binary, server included: ~215 MB.
//
// Not parallel: it measures latency, and the other tests of this package
// would add their own load to A's.
func TestNoisyNeighbour(t *testing.T) {
	const (
		floodFor     = 12 * time.Second
		maxB99       = 3 * time.Second
		maxBWebhook  = 10 * time.Second
		aClients     = 24
		bClients     = 2
		bInterval    = 600 * time.Millisecond // per B client: ~3.3 requests/s in all, within B's organisation limit (orgRate)
		orgRate      = 5                      // VACANCY_ORG_RATE_LIMIT, per second, burst orgBurst
		orgBurst     = 100
		endpointsCap = 10 // webhook_endpoints
	)
	loopbackAliases(t)
	env := testenv.New(t)
	a, b := newTenant(t, env, "noisy"), newTenant(t, env, "quiet")
	var aItems, bItems []uuid.UUID
	for i := range 5 {
		aItems = append(aItems, addItem(t, env.Service, a.sc, fmt.Sprintf("Noisy room %d", i)))
	}
	for i := range bClients {
		bItems = append(bItems, addItem(t, env.Service, b.sc, fmt.Sprintf("Quiet room %d", i)))
	}

	hole := newBlackHole(t)
	rcv := newArrivals(t)
	base := serveInProcess(t, map[string]string{
		"DATABASE_URL":                  env.URL,
		"VACANCY_WEBHOOK_ALLOW_PRIVATE": "true", // the receivers are on 127.0.0.1
		"VACANCY_WEBHOOK_ALLOW_HTTP":    "true",
		"VACANCY_ORG_RATE_LIMIT":        fmt.Sprintf("%d/s burst %d", orgRate, orgBurst), // see above; the burst covers A's 76 setup requests
	})

	// Each organisation's clients share one transport. Their connections come
	// from different loopback addresses: A's refusals drain the buckets of the
	// addresses they come from, and from one address A would lock itself out
	// after a moment and flood no more. A spreads over as many addresses as it
	// has clients, and so keeps its organisation's limit busy.
	var aDials atomic.Uint32
	aDial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		n := aDials.Add(1)%aClients + 1
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(n))}, Timeout: 5 * time.Second}
		return d.DialContext(ctx, network, addr)
	}
	ca := apitest.NewClient(t, base).As(a.key).Unchecked("load: the test measures and checks answers itself").
		Using(&http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: aClients, DialContext: aDial}})
	bDialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	cb := apitest.NewClient(t, base).As(b.key).Unchecked("load: the test measures and checks answers itself").
		Using(&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: bClients, DialContext: bDialer.DialContext}})
	aOrg, bOrg := "/api/v3/organisations/"+a.slug, "/api/v3/organisations/"+b.slug

	// A: endpoints at the black hole, up to the quota; B: one at its receiver.
	for i := range endpointsCap + 1 {
		res := ca.Post(aOrg+"/webhook-endpoints", map[string]any{"url": hole.url(i), "description": "black hole"})
		if i < endpointsCap {
			res.Expect(http.StatusCreated)
		} else {
			res.Problem(http.StatusConflict, "webhook_endpoint_limit_reached")
		}
	}
	cb.Post(bOrg+"/webhook-endpoints", map[string]any{"url": rcv.srv.URL + "/hook", "description": "B's receiver",
		"event_types": []string{"booking.created"}}).Expect(http.StatusCreated)

	// A: streams up to its cap over 11 keys, never read.
	aKeys := []string{a.key}
	for range 10 {
		var k struct{ Key string }
		ca.Post(aOrg+"/api-keys", map[string]any{"name": "reader", "role": "read"}).Expect(http.StatusCreated).JSON(&k)
		aKeys = append(aKeys, k.Key)
	}
	streams := map[int]int{}
	for _, k := range aKeys {
		for range 5 {
			s := ca.As(k).Stream(aOrg + "/events/stream")
			streams[s.Status]++
			if s.Status == http.StatusTooManyRequests && s.ProblemCode() != "too_many_streams" {
				t.Errorf("a stream past the cap: want 429 too_many_streams, got %s", s.Body)
			}
		}
	}
	if streams[http.StatusOK] != 50 || streams[http.StatusTooManyRequests] != 5 {
		t.Errorf("A's 55 stream attempts: want 50 open and 5 refused, got %v", streams)
	}

	ctx, cancel := context.WithTimeout(t.Context(), floodFor)
	defer cancel()
	var wg sync.WaitGroup

	// A floods.
	var aStatus sync.Map // status -> *atomic.Int64
	count := func(status int) {
		n, _ := aStatus.LoadOrStore(status, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
	}
	for g := range aClients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; ctx.Err() == nil; i++ {
				c := ca.As(aKeys[r.IntN(len(aKeys))])
				item := aItems[r.IntN(len(aItems))]
				var res *apitest.Response
				var err error
				switch i % 4 {
				case 0:
					in := today().AddDate(0, 0, 30+r.IntN(300))
					res, err = ca.Send(ctx, http.MethodPost, aOrg+"/bookings", bookingRequest(item, in, in.AddDate(0, 0, 1+r.IntN(3))))
				case 1:
					res, err = ca.Send(ctx, http.MethodPost, aOrg+"/items", map[string]any{
						"name": fmt.Sprintf("Flood %d-%d", g, i), "capacity": 2, "nightly_price": 100})
				default:
					res, err = c.Send(ctx, http.MethodGet, aOrg+"/bookings?status=cancelled&item_id="+item.String()+"&from=2090-01-01&to=2090-02-01", nil)
				}
				if err != nil {
					if ctx.Err() == nil {
						count(-1)
					}
					continue
				}
				count(res.Status)
			}
		})
	}

	// B books and reads, each client its own item, stays one after another.
	type sample struct {
		what    string
		status  int
		latency time.Duration
	}
	var bMu sync.Mutex
	var bSamples []sample
	bookedAt := map[string]time.Time{} // booking id -> when its POST was sent
	for g := range bClients {
		wg.Go(func() {
			tick := time.NewTicker(bInterval)
			defer tick.Stop()
			var last string
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				var what, path string
				var body any
				method := http.MethodGet
				switch i % 4 {
				case 0:
					in := today().AddDate(0, 0, 30+2*i)
					what, method, path, body = "book", http.MethodPost, bOrg+"/bookings", bookingRequest(bItems[g], in, in.AddDate(0, 0, 2))
				case 1:
					what, path = "get booking", bOrg+"/bookings/"+last
				case 2:
					what, path = "list bookings", bOrg+"/bookings?item_id="+bItems[g].String()
				case 3:
					in := today().AddDate(0, 0, 400)
					what, path = "availability", bOrg+"/availability?check_in="+day(in)+"&check_out="+day(in.AddDate(0, 0, 2))
				}
				sent := time.Now()
				// Not ctx: B's last request is let finish after the flood ends.
				res, err := cb.Send(context.Background(), method, path, body)
				s := sample{what: what, status: res.Status, latency: time.Since(sent)}
				if err != nil {
					t.Errorf("B: %s: %v", what, err)
				}
				bMu.Lock()
				bSamples = append(bSamples, s)
				if what == "book" && res.Status == http.StatusCreated {
					last = decodeBooking(t, res).ID.String()
					bookedAt[last] = sent
				}
				bMu.Unlock()
			}
		})
	}
	wg.Wait()

	hole.close()

	// B's answers.
	var lat []time.Duration
	for _, s := range bSamples {
		lat = append(lat, s.latency)
		if s.status/100 != 2 {
			t.Errorf("B's %s answered %d during A's flood: every B request must succeed", s.what, s.status)
		}
	}
	if len(lat) < 10 {
		t.Fatalf("B sent only %d requests", len(lat))
	}
	slices.Sort(lat)
	p50, p99, worst := lat[len(lat)/2], lat[(len(lat)*99)/100], lat[len(lat)-1]
	t.Logf("B: %d requests, latency p50 %v, p99 %v, max %v", len(lat), p50, p99, worst)
	if p99 > maxB99 {
		t.Errorf("B's p99 latency during A's flood was %v, over %v", p99, maxB99)
	}

	// A was refused, held the black hole, and still got its share.
	var aTotal, aOK, a429, a409, a503 int64
	aStatus.Range(func(k, v any) bool {
		n := v.(*atomic.Int64).Load()
		aTotal += n
		switch s := k.(int); {
		case s/100 == 2:
			aOK += n
		case s == http.StatusTooManyRequests:
			a429 += n
		case s == http.StatusConflict: // A's random stays overlap
			a409 += n
		case s == http.StatusServiceUnavailable: // see below
			a503 += n
		default:
			t.Errorf("A got %d answers %d (-1: transport failure): the flood must be refused with 429, never fail", n, s)
		}
		return true
	})
	t.Logf("A: %d requests in %v: %d 2xx (%.0f/s), %d 429; statuses %v; black hole held %d connections at most",
		aTotal, floodFor, aOK, float64(aOK)/floodFor.Seconds(), a429, statuses(&aStatus), hole.max.Load())
	if aOK == 0 {
		t.Errorf("A must get work done during its flood: %d 2xx, %d 429", aOK, a429)
	}
	// The organisation's bucket holds at most orgBurst tokens when the flood
	// starts and gains orgRate a second (one second more for the clock's
	// edges): A can be let through no more than that, whatever the machine's
	// speed. Where the server was faster than the limit (every run measured
	// here) the rest was refused; on a machine too slow to serve A faster
	// than orgRate there is nothing to refuse.
	admitted := aOK + a409 + a503
	// An admitted request that outruns the request deadline gets 503
	// database_unavailable, the designed answer under overload: 2 of A's 85 on
	// a CI machine that also ran other packages' tests, none in any run here.
	// More than a few means A's admitted work is failing, not being slowed.
	if a503*20 > admitted {
		t.Errorf("A got %d answers 503 to %d admitted requests: the flood must be refused with 429, not fail", a503, admitted)
	}
	if allowed := int64(orgBurst + orgRate*(floodFor/time.Second+1)); admitted > allowed {
		t.Errorf("A was let through %d requests in %v, over its organisation limit's %d (%d/s burst %d)", admitted, floodFor, allowed, orgRate, orgBurst)
	}
	if a429 == 0 {
		t.Logf("A was never refused: this machine served A no faster than its limit")
	}
	if hole.max.Load() == 0 {
		t.Errorf("A's deliveries never reached the black hole")
	}

	// B's webhooks: every booking's booking.created, each within the bound.
	bMu.Lock()
	want := len(bookedAt)
	bMu.Unlock()
	if want == 0 {
		t.Fatal("B booked nothing")
	}
	testenv.Poll(maxBWebhook, func() bool { return rcv.count() >= want })
	var worstHook time.Duration
	var delays []time.Duration
	for id, sent := range bookedAt {
		at, ok := rcv.at(id)
		if !ok {
			t.Errorf("B's booking %s: no booking.created webhook within %v of the flood's end", id, maxBWebhook)
			continue
		}
		d := at.Sub(sent)
		delays = append(delays, d)
		worstHook = max(worstHook, d)
		if d > maxBWebhook {
			t.Errorf("B's booking %s: its webhook arrived %v after the booking was sent, over %v", id, d, maxBWebhook)
		}
	}
	slices.Sort(delays)
	if len(delays) > 0 {
		t.Logf("B: %d webhooks, delay after the booking was sent p50 %v, max %v", len(delays), delays[len(delays)/2], worstHook)
	}
}

// loopbackAliases skips the test where this host cannot dial from loopback
// addresses other than 127.0.0.1 (Linux routes all of 127/8 to lo; macOS, by
// default, only 127.0.0.1), saying so.
func loopbackAliases(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, 1)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Skipf("the two organisations need their own loopback source addresses, and this host has none but 127.0.0.1: %v", err)
	}
	c.Close()
}

func statuses(m *sync.Map) map[int]int64 {
	out := map[int]int64{}
	m.Range(func(k, v any) bool { out[k.(int)] = v.(*atomic.Int64).Load(); return true })
	return out
}

// serveInProcess runs `api serve` (app.Run, as in production: its own pool,
// limits, event hub and job workers) with vars as its whole environment, and
// returns its base URL. It is stopped, and must stop cleanly, when the test
// ends.
func serveInProcess(t *testing.T, vars map[string]string) string {
	t.Helper()
	env := map[string]string{"VACANCY_ADDR": "127.0.0.1:0", "VACANCY_SHUTDOWN_TIMEOUT": "10s"}
	for k, v := range vars {
		env[k] = v
	}
	logs := &cappedLog{max: 1 << 20}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, []string{"api", "serve"}, func(k string) string { return env[k] }, logs, logs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the server must stop cleanly: %v\n%s", err, logs.String())
			}
		case <-time.After(20 * time.Second):
			t.Errorf("the server did not stop within 20s")
		}
	})
	var serving map[string]any
	testenv.Poll(20*time.Second, func() bool {
		select {
		case err := <-done:
			done <- err
			return true
		default:
		}
		serving = logs.Find("serving")
		return serving != nil
	})
	if serving == nil {
		t.Fatalf("the server did not start serving\n%s", logs.String())
	}
	return "http://" + serving["addr"].(string)
}

// cappedLog keeps the first max bytes a server logs (its start and any
// failure to stop) and drops the rest: the flood's request log would
// otherwise grow with the test's length.
type cappedLog struct {
	testenv.Log
	max     int
	written atomic.Int64
}

func (l *cappedLog) Write(p []byte) (int, error) {
	if l.written.Add(int64(len(p))) <= int64(l.max) {
		return l.Log.Write(p)
	}
	return len(p), nil
}

// blackHole accepts connections and never answers: webhook receivers that
// have stopped working. It counts how many connections are open at once.
type blackHole struct {
	ln        net.Listener
	open, max atomic.Int32
	// close stops it: the server's attempts then fail at once instead of
	// holding its shutdown for their timeout.
	close func()
}

func newBlackHole(t *testing.T) *blackHole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &blackHole{ln: ln}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := h.open.Add(1)
			for m := h.max.Load(); n > m && !h.max.CompareAndSwap(m, n); m = h.max.Load() {
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer h.open.Add(-1)
				_, _ = io.Copy(io.Discard, c)
			})
		}
	})
	h.close = sync.OnceFunc(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	t.Cleanup(h.close)
	return h
}

// url is the address of endpoint i (distinct paths: one URL per endpoint).
func (h *blackHole) url(i int) string { return fmt.Sprintf("http://%s/hook/%d", h.ln.Addr(), i) }

// arrivals is B's webhook receiver: when each booking's booking.created came.
type arrivals struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string]time.Time
}

func newArrivals(t *testing.T) *arrivals {
	t.Helper()
	r := &arrivals{got: map[string]time.Time{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		now := time.Now()
		var ev struct {
			Type string `json:"type"`
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&ev); err != nil && !errors.Is(err, io.EOF) {
			t.Errorf("B's receiver: a delivery that is not an event: %v", err)
		}
		if ev.Type == "booking.created" {
			r.mu.Lock()
			if _, ok := r.got[ev.Data.ID]; !ok {
				r.got[ev.Data.ID] = now
			}
			r.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *arrivals) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *arrivals) at(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.got[id]
	return at, ok
}
