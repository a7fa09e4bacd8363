// Package command runs Vacancy's commands: the metadata every command carries
// (idempotency id, issue time, actor, expected version), and the executor that runs
// a handler exactly once per idempotency key, in one tenant-scoped transaction with
// the command's record and its published events. Domain packages (catalogue,
// booking, tenancy, outbox) build on it; it knows none of them and nothing of HTTP.
package command

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"

	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Meta is what every command carries besides its own fields.
type Meta struct {
	// ID is the idempotency key: the client's Idempotency-Key, or a generated
	// UUIDv7 when it sent none. Commands with the same ID from the same actor run once.
	ID string
	// IssuedAt is when the command was built.
	IssuedAt time.Time
	// Actor is the API key that issued it (uuid.Nil for the platform operator).
	Actor uuid.UUID
	// ExpectedVersion, when set, is the version the client last saw (If-Match);
	// a different current version fails with CodeStaleVersion and changes nothing.
	ExpectedVersion *int32
}

// NewMeta stamps a command's metadata. An empty key gets a generated UUIDv7.
func NewMeta(key string, actor uuid.UUID, expectedVersion *int32, now time.Time) (Meta, error) {
	if key == "" {
		key = uuid.Must(uuid.NewV7()).String()
	}
	if len(key) > 255 {
		return Meta{}, domain.Invalid("Idempotency-Key", "too_long", "the idempotency key must be at most 255 characters")
	}
	for _, r := range key {
		if r < 0x21 || r > 0x7e {
			return Meta{}, domain.Invalid("Idempotency-Key", "invalid", "the idempotency key must be printable ASCII without spaces")
		}
	}
	return Meta{ID: key, IssuedAt: now, Actor: actor, ExpectedVersion: expectedVersion}, nil
}

// Receipt tells the caller how a command was handled.
type Receipt struct {
	CommandID string
	// Replayed is true when the outcome is the stored outcome of an earlier
	// execution of the same command; nothing was executed again.
	Replayed bool
}

// claimLease is how long a claimed command may run before another request with
// the same key may take it over, when the request has no deadline. A request with
// a deadline holds its claim until claimGrace after it (see leaseFor).
const claimLease = 2 * time.Minute

// claimGrace is how long a claim outlives its request's deadline. No statement of
// the executor runs past the deadline (every one runs under the request's context),
// so after the grace the executor is gone, whatever happened to it.
const claimGrace = 5 * time.Second

// leaseFor is how long to hold a claim for a request. A live executor never loses
// its claim; one that died without releasing it (the server crashed, or the
// database went away before the release) blocks retries with its key only until
// shortly after its deadline, not for claimLease. The lease is only about
// liveness: FinishCommand checks the claim, so a late executor cannot record an
// outcome over one that took over.
func leaseFor(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return min(claimLease, max(time.Until(dl), 0)+claimGrace)
	}
	return claimLease
}

// Executor runs commands. One Executor serves every domain service over a database.
type Executor struct {
	db       *scope.DB
	log      *slog.Logger
	observer Observer
	tracer   trace.Tracer   // nil: no command spans
	jobs     scope.JobQueue // background jobs enqueued by commands (webhook deliveries)
	publish  Publisher
}

// Publisher writes a command's events (and whatever they fan out to) in the
// command's transaction, sending with (the command's own last statements) in
// its first round trip. internal/outbox provides it.
type Publisher func(ctx context.Context, q *db.Queries, sc scope.Scope, enqueue scope.Enqueue, commandID string, events []domain.Event, with ...db.Call) error

// Option configures an Executor.
type Option func(*Executor)

// WithLogger sets the logger for command records.
func WithLogger(l *slog.Logger) Option { return func(e *Executor) { e.log = l } }

// WithObserver adds a hook called after every handled command.
func WithObserver(o Observer) Option { return func(e *Executor) { e.observer = o } }

// WithJobQueue sets the queue that commands enqueue background jobs on, in their
// own transaction (webhook deliveries). Without one, a command whose events an
// enabled webhook endpoint wants fails.
func WithJobQueue(jq scope.JobQueue) Option { return func(e *Executor) { e.jobs = jq } }

