package scope

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/vacancy-dev/vacancy/internal/db"
)

// Job is a background job's arguments: river.JobArgs, whose Kind names the
// worker that runs it.
type Job = river.JobArgs

// JobQueue inserts background jobs inside a transaction. River's client
// (*river.Client[pgx.Tx]) is one.
type JobQueue interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Enqueue inserts jobs in the scoped transaction it was handed out with.
type Enqueue func(ctx context.Context, jobs ...Job) error

// ErrNoJobQueue is Enqueue's answer when the caller configured no job queue.
var ErrNoJobQueue = errors.New("no job queue configured")

// TxJobs is Tx with an Enqueue bound to the same transaction: a job inserted
// through it exists exactly when the transaction's other changes do (the
// transactional outbox), and its worker cannot see it before the commit. jq may be
// nil, for callers that never enqueue: Enqueue then fails with ErrNoJobQueue.
func (d *DB) TxJobs(ctx context.Context, sc Scope, jq JobQueue, fn func(q *db.Queries, enqueue Enqueue) error) error {
	return d.TxSavepoints(ctx, sc, jq, func(q *db.Queries, enqueue Enqueue, _ Savepoint) error { return fn(q, enqueue) })
}

// Savepoint runs fn in a savepoint of the scoped transaction it was handed out
// with: fn's error rolls back what fn did and nothing else, and the transaction
// goes on. PostgreSQL aborts a whole transaction at its first failed statement;
// a savepoint lets one expected refusal (an exclusion violation) be only that.
type Savepoint func(ctx context.Context, fn func(q *db.Queries) error) error

// TxSavepoints is TxJobs whose fn may also run parts of its work in savepoints.
func (d *DB) TxSavepoints(ctx context.Context, sc Scope, jq JobQueue, fn func(q *db.Queries, enqueue Enqueue, savepoint Savepoint) error) error {
	tx, err := d.begin(ctx, sc)
	if err != nil {
		return err
	}
	defer func() {
		// Roll back even when ctx is done, but never wait on a hung server longer
		// than a rollback needs.
		rctx, cancel := CleanupContext(ctx)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	enqueue := func(ctx context.Context, jobs ...Job) error {
		if len(jobs) == 0 {
			return nil
		}
		if jq == nil {
			return ErrNoJobQueue
		}
		params := make([]river.InsertManyParams, len(jobs))
		for i, j := range jobs {
			params[i] = river.InsertManyParams{Args: j}
		}
		if _, err := jq.InsertManyTx(ctx, tx, params); err != nil {
			return fmt.Errorf("enqueue %d %s job(s): %w", len(jobs), jobs[0].Kind(), err)
		}
		return nil
	}
	savepoint := func(ctx context.Context, fn func(q *db.Queries) error) error {
		sp, err := tx.Begin(ctx) // inside a transaction, pgx begins a savepoint
		if err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		if err := fn(db.New(sp)); err != nil {
			if rerr := sp.Rollback(ctx); rerr != nil {
				return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rerr))
			}
			return err
		}
		if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("release savepoint: %w", err)
		}
		return nil
	}
	if err := fn(db.New(tx), enqueue, savepoint); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit scoped transaction: %w", err)
	}
	return nil
}
