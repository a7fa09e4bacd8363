package apitest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/httpapi"
	"github.com/vacancy-dev/vacancy/internal/jobs"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// Server is the API (httpapi.NewServer) served over HTTP on a fresh test database,
// as an API-only instance: no background workers, no event listener (event
// streams poll).
// Requests reach it only through Client, so each one is checked against the contract.
type Server struct {
	// Env is the server's database: its Superuser lets a test arrange
	// situations the API cannot create (a hold past its deadline) and check what
	// was stored.
	Env *testenv.Env
	// PlatformToken is the bearer token that may create organisations.
	PlatformToken string

	url       string
	contract  *Contract
	transport *http.Transport
}

// Start serves the API over a fresh database for the test t (which needs
// testenv.Main as its package's TestMain); everything stops when t ends. configure,
// if given, adjusts the services' configuration (calendar sync tests let import
// URLs reach the test's own feed server on 127.0.0.1).
func Start(t testing.TB, configure ...func(*service.Config)) *Server {
	t.Helper()
	contract, err := Load()
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	env := testenv.New(t)
	// An API-only instance (VACANCY_WORKERS=false): commands enqueue webhook
	// deliveries, which nothing here sends; internal/app's tests cover sending.
	queue, err := jobs.NewQueue(env.DB.Pool(), jobs.Config{})
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	cfg := service.Config{Jobs: queue}
	for _, c := range configure {
		c(&cfg)
	}
	env.Service = service.New(env.DB, cfg)
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	token := "vac_platform_test_" + hex.EncodeToString(b)
	handler := httpapi.NewServer(httpapi.Config{Service: env.Service, PlatformToken: token,
		// Generous: the race tests queue 100 requests on a 2-core machine under -race.
		RequestTimeout: time.Minute})
	ts := httptest.NewServer(handler)
	t.Cleanup(ts.Close)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 128 // the race tests open ~100 connections at once
	t.Cleanup(tr.CloseIdleConnections)
	return &Server{Env: env, PlatformToken: token, url: ts.URL, contract: contract, transport: tr}
}

// Client returns a client for the test (or subtest) t, without an API key.
func (s *Server) Client(t testing.TB) *Client {
	return newClient(t, s.url, s.contract, s.transport)
}

// NewClient returns a client without an API key for the test t, for an API the
// test serves itself at base (scheme and host, e.g. http://127.0.0.1:8080): the
// whole `api serve` in internal/app's, internal/e2e's and internal/reliability's
// tests. It validates exactly as Server's clients do, unless made Unchecked.
func NewClient(t testing.TB, base string) *Client {
	t.Helper()
	contract, err := Load()
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	return newClient(t, base, contract, http.DefaultTransport)
}

// URL is the server's root (scheme and host).
func (s *Server) URL() string { return s.url }

// HTTPClient is an *http.Client for test t whose every request, response and
// streamed event is validated against the contract, for clients other than
// Client (the typed Go client).
func (s *Server) HTTPClient(t testing.TB) *http.Client {
	return s.Client(t).httpClient()
}

// Contract is the contract the server's clients validate against.
func (s *Server) Contract() *Contract { return s.contract }
