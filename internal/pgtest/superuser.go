package pgtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// statementTimeout bounds one statement of a DB, so a lock the test forgot to
// release fails the test instead of hanging it.
const statementTimeout = time.Minute

// DB is a test database as its superuser sees it, past row level security: for
// arranging what the API cannot (a hold past its deadline) and checking what was
// really stored. It holds a small pool, which connects on first use and is
// closed when the test that opened the DB ends; it is safe for concurrent use.
// Its methods report a failure to the test they are given (with t.Fatalf), so one
// DB serves a test and its subtests; call them from that test's goroutine.
type DB struct {
	url  string
	pool *pgxpool.Pool
}

// Superuser opens url (a superuser URL, such as testenv.Env's or Server.URL's) for
// the test t.
func Superuser(t testing.TB, url string) *DB {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("pgtest: superuser URL: %v", err)
	}
	// Tests run statements one after another; a few connections cover those that
	// poll while another goroutine of theirs queries too.
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgtest: superuser pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return &DB{url: url, pool: pool}
}

// Exec runs a statement.
func (db *DB) Exec(t testing.TB, query string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), statementTimeout)
	defer cancel()
	if _, err := db.pool.Exec(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", strings.TrimSpace(query), err)
	}
}

// Int runs a query of one integer value, a count(*) most often.
func (db *DB) Int(t testing.TB, query string, args ...any) int {
	t.Helper()
	return Scalar[int](t, db, query, args...)
}

// Scalar runs a query of one value of type T (a method cannot have a type
// parameter).
func Scalar[T any](t testing.TB, db *DB, query string, args ...any) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), statementTimeout)
	defer cancel()
	var v T
	if err := db.pool.QueryRow(ctx, query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", strings.TrimSpace(query), err)
	}
	return v
}

// Conn opens a connection of t's own: for a transaction or a lock the test holds
// while requests run, or a session whose state matters. It is closed when t ends,
// if the test has not closed it before.
func (db *DB) Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), statementTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		t.Fatalf("pgtest: connect as superuser: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	})
	return conn
}
