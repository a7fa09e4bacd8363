// Package pgtest is the PostgreSQL support for integration tests: one server
// per test binary (a testcontainers-go container, the server named by
// TEST_DATABASE_URL, or the Citus cluster whose coordinator TEST_CITUS_URL
// names), a template database prepared once (the caller migrates it), and a
// fresh database cloned from that template for every test.
// StartContainer also serves long-running development processes (`make run`).
// It owns containers and databases it creates, and must not be imported by
// production code paths.
//
// The container image is $VACANCY_PG_IMAGE (default postgres:17). It must
// exist locally: this package never pulls. Where no registry is reachable,
// `make pg-image` (scripts/pg-image.sh) builds an equivalent from Debian
// packages.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/wait"
)

const (
	defaultImage = "postgres:17"

	// superuser is the role the container is initialised with.
	superuser = "postgres"

	// readyLog is printed once by the temporary server that initialises the
	// cluster and once more by the real server; only the second one means
	// TCP connections will be accepted.
	readyLog = "database system is ready to accept connections"

	startupTimeout = 60 * time.Second
	pingTimeout    = 10 * time.Second

	// maxIdentifierLen is PostgreSQL's NAMEDATALEN-1: longer names are
	// silently truncated, which would make lookups by the full name fail.
	maxIdentifierLen = 63
)

// Server is a PostgreSQL server the tests may create and drop databases on.
type Server struct {
	admin    *url.URL      // superuser URL of the "postgres" database
	pool     *pgxpool.Pool // superuser connections to "postgres", for DDL on databases
	external bool          // from TEST_DATABASE_URL or TEST_CITUS_URL: shared, possibly with other test binaries
	suffix   string        // appended to template names on an external server
	workers  []*worker     // a Citus cluster's workers (TEST_CITUS_URL); none otherwise

	templatesMu sync.Mutex
	templates   map[string]*template

	// cloneMu serialises CREATE DATABASE ... TEMPLATE: PostgreSQL refuses to
	// copy a database that has other sessions, and concurrent clones only
	// contend on the same checkpoint anyway.
	cloneMu sync.Mutex
	seq     atomic.Uint64
}

type template struct {
	dbname string // the database's real name
	err    error  // the outcome of preparing it, returned to every caller
}

// Start starts a PostgreSQL container with testcontainers-go using the image
// $VACANCY_PG_IMAGE (default postgres:17), or uses TEST_DATABASE_URL when it
// is set (a postgres:// URL of a superuser), or, before both, TEST_CITUS_URL
// (a superuser URL of a database on a Citus coordinator with its workers
// added; see citus.go).
//
// stop is never nil and must always be called: it removes the container
// (Ryuk, testcontainers' reaper, is disabled here, so nothing else would) or,
// for TEST_DATABASE_URL, drops the template databases this Server created.
// When Start fails it has already removed what it created, and stop does
// nothing.
func Start(ctx context.Context) (*Server, func(), error) {
	if raw := os.Getenv("TEST_CITUS_URL"); raw != "" {
		s, err := connectCitus(ctx, raw)
		if err != nil {
			return nil, func() {}, fmt.Errorf("TEST_CITUS_URL: %w", err)
		}
		return s, s.dropTemplates, nil
	}
	if raw := os.Getenv("TEST_DATABASE_URL"); raw != "" {
		s, err := connectExternal(ctx, raw)
		if err != nil {
			return nil, func() {}, fmt.Errorf("TEST_DATABASE_URL: %w", err)
		}
		return s, s.dropTemplates, nil
	}

	adminURL, stopContainer, err := startContainer(ctx)
	if err != nil {
		return nil, func() {}, err
	}
	s, err := newServer(ctx, adminURL, false)
	if err != nil {
		stopContainer()
		return nil, func() {}, err
	}
	return s, func() {
		s.close()
		stopContainer()
		// Under `go test -fuzz` this process is the coordinator and has
		// waited for its workers, which each ran their own container and
		// may have been killed before removing it.
		reapStaleLogged(context.Background())
	}, nil
}

// StartContainer starts a PostgreSQL container like Start does (never
// TEST_DATABASE_URL) and returns the superuser URL of its "postgres"
// database, for development processes that need a throwaway server.
// stop removes the container; it is never nil and must always be called.
func StartContainer(ctx context.Context) (url string, stop func(), err error) {
	u, stop, err := startContainer(ctx)
	if err != nil {
		return "", func() {}, err
	}
	return u.String(), stop, nil
}

