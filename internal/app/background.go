package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vacancy-dev/vacancy/internal/jobs"
	"github.com/vacancy-dev/vacancy/internal/retention"
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
	WebhookPorts        []int         // VACANCY_WEBHOOK_PORTS
	ICalSyncInterval    time.Duration // VACANCY_ICAL_SYNC_INTERVAL
	// WebhookConcurrency is one organisation's deliveries in flight per
	// instance (VACANCY_QUOTAS webhook_deliveries; loadFairness sets it).
	WebhookConcurrency int
	// Retention is how long records are kept, swept every RetentionInterval
	// (VACANCY_RETENTION: commands, events, deliveries, interval).
	Retention         retention.Windows
	RetentionInterval time.Duration
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
  VACANCY_WEBHOOK_PORTS          ports webhooks may reach (default "443,80"; "any")
  VACANCY_ICAL_SYNC_INTERVAL     how often every calendar import is synced (default 15m)
  VACANCY_RETENTION              how long records are kept, how often older ones are deleted
                                 (default "commands=7d,events=90d,deliveries=30d,interval=1h")
`

func (c *EventsConfig) load(getenv func(string) string) error {
	*c = EventsConfig{Workers: true, WebhookTimeout: webhook.DefaultTimeout, WebhookMaxAttempts: webhook.DefaultMaxAttempts,
		WebhookBackoff: webhook.DefaultBackoffBase, WebhookDisableAfter: 24 * time.Hour,
		HoldSweepInterval: 30 * time.Second, StreamHeartbeat: 15 * time.Second, ICalSyncInterval: 15 * time.Minute,
		Retention: retention.Default, RetentionInterval: time.Hour}
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
	if err := c.loadRetention(getenv("VACANCY_RETENTION")); err != nil {
		return fmt.Errorf("VACANCY_RETENTION %w", err)
	}
	if v := getenv("VACANCY_WEBHOOK_PORTS"); v != "" {
		ports, err := parsePorts(v)
		if err != nil {
			return fmt.Errorf("VACANCY_WEBHOOK_PORTS %w", err)
		}
		c.WebhookPorts = ports
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

// loadRetention reads "commands=7d, events=90d, deliveries=30d, interval=1h";
// what it leaves out keeps its default.
func (c *EventsConfig) loadRetention(s string) error {
	windows := map[string]*time.Duration{"commands": &c.Retention.Commands, "events": &c.Retention.Events,
		"deliveries": &c.Retention.Deliveries, "interval": &c.RetentionInterval}
	for part := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dst, ok := windows[strings.TrimSpace(k)]
		if !ok {
			return fmt.Errorf("names commands, events, deliveries and interval, not %q", strings.TrimSpace(k))
		}
		d, err := parseDays(strings.TrimSpace(v))
		if err != nil || d <= 0 {
			return fmt.Errorf("%s must be a positive duration such as 30d or 12h, not %q", strings.TrimSpace(k), strings.TrimSpace(v))
		}
		*dst = d
	}
	if c.Retention.Commands < 24*time.Hour {
		// openapi.yaml promises clients that a key is honoured at least a day.
		return fmt.Errorf("commands must be at least 24h (idempotency keys are honoured that long), not %s", c.Retention.Commands)
	}
	return nil
}

// parseDays reads a Go duration, or a whole number of days such as "7d".
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, err
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func (c EventsConfig) policy() webhook.Policy {
	return webhook.Policy{AllowPrivate: c.WebhookAllowPrivate, AllowHTTP: c.WebhookAllowHTTP, Ports: c.WebhookPorts}
}

// parsePorts reads "443,80" (ports from 1 to 65535) or "any".
func parsePorts(s string) ([]int, error) {
	if strings.TrimSpace(s) == "any" {
		return []int{webhook.AnyPort}, nil
	}
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf(`must be ports from 1 to 65535 separated by commas, such as "443,80,8443", or "any", not %q`, s)
		}
		out = append(out, n)
	}
	return out, nil
}

func (c EventsConfig) jobs(log *slog.Logger) jobs.Config {
	return jobs.Config{Webhook: c.policy(), WebhookTimeout: c.WebhookTimeout, MaxAttempts: c.WebhookMaxAttempts,
		BackoffBase: c.WebhookBackoff, DisableAfter: c.WebhookDisableAfter, HoldSweepInterval: c.HoldSweepInterval,
		OrgConcurrency: c.WebhookConcurrency, CalendarSyncInterval: c.ICalSyncInterval,
		Retention: c.Retention, RetentionInterval: c.RetentionInterval, Logger: log}
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
	// Revocations made through any instance reach this one's credential cache
	// through the listener, which lets it answer a known key from memory for
	// longer than tenancy.AuthCacheTTL while the listener keeps up.
	b.hub.FollowKeys(b.svc.ForgetKey, b.svc.ForgetAllKeys)
	b.svc.FollowRevocations(b.hub.CaughtUp)
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
