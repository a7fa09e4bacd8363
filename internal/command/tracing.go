package command

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// WithTracer traces every command as an OpenTelemetry span. The SQL execute
// runs itself (claim, outcome, events) is traced under it; a handler's own
// queries use the context its Service method was given, so they appear beside
// it under the request's span. Without a tracer commands cost nothing extra.
func WithTracer(t trace.Tracer) Option { return func(e *Executor) { e.tracer = t } }

// startSpan starts a command's span; without a tracer it returns ctx and a
// span that records nothing.
func (s *Executor) startSpan(ctx context.Context, typ, id string) (context.Context, trace.Span) {
	if s.tracer == nil {
		return ctx, trace.SpanFromContext(context.Background())
	}
	return s.tracer.Start(ctx, "command "+typ, trace.WithAttributes(
		attribute.String("vacancy.command.type", typ), attribute.String("vacancy.command.id", id)))
}

// endSpan records a command's outcome on its span, if it is being traced.
func endSpan(ctx context.Context, outcome string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("vacancy.command.outcome", outcome))
	if outcome == "error" {
		span.SetStatus(codes.Error, "command failed")
	}
}
