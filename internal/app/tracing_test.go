package app_test

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// fakeCollector is an OTLP/HTTP trace receiver.
type fakeCollector struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func (c *fakeCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		c.services = append(c.services, attr(rs.GetResource().GetAttributes(), "service.name"))
		for _, ss := range rs.GetScopeSpans() {
			c.spans = append(c.spans, ss.GetSpans()...)
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func attr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return kv.GetValue().GetStringValue()
		}
	}
	return ""
}

// TestTracesExportedOverOTLP follows one request: the caller's trace
// continues in a server span named after the route, a command span under it,
// and SQL spans under the command.
func TestTracesExportedOverOTLP(t *testing.T) {
	collector := &fakeCollector{}
	cs := httptest.NewServer(collector)
	defer cs.Close()
	// The OTLP exporter reads its settings from the process environment.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", cs.URL)
	t.Setenv("OTEL_SERVICE_NAME", "vacancy-test")

	env := testenv.New(t)
	_, key := env.Organisation(t, "traced")
	srv := serve(t, env.URL, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": cs.URL})
	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	res := srv.client(t).As(key).Post("/api/v3/organisations/traced/items", item("Traced Room"),
		apitest.Header("traceparent", "00-"+traceID+"-"+callerSpan+"-01"),
		apitest.BreaksContract("traceparent (W3C Trace Context) is not declared by the contract"))
	if res.Status != http.StatusCreated {
		t.Fatalf("create item: %d %s", res.Status, res.Body)
	}
	if err := srv.stop(); err != nil { // flushes the batch
		t.Fatal(err)
	}

	collector.mu.Lock()
	defer collector.mu.Unlock()
	if len(collector.services) == 0 || collector.services[0] != "vacancy-test" {
		t.Errorf("OTEL_SERVICE_NAME must name the service, got %v", collector.services)
	}
	find := func(pred func(*tracepb.Span) bool) *tracepb.Span {
		for _, s := range collector.spans {
			if hex.EncodeToString(s.GetTraceId()) == traceID && pred(s) {
				return s
			}
		}
		return nil
	}
	server := find(func(s *tracepb.Span) bool { return s.GetName() == "POST /api/v3/organisations/{org}/items" })
	if server == nil {
		t.Fatalf("no server span named after the route in the caller's trace; got %s", names(collector.spans))
	}
	if hex.EncodeToString(server.GetParentSpanId()) != callerSpan || server.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("the server span must continue the caller's span (traceparent)")
	}
	cmd := find(func(s *tracepb.Span) bool {
		return s.GetName() == "command item.create" && string(s.GetParentSpanId()) == string(server.GetSpanId())
	})
	if cmd == nil {
		t.Fatalf("no command span under the server span; got %s", names(collector.spans))
	}
	if attr(cmd.GetAttributes(), "vacancy.command.outcome") != "ok" {
		t.Errorf("the command span must carry its outcome: %v", cmd.GetAttributes())
	}
	byID := map[string]*tracepb.Span{}
	for _, s := range collector.spans {
		byID[string(s.GetSpanId())] = s
	}
	under := func(s, ancestor *tracepb.Span) bool {
		for p := byID[string(s.GetParentSpanId())]; p != nil; p = byID[string(p.GetParentSpanId())] {
			if p == ancestor {
				return true
			}
		}
		return false
	}
	sqlUnder := func(ancestor *tracepb.Span, text string) bool {
		return find(func(s *tracepb.Span) bool {
			q := attr(s.GetAttributes(), "db.query.text")
			return under(s, ancestor) && strings.Contains(q, text)
		}) != nil
	}
	// The command's own bookkeeping runs on the command span's context. The
	// handler's queries run on the context the domain method was given (the
	// request's), so they sit beside the command span, under the request.
	if !sqlUnder(cmd, "INSERT INTO commands") {
		t.Errorf("no SQL span claiming the command within the command span; got %s", names(collector.spans))
	}
	if !sqlUnder(server, "INSERT INTO items") {
		t.Errorf("no SQL span with the item's INSERT within the request span; got %s", names(collector.spans))
	}
	for _, s := range collector.spans {
		for _, kv := range s.GetAttributes() {
			if strings.Contains(kv.GetValue().GetStringValue(), "Traced Room") {
				t.Errorf("span %s carries a query parameter in %s: traces must hold SQL text, never values", s.GetName(), kv.GetKey())
			}
		}
	}

	var logged bool
	for _, l := range srv.logs.Lines(t) {
		if l["msg"] == "request" && l["trace_id"] == traceID {
			logged = true
		}
	}
	if !logged {
		t.Errorf("the request's log line must carry its trace_id")
	}
}

func names(spans []*tracepb.Span) string {
	var out []string
	for _, s := range spans {
		out = append(out, s.GetName())
	}
	return strings.Join(out, ", ")
}
