package scope_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// TestStatementTimeoutOnTheServer: the migrations give vacancy_app a
// statement_timeout, and every pooled connection takes it on with its SET ROLE,
// so a statement the client never cancels (no deadline here at all) is ended
// by PostgreSQL itself.
func TestStatementTimeoutOnTheServer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.DatabaseURL(t)
	admin := pgtest.Superuser(t, url).Conn(t)
	var config string
	if err := admin.QueryRow(ctx, `SELECT coalesce(array_to_string(setconfig, ','), '') FROM pg_db_role_setting
		WHERE setrole = 'vacancy_app'::regrole AND setdatabase = 0`).Scan(&config); err != nil {
		t.Fatalf("the migrations must set vacancy_app's statement_timeout: %v", err)
	}
	if !strings.Contains(config, "statement_timeout=30s") {
		t.Fatalf("vacancy_app's settings are %q, want statement_timeout=30s", config)
	}

	d, err := scope.Open(ctx, url, scope.Config{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := d.Pool().QueryRow(ctx, "SHOW statement_timeout").Scan(&got); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if got != "30s" {
		t.Fatalf("a pooled connection's statement_timeout is %q, want the role's 30s", got)
	}

	// A database-specific setting wins, as at login. (Per database, so that the
	// other tests on this server keep the role's 30 s.)
	var dbname string
	if err := admin.QueryRow(ctx, "SELECT current_database()").Scan(&dbname); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "ALTER ROLE vacancy_app IN DATABASE "+pgx.Identifier{dbname}.Sanitize()+" SET statement_timeout = '300ms'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "ALTER ROLE vacancy_app IN DATABASE "+pgx.Identifier{dbname}.Sanitize()+" RESET statement_timeout")
	})
	d, err = scope.Open(ctx, url, scope.Config{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	started := time.Now()
	_, err = d.Pool().Exec(ctx, "SELECT pg_sleep(5)")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Fatalf("a statement past the role's statement_timeout must be cancelled by the server (57014), got %v", err)
	}
	if took := time.Since(started); took > 3*time.Second {
		t.Fatalf("the statement ran %s, past its 300ms timeout", took)
	}
}
