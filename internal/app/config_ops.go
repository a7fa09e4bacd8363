package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/vacancy-dev/vacancy/internal/httpapi"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/telemetry"
)

// defaultRateLimit is VACANCY_RATE_LIMIT's default, per API key and per client
// address, per instance.
const defaultRateLimit = "20/s burst 40"

// Operations is the part of Config that runs the service in production: limits,
// proxies, CORS, telemetry and background work.
type Operations struct {
	RateLimit      httpapi.RateLimit
	TrustedProxies []netip.Prefix
	CORSOrigins    []string
	MetricsAddr    string        // "" = no metrics listener
	ShutdownDelay  time.Duration // readyz answers 503 this long before the listener closes
	LogLevel       slog.Level
	Tracing        bool // OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set

	// Workers start background work beside the HTTP server (River). They are
	// code, not environment: whoever builds the Config sets them.
	Workers []Worker
}

// Runtime is what Serve hands background work: the pool, the service, the
// logger, and the metrics registry (for telemetry.Metrics.RegisterJobCounts).
type Runtime struct {
	DB      *scope.DB
	Service *service.Services
	Logger  *slog.Logger
	Metrics *telemetry.Metrics
}

// Worker starts background work once the pool is open and returns how to stop
// it. On shutdown Serve calls stop after in-flight requests have finished and
// before the pool closes; stop must return when ctx ends (the rest of the
// VACANCY_SHUTDOWN_TIMEOUT).
type Worker func(ctx context.Context, rt Runtime) (stop func(ctx context.Context) error, err error)

func loadOperations(getenv func(string) string, c *Config) error {
	rl := getenv("VACANCY_RATE_LIMIT")
	if rl == "" {
		rl = defaultRateLimit
	}
	var err error
	if c.RateLimit, err = httpapi.ParseRateLimit(rl); err != nil {
		return fmt.Errorf("VACANCY_RATE_LIMIT %w", err)
	}
	if c.TrustedProxies, err = httpapi.ParseTrustedProxies(getenv("VACANCY_TRUSTED_PROXIES")); err != nil {
		return fmt.Errorf("VACANCY_TRUSTED_PROXIES: %w", err)
	}
	if c.CORSOrigins, err = httpapi.ParseCORSOrigins(getenv("VACANCY_CORS_ORIGINS")); err != nil {
		return fmt.Errorf("VACANCY_CORS_ORIGINS: %w", err)
	}
	if c.MetricsAddr = getenv("VACANCY_METRICS_ADDR"); c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("VACANCY_METRICS_ADDR must be host:port such as 127.0.0.1:9090 or :9090, not %q", c.MetricsAddr)
		}
	}
	if v := getenv("VACANCY_SHUTDOWN_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("VACANCY_SHUTDOWN_DELAY must be a duration such as 5s (0 for none), not %q", v)
		}
		c.ShutdownDelay = d
	}
	if v := getenv("VACANCY_LOG_LEVEL"); v != "" {
		if c.LogLevel, err = telemetry.ParseLevel(v); err != nil {
			return fmt.Errorf("VACANCY_LOG_LEVEL %w", err)
		}
	}
	if err := telemetry.CheckTracingEnv(getenv); err != nil {
		return err
	}
	c.Tracing = telemetry.TracingEnabled(getenv)
	return nil
}