// Main runs a test binary against one server: it starts the server, hands it
// to set, runs the tests, removes the server and exits with the tests' code.
// Packages use it as
//
//	func TestMain(m *testing.M) { pgtest.Main(m, func(s *pgtest.Server) { srv = s }) }
//
// If the server cannot be started the binary fails: integration tests are
// never skipped silently.
func Main(m *testing.M, set func(*Server)) {
	os.Exit(runMain(m, set))
}

func runMain(m *testing.M, set func(*Server)) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*startupTimeout)
	s, stop, err := Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		return 1
	}

	// An interrupted run (Ctrl-C, CI cancellation) would otherwise leave the
	// container running, since nothing reaps it. A `go test -timeout` panic
	// or a SIGKILL cannot be intercepted; such leftovers carry their owner's
	// PID, and the next harness start on this host removes them (reap.go).
	var once sync.Once
	stopOnce := func() { once.Do(stop) }
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if sig, ok := <-sigs; ok {
			fmt.Fprintf(os.Stderr, "pgtest: %v: removing the database server\n", sig)
			stopOnce()
			os.Exit(1)
		}
	}()
	defer stopOnce()

	set(s)
	return m.Run()
}

// URL is a superuser connection URL for the database dbname on this server.
func (s *Server) URL(dbname string) string {
	u := *s.admin
	u.Path = "/" + dbname
	u.RawPath = ""
	return u.String()
}

// Template creates the database name, calls prepare with a superuser URL of
// it (the caller runs migrations there and must close its connections before
// returning), and marks it as a template for NewDatabase. It does this once
// per Server and name; later and concurrent calls wait for the first and
// return its result.
//
// On a TEST_DATABASE_URL server the database's real name gets a random suffix,
// because test binaries of several packages may share that server.
func (s *Server) Template(ctx context.Context, name string, prepare func(ctx context.Context, url string) error) error {
	s.templatesMu.Lock()
	defer s.templatesMu.Unlock()
	if t, ok := s.templates[name]; ok {
		return t.err
	}

	dbname := name
	if s.external {
		dbname = name + "_" + s.suffix
	}
	t := &template{dbname: dbname}
	t.err = s.createTemplate(ctx, dbname, prepare)
	if t.err != nil {
		t.err = fmt.Errorf("template %s: %w", name, t.err)
	}
	s.templates[name] = t
	return t.err
}

// NewDatabase creates a fresh database cloned from the template prepared by
// Template(ctx, template, ...), and returns its superuser URL. The database
// is dropped when the test ends.
func (s *Server) NewDatabase(t testing.TB, template string) string {
	t.Helper()

	s.templatesMu.Lock()
	tmpl, ok := s.templates[template]
	s.templatesMu.Unlock()
	switch {
	case !ok:
		t.Fatalf("pgtest: template %q has not been prepared: call Server.Template first", template)
	case tmpl.err != nil:
		t.Fatalf("pgtest: %v", tmpl.err)
	}

	dbname := fmt.Sprintf("t_%d_%s", s.seq.Add(1), randomHex(4))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := s.clone(ctx, dbname, tmpl.dbname); err != nil {
		t.Fatalf("pgtest: %v", err)
	}

	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.drop(ctx, dbname); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s.URL(dbname)
}

// defaultTestcontainersEnv makes testcontainers safe on machines like CI's,
// unless the environment already says otherwise:
//   - Ryuk, testcontainers' reaper container, needs an image pulled from a
//     registry, which is not reachable there; stop functions remove
//     containers instead.
//   - Those machines have /.dockerenv, so testcontainers believes it runs
//     inside a container and reports the default gateway as the container
//     host. That address must never receive traffic; with a local Docker
//     engine the published ports are reachable on 127.0.0.1.
func defaultTestcontainersEnv() error {
	if _, ok := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !ok {
		if err := os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true"); err != nil {
			return fmt.Errorf("set TESTCONTAINERS_RYUK_DISABLED: %w", err)
		}
	}
	if _, ok := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !ok {
		// A remote engine (DOCKER_HOST=tcp://...) publishes ports on its own
		// host, which testcontainers derives correctly by itself.
		if h := os.Getenv("DOCKER_HOST"); h == "" || strings.HasPrefix(h, "unix://") {
			if err := os.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1"); err != nil {
				return fmt.Errorf("set TESTCONTAINERS_HOST_OVERRIDE: %w", err)
			}
		}
	}
	return nil
}

func image() string {
	if img := os.Getenv("VACANCY_PG_IMAGE"); img != "" {
		return img
	}
	return defaultImage
}

// startContainer runs the PostgreSQL container and returns the superuser URL
// of its "postgres" database once it answers queries.
func startContainer(ctx context.Context) (*url.URL, func(), error) {
	u, _, stop, err := startContainerWith(ctx)
	return u, stop, err
}

