package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/vacancy-dev/vacancy/internal/jobs"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/stream"
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

// EventsConfig is the configuration of events, webhooks and background jobs.
type EventsConfig struct {
	Workers             bool          // VACANCY_WORKERS: work jobs in this instance
	WebhookAllowPrivate bool          // VACANCY_WEBHOOK_ALLOW_PRIVATE
	WebhookAllowHTTP    bool          // VACANCY_WEBHOOK_ALLOW_HTTP
	WebhookTimeout      time.Duration // VACANCY_WEBHOOK_TIMEOUT
	WebhookMaxAttempts  int           // VACANCY_WEBHOOK_MAX_ATTEMPTS
	WebhookBackoff      time.Duration // VACANCY_WEBHOOK_BACKOFF
	WebhookDisableAfter time.Duration // VACANCY_WEBHOOK_DISABLE_AFTER
	HoldSweepInterval   time.Duration // VACANCY_HOLD_SWEEP_INTERVAL
	StreamHeartbeat     time.Duration // VACANCY_STREAM_HEARTBEAT
	ICalSyncInterval    time.Duration // VACANCY_ICAL_SYNC_INTERVAL
}

const eventsUsage = `  VACANCY_WORKERS                work background jobs here (default true; false for API-only instances)
  VACANCY_WEBHOOK_ALLOW_PRIVATE  let webhooks reach loopback/private addresses (default false)
  VACANCY_WEBHOOK_ALLOW_HTTP     accept http:// webhook URLs (default false)
  VACANCY_WEBHOOK_TIMEOUT        one delivery attempt's limit (default 10s)
  VACANCY_WEBHOOK_MAX_ATTEMPTS   attempts per delivery (default 12)
  VACANCY_WEBHOOK_BACKOFF        wait after the first failure, doubling after each (default 1m)
  VACANCY_WEBHOOK_DISABLE_AFTER  disable an endpoint failing without a break this long (default 24h)
  VACANCY_HOLD_SWEEP_INTERVAL    how often expired holds are swept (default 30s)
  VACANCY_STREAM_HEARTBEAT       comment line interval on idle event streams (default 15s)
  VACANCY_ICAL_SYNC_INTERVAL     how often every calendar import is synced (default 15m)
`

func (c *EventsConfig) load(getenv func(string) string) error {
	*c = EventsConfig{Workers: true, WebhookTimeout: webhook.DefaultTimeout, WebhookMaxAttempts: webhook.DefaultMaxAttempts,
		WebhookBackoff: webhook.DefaultBackoffBase, WebhookDisableAfter: 24 * time.Hour,
		HoldSweepInterval: 30 * time.Second, StreamHeartbeat: 15 * time.Second, ICalSyncInterval: 15 * time.Minute}
	for name, dst := range map[string]*bool{"VACANCY_WORKERS": &c.Workers,
		"VACANCY_WEBHOOK_ALLOW_PRIVATE": &c.WebhookAllowPrivate, "VACANCY_WEBHOOK_ALLOW_HTTP": &c.WebhookAllowHTTP} {
		if v := getenv(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s must be true or false, not %q", name, v)
			}
			*dst = b
		}
	}
	for name, dst := range map[string]*time.Duration{"VACANCY_WEBHOOK_TIMEOUT": &c.WebhookTimeout,
		"VACANCY_WEBHOOK_BACKOFF": &c.WebhookBackoff, "VACANCY_WEBHOOK_DISABLE_AFTER": &c.WebhookDisableAfter,
		"VACANCY_HOLD_SWEEP_INTERVAL": &c.HoldSweepInterval, "VACANCY_STREAM_HEARTBEAT": &c.StreamHeartbeat,
		"VACANCY_ICAL_SYNC_INTERVAL": &c.ICalSyncInterval} {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("%s must be a positive duration such as 30s, not %q", name, v)
			}
			*dst = d
		}
	}
	if v := getenv("VACANCY_WEBHOOK_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return fmt.Errorf("VACANCY_WEBHOOK_MAX_ATTEMPTS must be a number from 1 to 100, not %q", v)
		}
		c.WebhookMaxAttempts = n
	}
	return nil
}

func (c EventsConfig) policy() webhook.Policy {
	return webhook.Policy{AllowPrivate: c.WebhookAllowPrivate, AllowHTTP: c.WebhookAllowHTTP}
}

func (c EventsConfig) jobs(log *slog.Logger) jobs.Config {
	return jobs.Config{Webhook: c.policy(), WebhookTimeout: c.WebhookTimeout, MaxAttempts: c.WebhookMaxAttempts,
		BackoffBase: c.WebhookBackoff, DisableAfter: c.WebhookDisableAfter, HoldSweepInterval: c.HoldSweepInterval,
		CalendarSyncInterval: c.ICalSyncInterval, Logger: log}
}

// background is what runs beside the HTTP server: the event listener that wakes
// streams, and (unless VACANCY_WORKERS=false) the job runner.
type background struct {
	svc    *service.Services
	hub    *stream.Hub
	runner *jobs.Runner // nil on API-only instances
	log    *slog.Logger

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newBackground builds the service with its job queue, the listener and the runner.
func newBackground(cfg EventsConfig, d *scope.DB, log *slog.Logger, onDelivery func(string, time.Duration), sc service.Config) (*background, error) {
	jc := cfg.jobs(log)
	jc.OnDelivery = onDelivery
	queue, err := jobs.NewQueue(d.Pool(), jc)
	if err != nil {
		return nil, err
	}
	b := &background{log: log, hub: stream.New(d.Pool(), log)}
	sc.Logger, sc.Jobs, sc.WebhookPolicy = log, queue, cfg.policy()
	b.svc = service.New(d, sc)
	if cfg.Workers {
		if b.runner, err = jobs.NewRunner(d.Pool(), b.svc, jc); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// start runs the listener and the job runner until stop.
func (b *background) start(ctx context.Context) error {
	ctx, b.cancel = context.WithCancel(context.WithoutCancel(ctx))
	b.wg.Go(func() { _ = b.hub.Run(ctx) })
	if b.runner != nil {
		if err := b.runner.Start(ctx); err != nil {
			b.cancel()
			b.wg.Wait()
			return err
		}
	}
	return nil
}

// stop lets running jobs finish until ctx is done, then stops everything.
func (b *background) stop(ctx context.Context) error {
	var err error
	if b.runner != nil {
		err = b.runner.Stop(ctx)
	}
	b.cancel()
	b.wg.Wait()
	if err != nil {
		return errors.Join(errors.New("stop background jobs"), err)
	}
	return nil
}
