package scale_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/retention"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
)

// oldEvents is how many events older than the events window the measurement
// gives the loaded organisation to delete.
const oldEvents = 1_000_000

// TestRetentionAtAMillionEvents: the retention job deletes a million events of
// one organisation, past the 90-day window, in batches of 1000, while a writer
// keeps creating items in the same organisation (each a command with an event,
// which takes the organisation's event-position row that the purge also
// updates). Every old event goes, none of the writer's; the writer's latencies
// during the purge are logged beside its latencies before it, and no write may
// wait for the purge as a whole (its slowest stays under 5 s, while the purge
// takes far longer).
func TestRetentionAtAMillionEvents(t *testing.T) {
	ld := load(t)
	ctx := context.Background()
	su := pgtest.Superuser(t, ld.url)
	org := ld.org.OrganisationID
	started := time.Now()
	// The organisation's feed starts again with the old events at positions
	// 1..oldEvents (as if they were its first), so that a rerun measures the same
	// thing; its last position never goes back.
	su.Exec(t, "DELETE FROM events WHERE organisation_id = $1", org)
	su.Exec(t, `INSERT INTO events (organisation_id, id, type, data, position, occurred_at)
		SELECT $1, gen_random_uuid(), 'scale.old', '{}', g, now() - interval '200 days' + g * interval '1 second'
		FROM generate_series(1, $2::bigint) g`, org, oldEvents)
	su.Exec(t, `INSERT INTO event_positions (organisation_id, last_position) VALUES ($1, $2::bigint)
		ON CONFLICT (organisation_id) DO UPDATE
		SET last_position = greatest(event_positions.last_position, EXCLUDED.last_position), purged_through = 0`, org, oldEvents)
	su.Exec(t, "VACUUM (ANALYZE) events")
	t.Logf("gave the organisation %d old events in %s", oldEvents, time.Since(started).Round(time.Second))

	d, err := scope.Open(ctx, ld.url, scope.Config{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	svc := service.New(d, service.Config{})
	write := func() time.Duration {
		t.Helper()
		name, capacity, price := "Retention probe", int32(2), int64(100)
		meta, _ := command.NewMeta("", ld.org.ActorID, nil, time.Now())
		cmd, err := catalogue.NewCreateItem(meta, catalogue.ItemInput{Name: &name, Capacity: &capacity, NightlyPrice: &price})
		if err != nil {
			t.Fatal(err)
		}
		begun := time.Now()
		if _, _, err := svc.CreateItem(ctx, ld.org, cmd); err != nil {
			t.Errorf("create item during the purge: %v", err)
		}
		return time.Since(begun)
	}
	var before []time.Duration
	for range 50 {
		before = append(before, write())
	}

	var (
		mu     sync.Mutex
		during []time.Duration
		done   = make(chan struct{})
		wg     sync.WaitGroup
	)
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			d := write()
			mu.Lock()
			during = append(during, d)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	})
	purgeStarted := time.Now()
	rep, err := retention.New(d, retention.Windows{Events: 90 * 24 * time.Hour}).Run(ctx, time.Now())
	took := time.Since(purgeStarted)
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if left := su.Int(t, "SELECT count(*) FROM events WHERE organisation_id = $1 AND type = 'scale.old'", org); left != 0 {
		t.Errorf("%d old events left after the run", left)
	}
	if rep.Events < oldEvents {
		t.Errorf("the run deleted %d events, want at least %d", rep.Events, oldEvents)
	}
	if kept := su.Int(t, "SELECT count(*) FROM events WHERE organisation_id = $1 AND type = 'item.created' AND data->>'name' = 'Retention probe'", org); kept < len(before) {
		t.Errorf("only %d of the writer's events are left", kept)
	}
	p := func(ds []time.Duration, q float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[int(q*float64(len(s)-1))].Round(time.Millisecond)
	}
	t.Logf("deleted %d events in %s (%.0f rows/s); writer before: p50 %s p99 %s; during (%d writes): p50 %s p99 %s max %s",
		rep.Events, took.Round(time.Millisecond), float64(rep.Events)/took.Seconds(),
		p(before, 0.5), p(before, 0.99), len(during), p(during, 0.5), p(during, 0.99), p(during, 1))
	if len(during) == 0 {
		t.Fatal("no write ran during the purge")
	}
	if m := p(during, 1); m > 5*time.Second {
		t.Errorf("a write waited %s during the purge: writers must not wait for the purge as a whole", m)
	}
}
