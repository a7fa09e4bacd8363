// Package testenv is the environment of Vacancy's integration tests: a migrated
// database (one PostgreSQL server per test binary from internal/pgtest, a
// template database migrated once, a fresh clone of it per test) with the
// service over it and its superuser's view (pgtest.DB); `api serve` as a child
// process (BuildAPI, StartAPI) and its log (Log); and the one way tests wait for
// something to happen (Eventually, Poll). With internal/apitest (the HTTP
// client) and internal/pgtest it is the whole test-support kit. Test code only:
// it holds no assertions about Vacancy's behaviour.
package testenv

import (
	"context"
	"fmt"
	neturl "net/url"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
)

const templateName = "vacancy_template"

// The server starts on the first test that asks for a database, so the unit tests
// of a package run without Docker; Main removes it after the last test.
var lazy struct {
	once    sync.Once
	mu      sync.Mutex
	server  *pgtest.Server
	stop    func()
	err     error
	managed bool
}

// Main is TestMain for packages with integration tests.
func Main(m *testing.M) {
	lazy.managed = true
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if sig, ok := <-sigs; ok {
			fmt.Fprintf(os.Stderr, "testenv: %v: removing the database server\n", sig)
			stopServer()
			os.Exit(1)
		}
	}()
	code := m.Run()
	signal.Stop(sigs)
	stopServer()
	os.Exit(code)
}

func stopServer() {
	lazy.mu.Lock()
	defer lazy.mu.Unlock()
	if lazy.stop != nil {
		lazy.stop()
		lazy.stop = nil
	}
}

// Server is this test binary's PostgreSQL server, started on first use. Without
// Docker (and without TEST_DATABASE_URL) the calling test fails, saying so.
func Server(t testing.TB) *pgtest.Server {
	t.Helper()
	if !lazy.managed {
		t.Fatal("testenv: call testenv.Main from TestMain, so the database server is removed after the tests")
	}
	lazy.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s, stop, err := pgtest.Start(ctx)
		lazy.mu.Lock()
		lazy.server, lazy.stop, lazy.err = s, stop, err
		lazy.mu.Unlock()
	})
	if lazy.err != nil {
		t.Fatalf("testenv: %v", lazy.err)
	}
	return lazy.server
}

// DatabaseURL returns the superuser URL of a fresh, migrated database.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	server := Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := server.Template(ctx, templateName, func(_ context.Context, url string) error {
		return dbmigrate.Up(url)
	}); err != nil {
		t.Fatalf("testenv: migrate template: %v", err)
	}
	return server.NewDatabase(t, templateName)
}

// Env is a fresh database with a pool and a service over it.
type Env struct {
	// URL is the database's superuser URL.
	URL string
	// Superuser reaches the database past row level security: to arrange what
	// the API cannot and to check what was stored.
	Superuser *pgtest.DB
	DB        *scope.DB
	Service   *service.Services
}

// New opens a fresh database for one test; it is closed and dropped after it.
func New(t testing.TB, cfg ...service.Config) *Env {
	t.Helper()
	url := DatabaseURL(t)
	// A generous connect timeout: the race tests open the whole pool at once on
	// a 2-core machine under -race, where a new connection (TLS-less, but with its
	// SET ROLE and checks) can take longer than the server's default of 5 s.
	d, err := scope.Open(context.Background(), withConnectTimeout(url, 30*time.Second), scope.Config{MaxConns: 30})
	if err != nil {
		t.Fatalf("testenv: open database: %v", err)
	}
	t.Cleanup(d.Close)
	return &Env{URL: url, Superuser: pgtest.Superuser(t, url), DB: d, Service: service.New(d, firstOr(cfg))}
}

// Organisation creates an organisation and returns its admin scope and key.
func (e *Env) Organisation(t testing.TB, slug string) (scope.Scope, string) {
	t.Helper()
	meta, err := command.NewMeta("", [16]byte{}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := tenancy.NewCreateOrganisation(meta, tenancy.CreateOrganisationInput{Slug: slug, Name: slug})
	if err != nil {
		t.Fatalf("create organisation command: %v", err)
	}
	out, _, err := e.Service.CreateOrganisation(context.Background(), cmd)
	if err != nil {
		t.Fatalf("create organisation %s: %v", slug, err)
	}
	return scope.Scope{OrganisationID: out.ID, ActorID: out.APIKey.ID, Role: scope.RoleAdmin}, out.APIKey.Key
}

func firstOr(cfg []service.Config) service.Config {
	if len(cfg) > 0 {
		return cfg[0]
	}
	return service.Config{}
}

// withConnectTimeout sets connect_timeout on a PostgreSQL URL.
func withConnectTimeout(raw string, d time.Duration) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set("connect_timeout", strconv.Itoa(int(d.Seconds())))
	u.RawQuery = q.Encode()
	return u.String()
}
