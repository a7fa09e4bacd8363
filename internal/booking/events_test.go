package booking_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/jobs"
	"github.com/vacancy-dev/vacancy/internal/outbox"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/testenv"
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

// withQueue is a Service over env's database that enqueues webhook deliveries on
// River (insert-only: nothing works the jobs here) and accepts local URLs.
func withQueue(t *testing.T, env *testenv.Env) *service.Services {
	t.Helper()
	q, err := jobs.NewQueue(env.DB.Pool(), jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return service.New(env.DB, service.Config{Jobs: q, WebhookPolicy: webhook.Policy{AllowPrivate: true, AllowHTTP: true}})
}

func addEndpoint(t *testing.T, svc *service.Services, sc scope.Scope, types ...string) outbox.WebhookEndpoint {
	t.Helper()
	url := "http://127.0.0.1:9/hook"
	cmd, err := outbox.NewCreateWebhookEndpoint(meta(t), outbox.WebhookEndpointInput{URL: &url, EventTypes: types})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Actor = sc.ActorID
	ep, _, err := svc.CreateWebhookEndpoint(context.Background(), sc, cmd)
	if err != nil {
		t.Fatalf("create webhook endpoint: %v", err)
	}
	if ep.Secret == "" {
		t.Fatal("the creation must show the signing secret")
	}
	return ep
}

func feed(t *testing.T, svc *service.Services, sc scope.Scope, after string) outbox.Feed {
	t.Helper()
	fq, err := outbox.NewFeedQuery(after, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	f, err := svc.Events(context.Background(), sc, fq)
	if err != nil {
		t.Fatalf("read feed: %v", err)
	}
	return f
}

// settled reads the feed from after to its end, waiting out events held back
// behind transactions of tests running in parallel on the same server.
func settled(t *testing.T, svc *service.Services, sc scope.Scope, after, types string, limit int) ([]outbox.StoredEvent, string) {
	t.Helper()
	var out []outbox.StoredEvent
	// Each try reads every page there is; only events held back make it wait.
	if !testenv.Poll(10*time.Second, func() bool {
		for {
			fq, err := outbox.NewFeedQuery(after, types, limit)
			if err != nil {
				t.Fatal(err)
			}
			p, err := svc.Events(context.Background(), sc, fq)
			if err != nil {
				t.Fatalf("read feed: %v", err)
			}
			out = append(out, p.Data...)
			after = p.NextCursor
			if !p.HasMore {
				return !p.HeldBack
			}
		}
	}) {
		t.Fatal("events stayed held back for 10s")
	}
	return out, after
}

// TestOutboxAtomicity: an event, its webhook delivery and the delivery's job are
// written in the command's transaction. When the command fails after writing its
// event (here: enqueueing the delivery fails), the change, the event, the
// delivery and the job all vanish together; when it succeeds, all exist.
func TestOutboxAtomicity(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	sc, _ := env.Organisation(t, "acme")
	svc := withQueue(t, env)
	ep := addEndpoint(t, svc, sc, domain.EventItemCreated)
	f := fixture{env: env, sc: sc}

	// env.Service has no job queue: the delivery cannot be enqueued, so the command
	// fails after its event and delivery rows were inserted.
	name, price, capacity := "Doomed room", int64(100), int32(2)
	cmd, err := catalogue.NewCreateItem(meta(t), catalogue.ItemInput{Name: &name, NightlyPrice: &price, Capacity: &capacity})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Actor = sc.ActorID
	if _, _, err := env.Service.CreateItem(context.Background(), sc, cmd); !errors.Is(err, scope.ErrNoJobQueue) {
		t.Fatalf("the command must fail at enqueueing, got %v", err)
	}
	for _, q := range []string{"SELECT count(*) FROM items", "SELECT count(*) FROM events",
		"SELECT count(*) FROM webhook_deliveries", "SELECT count(*) FROM river_job"} {
		if n := f.env.Superuser.Int(t, q); n != 0 {
			t.Fatalf("a failed command must leave nothing behind: %s = %d", q, n)
		}
	}

	item := createItem(t, &testenv.Env{URL: env.URL, DB: env.DB, Service: svc}, sc, "Sea room", 12000)
	if n := f.env.Superuser.Int(t, "SELECT count(*) FROM events WHERE type = 'item.created' AND data->>'id' = $1", item.ID.String()); n != 1 {
		t.Fatalf("a committed command must leave its event, found %d", n)
	}
	if n := f.env.Superuser.Int(t, `SELECT count(*) FROM webhook_deliveries d JOIN river_job j ON j.args->>'delivery_id' = d.id::text
		WHERE d.endpoint_id = $1 AND d.status = 'pending' AND j.kind = 'webhook_delivery' AND j.max_attempts = 12`, ep.ID); n != 1 {
		t.Fatalf("a committed command must leave one pending delivery with its job (12 attempts), found %d", n)
	}
	// Nothing works the jobs here, so the delivery stays pending: a manual retry
	// would race its scheduled attempt and is refused.
	deliveryID := pgtest.Scalar[uuid.UUID](t, env.Superuser, "SELECT id FROM webhook_deliveries")
	_, _, err = svc.RetryWebhookDelivery(context.Background(), sc, outbox.RetryWebhookDelivery{Meta: meta(t), EndpointID: ep.ID, DeliveryID: deliveryID})
	if !isCode(err, outbox.CodeDeliveryPending) {
		t.Fatalf("retrying a pending delivery is a delivery_pending conflict, got %v", err)
	}
	// The endpoint only wants item.created: a booking's events are not delivered to it.
	f.item = item
	if _, _, err := f.book("", future(3), future(5)); err != nil {
		t.Fatal(err)
	}
	if n := f.env.Superuser.Int(t, "SELECT count(*) FROM webhook_deliveries"); n != 1 {
		t.Fatalf("events the endpoint did not subscribe to must not be delivered, deliveries: %d", n)
	}
}

// TestRolledBackChangeTakesItsEventsAlong: a booking that expires a stale hold and
// then loses on a conflict rolls back the expiry together with its
// booking.expired event.
func TestRolledBackChangeTakesItsEventsAlong(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	other := createItem(t, f.env, f.sc, "Other room", 9000)
	stale, _, err := f.book("", future(3), future(5))
	if err != nil {
		t.Fatal(err)
	}
	f.env.Superuser.Exec(t, "UPDATE bookings SET expires_at = now() - interval '1 minute' WHERE id = $1", stale.ID)
	f.env.Superuser.Exec(t, "UPDATE booking_items SET hold_expires_at = now() - interval '1 minute' WHERE booking_id = $1", stale.ID)
	f.env.Superuser.Exec(t, "UPDATE occupancies SET hold_expires_at = now() - interval '1 minute' WHERE booking_id = $1", stale.ID)
	blocker := fixture{env: f.env, sc: f.sc, item: other}
	if _, _, err := blocker.book("", future(3), future(5)); err != nil {
		t.Fatal(err)
	}
	before := f.env.Superuser.Int(t, "SELECT count(*) FROM events")

	m, _ := command.NewMeta("", f.sc.ActorID, nil, time.Now())
	cmd, err := booking.NewCreateBooking(m, booking.CreateBookingInput{
		Guest: booking.GuestInput{Name: "Bo", Email: "bo@example.com"},
		Items: []booking.LineInput{{ItemID: f.item.ID.String(), CheckIn: future(3), CheckOut: future(5)},
			{ItemID: other.ID.String(), CheckIn: future(3), CheckOut: future(5)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.env.Service.CreateBooking(context.Background(), f.sc, cmd); !isCode(err, domain.CodeBookingConflict) {
		t.Fatalf("want booking_conflict on the other room, got %v", err)
	}
	if after := f.env.Superuser.Int(t, "SELECT count(*) FROM events"); after != before {
		t.Fatalf("the failed command's booking.expired must roll back with it: %d events before, %d after", before, after)
	}
	if n := f.env.Superuser.Int(t, "SELECT count(*) FROM bookings WHERE id = $1 AND status = 'unpaid'", stale.ID); n != 1 {
		t.Fatal("the stale hold's expiry must have rolled back too")
	}
}

// TestFeedNeverSkipsALateCommit interleaves two transactions: T1 begins and
// writes an event first, T2 (a real command) writes and commits while T1 is still
// open, a consumer polls in between, then T1 commits. With positions from the
// bigserial alone, T2's event (higher seq) would be read in between and T1's
// (lower seq, committed later) skipped forever. The feed holds T2's event back
// until T1 ends, so the consumer gets both.
func TestFeedNeverSkipsALateCommit(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	sc, _ := env.Organisation(t, "acme")
	ctx := context.Background()
	start := feed(t, env.Service, sc, "")
	if len(start.Data) != 0 || start.HasMore {
		t.Fatalf("a new organisation's feed is empty, got %+v", start)
	}

	t1, err := env.Superuser.Conn(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer t1.Rollback(ctx)
	var t1Seq int64
	if err := t1.QueryRow(ctx, `INSERT INTO events (organisation_id, id, type, data)
		VALUES ($1, gen_random_uuid(), 'item.updated', '{"name":"from T1"}') RETURNING seq`, sc.OrganisationID).Scan(&t1Seq); err != nil {
		t.Fatal(err)
	}

	item := createItem(t, env, sc, "from T2", 100) // T2: begins after T1, commits first
	t2Seq := pgtest.Scalar[int64](t, env.Superuser, "SELECT seq FROM events WHERE data->>'id' = $1", item.ID.String())
	if t2Seq <= t1Seq {
		t.Fatalf("the interleaving must give T2 the higher seq (%d vs %d)", t2Seq, t1Seq)
	}

	between := feed(t, env.Service, sc, start.NextCursor)
	if len(between.Data) != 0 {
		t.Fatalf("while T1 is open, T2's event must be held back, got %d events", len(between.Data))
	}
	if !between.HeldBack {
		t.Fatal("the feed must say events are held back behind an open transaction")
	}

	if err := t1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	after, next := settled(t, env.Service, sc, between.NextCursor, "", 0)
	if len(after) != 2 || after[0].Type != domain.EventItemUpdated || after[1].Type != domain.EventItemCreated {
		t.Fatalf("after T1 commits, the consumer must get T1's then T2's event, got %+v", after)
	}
	var data struct{ ID, Name string }
	if err := json.Unmarshal(after[1].Data, &data); err != nil || data.ID != item.ID.String() || data.Name != "from T2" {
		t.Fatalf("the event's data must be the item as the API returns it, got %s", after[1].Data)
	}
	if after[1].OrganisationID != sc.OrganisationID || after[1].CommandID == nil {
		t.Fatalf("events carry the organisation and the command id, got %+v", after[1])
	}
	if again := feed(t, env.Service, sc, next); len(again.Data) != 0 {
		t.Fatalf("resuming from the last cursor must not repeat events, got %d", len(again.Data))
	}
}

func TestFeedPagesAndFilters(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // one item.created
	for range 4 {
		createItem(t, f.env, f.sc, "More", 100)
	}
	if _, _, err := f.book("", future(3), future(4)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seen, _ := settled(t, f.env.Service, f.sc, "", "", 2)
	if len(seen) != 6 || seen[5].Type != domain.EventBookingCreated {
		t.Fatalf("paging by 2 must return the 6 events in order, got %d", len(seen))
	}
	first, err := outbox.NewFeedQuery("", "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := f.env.Service.Events(ctx, f.sc, first); err != nil || len(p.Data) != 2 || !p.HasMore || p.NextCursor != p.Data[1].Cursor.String() {
		t.Fatalf("a full page says there is more and resumes after its last event, got %+v, %v", p, err)
	}
	if filtered, _ := settled(t, f.env.Service, f.sc, "", "booking.created, booking.cancelled", 0); len(filtered) != 1 || filtered[0].Type != domain.EventBookingCreated {
		t.Fatalf("types filters the feed, got %+v", filtered)
	}
	for _, bad := range []struct{ after, types string }{{"nope", ""}, {"", "booking.exploded"}} {
		if _, err := outbox.NewFeedQuery(bad.after, bad.types, 0); !domain.IsKind(err, domain.KindInvalid) {
			t.Errorf("after=%q types=%q must be invalid, got %v", bad.after, bad.types, err)
		}
	}
	// Another organisation's feed is its own.
	other, _ := f.env.Organisation(t, "other")
	if p := feed(t, f.env.Service, other, ""); len(p.Data) != 0 {
		t.Fatalf("an organisation sees only its events, got %d", len(p.Data))
	}
	// The tail is the newest event's position (retried: a parallel test's open
	// transaction can hold the newest event back for a moment).
	var tail outbox.Cursor
	var tailErr error
	if !testenv.Poll(2*time.Second, func() bool {
		tail, tailErr = f.env.Service.FeedTail(ctx, f.sc)
		return tailErr == nil && tail.String() == seen[5].Cursor.String()
	}) {
		t.Fatalf("the tail must be the newest event's position, got %v, %v", tail, tailErr)
	}
}

// TestSweepExpiresDueHolds: the sweep's command expires holds past their
// deadline across organisations, each with its booking.expired event, and
// leaves live holds alone; running it again changes nothing.
func TestSweepExpiresDueHolds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	due, _, err := f.book("", future(3), future(5))
	if err != nil {
		t.Fatal(err)
	}
	live, _, err := f.book("", future(6), future(8))
	if err != nil {
		t.Fatal(err)
	}
	otherSc, _ := f.env.Organisation(t, "other")
	other := fixture{env: f.env, sc: otherSc, item: createItem(t, f.env, otherSc, "Far room", 100)}
	otherDue, _, err := other.book("", future(3), future(5))
	if err != nil {
		t.Fatal(err)
	}
	f.env.Superuser.Exec(t, "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = ANY($1::uuid[])", []uuid.UUID{due.ID, otherDue.ID})

	n, err := f.env.Service.ExpireDueHolds(context.Background(), 100)
	if err != nil || n != 2 {
		t.Fatalf("the sweep must expire both due holds, expired %d, %v", n, err)
	}
	for _, id := range []string{due.ID.String(), otherDue.ID.String()} {
		if n := f.env.Superuser.Int(t, "SELECT count(*) FROM bookings b JOIN booking_items bi ON bi.booking_id = b.id WHERE b.id = $1 AND b.status = 'expired' AND bi.status = 'expired'", id); n != 1 {
			t.Fatalf("booking %v and its items must be recorded as expired", id)
		}
		if n := f.env.Superuser.Int(t, "SELECT count(*) FROM events WHERE type = 'booking.expired' AND data->>'id' = $1::text AND data->>'status' = 'expired' AND command_id = 'hold-expiry:' || $1::text", id); n != 1 {
			t.Fatalf("booking %v must have one booking.expired event from the sweep", id)
		}
	}
	if n := f.env.Superuser.Int(t, "SELECT count(*) FROM bookings WHERE id = $1 AND status = 'unpaid'", live.ID); n != 1 {
		t.Fatal("a live hold must stay unpaid")
	}
	if n, err := f.env.Service.ExpireDueHolds(context.Background(), 100); err != nil || n != 0 {
		t.Fatalf("a second sweep finds nothing to do, expired %d, %v", n, err)
	}
	if n := f.env.Superuser.Int(t, "SELECT count(*) FROM events WHERE type = 'booking.expired'"); n != 2 {
		t.Fatalf("each hold expires once, found %d booking.expired events", n)
	}
}
