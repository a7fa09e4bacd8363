package reliability_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// TestDoubleBookingStorm fires 200 concurrent booking attempts with overlapping
// stays on one item, window after window, while other clients PATCH existing
// bookings of the same item into those windows and onto each other. Whatever
// the interleaving, the database must never hold two overlapping active stays
// of the item, every 201 a client saw must be stored exactly as acknowledged,
// and every refusal must be a clean 409 (or 412 for a stale If-Match), never a
// 5xx, answered without deadlocks in PostgreSQL.
func TestDoubleBookingStorm(t *testing.T) {
	t.Parallel()
	const (
		windows   = 20
		attempts  = 200 // per window, all at once
		movers    = 10  // of the 200, PATCHes of existing bookings
		seedCount = 12
	)
	env := testenv.New(t)
	tn := newTenant(t, env, "storm")
	item := addItem(t, env.Service, tn.sc, "contested room")
	c := newClient(t, serve(t, env.Service, 30*time.Second), tn, time.Minute)
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	// Existing bookings to move around, parked far from the windows.
	var seeds []uuid.UUID
	park := today().AddDate(0, 0, 800)
	for i := range seedCount {
		in := park.AddDate(0, 0, 10*i)
		r, err := c.do(ctx, http.MethodPost, "/bookings", bookingRequest(item, in, in.AddDate(0, 0, 2)))
		if err != nil || r.Status != http.StatusCreated {
			t.Fatalf("seed booking: %v %d %s", err, r.Status, r.Body)
		}
		seeds = append(seeds, decodeBooking(t, r).ID)
	}

	type ack struct {
		id       uuid.UUID
		in, out  string
		version  int32
		patching bool
	}
	var (
		mu       sync.Mutex
		acks     []ack
		statuses = map[string]int{}
		slowest  time.Duration // after the first window, which also opens the pool's connections
		warm     bool
	)
	record := func(kind string, sent time.Time, r *apitest.Response, err error) {
		mu.Lock()
		defer mu.Unlock()
		if warm {
			slowest = max(slowest, time.Since(sent))
		}
		switch {
		case err != nil:
			statuses[kind+" transport error: "+err.Error()]++
		case r.Status == http.StatusCreated || r.Status == http.StatusOK:
			statuses[kind+" "+strconv.Itoa(r.Status)]++
		default:
			statuses[kind+" "+strconv.Itoa(r.Status)+" "+r.ProblemCode()]++
		}
	}

	started := time.Now()
	for w := range windows {
		// A window somewhere in the coming year; stays start in its first four
		// days and last one to four nights, so most of them overlap.
		base := today().AddDate(0, 0, 5+rng.IntN(360))
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for a := range attempts {
			in := base.AddDate(0, 0, rng.IntN(4))
			out := in.AddDate(0, 0, 1+rng.IntN(4))
			if a < movers {
				id := seeds[rng.IntN(len(seeds))]
				if a%2 == 1 {
					// Onto another seed's parking place (free again if it moved away).
					in = park.AddDate(0, 0, 10*rng.IntN(seedCount)+rng.IntN(2))
					out = in.AddDate(0, 0, 2)
				}
				wg.Go(func() {
					<-gate
					sent := time.Now()
					r, err := c.do(ctx, http.MethodPatch, "/bookings/"+id.String(),
						map[string]any{"items": bookingRequest(item, in, out)["items"]}, apitest.IfMatch("*"))
					record("PATCH", sent, r, err)
					if err == nil && r.Status == http.StatusOK {
						b := decodeBooking(t, r)
						mu.Lock()
						acks = append(acks, ack{id: b.ID, in: day(in), out: day(out), version: b.Version, patching: true})
						mu.Unlock()
					}
				})
				continue
			}
			wg.Go(func() {
				<-gate
				sent := time.Now()
				r, err := c.do(ctx, http.MethodPost, "/bookings", bookingRequest(item, in, out),
					apitest.IdempotencyKey(uuid.NewString()))
				record("POST", sent, r, err)
				if err == nil && r.Status == http.StatusCreated {
					b := decodeBooking(t, r)
					mu.Lock()
					acks = append(acks, ack{id: b.ID, in: day(in), out: day(out), version: b.Version})
					mu.Unlock()
				}
			})
		}
		close(gate)
		wg.Wait()
		if w == 0 {
			t.Logf("first window took %s", time.Since(started).Round(time.Millisecond))
			mu.Lock()
			warm = true
			mu.Unlock()
		}
	}
	t.Logf("%d windows × %d attempts in %s, slowest answer after the first window %s: %v", windows, attempts,
		time.Since(started).Round(time.Millisecond), slowest.Round(time.Millisecond), statuses)

	// Every answer is a success or a clean refusal.
	created, conflicts := 0, 0
	for k, n := range statuses {
		switch k {
		case "POST 201":
			created += n
		case "PATCH 200":
		case "POST 409 booking_conflict", "PATCH 409 booking_conflict":
			conflicts += n
		case "PATCH 412 stale_version":
		default:
			t.Errorf("%d answers %q: every attempt must succeed or be refused with 409 booking_conflict", n, k)
		}
	}
	if created == 0 || conflicts == 0 {
		t.Fatalf("the storm must produce both bookings and conflicts to prove anything: %d created, %d conflicts", created, conflicts)
	}

	db := env.Superuser
	// Bookings of one item are serialised before they insert: losers must not
	// deadlock inside the exclusion check (each deadlock holds its victims for
	// deadlock_timeout, and cascades of them took requests past 30 s).
	if n := db.Int(t, "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"); n != 0 {
		t.Errorf("the storm caused %d deadlocks in PostgreSQL", n)
	}
	// The deadlock counter above is the direct check; this bound catches lock
	// queues that grow without one. Serialised attempts wait for the window's
	// others: 3.4 s alone here, 5.3 s beside two busy loops, 12.9 s on a CI
	// machine that also ran other packages' tests; the deadlock cascades this
	// guards against held requests past 30 s.
	if slowest > 20*time.Second {
		t.Errorf("the slowest answer took %s: contention must be answered, not queued behind deadlocks", slowest)
	}
	checkIntegrity(t, db)
	if n := db.Int(t, "SELECT count(*) FROM bookings"); n != seedCount+created {
		t.Errorf("the database holds %d bookings; the clients were told of %d seeds and %d creations", n, seedCount, created)
	}
	// Each acknowledged creation is stored with the acknowledged stay; each moved
	// booking holds the stay of its last acknowledged PATCH (the highest version).
	latest := map[uuid.UUID]ack{}
	for _, a := range acks {
		if cur, ok := latest[a.id]; !ok || a.version > cur.version {
			latest[a.id] = a
		}
	}
	conn := db.Conn(t)
	for id, a := range latest {
		var in, out, status string
		var version int32
		err := conn.QueryRow(ctx, `SELECT lower(bi.date_range)::text, upper(bi.date_range)::text, b.status, b.version
			FROM bookings b JOIN booking_items bi ON bi.organisation_id = b.organisation_id AND bi.booking_id = b.id
			WHERE b.id = $1`, id).Scan(&in, &out, &status, &version)
		if err != nil {
			t.Errorf("acknowledged booking %s: %v", id, err)
			continue
		}
		if in != a.in || out != a.out || version != a.version || status != "unpaid" {
			t.Errorf("booking %s is stored as %s..%s v%d %s; the client was told %s..%s v%d (patched: %v)",
				id, in, out, version, status, a.in, a.out, a.version, a.patching)
		}
	}
}
