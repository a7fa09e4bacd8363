package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/httpapi"
	"github.com/vacancy-dev/vacancy/internal/jobs"
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
		defer flushTraces(ctx, tracing, log)
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
		Tracer: tracing.Tracer("github.com/vacancy-dev/vacancy/internal/command"), Quotas: cfg.Quotas})
	if err != nil {
		return err
	}
	if cfg.Events.Workers {
		if err := metrics.RegisterJobCounts(jobs.Counter(d.Pool())); err != nil {
			return err
		}
	}

	var draining atomic.Bool
	ready := readiness(d, &draining)
	handler := httpapi.NewServer(httpapi.Config{Service: bg.svc, Logger: log, PlatformToken: cfg.PlatformToken,
		RequestTimeout: cfg.RequestTimeout, RateLimit: cfg.RateLimit, OrgRateLimit: cfg.OrgRateLimit, TrustedProxies: cfg.TrustedProxies,
		CORSOrigins: cfg.CORSOrigins, HSTS: cfg.HSTS, Ready: ready, Metrics: metrics,
		Tracer: tracing.Provider(), Propagator: tracing.Propagator(), Events: bg.hub, Heartbeat: cfg.Events.StreamHeartbeat,
		Streams: cfg.Streams})

	// The event listener (waking streams) and the job runner run beside the
	// server; they stop after in-flight requests have finished.
	if err := bg.start(ctx); err != nil {
		return err
	}
	ls, err := listen(ctx, cfg, handler, ready, metrics, log)
	if err != nil {
		return errors.Join(err, bg.stop(context.WithoutCancel(ctx)))
	}
	srv := ls.api
	srv.RegisterOnShutdown(bg.hub.Close) // open event streams end instead of holding the shutdown up
	log.Info("serving", append(ls.attrs, "rate_limit", cfg.RateLimit.String(), "org_rate_limit", cfg.OrgRateLimit.String(), "tracing", tracing != nil,
		"workers", cfg.Events.Workers)...)

	select {
	case err := <-ls.errc:
		ls.close()
		return errors.Join(err, bg.stop(context.WithoutCancel(ctx)))
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
		ls.cancelRequests()
		_ = srv.Close()
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
	}
	if err := bg.stop(sctx); err != nil {
		errs = append(errs, fmt.Errorf("stop workers: %w", err))
	}
	ls.close()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	log.Info("stopped")
	return nil
}

// flushTraces exports what is still buffered, but never holds up the exit for long.
func flushTraces(ctx context.Context, tracing *telemetry.Tracing, log *slog.Logger) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := tracing.Shutdown(fctx); err != nil {
		log.Warn("export traces", "err", err)
	}
}

// readyCacheTTL is how long a successful readiness check answers /readyz
// without asking the database again: a flood of probes costs at most one query
// per TTL. Failures are not cached (recovery shows at the next probe), but
// probes that arrive while a check runs share its answer.
const readyCacheTTL = time.Second

// readiness is /readyz's check: 503 while draining (never cached), else the
// schema's state.
func readiness(d *scope.DB, draining *atomic.Bool) func(context.Context) error {
	var c readyCheck
	return func(ctx context.Context) error {
		if draining.Load() {
			return &httpapi.NotReady{Code: "shutting_down", Detail: "this instance is shutting down"}
		}
		return c.do(ctx, func(ctx context.Context) error {
			err := dbmigrate.CheckReady(ctx, d.Pool())
			var nr *dbmigrate.NotReadyError
			if errors.As(err, &nr) {
				return &httpapi.NotReady{Code: nr.Code, Detail: nr.Detail}
			}
			return err
		})
	}
}

// readyCheck runs one check at a time and remembers a success for readyCacheTTL.
type readyCheck struct {
	mu      sync.Mutex
	okAt    time.Time
	running *readyRun
}

type readyRun struct {
	done chan struct{}
	err  error
}

func (c *readyCheck) do(ctx context.Context, check func(context.Context) error) error {
	c.mu.Lock()
	if time.Since(c.okAt) < readyCacheTTL {
		c.mu.Unlock()
		return nil
	}
	run := c.running
	if run == nil {
		run = &readyRun{done: make(chan struct{})}
		c.running = run
		go func() {
			// Not the probe's context: its answer is shared with the probes waiting.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyCheckTimeout)
			defer cancel()
			run.err = check(cctx)
			c.mu.Lock()
			c.running = nil
			if run.err == nil {
				c.okAt = time.Now()
			}
			c.mu.Unlock()
			close(run.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-run.done:
		return run.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readyCheckTimeout bounds one readiness check (the handler's deadline is the
// same: a probe gets an answer even when the database hangs).
const readyCheckTimeout = 2 * time.Second

// listeners are the API's HTTP server and, when configured, the metrics server,
// both serving; errc hears from either if it stops by itself.
type listeners struct {
	api            *http.Server
	metrics        *http.Server // nil without VACANCY_METRICS_ADDR
	errc           chan error
	attrs          []any // the addresses, for the log
	cancelRequests func()
}

func (l *listeners) close() {
	_ = l.api.Close()
	if l.metrics != nil {
		_ = l.metrics.Close()
	}
	l.cancelRequests()
}

// listen opens the API's listener and the metrics listener and serves both.
// Requests run on a context that outlives ctx, so a graceful shutdown lets them
// finish; cancelRequests ends it when the grace is over.
func listen(ctx context.Context, cfg Config, handler http.Handler, ready func(context.Context) error, metrics *telemetry.Metrics, log *slog.Logger) (*listeners, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("VACANCY_ADDR %s: %w", cfg.Addr, err)
	}
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	l := &listeners{api: newHTTPServer(handler, cfg, log), errc: make(chan error, 2), cancelRequests: cancelBase,
		attrs: []any{"addr", ln.Addr().String()}}
	l.api.BaseContext = func(net.Listener) context.Context { return base }
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			_ = ln.Close()
			cancelBase()
			return nil, fmt.Errorf("VACANCY_METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metrics.Handler())
		// The detailed readiness (the schema's versions) stays off the public listener.
		mux.Handle("GET /readyz", httpapi.ReadinessDetail(ready, log))
		l.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout, WriteTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { l.errc <- fmt.Errorf("serve metrics: %w", l.metrics.Serve(mln)) }()
		l.attrs = append(l.attrs, "metrics_addr", mln.Addr().String())
	}
	go func() { l.errc <- fmt.Errorf("serve: %w", l.api.Serve(ln)) }()
	return l, nil
}
