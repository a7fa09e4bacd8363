package service_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/stream"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// keyLookups counts the API-key lookups a pool runs.
type keyLookups struct{ n atomic.Int64 }

func (c *keyLookups) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.HasPrefix(d.SQL, "-- name: APIKeyCredentialsByPrefix") {
		c.n.Add(1)
	}
	return ctx
}
func (c *keyLookups) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// twoInstances returns an organisation and two instances' services on one
// database: here, on a pool of its own (d) whose key lookups are counted, and
// there.
func twoInstances(t *testing.T, org string) (scope.Scope, *scope.DB, *service.Services, *service.Services, *keyLookups) {
	t.Helper()
	env := testenv.New(t)
	sc, _ := env.Organisation(t, org)
	lookups := &keyLookups{}
	d, err := scope.Open(context.Background(), env.URL, scope.Config{MaxConns: 4, Tracer: lookups})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return sc, d, service.New(d, service.Config{}), service.New(env.DB, service.Config{}), lookups
}

// TestAuthenticationIsCachedForASecond: an instance answers a key it checked
// less than tenancy.AuthCacheTTL ago from memory, without a query; a key
// revoked through this instance is refused at once, and one revoked through
// another instance (whose notification this one may never hear) stops working
// here once AuthCacheTTL has passed.
func TestAuthenticationIsCachedForASecond(t *testing.T) {
	t.Parallel()
	sc, _, here, there, lookups := twoInstances(t, "cached")
	ctx := context.Background()

	key, err := createKey(t, there, sc, "reader")
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := here.Authenticate(ctx, key.Key); err != nil {
			t.Fatalf("a valid key: %v", err)
		}
	}
	if n := lookups.n.Load(); n != 1 {
		t.Errorf("20 requests with one key within a second looked it up %d times, want 1", n)
	}
	wrong := key.Key[:len(key.Key)-1] + "x"
	if strings.HasSuffix(key.Key, "x") {
		wrong = key.Key[:len(key.Key)-1] + "y"
	}
	if _, err := here.Authenticate(ctx, wrong); !errors.Is(err, tenancy.ErrUnauthenticated) {
		t.Errorf("a wrong secret with a cached key's prefix must be refused, got %v", err)
	}

	// Revoked through another instance: refused here once AuthCacheTTL has passed.
	if _, _, err := there.RevokeAPIKey(ctx, sc, tenancy.RevokeAPIKey{Meta: meta(t, "", sc.ActorID), KeyID: key.ID}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(tenancy.AuthCacheTTL + 100*time.Millisecond)
	if _, err := here.Authenticate(ctx, key.Key); !errors.Is(err, tenancy.ErrUnauthenticated) {
		t.Fatalf("a key revoked elsewhere must be refused after %s, got %v", tenancy.AuthCacheTTL, err)
	}

	// Revoked through this instance: refused at once.
	other, err := createKey(t, there, sc, "writer")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := here.Authenticate(ctx, other.Key); err != nil {
		t.Fatal(err)
	}
	if _, _, err := here.RevokeAPIKey(ctx, sc, tenancy.RevokeAPIKey{Meta: meta(t, "", sc.ActorID), KeyID: other.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := here.Authenticate(ctx, other.Key); !errors.Is(err, tenancy.ErrUnauthenticated) {
		t.Fatalf("a key revoked through this instance must be refused at once, got %v", err)
	}
}

// TestAuthenticationFollowsRevocations: with the stream hub's listener
// feeding it revocations (as api serve wires it), an instance answers a known
// key from memory past tenancy.AuthCacheTTL while the listener keeps up; a key
// revoked through another instance is still refused here within AuthCacheTTL
// of its revocation; and once the listener stops, answers from memory fall
// back to AuthCacheTTL.
func TestAuthenticationFollowsRevocations(t *testing.T) {
	t.Parallel()
	sc, d, here, there, lookups := twoInstances(t, "followed")
	hub := stream.New(d.Pool(), nil)
	hub.FollowKeys(here.ForgetKey, here.ForgetAllKeys)
	here.FollowRevocations(hub.CaughtUp)
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); _ = hub.Run(hubCtx) }()
	t.Cleanup(func() { stopHub(); <-hubDone })
	caughtUp := func() bool { return time.Since(hub.CaughtUp()) < tenancy.AuthCacheTTL }
	if !testenv.Poll(10*time.Second, caughtUp) {
		t.Fatal("the listener never caught up: no heartbeat arrived")
	}
	ctx := context.Background()

	key, err := createKey(t, there, sc, "reader")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := here.Authenticate(ctx, key.Key); err != nil {
		t.Fatalf("a valid key: %v", err)
	}
	time.Sleep(tenancy.AuthCacheTTL + 500*time.Millisecond)
	// A loaded machine may hold a heartbeat up past AuthCacheTTL, and then the
	// key is rightly looked up again: a try counts only when the listener was
	// caught up before and after it.
	fromMemory := false
	for try := 0; try < 5 && !fromMemory; try++ {
		testenv.Poll(10*time.Second, caughtUp)
		before, upBefore := lookups.n.Load(), caughtUp()
		for range 20 {
			if _, err := here.Authenticate(ctx, key.Key); err != nil {
				t.Fatalf("a valid key: %v", err)
			}
		}
		fromMemory = upBefore && caughtUp() && lookups.n.Load() == before
	}
	if !fromMemory {
		t.Errorf("a key checked %s ago, the listener caught up, was looked up again (%d lookups in all)",
			tenancy.AuthCacheTTL+500*time.Millisecond, lookups.n.Load())
	}

	// Revoked through another instance: refused here within AuthCacheTTL of
	// the revocation's commit (the listener hears it in milliseconds).
	if _, _, err := there.RevokeAPIKey(ctx, sc, tenancy.RevokeAPIKey{Meta: meta(t, "", sc.ActorID), KeyID: key.ID}); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	refused := testenv.Poll(tenancy.AuthCacheTTL, func() bool {
		_, err := here.Authenticate(ctx, key.Key)
		return errors.Is(err, tenancy.ErrUnauthenticated)
	})
	if !refused {
		t.Fatalf("a key revoked elsewhere still worked here %s after its revocation", tenancy.AuthCacheTTL)
	}
	t.Logf("a key revoked through another instance was refused here %s after the revocation committed", time.Since(revoked).Round(time.Millisecond))

	// The listener stops: a remembered check counts for AuthCacheTTL only.
	stopHub()
	<-hubDone
	if !hub.CaughtUp().IsZero() {
		t.Error("a stopped listener must not claim to be caught up")
	}
	other, err := createKey(t, there, sc, "writer")
	if err != nil {
		t.Fatal(err)
	}
	before := lookups.n.Load()
	if _, err := here.Authenticate(ctx, other.Key); err != nil {
		t.Fatal(err)
	}
	time.Sleep(tenancy.AuthCacheTTL + 100*time.Millisecond)
	if _, err := here.Authenticate(ctx, other.Key); err != nil {
		t.Fatal(err)
	}
	if n := lookups.n.Load() - before; n != 2 {
		t.Errorf("without a listener, two requests %s apart looked the key up %d times, want 2", tenancy.AuthCacheTTL+100*time.Millisecond, n)
	}
}