// NewExecutor returns an Executor over d that publishes events with publish.
func NewExecutor(d *scope.DB, publish Publisher, opts ...Option) *Executor {
	e := &Executor{db: d, log: slog.New(slog.DiscardHandler), publish: publish}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Logger is the executor's logger, for services that log beside their commands.
func (e *Executor) Logger() *slog.Logger { return e.log }

// Run runs one command exactly once per (organisation, actor, command id), in
// one scoped transaction that claims the key, runs fn, records the outcome and
// writes fn's events, so that a command's effects, its record and its events
// commit together or not at all:
//
//  1. take the key's transaction lock without waiting (another request running
//     the same key now gets idempotency_key_in_use at once), then claim it, or
//     learn that it is done (replay) or reused for a different command;
//  2. run fn, record the outcome and publish the events, the record travelling
//     with the publication's first round trip;
//  3. on a domain error, roll all of it back and record that outcome in a short
//     transaction of its own; on any other error, roll back and record nothing,
//     so a retry runs again. A crashed executor's claim dies with its
//     transaction: no key outlives the request that held it.
//
// fields is the command without Meta; its JSON, with the type, is the fingerprint
// that tells a retry from a different request under the same key.
func Run[T any](ctx context.Context, s *Executor, sc scope.Scope, meta Meta, op domain.Operation, fields any,
	fn func(q *db.Queries) (T, []domain.Event, error)) (T, Receipt, error) {
	return RunJobs(ctx, s, sc, meta, op, fields, func(q *db.Queries, _ scope.Enqueue) (T, []domain.Event, error) { return fn(q) })
}

// RunJobs is Run for handlers that also enqueue background jobs: enqueue
// inserts them in the command's transaction.
func RunJobs[T any](ctx context.Context, s *Executor, sc scope.Scope, meta Meta, op domain.Operation, fields any,
	fn func(q *db.Queries, enqueue scope.Enqueue) (T, []domain.Event, error)) (T, Receipt, error) {
	return run(ctx, s, sc, meta, op, fields, nil, fn)
}

// RunChecked is Run with a check that needs no transaction but must not be
// repeated for a retry, such as resolving a webhook URL's host: it runs after
// the claim and before the transaction, and its domain error is the command's
// recorded outcome, so a retry with the same key replays it instead of asking
// the network again (and perhaps hearing another answer). Because the check runs
// outside the transaction, the claim is committed first in a short transaction
// of its own, with a lease (see leaseFor) in case the executor dies.
func RunChecked[T any](ctx context.Context, s *Executor, sc scope.Scope, meta Meta, op domain.Operation, fields any,
	check func(ctx context.Context) error, fn func(q *db.Queries) (T, []domain.Event, error)) (T, Receipt, error) {
	return run(ctx, s, sc, meta, op, fields, check, func(q *db.Queries, _ scope.Enqueue) (T, []domain.Event, error) { return fn(q) })
}

// execution is one run of a command: what every step of it needs to know.
type execution struct {
	s       *Executor
	sc      scope.Scope
	meta    Meta
	typ     string
	fp      []byte
	claim   uuid.UUID
	key     db.GetCommandParams
	started time.Time
	// claimed is true when the log holds a claim row of this execution's (a
	// committed claim, or a lapsed one taken over): its outcome then updates
	// that row. Otherwise the outcome is the execution's only write to the log.
	claimed bool
	// leased is true when the claim was committed before the command's
	// transaction (RunChecked), with a lease.
	leased bool
}

func run[T any](ctx context.Context, s *Executor, sc scope.Scope, meta Meta, op domain.Operation, fields any,
	check func(ctx context.Context) error, fn func(q *db.Queries, enqueue scope.Enqueue) (T, []domain.Event, error)) (T, Receipt, error) {
	var zero T
	if err := domain.Authorize(sc, op); err != nil {
		return zero, Receipt{}, err
	}
	typ := string(op)
	x := &execution{s: s, sc: sc, meta: meta, typ: typ, claim: uuid.Must(uuid.NewV7()), started: time.Now(),
		key: db.GetCommandParams{OrganisationID: sc.OrganisationID, ActorID: meta.Actor, ID: meta.ID}}
	ctx, span := s.startSpan(ctx, typ, meta.ID)
	defer span.End()
	receipt := Receipt{CommandID: meta.ID}
	fp, err := Fingerprint(typ, fields, meta.ExpectedVersion)
	if err != nil {
		return zero, receipt, err
	}
	x.fp = fp

	var prior *db.GetCommandRow
	if check != nil {
		if prior, err = x.claimAlone(ctx); err != nil {
			s.observe(ctx, typ, meta.ID, "error", false, time.Since(x.started))
			return zero, receipt, err
		}
		if prior == nil {
			err = check(ctx)
		}
	}
	var result T
	if prior == nil && err == nil {
		err = s.db.TxJobs(ctx, sc, s.jobs, func(q *db.Queries, enqueue scope.Enqueue) error {
			if check == nil {
				p, err := x.open(ctx, q)
				if err != nil || p != nil {
					prior = p
					return err
				}
			}
			var events []domain.Event
			var err error
			result, events, err = fn(q, enqueue)
			if err != nil {
				return err
			}
			body, err := json.Marshal(result)
			if err != nil {
				return fmt.Errorf("encode %s result: %w", typ, err)
			}
			// Publishing last: it takes the organisation's event-position lock, which
			// the transaction holds until it commits (see outbox.Publish). The
			// record travels in publication's first round trip.
			return s.publish(ctx, q, sc, enqueue, meta.ID, events, x.finish(ctx, "ok", body))
		})
	}
	if prior != nil {
		v, rc, err := replay[T](prior, typ, fp, receipt)
		s.observe(ctx, typ, meta.ID, outcomeOf(err), rc.Replayed, time.Since(x.started))
		return v, rc, err
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if derr, ok := domain.AsError(err); ok {
			outcome = string(derr.Kind)
			if derr.Code == domain.CodeKeyInUse {
				// Another executor has the key; it records the outcome.
				s.observe(ctx, typ, meta.ID, outcome, false, time.Since(x.started))
				return zero, receipt, err
			}
			x.record(ctx, outcome, derr)
		} else {
			if check != nil {
				// Unknown outcome (database gone, deadline passed): the transaction
				// rolled back, or committed with the command finished, so free the
				// committed claim and let the client retry with the key.
				x.release(ctx)
			}
			err = fmt.Errorf("%s %s: %w", typ, meta.ID, err)
		}
	}
	s.observe(ctx, typ, meta.ID, outcome, false, time.Since(x.started))
	return result, receipt, err
}

// open starts the command in q's transaction, in one round trip: it sets the
// transaction to run generic plans (see PreferGenericPlans), takes the key's
// lock without waiting (a command running under the key now answers
// idempotency_key_in_use) and reads the key's record. A done record, or a
// committed claim of another's still running, comes back as prior. A claim
// whose executor died (its lease lapsed) is taken over. A new key writes
// nothing yet: the outcome is recorded with the command's own writes, and a
// crash leaves nothing behind.
func (x *execution) open(ctx context.Context, q *db.Queries) (*db.GetCommandRow, error) {
	var locked, found bool
	var row db.GetCommandRow
	err := q.Pipeline(ctx, PreferGenericPlans(ctx), x.lockCall(ctx, &locked),
		func(q *db.Queries) error {
			r, err := q.GetCommand(ctx, x.key)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read command %s: %w", x.meta.ID, err)
			}
			row, found = r, true
			return nil
		})
	if err != nil {
		return nil, err
	}
	if !locked {
		return nil, keyInUse()
	}
	if !found {
		return nil, nil
	}
	if row.State == "done" {
		return &row, nil
	}
	return x.claimRow(ctx, q, 0)
}

