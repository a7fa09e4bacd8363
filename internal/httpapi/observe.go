package httpapi

import (
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Metrics is what the HTTP layer reports for monitoring; internal/telemetry
// implements it with Prometheus. Labels are bounded: route patterns, not paths.
type Metrics interface {
	// ObserveRequest records a finished request.
	ObserveRequest(route, method string, status int, d time.Duration)
	// RateLimited counts a request refused with 429; limit is "key" or "ip".
	RateLimited(limit string)
	// IdempotentReplay counts a response replayed from a command's stored outcome.
	IdempotentReplay(route string)
}

type noMetrics struct{}

func (noMetrics) ObserveRequest(string, string, int, time.Duration) {}
func (noMetrics) RateLimited(string)                                {}
func (noMetrics) IdempotentReplay(string)                           {}

// knownMethods keeps the method label bounded: anything else is "OTHER".
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

func methodLabel(m string) string {
	if knownMethods[m] {
		return m
	}
	return "OTHER"
}

// observeRequest runs once per request, after it is handled: metrics, and the
// request's span (when tracing) named after the matched route.
func (s *server) observeRequest(r *http.Request, route string, status int, d time.Duration) {
	s.metrics.ObserveRequest(route, methodLabel(r.Method), status, d)
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		span.SetName(methodLabel(r.Method) + " " + route)
		span.SetAttributes(attribute.String("http.route", route))
	}
}

// traced wraps h in an OpenTelemetry server span per request. It is only used
// when tracing is on, so an untraced server pays nothing for it.
func traced(h http.Handler, tp trace.TracerProvider, prop propagation.TextMapPropagator) http.Handler {
	opts := []otelhttp.Option{
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()), // metrics are Prometheus's job
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return methodLabel(r.Method) }),
	}
	if prop != nil {
		opts = append(opts, otelhttp.WithPropagators(prop))
	}
	return otelhttp.NewHandler(h, "http.request", opts...)
}
