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

// newWidgetsDB returns a connection to a fresh database cloned from the
// widgets template.
func newWidgetsDB(t *testing.T) *pgx.Conn {
	t.Helper()
	if err := srv.Template(t.Context(), widgetsTemplate, prepareWidgets); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), srv.NewDatabase(t, widgetsTemplate))
	if err != nil {
		t.Fatalf("connect to the new database: %v", err)
	}
	// Registered after NewDatabase's cleanup, so it runs before the DROP.
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func countWidgets(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM widgets").Scan(&n); err != nil {
		t.Fatalf("count widgets: %v", err)
	}
	return n
}

func TestNewDatabaseHasTemplateSchemaAndData(t *testing.T) {
	t.Parallel()
	conn := newWidgetsDB(t)

	var name string
	if err := conn.QueryRow(t.Context(), "SELECT name FROM widgets WHERE id = 1").Scan(&name); err != nil {
		t.Fatalf("a database cloned from the template must contain the table and row prepare created: %v", err)
	}
	if name != "seed" {
		t.Errorf("seed row name = %q, want %q", name, "seed")
	}

	var ext string
	if err := conn.QueryRow(t.Context(), "SELECT extname FROM pg_extension WHERE extname = 'btree_gist'").Scan(&ext); err != nil {
		t.Errorf("btree_gist installed by prepare must be in the clone: %v", err)
	}
}

func TestNewDatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	a := newWidgetsDB(t)
	b := newWidgetsDB(t)

	if _, err := a.Exec(t.Context(), "INSERT INTO widgets VALUES (2, 'only in a')"); err != nil {
		t.Fatalf("insert into a: %v", err)
	}
	if got := countWidgets(t, a); got != 2 {
		t.Errorf("database a has %d widgets, want 2", got)
	}
	if got := countWidgets(t, b); got != 1 {
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
			conn := newWidgetsDB(t)
			if got := countWidgets(t, conn); got != 1 {
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

	conn, err := pgx.Connect(t.Context(), srv.NewDatabase(t, "pgtest_leaky"))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "SELECT * FROM t"); err != nil {
		t.Errorf("a template whose prepare left a session open must still be cloned: %v", err)
	}
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