// PreferGenericPlans is the statement that makes the rest of a transaction run
// generic plans (the query's comment says when that pays), as a call of a
// pipeline.
func PreferGenericPlans(ctx context.Context) db.Call {
	return func(q *db.Queries) error {
		if err := q.PreferGenericPlans(ctx); err != nil {
			return fmt.Errorf("prefer generic plans: %w", err)
		}
		return nil
	}
}

func keyInUse() *domain.Error {
	e := domain.Conflict(domain.CodeKeyInUse, "a request with this idempotency key is still being processed")
	e.RetryAfter = time.Second
	return e
}

// lockCall takes the key's transaction lock without waiting, as a call of a
// pipeline: locked says whether it was free.
func (x *execution) lockCall(ctx context.Context, locked *bool) db.Call {
	return func(q *db.Queries) (err error) {
		*locked, err = q.LockCommandKey(ctx, db.LockCommandKeyParams{OrganisationID: x.sc.OrganisationID, ActorID: x.meta.Actor, ID: x.meta.ID})
		if err != nil {
			return fmt.Errorf("lock command key %s: %w", x.meta.ID, err)
		}
		return nil
	}
}

// claimIn claims the command's key in q's transaction: its lock, without
// waiting, then its row (claimRow).
func (x *execution) claimIn(ctx context.Context, q *db.Queries, lease time.Duration) (*db.GetCommandRow, error) {
	var locked bool
	if err := x.lockCall(ctx, &locked)(q); err != nil {
		return nil, err
	}
	if !locked {
		return nil, keyInUse()
	}
	return x.claimRow(ctx, q, lease)
}