// startContainerWith is startContainer with extra customizations, also
// returning the container.
func startContainerWith(ctx context.Context, extra ...testcontainers.ContainerCustomizer) (*url.URL, *postgres.PostgresContainer, func(), error) {
	if err := defaultTestcontainersEnv(); err != nil {
		return nil, nil, nil, err
	}
	img := image()
	if err := checkDocker(ctx, img); err != nil {
		return nil, nil, nil, err
	}
	reapStaleOnce(ctx)

	// A fresh password per container: Docker publishes the port on every
	// interface of the host.
	password := randomHex(16)
	opts := []testcontainers.ContainerCustomizer{
		postgres.WithDatabase("postgres"),
		postgres.WithUsername(superuser),
		postgres.WithPassword(password),
		// The module's command is `postgres -c fsync=off`; these add to it.
		// Durability is worthless for a throwaway database, and parallel
		// tests each hold a pool.
		testcontainers.WithCmdArgs(
			"-c", "full_page_writes=off",
			"-c", "synchronous_commit=off",
			"-c", "max_connections=200",
		),
		// The data directory in memory: on this machine's storage driver
		// (fuse-overlayfs) cloning a template took ~400 ms, on tmpfs ~20 ms,
		// and initdb 4 s instead of 1.5 s.
		testcontainers.WithTmpfs(map[string]string{"/var/lib/postgresql/data": "rw"}),
		testcontainers.WithLabels(ownerLabels()),
		testcontainers.WithWaitStrategy(
			wait.ForLog(readyLog).WithOccurrence(2).WithStartupTimeout(startupTimeout),
		),
	}
	ctr, err := postgres.Run(ctx, img, append(opts, extra...)...)
	stop := func() {
		// The data is thrown away, so there is no point in a clean shutdown.
		if err := testcontainers.TerminateContainer(ctr, testcontainers.StopTimeout(0)); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: remove PostgreSQL container: %v\n", err)
		}
	}
	if err != nil {
		stop()
		return nil, nil, nil, fmt.Errorf("start PostgreSQL container from image %s: %w", img, err)
	}

	raw, err := ctr.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		stop()
		return nil, nil, nil, fmt.Errorf("PostgreSQL container address: %w", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		stop()
		return nil, nil, nil, fmt.Errorf("parse PostgreSQL container URL: %w", err)
	}
	if err := waitForQueries(ctx, u.String()); err != nil {
		stop()
		return nil, nil, nil, err
	}
	return u, ctr, stop, nil
}

// checkDocker turns the two common setup problems into plain instructions.
func checkDocker(ctx context.Context, img string) error {
	const noDocker = "integration tests need Docker or TEST_DATABASE_URL"
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("%s: %w", noDocker, err)
	}
	defer p.Close()
	if err := p.Health(ctx); err != nil {
		return fmt.Errorf("%s: Docker is not reachable: %w", noDocker, err)
	}

	// Never pull: where no registry is reachable a pull only hangs, and
	// everywhere the script is the one way to get the image.
	if _, err := p.Client().ImageInspect(ctx, img); err != nil {
		if errdefs.IsNotFound(err) {
			return fmt.Errorf("PostgreSQL image %s is not available locally: run `make pg-image` (scripts/pg-image.sh) to pull or build it", img)
		}
		return fmt.Errorf("inspect PostgreSQL image %s: %w", img, err)
	}
	return nil
}

// waitForQueries retries until the server answers a query. The log line
// comes a moment before the published port accepts connections.
func waitForQueries(ctx context.Context, connString string) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(attempt, connString)
		if err == nil {
			err = conn.Ping(attempt)
			_ = conn.Close(attempt)
		}
		cancelAttempt()
		if err == nil {
			return nil
		}
		last = err

		select {
		case <-ctx.Done():
			return fmt.Errorf("PostgreSQL did not answer within %s: %w", pingTimeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func connectExternal(ctx context.Context, raw string) (*Server, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Deliberately not echoing the value: it holds a password.
		return nil, errors.New("must be a postgres:// URL (keyword/value strings are not supported)")
	}
	// The server is reached through this URL with the database name swapped;
	// the admin pool connects to "postgres", which always exists.
	u.Path, u.RawPath = "/postgres", ""

	s, err := newServer(ctx, u, true)
	if err != nil {
		return nil, err
	}
	var super bool
	if err := s.pool.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("check superuser: %w", err)
	}
	if !super {
		s.pool.Close()
		return nil, errors.New("the user must be a superuser (tests create databases, roles and extensions)")
	}
	return s, nil
}

