package pgtest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) {
	pgtest.Main(m, func(s *pgtest.Server) { srv = s })
}

const widgetsTemplate = "pgtest_widgets"

// prepareCalls counts how often the widgets template was prepared.
var prepareCalls atomic.Int32

// prepareWidgets stands in for the migrations: a table with one seed row and
// an extension the schema will need.
func prepareWidgets(ctx context.Context, url string) error {
	prepareCalls.Add(1)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
		CREATE EXTENSION btree_gist;
		CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL);
		INSERT INTO widgets VALUES (1, 'seed');`)
	if err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	return nil
}

// newWidgetsDB returns a fresh database cloned from the widgets template, as
// its superuser sees it. Its pool is closed by a cleanup registered after
// NewDatabase's, so before the DROP.
func newWidgetsDB(t *testing.T) *pgtest.DB {
	t.Helper()
	if err := srv.Template(t.Context(), widgetsTemplate, prepareWidgets); err != nil {
		t.Fatal(err)
	}
	return pgtest.Superuser(t, srv.NewDatabase(t, widgetsTemplate))
}

func TestNewDatabaseHasTemplateSchemaAndData(t *testing.T) {
	t.Parallel()
	db := newWidgetsDB(t)

	// A database cloned from the template must contain the table and row prepare
	// created, and the extension it installed.
	if name := pgtest.Scalar[string](t, db, "SELECT name FROM widgets WHERE id = 1"); name != "seed" {
		t.Errorf("seed row name = %q, want %q", name, "seed")
	}
	if n := db.Int(t, "SELECT count(*) FROM pg_extension WHERE extname = 'btree_gist'"); n != 1 {
		t.Errorf("btree_gist installed by prepare must be in the clone")
	}
}

func TestNewDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	a := newWidgetsDB(t)
	b := newWidgetsDB(t)

	a.Exec(t, "INSERT INTO widgets VALUES (2, 'only in a')")
	if got := a.Int(t, "SELECT count(*) FROM widgets"); got != 2 {
		t.Errorf("database a has %d widgets, want 2", got)
	}
	if got := b.Int(t, "SELECT count(*) FROM widgets"); got != 1 {
		t.Errorf("a row inserted in one test database must not appear in another: database b has %d widgets, want 1", got)
	}
}

func TestTemplateIsPreparedOnce(t *testing.T) {
	t.Parallel()
	for range 3 {
		if err := srv.Template(t.Context(), widgetsTemplate, prepareWidgets); err != nil {
			t.Fatal(err)
		}
	}
	if n := prepareCalls.Load(); n != 1 {
		t.Errorf("prepare ran %d times for one template name, want 1", n)
	}
}

func TestParallelClones(t *testing.T) {
	t.Parallel()
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			db := newWidgetsDB(t)
			if got := db.Int(t, "SELECT count(*) FROM widgets"); got != 1 {
				t.Errorf("fresh clone has %d widgets, want 1", got)
			}
		})
	}
}

func TestTemplateWithLeakedConnection(t *testing.T) {
	t.Parallel()
	var leaked *pgx.Conn
	t.Cleanup(func() {
		if leaked != nil {
			_ = leaked.Close(context.Background())
		}
	})
	err := srv.Template(t.Context(), "pgtest_leaky", func(ctx context.Context, url string) error {
		var err error
		leaked, err = pgx.Connect(ctx, url) // deliberately left open
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		_, err = leaked.Exec(ctx, "CREATE TABLE t (id int)")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// A template whose prepare left a session open must still be cloned.
	pgtest.Superuser(t, srv.NewDatabase(t, "pgtest_leaky")).Exec(t, "SELECT * FROM t")
}

func TestFailedPrepareIsReported(t *testing.T) {
	t.Parallel()
	err := srv.Template(t.Context(), "pgtest_broken", func(ctx context.Context, url string) error {
		return fmt.Errorf("migration 0001 failed")
	})
	if err == nil {
		t.Fatal("Template must return prepare's error")
	}
	if again := srv.Template(t.Context(), "pgtest_broken", prepareWidgets); again == nil {
		t.Error("a template that failed to prepare must keep failing, not be prepared again")
	}
}

// TestSuperuserConnIsItsOwnSession: a DB's Conn is a session of its own, so a
// transaction held open on it is invisible to the DB's other statements until
// it commits.
func TestSuperuserConnIsItsOwnSession(t *testing.T) {
	t.Parallel()
	db := newWidgetsDB(t)
	conn := db.Conn(t)
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "INSERT INTO widgets VALUES (3, 'in a transaction')"); err != nil {
		t.Fatal(err)
	}
	if n := db.Int(t, "SELECT count(*) FROM widgets"); n != 1 {
		t.Errorf("an open transaction's row must not be seen by other sessions, saw %d widgets", n)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := db.Int(t, "SELECT count(*) FROM widgets"); n != 2 {
		t.Errorf("after the commit there are 2 widgets, saw %d", n)
	}
}
