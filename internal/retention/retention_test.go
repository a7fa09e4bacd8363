package retention_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/outbox"
	"github.com/vacancy-dev/vacancy/internal/retention"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func createItems(t *testing.T, env *testenv.Env, sc scope.Scope, n int) {
	t.Helper()
	for i := range n {
		name, capacity, price := fmt.Sprintf("Room %d", i), int32(2), int64(100)
		meta, err := command.NewMeta("", sc.ActorID, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := catalogue.NewCreateItem(meta, catalogue.ItemInput{Name: &name, Capacity: &capacity, NightlyPrice: &price})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := env.Service.CreateItem(context.Background(), sc, cmd); err != nil {
			t.Fatalf("create item: %v", err)
		}
	}
}

// TestRetentionDeletesOnlyWhatIsPastItsWindow: before retention, nothing ever
// left commands, events or platform_commands. A run deletes the records older
// than their windows, in batches (2 rows a statement here), in every
// organisation, keeps the younger ones, and a feed cursor from before the deleted
// events answers cursor_expired instead of silently skipping them.
func TestRetentionDeletesOnlyWhatIsPastItsWindow(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	su := env.Superuser
	a, _ := env.Organisation(t, "old-timer")
	b, _ := env.Organisation(t, "newcomer")
	createItems(t, env, a, 5)
	createItems(t, env, b, 2)

	// A cursor at A's first event, taken before anything is deleted.
	first, err := env.Service.Events(context.Background(), a, outbox.FeedQuery{Limit: 1})
	if err != nil || len(first.Data) != 1 {
		t.Fatalf("read A's first event: %v %d", err, len(first.Data))
	}
	cursor := first.Data[0].Cursor

	// A's records age past their windows; B's and one of A's events stay young.
	su.Exec(t, "UPDATE commands SET started_at = now() - interval '8 days' WHERE organisation_id = $1", a.OrganisationID)
	su.Exec(t, `UPDATE events SET occurred_at = now() - interval '91 days' WHERE organisation_id = $1
		AND seq < (SELECT max(seq) FROM events WHERE organisation_id = $1)`, a.OrganisationID)
	su.Exec(t, "UPDATE platform_commands SET created_at = now() - interval '8 days' WHERE organisation_id = $1", a.OrganisationID)
	count := func(table string, sc scope.Scope) int {
		return su.Int(t, "SELECT count(*) FROM "+table+" WHERE organisation_id = $1", sc.OrganisationID)
	}
	commandsB, eventsA, eventsB := count("commands", b), count("events", a), count("events", b)
	if count("commands", a) < 5 || eventsA < 5 {
		t.Fatalf("the setup must leave A with at least 5 commands and events, has %d and %d", count("commands", a), eventsA)
	}

	r, err := env.Service.Purger(retention.Default).WithBatch(2).Run(context.Background(), time.Now())
	if err != nil {
		t.Fatalf("retention: %v", err)
	}
	t.Logf("retention deleted %+v", r)
	if n := count("commands", a); n != 0 {
		t.Errorf("A's commands older than 7 days must be deleted, %d left", n)
	}
	if n := count("events", a); n != 1 {
		t.Errorf("A's events older than 90 days must be deleted and its newest kept: %d left of %d", n, eventsA)
	}
	if n := count("platform_commands", a); n != 0 {
		t.Errorf("the platform command that created A, 8 days old, must be deleted, %d left", n)
	}
	if count("commands", b) != commandsB || count("events", b) != eventsB {
		t.Errorf("B's young records must stay: commands %d of %d, events %d of %d", count("commands", b), commandsB, count("events", b), eventsB)
	}
	if r.Organisations < 2 || r.Events != int64(eventsA-1) {
		t.Errorf("the report must count what was deleted in every organisation: %+v", r)
	}

	_, err = env.Service.Events(context.Background(), a, outbox.FeedQuery{After: cursor, Limit: 10})
	if de, ok := domain.AsError(err); !ok || de.Kind != domain.KindGone || de.Code != domain.CodeCursorExpired {
		t.Fatalf("a cursor from before the deleted events must be refused with cursor_expired, got %v", err)
	}
	if err := env.Service.CheckCursor(context.Background(), a, cursor); !domain.IsKind(err, domain.KindGone) {
		t.Fatalf("a stream resuming from that cursor must be refused too, got %v", err)
	}
	feed, err := env.Service.Events(context.Background(), a, outbox.FeedQuery{Limit: 10})
	if err != nil || len(feed.Data) != 1 {
		t.Fatalf("the feed from its start shows the kept event: %v %d", err, len(feed.Data))
	}
	if _, err := env.Service.Events(context.Background(), a, outbox.FeedQuery{After: feed.Data[0].Cursor, Limit: 10}); err != nil {
		t.Fatalf("a cursor at a kept event resumes: %v", err)
	}

	// A second run finds nothing more and reads little.
	again, err := env.Service.Purger(retention.Default).Run(context.Background(), time.Now())
	if err != nil || again.Commands+again.Events+again.PlatformCommands+again.Deliveries != 0 {
		t.Fatalf("a second run deletes nothing: %+v %v", again, err)
	}
}
