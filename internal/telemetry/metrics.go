// Package telemetry is how operators see Vacancy run: Prometheus metrics (HTTP
// requests, commands, the connection pool, rate limiting, idempotent replays,
// and registration points for background jobs and webhook deliveries),
// OpenTelemetry tracing exported over OTLP when configured, and the JSON logger.
// It observes the other packages through their hooks (httpapi.Metrics,
// booking.Observer, the pool's statistics) and holds no domain rules.
package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "vacancy"

// Metrics is the process's Prometheus registry and Vacancy's own series. It
// uses a registry of its own (not the global default), so two servers in one
// test process do not collide.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests      *prometheus.CounterVec
	httpDuration      *prometheus.HistogramVec
	commands          *prometheus.CounterVec
	commandDuration   *prometheus.HistogramVec
	replays           *prometheus.CounterVec
	rateLimited       *prometheus.CounterVec
	webhookDeliveries *prometheus.CounterVec
	webhookDuration   *prometheus.HistogramVec
}

// latencyBuckets suit an API whose requests take milliseconds and whose
// deadline is seconds.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// NewMetrics registers Vacancy's series, Go runtime and process metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests handled, by route pattern, method and status."}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "http_request_duration_seconds",
			Help: "Time to handle an HTTP request, by route pattern and method.", Buckets: latencyBuckets}, []string{"route", "method"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "commands_total",
			Help: "Commands handled, by command type and outcome (ok, invalid, not_found, conflict, forbidden, error, replayed)."}, []string{"type", "outcome"}),
		commandDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "command_duration_seconds",
			Help: "Time to handle a command, idempotency bookkeeping included, by command type.", Buckets: latencyBuckets}, []string{"type"}),
		replays: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "idempotent_replays_total",
			Help: "Responses replayed from a command's stored outcome (a retry with the same Idempotency-Key), by route pattern."}, []string{"route"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "rate_limited_requests_total",
			Help: "Requests refused with 429, by the limit that refused them (ip, key, organisation, streams)."}, []string{"limit"}),
		webhookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "webhook_deliveries_total",
			Help: "Webhook delivery attempts, by outcome."}, []string{"outcome"}),
		webhookDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "webhook_delivery_duration_seconds",
			Help: "Time of a webhook delivery attempt, by outcome.", Buckets: latencyBuckets}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.commands, m.commandDuration, m.replays, m.rateLimited,
		m.webhookDeliveries, m.webhookDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Register adds a collector of another part of the program.
func (m *Metrics) Register(c prometheus.Collector) error {
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("register metrics collector: %w", err)
	}
	return nil
}

// ObserveRequest implements httpapi.Metrics.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// RateLimited implements httpapi.Metrics.
func (m *Metrics) RateLimited(limit string) { m.rateLimited.WithLabelValues(limit).Inc() }

// IdempotentReplay implements httpapi.Metrics.
func (m *Metrics) IdempotentReplay(route string) { m.replays.WithLabelValues(route).Inc() }

// ObserveCommand is a command.Observer: pass it as service.Config's Observer.
// outcome is "ok", "error", "replayed", or the kind of a domain error (invalid,
// not_found, conflict, forbidden).
func (m *Metrics) ObserveCommand(_ context.Context, commandType, _, outcome string, d time.Duration) {
	m.commands.WithLabelValues(commandType, outcome).Inc()
	m.commandDuration.WithLabelValues(commandType).Observe(d.Seconds())
}

// WebhookDelivery records one webhook delivery attempt; internal/jobs calls it
// once per attempt with the outcome "delivered" (a 2xx answer), "failed" (any
// other answer) or "unreachable" (no answer: refused, timed out, blocked address).
func (m *Metrics) WebhookDelivery(outcome string, d time.Duration) {
	m.webhookDeliveries.WithLabelValues(outcome).Inc()
	m.webhookDuration.WithLabelValues(outcome).Observe(d.Seconds())
}