// claimRow claims the row of a key whose lock q's transaction holds: a new one
// or a lapsed one taken over, held for lease once committed (0 when it commits
// only with the outcome). A prior outcome, or another's committed claim still
// running, comes back as prior.
func (x *execution) claimRow(ctx context.Context, q *db.Queries, lease time.Duration) (*db.GetCommandRow, error) {
	_, err := q.ClaimCommand(ctx, db.ClaimCommandParams{
		OrganisationID: x.sc.OrganisationID, ActorID: x.meta.Actor, ID: x.meta.ID, Type: x.typ,
		Fingerprint: x.fp, Claim: x.claim, LeaseSeconds: lease.Seconds(),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		row, err := q.GetCommand(ctx, x.key)
		if err != nil {
			return nil, fmt.Errorf("read command %s: %w", x.meta.ID, err)
		}
		return &row, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim command %s: %w", x.meta.ID, err)
	}
	x.claimed = true
	return nil, nil
}

// claimAlone commits the command's claim in a short transaction of its own,
// with a lease, for a command that must do work outside its transaction.
func (x *execution) claimAlone(ctx context.Context) (*db.GetCommandRow, error) {
	var prior *db.GetCommandRow
	err := x.s.db.Tx(ctx, x.sc, func(q *db.Queries) error {
		var err error
		prior, err = x.claimIn(ctx, q, leaseFor(ctx))
		return err
	})
	x.leased = err == nil && prior == nil
	if err != nil {
		if _, ok := domain.AsError(err); !ok {
			// The claim may have committed even though we did not hear so (the
			// request was cancelled while COMMIT was on its way): free it.
			x.release(ctx)
		}
		return nil, err
	}
	return prior, nil
}

// finish is the statement that records the command's outcome, as a call of a
// pipeline: the record itself, or the update of the execution's claim. It fails
// with idempotency_key_in_use when the key is no longer ours (a lapsed lease
// taken over).
func (x *execution) finish(ctx context.Context, outcome string, body []byte) db.Call {
	took := float64(time.Since(x.started).Microseconds()) / 1000
	claimed := x.claimed
	return func(q *db.Queries) error {
		var n int64
		var err error
		if claimed {
			n, err = q.FinishCommand(ctx, db.FinishCommandParams{OrganisationID: x.key.OrganisationID, ActorID: x.key.ActorID,
				ID: x.key.ID, Claim: x.claim, Outcome: &outcome, Result: body, DurationMs: took})
		} else {
			n, err = q.RecordCommand(ctx, db.RecordCommandParams{OrganisationID: x.key.OrganisationID, ActorID: x.key.ActorID,
				ID: x.key.ID, Type: x.typ, Fingerprint: x.fp, Claim: x.claim, Outcome: &outcome, Result: body, DurationMs: took})
		}
		if err != nil {
			return fmt.Errorf("record command %s: %w", x.key.ID, err)
		}
		if n == 0 {
			return domain.Conflict(domain.CodeKeyInUse, "a request with this idempotency key took over while this one was running")
		}
		return nil
	}
}

// record stores a domain error as the command's outcome, after its transaction
// rolled back, in a short transaction: the update of the execution's committed
// claim, or else a claim made again, under the key's lock, and its update. A
// request that runs the key meanwhile (it holds the lock) records its own
// outcome instead, and one that recorded already keeps its record. Best
// effort: a failure is logged.
func (x *execution) record(ctx context.Context, outcome string, derr *domain.Error) {
	body, err := json.Marshal(derr)
	if err == nil {
		err = x.s.db.Tx(ctx, x.sc, func(q *db.Queries) error {
			if !x.leased {
				// Nothing of the rolled-back transaction's is left: claim the key
				// again (under its lock; in use means another request has it now).
				x.claimed = false
				if p, err := x.claimIn(ctx, q, 0); err != nil || p != nil {
					return err
				}
			}
			return x.finish(ctx, outcome, body)(q)
		})
	}
	if derr, ok := domain.AsError(err); ok && derr.Code == domain.CodeKeyInUse {
		return
	}
	if err != nil {
		x.s.log.WarnContext(ctx, "record command outcome", "command_id", x.meta.ID, "err", err)
	}
}

// outcomeOf names an error as the command log and metrics do: ok, the kind of
// a domain error, or error.
func outcomeOf(err error) string {
	if err == nil {
		return "ok"
	}
	if derr, ok := domain.AsError(err); ok {
		return string(derr.Kind)
	}
	return "error"
}

// release gives up a committed claim that is still running under our claim id,
// so a retry with the key executes at once. It deletes nothing when the claim
// never committed, or when the command finished (its commit went through after
// all). It is best effort, bounded by scope.CleanupContext (against a hung
// database it must not outlive the request); a claim it cannot release lapses
// with its lease.
func (x *execution) release(ctx context.Context) {
	rctx, cancel := scope.CleanupContext(ctx)
	defer cancel()
	err := x.s.db.Tx(rctx, x.sc, func(q *db.Queries) error {
		return q.ReleaseCommand(rctx, db.ReleaseCommandParams{
			OrganisationID: x.sc.OrganisationID, ActorID: x.meta.Actor, ID: x.meta.ID, Claim: x.claim})
	})
	if err != nil {
		x.s.log.WarnContext(ctx, "release command claim", "command_id", x.meta.ID, "err", err)
	}
}

// replay answers a retry from the stored outcome of the earlier execution.
func replay[T any](prior *db.GetCommandRow, typ string, fp []byte, receipt Receipt) (T, Receipt, error) {
	var zero T
	if prior.Type != typ || string(prior.Fingerprint) != string(fp) {
		return zero, receipt, ErrKeyReused()
	}
	if prior.State != "done" {
		e := domain.Conflict(domain.CodeKeyInUse, "a request with this idempotency key is still being processed")
		// The first request holds the key until it finishes, or until its claim
		// lapses if it died (leaseFor): retry then at the latest.
		e.RetryAfter = time.Until(prior.LockedUntil)
		return zero, receipt, e
	}
	receipt.Replayed = true
	if prior.Outcome != nil && *prior.Outcome != "ok" {
		var derr domain.Error
		if err := json.Unmarshal(prior.Result, &derr); err != nil {
			return zero, receipt, fmt.Errorf("decode stored outcome: %w", err)
		}
		return zero, receipt, &derr
	}
	var v T
	if err := json.Unmarshal(prior.Result, &v); err != nil {
		return zero, receipt, fmt.Errorf("decode stored result: %w", err)
	}
	return v, receipt, nil
}

// ErrKeyReused is the answer to an idempotency key sent again with a different request.
func ErrKeyReused() error {
	return &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeKeyReused,
		Message: "this idempotency key was already used for a different request"}
}

