package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// tracer watches the floor's pool: it counts the statements of each floor
// request (so the report can show how many round trips a request costs) and
// keeps the first call of each named sqlc query, to EXPLAIN it afterwards with
// exactly the SQL text and arguments the server sends.
type tracer struct {
	mu       sync.Mutex
	captured map[string]call
}

type call struct {
	sql  string
	args []any
}

type counterKey struct{}

// requestCount is what one floor request sent: statements, and round trips (a
// pipelined batch of statements is one).
type requestCount struct{ statements, roundTrips atomic.Int64 }

func (t *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if n, ok := ctx.Value(counterKey{}).(*requestCount); ok {
		n.statements.Add(1)
		n.roundTrips.Add(1)
	}
	t.capture(data.SQL, data.Args)
	return ctx
}

func (t *tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	if n, ok := ctx.Value(counterKey{}).(*requestCount); ok {
		n.roundTrips.Add(1)
	}
	return ctx
}

func (t *tracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	if n, ok := ctx.Value(counterKey{}).(*requestCount); ok {
		n.statements.Add(1)
	}
	t.capture(data.SQL, data.Args)
}

func (t *tracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// capture keeps the first call of each named sqlc query.
func (t *tracer) capture(sql string, args []any) {
	name, ok := strings.CutPrefix(sql, "-- name: ")
	if !ok {
		return
	}
	name, _, _ = strings.Cut(name, " ")
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.captured == nil {
		t.captured = map[string]call{}
	}
	if _, seen := t.captured[name]; !seen {
		t.captured[name] = call{sql: sql, args: append([]any(nil), args...)}
	}
}

func (t *tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (t *tracer) get(name string) (call, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.captured[name]
	return c, ok
}

// statementsPerRequest runs op once and counts the statements it sent and the
// round trips they took (BEGIN with the tenant setting, and COMMIT, included:
// each is one statement and one round trip).
func statementsPerRequest(ctx context.Context, op func(context.Context) error) (statements, roundTrips int64, err error) {
	var n requestCount
	err = op(context.WithValue(ctx, counterKey{}, &n))
	return n.statements.Load(), n.roundTrips.Load(), err
}

// Plan is the EXPLAIN of one captured query, as the server runs it.
type Plan struct {
	Query   string `json:"query"`
	Dataset string `json:"dataset"`
	Custom  string `json:"custom_plan"`            // planned for these arguments
	Generic string `json:"generic_plan,omitempty"` // the plan a prepared statement may settle on after 5 runs
}

// explain runs EXPLAIN (ANALYZE, BUFFERS) of a captured query in a transaction
// shaped like the server's: as the application role, with the organisation
// setting that row level security reads. It is rolled back.
func explain(ctx context.Context, url, dataset, name string, c call, orgID uuid.UUID) (Plan, error) {
	p := Plan{Query: name, Dataset: dataset}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return p, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return p, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+scope.AppRole); err != nil {
		return p, fmt.Errorf("set role: %w", err)
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('app.organisation_id', $1, true)", orgID.String()); err != nil {
		return p, fmt.Errorf("set organisation: %w", err)
	}
	plan := func(sql string, args ...any) (string, error) {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return "", err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		return strings.Join(lines, "\n"), err
	}
	if p.Custom, err = plan("EXPLAIN (ANALYZE, BUFFERS) "+c.sql, c.args...); err != nil {
		return p, fmt.Errorf("explain %s: %w", name, err)
	}
	lits := make([]string, len(c.args))
	for i, a := range c.args {
		if lits[i], err = pgtest.Literal(a); err != nil {
			return p, fmt.Errorf("explain %s: %w", name, err)
		}
	}
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
		return p, err
	}
	if _, err := tx.Exec(ctx, "PREPARE bench_generic AS "+c.sql); err != nil {
		return p, fmt.Errorf("prepare %s: %w", name, err)
	}
	if p.Generic, err = plan("EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_generic(" + strings.Join(lits, ", ") + ")"); err != nil {
		return p, fmt.Errorf("explain generic %s: %w", name, err)
	}
	return p, nil
}

// explainMinimal runs EXPLAIN (ANALYZE, BUFFERS) of the minimal availability
// statement as the minimal floor runs it (the superuser, no row level
// security), for the first organisation, a two-night stay a month ahead and
// one guest.
func explainMinimal(ctx context.Context, ds *dataset, dataset string, quantity int) (Plan, error) {
	p := Plan{Query: fmt.Sprintf("minimal availability, quantity %d", max(1, quantity)), Dataset: dataset}
	conn, err := pgx.Connect(ctx, ds.URL)
	if err != nil {
		return p, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	in := ds.Today.AddDate(0, 0, 30)
	args := []any{ds.Orgs[0].ID.String(), in, in.AddDate(0, 0, 2), int32(1), int32(max(1, quantity))}
	plan := func(sql string, args ...any) (string, error) {
		rows, err := conn.Query(ctx, sql, args...)
		if err != nil {
			return "", err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		return strings.Join(lines, "\n"), err
	}
	if p.Custom, err = plan("EXPLAIN (ANALYZE, BUFFERS) "+minimalAvailabilitySQL, args...); err != nil {
		return p, fmt.Errorf("explain minimal availability: %w", err)
	}
	return p, nil
}
