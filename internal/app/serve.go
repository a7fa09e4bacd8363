package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/httpapi"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/telemetry"
)

// Limits of the HTTP server besides the per-request deadline.
const (
	readHeaderTimeout = 10 * time.Second // slow clients cannot hold connections with half-sent headers
	readTimeout       = 30 * time.Second // a 1 MiB body arrives well within this on any real link
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10 // larger headers get 431
	// writeGrace lets a handler that hit its deadline still write its 503.
	writeGrace = 10 * time.Second
)

func newHTTPServer(h http.Handler, cfg Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      cfg.RequestTimeout + writeGrace,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serve runs the API until ctx ends, then stops in this order: /readyz turns
// 503 (for VACANCY_SHUTDOWN_DELAY, so load balancers stop sending), the
// listener closes, in-flight requests finish (up to VACANCY_SHUTDOWN_TIMEOUT;
// past it their contexts are cancelled and connections closed), workers stop,
// the metrics listener closes, buffered spans are exported, the pool closes.
func serve(ctx context.Context, cfg Config, stdout io.Writer) (err error) {
	if err := cfg.requireDatabase(); err != nil {
		return err
	}
	log := telemetry.NewLogger(stdout, cfg.LogLevel, cfg.Tracing)
	var tracing *telemetry.Tracing
	if cfg.Tracing {
		if tracing, err = telemetry.StartTracing(ctx); err != nil {
			return err
		}
		defer func() {
			// Export what is still buffered, but never hold up the exit for long.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := tracing.Shutdown(fctx); err != nil {
				log.Warn("export traces", "err", err)
			}
		}()
	}
	metrics := telemetry.NewMetrics()

	d, err := scope.Open(ctx, cfg.DatabaseURL, scope.Config{MaxConns: cfg.MaxConns, Tracer: tracing.QueryTracer()})
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer d.Close()
	if err := metrics.RegisterPool(d.Pool()); err != nil {
		return err
	}
	bg, err := newBackground(cfg.Events, d, log, metrics.WebhookDelivery, service.Config{Observer: metrics.ObserveCommand,
		Tracer: tracing.Tracer("github.com/vacancy-dev/vacancy/internal/command")})
	if err != nil {
		return err
	}
	svc := bg.svc
	if cfg.Events.Workers {
		if err := metrics.RegisterJobCounts(jobCounts(d.Pool())); err != nil {
			return err
		}
	}

	var draining atomic.Bool
	ready := func(ctx context.Context) error {
		if draining.Load() {
			return &httpapi.NotReady{Code: "shutting_down", Detail: "this instance is shutting down"}
		}
		return schemaReady(ctx, d.Pool())
	}
	handler := httpapi.NewServer(httpapi.Config{Service: svc, Logger: log, PlatformToken: cfg.PlatformToken,
		RequestTimeout: cfg.RequestTimeout, RateLimit: cfg.RateLimit, TrustedProxies: cfg.TrustedProxies,
		CORSOrigins: cfg.CORSOrigins, Ready: ready, Metrics: metrics,
		Tracer: tracing.Provider(), Propagator: tracing.Propagator(), Events: bg.hub, Heartbeat: cfg.Events.StreamHeartbeat})

	var stops []func(context.Context) error
	stopAll := func(ctx context.Context) error {
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i](ctx))
		}
		stops = nil
		return errors.Join(errs...)
	}
	// The event listener (waking streams) and the job runner run beside the
	// server; they stop after in-flight requests have finished.
	if err := bg.start(ctx); err != nil {
		return err
	}
	stops = append(stops, bg.stop)
	rt := Runtime{DB: d, Service: svc, Logger: log, Metrics: metrics}
	for _, w := range cfg.Workers {
		stop, err := w(ctx, rt)
		if err != nil {
			return errors.Join(fmt.Errorf("start worker: %w", err), stopAll(context.WithoutCancel(ctx)))
		}
		stops = append(stops, stop)
	}
	defer func() {
		if stops != nil { // an early return: stop what started
			err = errors.Join(err, stopAll(context.WithoutCancel(ctx)))
		}
	}()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("VACANCY_ADDR %s: %w", cfg.Addr, err)
	}
	// Requests run on a context that outlives the signal, so a graceful
	// shutdown lets them finish; it is cancelled only when the grace is over.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := newHTTPServer(handler, cfg, log)
	srv.RegisterOnShutdown(bg.hub.Close) // open event streams end instead of holding the shutdown up
	srv.BaseContext = func(net.Listener) context.Context { return base }

	errc := make(chan error, 2)
	go func() { errc <- fmt.Errorf("serve: %w", srv.Serve(ln)) }()
	var msrv *http.Server
	attrs := []any{"addr", ln.Addr().String(), "rate_limit", cfg.RateLimit.String(), "tracing", tracing != nil}
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			_ = srv.Close()
			return fmt.Errorf("VACANCY_METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler())
		msrv = &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout, WriteTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { errc <- fmt.Errorf("serve metrics: %w", msrv.Serve(mln)) }()
		attrs = append(attrs, "metrics_addr", mln.Addr().String())
	}
	attrs = append(attrs, "workers", cfg.Events.Workers)
	log.Info("serving", attrs...)

	select {
	case err := <-errc:
		_ = srv.Close()
		if msrv != nil {
			_ = msrv.Close()
		}
		return err
	case <-ctx.Done():
	}

	draining.Store(true)
	log.Info("shutting down", "delay", cfg.ShutdownDelay.String(), "timeout", cfg.ShutdownTimeout.String())
	time.Sleep(cfg.ShutdownDelay)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests did not finish in time: cancelling them", "timeout", cfg.ShutdownTimeout.String())
		cancelBase()
		_ = srv.Close()
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
	}
	if err := stopAll(sctx); err != nil {
		errs = append(errs, fmt.Errorf("stop workers: %w", err))
	}
	if msrv != nil {
		_ = msrv.Close()
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	log.Info("stopped")
	return nil
}

// schemaReady checks the database answers and its schema is the one this
// binary was built for. A newer schema is accepted: during a rolling upgrade
// the new release migrates first while the old one still serves, which works
// because migrations only expand the schema a release uses (see README).
func schemaReady(ctx context.Context, pool *pgxpool.Pool) error {
	var version int64
	var dirty bool
	err := pool.QueryRow(ctx, "SELECT version, dirty FROM schema_migrations LIMIT 1").Scan(&version, &dirty)
	var pgErr *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || (errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UndefinedTable) {
		return &httpapi.NotReady{Code: "schema_outdated", Detail: "the database has no schema: run `api migrate up`"}
	}
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	want := int64(dbmigrate.Latest())
	switch {
	case dirty:
		return &httpapi.NotReady{Code: "schema_dirty", Detail: fmt.Sprintf("migration %d stopped halfway: repair it, then run `api migrate up`", version)}
	case version < want:
		return &httpapi.NotReady{Code: "schema_outdated", Detail: fmt.Sprintf("the schema is at version %d, this binary needs %d: run `api migrate up`", version, want)}
	}
	return nil
}

// jobCounts reads the job queue's size by queue and state for /metrics.
func jobCounts(pool *pgxpool.Pool) telemetry.JobCounter {
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
