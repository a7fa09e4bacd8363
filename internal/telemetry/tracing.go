package telemetry

import (
	"context"
	"fmt"
	"strings"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TracingEnabled reports whether the standard OpenTelemetry environment asks
// for traces: an OTLP endpoint is set and the SDK is not disabled.
func TracingEnabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// CheckTracingEnv rejects OTLP settings this binary cannot honour: it speaks
// OTLP over HTTP (protobuf) only, which every collector accepts on port 4318.
func CheckTracingEnv(getenv func(string) string) error {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		if v := getenv(name); v != "" && v != "http/protobuf" {
			return fmt.Errorf("%s=%s is not supported: Vacancy exports OTLP over http/protobuf (the collector's port 4318)", name, v)
		}
	}
	return nil
}

// Tracing is an OTLP trace pipeline. A nil *Tracing traces nothing, and every
// method is safe to call on it.
type Tracing struct {
	provider   *sdktrace.TracerProvider
	propagator propagation.TextMapPropagator
}

// StartTracing builds the OTLP/HTTP exporter and a batching tracer provider.
// The exporter reads the standard environment itself (OTEL_EXPORTER_OTLP_*
// endpoint, headers, timeout, TLS); OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES describe the service (default name "vacancy"), and
// OTEL_TRACES_SAMPLER / _ARG choose the sampler (default: parent-based, always on).
// Nothing is exported over the wire until the first spans end.
func StartTracing(ctx context.Context) (*Tracing, error) {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "vacancy")),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithProcessRuntimeName(), resource.WithHost())
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{provider: tp, propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}, nil
}

// Provider is the tracer provider, or nil when tracing is off.
func (t *Tracing) Provider() trace.TracerProvider {
	if t == nil {
		return nil
	}
	return t.provider
}

// Propagator reads and writes trace context (W3C traceparent, baggage).
func (t *Tracing) Propagator() propagation.TextMapPropagator {
	if t == nil {
		return nil
	}
	return t.propagator
}

// Tracer is a named tracer, or nil when tracing is off.
func (t *Tracing) Tracer(name string) trace.Tracer {
	if t == nil {
		return nil
	}
	return t.provider.Tracer(name)
}

// QueryTracer traces SQL statements (their text, never their parameters) and
// pool acquisitions; nil when tracing is off.
func (t *Tracing) QueryTracer() pgx.QueryTracer {
	if t == nil {
		return nil
	}
	return otelpgx.NewTracer(otelpgx.WithTracerProvider(t.provider))
}

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces: %w", err)
	}
	return nil
}
