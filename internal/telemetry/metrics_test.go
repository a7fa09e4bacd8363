package telemetry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("scrape: %d", w.Code)
	}
	return w.Body.String()
}

func TestJobCountsRegistrationPoint(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	fail := false
	err := m.RegisterJobCounts(func(ctx context.Context) ([]JobCount, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the count must run with a deadline")
		}
		if fail {
			return nil, errors.New("database gone")
		}
		return []JobCount{{Queue: "default", State: "available", Count: 3}, {Queue: "webhooks", State: "retryable", Count: 1}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := scrape(t, m)
	for _, want := range []string{`vacancy_jobs{queue="default",state="available"} 3`, `vacancy_jobs{queue="webhooks",state="retryable"} 1`, "vacancy_jobs_scrape_errors_total 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	fail = true
	out = scrape(t, m)
	if strings.Contains(out, "vacancy_jobs{") || !strings.Contains(out, "vacancy_jobs_scrape_errors_total 1") {
		t.Errorf("a failed count must be an error count, never stale or zero job counts:\n%s", out)
	}
}

func TestWebhookDeliveryRegistrationPoint(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	if out := scrape(t, m); strings.Contains(out, "vacancy_webhook") {
		t.Errorf("no webhook series before any delivery")
	}
	m.WebhookDelivery("delivered", 120*time.Millisecond)
	m.WebhookDelivery("failed", 2*time.Second)
	m.WebhookDelivery("delivered", 80*time.Millisecond)
	out := scrape(t, m)
	for _, want := range []string{`vacancy_webhook_deliveries_total{outcome="delivered"} 2`, `vacancy_webhook_deliveries_total{outcome="failed"} 1`,
		`vacancy_webhook_delivery_duration_seconds_count{outcome="delivered"} 2`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
}

func TestLoggerAddsTraceIDsOnlyWhenTracing(t *testing.T) {
	t.Parallel()
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5}, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	var on, off bytes.Buffer
	NewLogger(&on, slog.LevelInfo, true).With("k", "v").InfoContext(ctx, "hello")
	NewLogger(&off, slog.LevelInfo, false).InfoContext(ctx, "hello")
	if !strings.Contains(on.String(), `"trace_id":"01020300000000000000000000000000"`) || !strings.Contains(on.String(), `"k":"v"`) {
		t.Errorf("with tracing, lines carry the trace id: %s", on.String())
	}
	if strings.Contains(off.String(), "trace_id") {
		t.Errorf("without tracing, nothing is added: %s", off.String())
	}
	var quiet bytes.Buffer
	NewLogger(&quiet, slog.LevelWarn, false).Info("chatter")
	if quiet.Len() != 0 {
		t.Errorf("the level must filter: %s", quiet.String())
	}
}

func TestTracingSettings(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	cases := []struct {
		env  func(string) string
		want bool
	}{
		{env(), false},
		{env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"), true},
		{env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces"), true},
		{env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", "OTEL_SDK_DISABLED", "true"), false},
	}
	for i, c := range cases {
		if got := TracingEnabled(c.env); got != c.want {
			t.Errorf("case %d: TracingEnabled = %t, want %t", i, got, c.want)
		}
	}
	if err := CheckTracingEnv(env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")); err != nil {
		t.Errorf("http/protobuf is supported: %v", err)
	}
	if err := CheckTracingEnv(env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")); err == nil {
		t.Error("grpc must be refused with a clear message, not silently ignored")
	}
	var none *Tracing
	if none.Provider() != nil || none.Tracer("x") != nil || none.QueryTracer() != nil || none.Shutdown(context.Background()) != nil {
		t.Error("a nil *Tracing must mean: no tracing, nothing to do")
	}
}
