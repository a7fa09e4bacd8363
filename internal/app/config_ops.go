package app

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/vacancy-dev/vacancy/internal/httpapi"
	"github.com/vacancy-dev/vacancy/internal/telemetry"
)

// defaultRateLimit is VACANCY_RATE_LIMIT's default, per API key and per client
// address, per instance; defaultOrgRateLimit is VACANCY_ORG_RATE_LIMIT's, for
// all of an organisation's keys together (unless VACANCY_RATE_LIMIT is off).
const (
	defaultRateLimit    = "20/s burst 40"
	defaultOrgRateLimit = "100/s burst 200"
)

// Operations is the part of Config that runs the service in production: limits,
// proxies, CORS and telemetry.
type Operations struct {
	RateLimit      httpapi.RateLimit
	OrgRateLimit   httpapi.RateLimit
	TrustedProxies []netip.Prefix
	CORSOrigins    []string
	MetricsAddr    string        // "" = no metrics listener
	ShutdownDelay  time.Duration // readyz answers 503 this long before the listener closes
	LogLevel       slog.Level
	Tracing        bool // OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set

}

func loadOperations(getenv func(string) string, c *Config) error {
	rl := getenv("VACANCY_RATE_LIMIT")
	if rl == "" {
		rl = defaultRateLimit
	}
	var err error
	if c.RateLimit, err = httpapi.ParseRateLimit(rl); err != nil {
		return fmt.Errorf("VACANCY_RATE_LIMIT %w", err)
	}
	orl := getenv("VACANCY_ORG_RATE_LIMIT")
	if orl == "" {
		orl = defaultOrgRateLimit
		if !c.RateLimit.Enabled() {
			orl = "off" // VACANCY_RATE_LIMIT=off alone turns rate limiting off
		}
	}
	if c.OrgRateLimit, err = httpapi.ParseRateLimit(orl); err != nil {
		return fmt.Errorf("VACANCY_ORG_RATE_LIMIT %w", err)
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
