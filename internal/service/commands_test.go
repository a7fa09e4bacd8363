package service_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/jobs"
	"github.com/vacancy-dev/vacancy/internal/outbox"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
	"github.com/vacancy-dev/vacancy/internal/testenv"
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func meta(t *testing.T, key string, actor uuid.UUID) command.Meta {
	t.Helper()
	m, err := command.NewMeta(key, actor, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func createKey(t *testing.T, svc *service.Services, sc scope.Scope, name string) (tenancy.APIKey, error) {
	t.Helper()
	cmd, err := tenancy.NewCreateAPIKey(meta(t, "", sc.ActorID), tenancy.CreateAPIKeyInput{Name: name, Role: "read"})
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := svc.CreateAPIKey(context.Background(), sc, cmd)
	return k, err
}

func isConflict(err error, code string) bool {
	de, ok := domain.AsError(err)
	return ok && de.Kind == domain.KindConflict && de.Code == code
}

// TestAPIKeyQuota: an organisation holds at most its quota of keys that are
// not revoked, however many creations race for the last places.
func TestAPIKeyQuota(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	svc := service.New(env.DB, service.Config{Quotas: service.Quotas{APIKeys: 4}})
	sc, _ := env.Organisation(t, "keys") // holds its first admin key
	var wg sync.WaitGroup
	var created, refused atomic.Int32
	for i := range 6 {
		wg.Go(func() {
			_, err := createKey(t, svc, sc, "k"+string(rune('a'+i)))
			switch {
			case err == nil:
				created.Add(1)
			case isConflict(err, tenancy.CodeKeyLimit):
				refused.Add(1)
			default:
				t.Errorf("create key: %v", err)
			}
		})
	}
	wg.Wait()
	if created.Load() != 3 || refused.Load() != 3 {
		t.Fatalf("with a quota of 4 and one key held, 3 of 6 concurrent creations must succeed and 3 get %s; got %d and %d",
			tenancy.CodeKeyLimit, created.Load(), refused.Load())
	}
	keys, err := svc.ListAPIKeys(context.Background(), sc, domain.Page{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.RevokeAPIKey(context.Background(), sc, tenancy.RevokeAPIKey{Meta: meta(t, "", sc.ActorID), KeyID: keys.Data[1].ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := createKey(t, svc, sc, "after a revocation"); err != nil {
		t.Fatalf("a revoked key frees its place: %v", err)
	}
}

func createEndpoint(t *testing.T, svc *service.Services, sc scope.Scope, key, url string) (outbox.WebhookEndpoint, command.Receipt, error) {
	t.Helper()
	cmd, err := outbox.NewCreateWebhookEndpoint(meta(t, key, sc.ActorID), outbox.WebhookEndpointInput{URL: &url})
	if err != nil {
		t.Fatal(err)
	}
	return svc.CreateWebhookEndpoint(context.Background(), sc, cmd)
}

// TestWebhookEndpointQuota: an organisation holds at most its quota of webhook
// endpoints; deleting one frees its place.
func TestWebhookEndpointQuota(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	svc := service.New(env.DB, service.Config{Quotas: service.Quotas{WebhookEndpoints: 2},
		WebhookPolicy: webhook.Policy{AllowPrivate: true, AllowHTTP: true}})
	sc, _ := env.Organisation(t, "hooks")
	var eps []outbox.WebhookEndpoint
	for range 2 {
		ep, _, err := createEndpoint(t, svc, sc, "", "http://127.0.0.1:9/hook")
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}
	if _, _, err := createEndpoint(t, svc, sc, "", "http://127.0.0.1:9/third"); !isConflict(err, outbox.CodeEndpointLimit) {
		t.Fatalf("a third endpoint past a quota of 2 must be refused with %s, got %v", outbox.CodeEndpointLimit, err)
	}
	other, _ := env.Organisation(t, "other-hooks")
	if _, _, err := createEndpoint(t, svc, other, "", "http://127.0.0.1:9/hook"); err != nil {
		t.Fatalf("the quota is per organisation: %v", err)
	}
	if _, _, err := svc.DeleteWebhookEndpoint(context.Background(), sc, outbox.DeleteWebhookEndpoint{Meta: meta(t, "", sc.ActorID), EndpointID: eps[0].ID}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := createEndpoint(t, svc, sc, "", "http://127.0.0.1:9/third"); err != nil {
		t.Fatalf("a deleted endpoint frees its place: %v", err)
	}
}

// TestWebhookURLCheckIsPartOfTheRecordedCommand: the host of a webhook URL is
// resolved inside the command, so a retry with the same Idempotency-Key
// replays the first answer instead of asking DNS again (whose answer may have
// changed).
func TestWebhookURLCheckIsPartOfTheRecordedCommand(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	var lookups atomic.Int32
	resolver := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		lookups.Add(1)
		return nil, errors.New("no DNS in this test")
	}}
	svc := service.New(env.DB, service.Config{WebhookPolicy: webhook.Policy{Resolver: resolver}})
	sc, _ := env.Organisation(t, "dns")
	_, rc, err := createEndpoint(t, svc, sc, "retry-me", "https://hooks.example.test/vacancy")
	if de, ok := domain.AsError(err); !ok || de.Fields[0].Code != "unresolvable_host" || rc.Replayed {
		t.Fatalf("an unresolvable host must be refused with unresolvable_host: %v", err)
	}
	asked := lookups.Load()
	if asked == 0 {
		t.Fatal("the first request must resolve the host")
	}
	_, rc, err = createEndpoint(t, svc, sc, "retry-me", "https://hooks.example.test/vacancy")
	if de, ok := domain.AsError(err); !ok || de.Fields[0].Code != "unresolvable_host" || !rc.Replayed {
		t.Fatalf("the retry must replay the recorded refusal (replayed=%t): %v", rc.Replayed, err)
	}
	if lookups.Load() != asked {
		t.Errorf("the retry resolved the host again (%d lookups, then %d)", asked, lookups.Load())
	}
}

// TestEveryCommandReachesTheObserver: replays and commands whose claim failed
// are counted and logged too, not only executed commands.
func TestEveryCommandReachesTheObserver(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	var mu sync.Mutex
	var seen []string
	svc := service.New(env.DB, service.Config{Observer: func(_ context.Context, typ, _, outcome string, _ time.Duration) {
		mu.Lock()
		seen = append(seen, typ+":"+outcome)
		mu.Unlock()
	}})
	sc, _ := env.Organisation(t, "observed")
	cmd, err := tenancy.NewCreateAPIKey(meta(t, "same-key", sc.ActorID), tenancy.CreateAPIKeyInput{Name: "k", Role: "read"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := svc.CreateAPIKey(context.Background(), sc, cmd); err != nil {
			t.Fatal(err)
		}
	}
	// A claim that cannot be made: the request is already cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	other, _ := tenancy.NewCreateAPIKey(meta(t, "", sc.ActorID), tenancy.CreateAPIKeyInput{Name: "k2", Role: "read"})
	if _, _, err := svc.CreateAPIKey(ctx, sc, other); err == nil {
		t.Fatal("a cancelled request cannot claim its command")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"api_key.create:ok", "api_key.create:" + command.Replayed, "api_key.create:error"}
	if len(seen) != len(want) {
		t.Fatalf("observed %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("observed %v, want %v", seen, want)
		}
	}
}

// TestDeliveriesOfABacklogWaitBehind: while an organisation has
// outbox.BacklogLimit pending deliveries or more (its endpoints hang, or it
// floods), its new delivery jobs get River's last priority, so they wait behind
// the jobs of every organisation that keeps up instead of ahead of them.
func TestDeliveriesOfABacklogWaitBehind(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	queue, err := jobs.NewQueue(env.DB.Pool(), jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(env.DB, service.Config{Jobs: queue, WebhookPolicy: webhook.Policy{AllowPrivate: true, AllowHTTP: true}})
	behind, _ := env.Organisation(t, "behind")
	keepingUp, _ := env.Organisation(t, "keeping-up")
	priorityOfLastJob := func(sc scope.Scope) int {
		t.Helper()
		return env.Superuser.Int(t, `SELECT priority FROM river_job
			WHERE kind = 'webhook_delivery' AND args->>'organisation_id' = $1 ORDER BY id DESC LIMIT 1`, sc.OrganisationID.String())
	}
	for _, sc := range []scope.Scope{behind, keepingUp} {
		if _, _, err := createEndpoint(t, svc, sc, "", "http://127.0.0.1:9/hook"); err != nil {
			t.Fatal(err)
		}
	}
	item := func(sc scope.Scope) {
		t.Helper()
		name, capacity, price := "Room", int32(2), int64(100)
		cmd, err := catalogue.NewCreateItem(meta(t, "", sc.ActorID), catalogue.ItemInput{Name: &name, Capacity: &capacity, NightlyPrice: &price})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.CreateItem(context.Background(), sc, cmd); err != nil {
			t.Fatal(err)
		}
	}
	item(behind)
	if p := priorityOfLastJob(behind); p != 1 {
		t.Fatalf("an organisation without a backlog gets the first priority, got %d", p)
	}
	// Nothing works the jobs here: a backlog is made by creating events.
	for range outbox.BacklogLimit {
		item(behind)
	}
	if p := priorityOfLastJob(behind); p != 4 {
		t.Fatalf("with %d deliveries pending, new ones must get the last priority, got %d", outbox.BacklogLimit, p)
	}
	item(keepingUp)
	if p := priorityOfLastJob(keepingUp); p != 1 {
		t.Fatalf("another organisation keeps the first priority, got %d", p)
	}
}

// TestCommittedClaims: a command's key claimed by a committed claim row (the
// RunChecked path, or a log written before one-transaction commands) answers
// idempotency_key_in_use while its lease runs and is taken over, and run once,
// when its executor died and the lease lapsed.
func TestCommittedClaims(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	svc := service.New(env.DB, service.Config{})
	sc, _ := env.Organisation(t, "claims")
	ctx := context.Background()
	name, capacity, price := "Loft", int32(2), int64(9000)
	item := func(key string) (catalogue.CreateItem, []byte) {
		cmd, err := catalogue.NewCreateItem(meta(t, key, sc.ActorID), catalogue.ItemInput{Name: &name, Capacity: &capacity, NightlyPrice: &price})
		if err != nil {
			t.Fatal(err)
		}
		fp, err := command.Fingerprint(string(domain.OpCreateItem), cmd, nil)
		if err != nil {
			t.Fatal(err)
		}
		return cmd, fp
	}
	claim := func(key string, fp []byte, lease string) {
		env.Superuser.Exec(t, `INSERT INTO commands (organisation_id, actor_id, id, type, fingerprint, state, claim, locked_until)
			VALUES ($1, $2, $3, $4, $5, 'running', gen_random_uuid(), now() + $6::interval)`,
			sc.OrganisationID, sc.ActorID, key, string(domain.OpCreateItem), fp, lease)
	}

	live, fp := item("live-claim")
	claim("live-claim", fp, "1 minute")
	if _, _, err := svc.CreateItem(ctx, sc, live); !isConflict(err, domain.CodeKeyInUse) {
		t.Fatalf("a key whose claim's lease runs must answer idempotency_key_in_use, got %v", err)
	}

	lapsed, fp := item("lapsed-claim")
	claim("lapsed-claim", fp, "-1 minute")
	first, rc, err := svc.CreateItem(ctx, sc, lapsed)
	if err != nil || rc.Replayed {
		t.Fatalf("a lapsed claim must be taken over and the command run: replayed=%v, %v", rc.Replayed, err)
	}
	again, rc, err := svc.CreateItem(ctx, sc, lapsed)
	if err != nil || !rc.Replayed || again.ID != first.ID {
		t.Fatalf("the retry must replay the taken-over command: replayed=%v, %s vs %s, %v", rc.Replayed, again.ID, first.ID, err)
	}
	if n := env.Superuser.Int(t, "SELECT count(*) FROM items WHERE organisation_id = $1 AND name = 'Loft'", sc.OrganisationID); n != 1 {
		t.Errorf("the command must have run once, %d items", n)
	}
	if n := env.Superuser.Int(t, "SELECT count(*) FROM commands WHERE id = 'lapsed-claim' AND state = 'done'"); n != 1 {
		t.Errorf("the taken-over claim must be done, %d rows", n)
	}
}
