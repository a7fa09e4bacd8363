// Package jobs runs Vacancy's background work on River, the PostgreSQL job queue:
// webhook deliveries (enqueued by commands in their own transaction), the
// periodic hold-expiry sweep, and calendar sync (a periodic job that queues one
// sync per calendar import). It owns the River clients and the workers; the work
// itself is domain code (internal/outbox, internal/booking) and wire code
// (internal/webhook). It must not reach tenant data except through the domain
// services.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/vacancy-dev/vacancy/internal/calendar"
	"github.com/vacancy-dev/vacancy/internal/outbox"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/telemetry"
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

// Config tunes the background work. Zero fields take the defaults.
type Config struct {
	// MaxWorkers is how many jobs one instance works at once (default 20).
	MaxWorkers int
	// Webhook is the delivery side of the SSRF guard (AllowPrivate, AllowHTTP).
	Webhook webhook.Policy
	// WebhookTimeout bounds one delivery attempt (default 10s).
	WebhookTimeout time.Duration
	// MaxAttempts is how often a delivery is tried (default 12).
	MaxAttempts int
	// BackoffBase is the wait after the first failed attempt; it doubles after
	// each further one, with jitter (default 1m).
	BackoffBase time.Duration
	// DisableAfter disables an endpoint that has failed without a break for this
	// long (default 24h).
	DisableAfter time.Duration
	// HoldSweepInterval is how often unpaid holds past their deadline are expired
	// (default 30s, so a hold expires within a minute of its deadline).
	HoldSweepInterval time.Duration
	// CalendarSyncInterval is how often every calendar import is synced (default
	// 15m).
	CalendarSyncInterval time.Duration
	// FetchPollInterval is how often an idle worker polls for jobs when no
	// notification woke it (River's default, 1s, when zero).
	FetchPollInterval time.Duration
	Logger            *slog.Logger
	// OnDelivery, when set, hears every webhook delivery attempt's outcome
	// ("delivered", "failed" for a non-2xx answer, "unreachable" for none).
	OnDelivery func(outcome string, latency time.Duration)
}

func (c Config) withDefaults() Config {
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = 20
	}
	if c.WebhookTimeout <= 0 {
		c.WebhookTimeout = webhook.DefaultTimeout
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = webhook.DefaultMaxAttempts
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = webhook.DefaultBackoffBase
	}
	if c.DisableAfter <= 0 {
		c.DisableAfter = 24 * time.Hour
	}
	if c.HoldSweepInterval <= 0 {
		c.HoldSweepInterval = 30 * time.Second
	}
	if c.CalendarSyncInterval <= 0 {
		c.CalendarSyncInterval = 15 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Queue is the insert-only River client that commands enqueue jobs with, in their
// own transaction (it satisfies scope.JobQueue). API-only instances have just this.
type Queue = river.Client[pgx.Tx]

// NewQueue returns the insert-only client. pool's connections must be allowed to
// write River's tables (the migrations grant vacancy_app that).
func NewQueue(pool *pgxpool.Pool, cfg Config) (*Queue, error) {
	cfg = cfg.withDefaults()
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		MaxAttempts: cfg.MaxAttempts,
		Logger:      cfg.Logger.With("component", "river"),
	})
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	return c, nil
}

// Runner works jobs: deliveries and the hold-expiry sweep. Every instance may run
// one; River spreads jobs over them, and only the elected leader schedules the
// periodic sweep.
type Runner struct {
	client *river.Client[pgx.Tx]
	log    *slog.Logger
}

