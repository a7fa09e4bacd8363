// This file is written by hand, not by sqlc: it sends calls of the generated
// queries together. It builds Queries only over the connection or transaction
// q already has, so it opens no way around internal/scope.

package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Call is one call of a generated query in a Pipeline: it runs exactly one
// statement through the Queries it is given and keeps the results. It is run
// twice, first to learn its statement and arguments, then to read its results,
// so it must do nothing else: no statement that depends on another's results.
type Call func(q *Queries) error

// errRecording is what a Call's query returns while the pipeline learns its
// statement; the Call's own error is then ignored.
var errRecording = errors.New("statement recorded for a pipeline, not run")

// Pipeline runs calls' statements in one round trip, in order, and then lets
// each call read its results as if it had run alone. Statements that do not
// need one another's results (the reads a command starts with, the inserts it
// ends with) travel together instead of waiting for each other's answer.
//
// In a transaction the statements run in it, in order; the first that fails
// aborts the transaction as it would have one at a time, and Pipeline returns
// that call's error unchanged (an exclusion violation is still a *pgconn.PgError
// with its code). Outside a transaction they form one implicit transaction.
func (q *Queries) Pipeline(ctx context.Context, calls ...Call) error {
	if len(calls) == 0 {
		return nil
	}
	rec := &recorder{}
	for i, call := range calls {
		before := len(rec.batch.QueuedQueries)
		if err := call(New(rec)); err != nil && !errors.Is(err, errRecording) {
			return fmt.Errorf("pipeline call %d: %w", i, err)
		}
		if n := len(rec.batch.QueuedQueries) - before; n != 1 {
			return fmt.Errorf("pipeline call %d ran %d statements, not one", i, n)
		}
	}
	br := q.db.SendBatch(ctx, &rec.batch)
	var first error
	for _, call := range calls {
		if err := call(New(&replayer{br: br})); err != nil && first == nil {
			first = err
		}
	}
	if err := br.Close(); err != nil && first == nil {
		first = fmt.Errorf("pipeline: %w", err)
	}
	return first
}

// recorder is the DBTX a Call runs against first: it queues the statement
// instead of running it.
type recorder struct{ batch pgx.Batch }

func (r *recorder) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	r.batch.Queue(sql, args...)
	return pgconn.CommandTag{}, errRecording
}

func (r *recorder) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	r.batch.Queue(sql, args...)
	return nil, errRecording
}

func (r *recorder) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	r.batch.Queue(sql, args...)
	return errRow{}
}

func (r *recorder) SendBatch(context.Context, *pgx.Batch) pgx.BatchResults {
	// A batch query (one statement for many arguments) cannot join a pipeline:
	// queueing nothing makes Pipeline refuse the call.
	return pgx.FailedBatchResults(&pgx.Batch{}, errors.New("a batch query cannot join a pipeline"))
}

type errRow struct{}

func (errRow) Scan(...any) error { return errRecording }

// replayer is the DBTX a Call runs against second: it hands the call the next
// result of the sent batch, which is its own since calls read in order.
type replayer struct{ br pgx.BatchResults }

func (r *replayer) Exec(context.Context, string, ...any) (pgconn.CommandTag, error) {
	return r.br.Exec()
}

func (r *replayer) Query(context.Context, string, ...any) (pgx.Rows, error) {
	return r.br.Query()
}

func (r *replayer) QueryRow(context.Context, string, ...any) pgx.Row {
	return r.br.QueryRow()
}

func (r *replayer) SendBatch(context.Context, *pgx.Batch) pgx.BatchResults {
	return pgx.FailedBatchResults(&pgx.Batch{}, errors.New("a batch query cannot join a pipeline"))
}
