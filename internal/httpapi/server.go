// Package httpapi is Vacancy's HTTP adapter: routes, authentication into a
// scope.Scope, request decoding, and the mapping of domain outcomes to JSON and
// RFC 9457 problems. Handlers decode, authorise, build a command, dispatch it to
// internal/booking and encode the outcome; they hold no domain rules.
package httpapi

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/stream"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
)

// Config is what the HTTP layer needs.
type Config struct {
	Service       *service.Services
	Logger        *slog.Logger
	PlatformToken string // bearer token that may create organisations; empty disables it
	// RequestTimeout is every request's deadline, database calls included.
	RequestTimeout time.Duration
	// Events wakes event streams when events are committed (nil: streams poll).
	Events *stream.Hub
	// Heartbeat is how often an idle event stream sends a comment line (default 15s).
	Heartbeat time.Duration
	// Streams caps open event streams (zero fields: DefaultStreamLimits).
	Streams StreamLimits
	// StreamWriteTimeout bounds each write to an event stream (default 10s).
	StreamWriteTimeout time.Duration

	// RateLimit limits requests per API key and per client address (zero: off).
	RateLimit RateLimit
	// OrgRateLimit limits the requests of all of an organisation's keys together
	// (zero: off).
	OrgRateLimit RateLimit
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the browser origins allowed to call the API (none: CORS off).
	CORSOrigins []string
	// HSTS, when set, is the Strict-Transport-Security value sent with every
	// response (for deployments where TLS ends in front of the server).
	HSTS string
	// Ready reports whether this instance should receive traffic (GET /readyz);
	// nil only pings the database.
	Ready func(ctx context.Context) error
	// Metrics receives request metrics; nil records none.
	Metrics Metrics
	// Tracer, when set, wraps every request in an OpenTelemetry server span,
	// continuing the caller's trace as Propagator reads it.
	Tracer     trace.TracerProvider
	Propagator propagation.TextMapPropagator
}

type server struct {
	svc           *service.Services
	log           *slog.Logger
	platformToken string
	events        *stream.Hub
	heartbeat     time.Duration
	streams       *openStreams
	// streamWriteTimeout bounds each write to an event stream.
	streamWriteTimeout time.Duration

	limits         *buckets // per key and per address; nil: no rate limit
	orgLimits      *buckets // per organisation; nil: none
	trustedProxies []netip.Prefix
	cors           func(http.Handler) http.Handler
	ready          func(ctx context.Context) error
	metrics        Metrics
}

// NewServer returns the API handler.
func NewServer(cfg Config) http.Handler {
	s := &server{svc: cfg.Service, log: cfg.Logger, platformToken: cfg.PlatformToken, events: cfg.Events, heartbeat: cfg.Heartbeat,
		trustedProxies: cfg.TrustedProxies, cors: corsFor(cfg.CORSOrigins), ready: cfg.Ready, metrics: cfg.Metrics}
	if s.heartbeat <= 0 {
		s.heartbeat = 15 * time.Second
	}
	s.streams, s.streamWriteTimeout = newOpenStreams(cfg.Streams), cfg.StreamWriteTimeout
	if s.streamWriteTimeout <= 0 {
		s.streamWriteTimeout = defaultStreamWriteTimeout
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.RateLimit.Enabled() {
		s.limits = newBuckets(cfg.RateLimit, time.Now)
	}
	if cfg.OrgRateLimit.Enabled() {
		s.orgLimits = newBuckets(cfg.OrgRateLimit, time.Now)
	}
	if s.ready == nil {
		s.ready = s.svc.Ping
	}
	if s.metrics == nil {
		s.metrics = noMetrics{}
	}
	h := requestLog(s.log, cfg.RequestTimeout, s.observeRequest)(s.routes())
	if cfg.HSTS != "" {
		h = strictTransportSecurity(cfg.HSTS, h)
	}
	if cfg.Tracer != nil {
		h = traced(h, cfg.Tracer, cfg.Propagator)
	}
	return h
}

type ctxKey int

const principalKey ctxKey = iota

func principalFrom(ctx context.Context) tenancy.Principal {
	p, _ := ctx.Value(principalKey).(tenancy.Principal)
	return p
}

func scopeFrom(r *http.Request) scope.Scope { return principalFrom(r.Context()).Scope }

func (s *server) isPlatform(r *http.Request) bool {
	tok, ok := bearer(r)
	return ok && s.platformToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.platformToken)) == 1
}