// NewRunner returns a Runner over pool working for svc.
func NewRunner(pool *pgxpool.Pool, svc *service.Services, cfg Config) (*Runner, error) {
	cfg = cfg.withDefaults()
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &deliveryWorker{svc: svc, sender: webhook.NewSender(cfg.Webhook, cfg.WebhookTimeout), cfg: cfg}); err != nil {
		return nil, fmt.Errorf("register delivery worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &sweepWorker{svc: svc, log: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("register hold sweep worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &calendarSweepWorker{svc: svc}); err != nil {
		return nil, fmt.Errorf("register calendar sync sweep worker: %w", err)
	}
	if err := river.AddWorkerSafely(workers, &calendarSyncWorker{svc: svc}); err != nil {
		return nil, fmt.Errorf("register calendar sync worker: %w", err)
	}
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}},
		Workers:           workers,
		MaxAttempts:       cfg.MaxAttempts,
		FetchPollInterval: cfg.FetchPollInterval,
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(cfg.HoldSweepInterval),
			func() (river.JobArgs, *river.InsertOpts) { return HoldSweep{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.CalendarSyncInterval),
				func() (river.JobArgs, *river.InsertOpts) { return CalendarSyncSweep{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true})},
		// River's reindexer rebuilds its own indexes, which needs their owner (the
		// migrating role); the server runs as vacancy_app, so it is left off.
		ReindexerIndexNames: []string{},
		Logger:              cfg.Logger.With("component", "river"),
	})
	if err != nil {
		return nil, fmt.Errorf("job runner: %w", err)
	}
	return &Runner{client: c, log: cfg.Logger}, nil
}

// Start starts working jobs; it returns at once.
func (r *Runner) Start(ctx context.Context) error {
	if err := r.client.Start(ctx); err != nil {
		return fmt.Errorf("start job runner: %w", err)
	}
	return nil
}

// Stop waits for running jobs to finish until ctx is done, then cancels them
// (a cancelled delivery is retried later, by this instance or another).
func (r *Runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	if err == nil {
		return nil
	}
	r.log.Warn("jobs still running at shutdown deadline: cancelling them", "err", err)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.client.StopAndCancel(cctx); err != nil {
		return fmt.Errorf("stop job runner: %w", err)
	}
	return nil
}

// deliveryWorker sends one webhook delivery per job.
type deliveryWorker struct {
	river.WorkerDefaults[outbox.DeliveryJob]
	svc    *service.Services
	sender *webhook.Sender
	cfg    Config
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[outbox.DeliveryJob]) error {
	org, id := job.Args.OrganisationID, job.Args.DeliveryID
	d, err := w.svc.PrepareDelivery(ctx, org, id)
	if errors.Is(err, outbox.ErrNothingToDeliver) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("prepare delivery %s: %w", id, err)
	}
	at := time.Now()
	res := w.sender.Send(ctx, d.Delivery)
	if w.cfg.OnDelivery != nil {
		outcome := "delivered"
		switch {
		case res.StatusCode == 0:
			outcome = "unreachable"
		case !res.OK():
			outcome = "failed"
		}
		w.cfg.OnDelivery(outcome, res.Latency)
	}
	rec := outbox.AttemptRecord{At: at, Result: res}
	if !res.OK() && job.Attempt < job.MaxAttempts {
		next := w.nextRetry(job.JobRow)
		rec.NextAttemptAt = &next
	}
	stop, err := w.svc.RecordDeliveryAttempt(ctx, org, id, rec, w.cfg.DisableAfter)
	if err != nil {
		return fmt.Errorf("record delivery %s: %w", id, err)
	}
	switch {
	case res.OK():
		return nil
	case stop:
		return river.JobCancel(fmt.Errorf("delivery %s failed for good: %s", id, res.Err))
	}
	return fmt.Errorf("delivery %s attempt %d: %s", id, job.Attempt, res.Err)
}

// NextRetry is the delivery's retry schedule (see webhook.Backoff), measured from
// when the failed attempt started, so it equals the next_attempt_at the worker
// recorded.
func (w *deliveryWorker) NextRetry(job *river.Job[outbox.DeliveryJob]) time.Time {
	return w.nextRetry(job.JobRow)
}

func (w *deliveryWorker) nextRetry(job *rivertype.JobRow) time.Time {
	from := time.Now()
	if job.AttemptedAt != nil {
		from = *job.AttemptedAt
	}
	return from.Add(webhook.Backoff(w.cfg.BackoffBase, job.Attempt, uint64(job.ID)))
}

