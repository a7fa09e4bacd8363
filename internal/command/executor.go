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
// command's transaction. internal/outbox provides it.
type Publisher func(ctx context.Context, q *db.Queries, sc scope.Scope, enqueue scope.Enqueue, commandID string, events []domain.Event) error

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

// Run runs one command exactly once per (organisation, actor, command id):
//
//  1. claim the key in a short transaction of its own (or learn it is done, in use,
//     or reused for a different command);
//  2. run fn in one scoped transaction that also records the outcome, so a command's
//     effects and its record commit together or not at all;
//  3. on a domain error, record that outcome instead (the effects rolled back);
//     on any other error, release the claim so a retry runs again.
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
	var zero T
	if err := domain.Authorize(sc, op); err != nil {
		return zero, Receipt{}, err
	}
	typ := string(op)
	started := time.Now()
	ctx, span := s.startSpan(ctx, typ, meta.ID)
	defer span.End()
	receipt := Receipt{CommandID: meta.ID}
	fp, err := Fingerprint(typ, fields, meta.ExpectedVersion)
	if err != nil {
		return zero, receipt, err
	}
	claim := uuid.Must(uuid.NewV7())
	key := db.GetCommandParams{OrganisationID: sc.OrganisationID, ActorID: meta.Actor, ID: meta.ID}

	var prior *db.GetCommandRow
	err = s.db.Tx(ctx, sc, func(q *db.Queries) error {
		_, err := q.ClaimCommand(ctx, db.ClaimCommandParams{
			OrganisationID: sc.OrganisationID, ActorID: meta.Actor, ID: meta.ID, Type: typ,
			Fingerprint: fp, Claim: claim, LeaseSeconds: leaseFor(ctx).Seconds(),
		})
		if errors.Is(err, pgx.ErrNoRows) {
			row, err := q.GetCommand(ctx, key)
			if err != nil {
				return fmt.Errorf("read command %s: %w", meta.ID, err)
			}
			prior = &row
			return nil
		}
		if err != nil {
			return fmt.Errorf("claim command %s: %w", meta.ID, err)
		}
		return nil
	})
	if err != nil {
		// The claim may have committed even though we did not hear so (the request
		// was cancelled while COMMIT was on its way): free it for the retry.
		s.release(ctx, sc, meta, claim)
		return zero, receipt, err
	}
	if prior != nil {
		return replay[T](prior, typ, fp, receipt)
	}

	var result T
	err = s.db.TxJobs(ctx, sc, s.jobs, func(q *db.Queries, enqueue scope.Enqueue) error {
		var events []domain.Event
		var err error
		result, events, err = fn(q, enqueue)
		if err != nil {
			return err
		}
		if len(events) > 0 {
			if err := s.publish(ctx, q, sc, enqueue, meta.ID, events); err != nil {
				return err
			}
		}
		body, err := json.Marshal(result)
		if err != nil {
			return fmt.Errorf("encode %s result: %w", typ, err)
		}
		return finish(ctx, q, key, claim, "ok", body)
	})
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if derr, ok := domain.AsError(err); ok {
			outcome = string(derr.Kind)
			if derr.Code == domain.CodeKeyInUse {
				// Our claim was taken over; the other executor records the outcome.
				return zero, receipt, err
			}
			body, merr := json.Marshal(derr)
			if merr == nil {
				merr = s.db.Tx(ctx, sc, func(q *db.Queries) error { return finish(ctx, q, key, claim, outcome, body) })
			}
			if merr != nil {
				s.log.WarnContext(ctx, "record command outcome", "command_id", meta.ID, "err", merr)
			}
		} else {
			// Unknown outcome (database gone, deadline passed): the transaction rolled
			// back, or committed with the command finished, so free the key and let
			// the client retry with it.
			s.release(ctx, sc, meta, claim)
			err = fmt.Errorf("%s %s: %w", typ, meta.ID, err)
		}
	}
	s.observe(ctx, typ, meta.ID, outcome, time.Since(started))
	return result, receipt, err
}

// release gives up a claim that is still running under our claim id, so a retry
// with the key executes at once. It deletes nothing when the claim never
// committed, or when the command finished (its commit went through after all).
// It is best effort, bounded by scope.CleanupContext (against a hung database it
// must not outlive the request); a claim it cannot release lapses with its lease.
func (s *Executor) release(ctx context.Context, sc scope.Scope, meta Meta, claim uuid.UUID) {
	rctx, cancel := scope.CleanupContext(ctx)
	defer cancel()
	err := s.db.Tx(rctx, sc, func(q *db.Queries) error {
		return q.ReleaseCommand(rctx, db.ReleaseCommandParams{
			OrganisationID: sc.OrganisationID, ActorID: meta.Actor, ID: meta.ID, Claim: claim})
	})
	if err != nil {
		s.log.WarnContext(ctx, "release command claim", "command_id", meta.ID, "err", err)
	}
}

func finish(ctx context.Context, q *db.Queries, key db.GetCommandParams, claim uuid.UUID, outcome string, body []byte) error {
	n, err := q.FinishCommand(ctx, db.FinishCommandParams{
		OrganisationID: key.OrganisationID, ActorID: key.ActorID, ID: key.ID, Claim: claim,
		Outcome: &outcome, Result: body,
	})
	if err != nil {
		return fmt.Errorf("finish command %s: %w", key.ID, err)
	}
	if n == 0 {
		return domain.Conflict(domain.CodeKeyInUse, "a request with this idempotency key took over while this one was running")
	}
	return nil
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
	claim := uuid.Must(uuid.NewV7())
	if _, err := q.ClaimCommand(ctx, db.ClaimCommandParams{OrganisationID: sc.OrganisationID, ActorID: meta.Actor, ID: meta.ID,
		Type: string(op), Fingerprint: fp, Claim: claim, LeaseSeconds: claimLease.Seconds()}); err != nil {
		return fmt.Errorf("record command: %w", err)
	}
	return finish(ctx, q, db.GetCommandParams{OrganisationID: sc.OrganisationID, ActorID: meta.Actor, ID: meta.ID}, claim, "ok", []byte(`{}`))
}

// Observer hears about every handled command (for logs and metrics).
type Observer func(ctx context.Context, commandType, commandID, outcome string, d time.Duration)

func (s *Executor) observe(ctx context.Context, typ, id, outcome string, d time.Duration) {
	s.log.InfoContext(ctx, "command", slog.String("command_type", typ), slog.String("command_id", id),
		slog.String("outcome", outcome), slog.Float64("duration_ms", float64(d.Microseconds())/1000))
	endSpan(ctx, outcome)
	if s.observer != nil {
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
	s.observe(ctx, typ, "", outcome, time.Since(started))
	return result, err
}