func newServer(ctx context.Context, admin *url.URL, external bool) (*Server, error) {
	cfg, err := pgxpool.ParseConfig(admin.String())
	if err != nil {
		return nil, fmt.Errorf("parse admin URL: %w", err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", admin.Redacted(), err)
	}
	return &Server{
		admin:     admin,
		pool:      pool,
		external:  external,
		suffix:    randomHex(4),
		templates: make(map[string]*template),
	}, nil
}

func (s *Server) createTemplate(ctx context.Context, dbname string, prepare func(ctx context.Context, url string) error) error {
	if len(dbname) > maxIdentifierLen {
		return fmt.Errorf("database name %q is longer than %d bytes", dbname, maxIdentifierLen)
	}
	ident := pgx.Identifier{dbname}.Sanitize()
	if s.Citus() {
		if err := s.createCitusDatabase(ctx, dbname); err != nil {
			if dropErr := s.drop(ctx, dbname); dropErr != nil {
				err = errors.Join(err, dropErr)
			}
			return err
		}
	} else if _, err := s.pool.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	if err := prepare(ctx, s.URL(dbname)); err != nil {
		if dropErr := s.drop(ctx, dbname); dropErr != nil {
			err = errors.Join(err, dropErr)
		}
		return fmt.Errorf("prepare: %w", err)
	}

	// Refuse new sessions first, then end any that prepare left open: a
	// template with sessions cannot be copied ("source database is being
	// accessed by other users").
	for _, pool := range s.nodes() {
		if _, err := pool.Exec(ctx, "ALTER DATABASE "+ident+" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"); err != nil {
			return fmt.Errorf("mark as template: %w", err)
		}
		if _, err := pool.Exec(ctx,
			"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
			dbname); err != nil {
			return fmt.Errorf("close sessions left open by prepare: %w", err)
		}
	}
	return nil
}

// clone creates dbname as a copy of the template database tmpl.
func (s *Server) clone(ctx context.Context, dbname, tmpl string) error {
	s.cloneMu.Lock()
	defer s.cloneMu.Unlock()

	stmt := fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s",
		pgx.Identifier{dbname}.Sanitize(), pgx.Identifier{tmpl}.Sanitize())
	// On Citus every node gets its copy under the same name: the coordinator's
	// metadata names shards by node and the database they live in is the
	// coordinator's.
	nodes := s.nodes()
	for attempt := 1; ; attempt++ {
		var err error
		for len(nodes) > 0 {
			if _, err = nodes[0].Exec(ctx, stmt); err != nil {
				break
			}
			nodes = nodes[1:]
		}
		if err == nil {
			return nil
		}
		// A session that prepare left open may take a moment to end after
		// pg_terminate_backend; PostgreSQL itself waits up to 5 s.
		var pgErr *pgconn.PgError
		if attempt >= 3 || !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use
			return fmt.Errorf("create database %s from template %s: %w", dbname, tmpl, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create database %s from template %s: %w", dbname, tmpl, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *Server) drop(ctx context.Context, dbname string) error {
	// The coordinator's copy first: nothing then reaches the workers' copies.
	nodes := s.nodes()
	slices.Reverse(nodes)
	var errs []error
	for _, pool := range nodes {
		if err := dropOn(ctx, pool, dbname); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func dropOn(ctx context.Context, pool *pgxpool.Pool, dbname string) error {
	stmt := "DROP DATABASE IF EXISTS " + pgx.Identifier{dbname}.Sanitize() + " WITH (FORCE)"
	for attempt := 1; ; attempt++ {
		_, err := pool.Exec(ctx, stmt)
		if err == nil {
			return nil
		}
		// FORCE ends the database's sessions, but a background worker that is
		// just starting (Citus's maintenance daemon) may hold on a moment longer.
		var pgErr *pgconn.PgError
		if attempt >= 10 || !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use
			return fmt.Errorf("drop database %s: %w", dbname, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drop database %s: %w", dbname, err)
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}

// dropTemplates removes the templates this Server created on a shared
// server, then closes its connections.
func (s *Server) dropTemplates() {
	defer s.close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	s.templatesMu.Lock()
	defer s.templatesMu.Unlock()
	for _, t := range s.templates {
		if t.err != nil {
			continue
		}
		ident := pgx.Identifier{t.dbname}.Sanitize()
		var err error
		for _, pool := range s.nodes() {
			if _, err = pool.Exec(ctx, "ALTER DATABASE "+ident+" IS_TEMPLATE false"); err != nil {
				break
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: unmark template %s: %v\n", t.dbname, err)
			continue
		}
		if err := s.drop(ctx, t.dbname); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
}

// randomHex returns n random bytes as lowercase hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