func (w *deliveryWorker) Timeout(*river.Job[outbox.DeliveryJob]) time.Duration {
	return w.cfg.WebhookTimeout + 30*time.Second
}

// HoldSweep is the periodic job that expires unpaid holds past their deadline.
type HoldSweep struct{}

// Kind names the job's worker.
func (HoldSweep) Kind() string { return "hold_expiry_sweep" }

// InsertOpts: one attempt; the next run comes at the next interval anyway.
func (HoldSweep) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1} }

type sweepWorker struct {
	river.WorkerDefaults[HoldSweep]
	svc *service.Services
	log *slog.Logger
}

// sweepBatch and sweepMaxBatches bound one run; what is left waits for the next.
const (
	sweepBatch      = 200
	sweepMaxBatches = 25
)

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[HoldSweep]) error {
	total := 0
	for range sweepMaxBatches {
		n, err := w.svc.ExpireDueHolds(ctx, sweepBatch)
		total += n
		if err != nil {
			w.log.WarnContext(ctx, "hold expiry sweep", "expired", total, "err", err)
			return err
		}
		if n < sweepBatch {
			break
		}
	}
	if total > 0 {
		w.log.InfoContext(ctx, "hold expiry sweep", "expired", total)
	}
	return nil
}

// Counter reads the job queue's size by queue and state, for /metrics.
func Counter(pool *pgxpool.Pool) telemetry.JobCounter {
	return func(ctx context.Context) ([]telemetry.JobCount, error) {
		rows, err := pool.Query(ctx, "SELECT queue, state::text, count(*) FROM river_job GROUP BY queue, state")
		if err != nil {
			return nil, fmt.Errorf("count jobs: %w", err)
		}
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) (telemetry.JobCount, error) {
			var c telemetry.JobCount
			err := r.Scan(&c.Queue, &c.State, &c.Count)
			return c, err
		})
	}
}

// CalendarSyncSweep is the periodic job that queues a sync of every calendar
// import.
type CalendarSyncSweep struct{}

// Kind names the job's worker.
func (CalendarSyncSweep) Kind() string { return "calendar_sync_sweep" }

// InsertOpts: one attempt; the next run comes at the next interval anyway.
func (CalendarSyncSweep) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1} }

// calendarSyncBatch bounds the imports one sweep queues; the least recently
// synced go first, so a larger backlog is worked off over several sweeps.
const calendarSyncBatch = 10000

type calendarSweepWorker struct {
	river.WorkerDefaults[CalendarSyncSweep]
	svc *service.Services
}

// Work queues one sync job per import, unless one is already waiting or running.
func (w *calendarSweepWorker) Work(ctx context.Context, _ *river.Job[CalendarSyncSweep]) error {
	due, err := w.svc.ImportsToSync(ctx, calendarSyncBatch)
	if err != nil || len(due) == 0 {
		return err
	}
	unique := &river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{rivertype.JobStateAvailable,
		rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}}
	params := make([]river.InsertManyParams, len(due))
	for i, j := range due {
		params[i] = river.InsertManyParams{Args: j, InsertOpts: &river.InsertOpts{MaxAttempts: 3, UniqueOpts: *unique}}
	}
	if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertMany(ctx, params); err != nil {
		return fmt.Errorf("queue %d calendar syncs: %w", len(params), err)
	}
	return nil
}

// calendarSyncWorker syncs one calendar import per job.
type calendarSyncWorker struct {
	river.WorkerDefaults[calendar.SyncJob]
	svc *service.Services
}

func (w *calendarSyncWorker) Work(ctx context.Context, job *river.Job[calendar.SyncJob]) error {
	return w.svc.RunSyncJob(ctx, job.Args)
}

// Timeout leaves room for the fetch and a large reconciliation.
func (w *calendarSyncWorker) Timeout(*river.Job[calendar.SyncJob]) time.Duration {
	return calendar.FetchTimeout + time.Minute
}