// Fingerprint is what tells a retry from a different request under the same key:
// a hash of the command's type, fields and expected version.
func Fingerprint(typ string, fields any, expected *int32) ([]byte, error) {
	b, err := json.Marshal(struct {
		Type     string `json:"type"`
		Expected *int32 `json:"expected_version"`
		Fields   any    `json:"fields"`
	}{typ, expected, fields})
	if err != nil {
		return nil, fmt.Errorf("fingerprint %s: %w", typ, err)
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// CheckVersion enforces optimistic concurrency: with an expected version (If-Match),
// a resource at any other version answers stale_version.
func (m Meta) CheckVersion(current int32) error {
	if m.ExpectedVersion != nil && *m.ExpectedVersion != current {
		return &domain.Error{Kind: domain.KindConflict, Code: domain.CodeStaleVersion,
			Message: fmt.Sprintf("the resource is at version %d, not %d", current, *m.ExpectedVersion)}
	}
	return nil
}

// RecordDone records a command that ran outside the executor (the platform's
// organisation creation) as done in the organisation's command log, in q's
// transaction, like every command.
func RecordDone(ctx context.Context, q *db.Queries, sc scope.Scope, meta Meta, op domain.Operation, fp []byte) error {
	x := execution{sc: sc, meta: meta, typ: string(op), fp: fp, claim: uuid.Must(uuid.NewV7()), started: time.Now(),
		key: db.GetCommandParams{OrganisationID: sc.OrganisationID, ActorID: meta.Actor, ID: meta.ID}}
	if err := x.finish(ctx, "ok", []byte(`{}`))(q); err != nil {
		return fmt.Errorf("record command: %w", err)
	}
	return nil
}

// Observer hears about every handled command (for logs and metrics): executed,
// replayed from its stored outcome (outcome Replayed), or failed before it could
// run (its claim failed: outcome "error").
type Observer func(ctx context.Context, commandType, commandID, outcome string, d time.Duration)

// Replayed is the outcome an Observer hears for a retry answered from the stored
// outcome of the first execution, whatever that was (it is in the log line).
const Replayed = "replayed"

func (s *Executor) observe(ctx context.Context, typ, id, outcome string, replayed bool, d time.Duration) {
	attrs := []any{slog.String("command_type", typ), slog.String("command_id", id),
		slog.String("outcome", outcome), slog.Float64("duration_ms", float64(d.Microseconds())/1000)}
	if replayed {
		attrs = append(attrs, slog.Bool("replayed", true))
	}
	s.log.InfoContext(ctx, "command", attrs...)
	endSpan(ctx, outcome)
	if s.observer != nil {
		if replayed {
			outcome = Replayed
		}
		s.observer(ctx, typ, id, outcome, d)
	}
}

// Reconcile runs fn as Run runs a handler (authorised, in one scoped transaction
// that also writes fn's events) but records no command and claims no key: it is
// for work the system repeats on its own schedule and that is safe to repeat
// (calendar sync), which would otherwise fill the command log. fn may run parts of
// its work in savepoints. Its events carry no command id.
func Reconcile[T any](ctx context.Context, s *Executor, sc scope.Scope, op domain.Operation,
	fn func(q *db.Queries, enqueue scope.Enqueue, savepoint scope.Savepoint) (T, []domain.Event, error)) (T, error) {
	var result T
	if err := domain.Authorize(sc, op); err != nil {
		return result, err
	}
	typ := string(op)
	started := time.Now()
	ctx, span := s.startSpan(ctx, typ, "")
	defer span.End()
	err := s.db.TxSavepoints(ctx, sc, s.jobs, func(q *db.Queries, enqueue scope.Enqueue, savepoint scope.Savepoint) error {
		var events []domain.Event
		var err error
		result, events, err = fn(q, enqueue, savepoint)
		if err != nil {
			return err
		}
		if len(events) > 0 {
			return s.publish(ctx, q, sc, enqueue, "", events)
		}
		return nil
	})
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if derr, ok := domain.AsError(err); ok {
			outcome = string(derr.Kind)
		}
	}
	s.observe(ctx, typ, "", outcome, false, time.Since(started))
	return result, err
}
