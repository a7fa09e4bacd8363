package scope_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// TestPipeline: calls of generated queries sent together read their own
// results, in a scoped transaction under row level security; the first
// statement that fails is the error, with its SQLSTATE, and aborts the rest.
func TestPipeline(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	a, _ := env.Organisation(t, "pipe-a")
	b, _ := env.Organisation(t, "pipe-b")
	room := addItem(t, env, a, "a-room")
	bRoom := addItem(t, env, b, "b-room")

	t.Run("every call reads its own results", func(t *testing.T) {
		var clock db.OrganisationClockRow
		var items []db.ItemsByIDsRow
		var missing error
		err := env.DB.Tx(ctx, a, func(q *db.Queries) error {
			return q.Pipeline(ctx,
				func(q *db.Queries) (err error) { clock, err = q.OrganisationClock(ctx, a.OrganisationID); return err },
				func(q *db.Queries) (err error) {
					items, err = q.ItemsByIDs(ctx, db.ItemsByIDsParams{OrganisationID: a.OrganisationID, Ids: []uuid.UUID{room.ID, bRoom.ID}})
					return err
				},
				func(q *db.Queries) error {
					_, missing = q.GetItem(ctx, db.GetItemParams{OrganisationID: a.OrganisationID, ID: bRoom.ID})
					return nil
				},
			)
		})
		if err != nil {
			t.Fatal(err)
		}
		if clock.ID != a.OrganisationID || clock.Slug != "pipe-a" {
			t.Errorf("the clock call must read A's organisation, got %s %q", clock.ID, clock.Slug)
		}
		if len(items) != 1 || items[0].Item.ID != room.ID {
			t.Errorf("the items call must see A's room only (row level security), got %d rows", len(items))
		}
		if !errors.Is(missing, pgx.ErrNoRows) {
			t.Errorf("a :one call with no row must get pgx.ErrNoRows, got %v", missing)
		}
	})

	t.Run("the first failure is the error and aborts the transaction", func(t *testing.T) {
		var after error
		err := env.DB.Tx(ctx, a, func(q *db.Queries) error {
			return q.Pipeline(ctx,
				func(q *db.Queries) error {
					// B's organisation, inserted in A's scope: row level security refuses it.
					_, err := q.InsertBlock(ctx, db.InsertBlockParams{OrganisationID: b.OrganisationID, ID: uuid.Must(uuid.NewV7()),
						ItemID: bRoom.ID, UnitID: uuid.Must(uuid.NewV7()), StartDate: time.Now().AddDate(0, 0, 1), EndDate: time.Now().AddDate(0, 0, 2),
						Kind: "maintenance"})
					return err
				},
				func(q *db.Queries) (err error) { _, after = q.OrganisationClock(ctx, a.OrganisationID); return nil },
			)
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Fatalf("the refused insert's error must come back with its SQLSTATE 42501, got %v", err)
		}
		if after == nil {
			t.Error("a statement after the failed one must not succeed")
		}
	})

	t.Run("a call must run exactly one statement", func(t *testing.T) {
		err := env.DB.Tx(ctx, a, func(q *db.Queries) error {
			return q.Pipeline(ctx, func(q *db.Queries) error { return nil })
		})
		if err == nil {
			t.Fatal("a call that runs no statement must be refused")
		}
	})
}
