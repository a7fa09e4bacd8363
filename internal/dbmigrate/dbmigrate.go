// Package dbmigrate runs Vacancy's embedded SQL migrations with golang-migrate,
// then River's (the job queue) with rivermigrate. It is used by `api migrate`, by
// `make run` and by the test harness; it must not hold schema itself (that lives
// in sql/migrations and in River's module).
package dbmigrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // the pgx5:// driver
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vacancy-dev/vacancy/sql/migrations"
)

func open(databaseURL string) (*migrate.Migrate, error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("DATABASE_URL must be a postgres:// URL")
	}
	u.Scheme = "pgx5"
	m, err := migrate.NewWithSourceInstance("iofs", src, u.String())
	if err != nil {
		return nil, fmt.Errorf("open migrations: %w", err)
	}
	return m, nil
}

func closeM(m *migrate.Migrate, err *error) {
	srcErr, dbErr := m.Close()
	if *err == nil {
		*err = errors.Join(srcErr, dbErr)
	}
}

// Up applies every migration not yet applied: Vacancy's, then River's (the job
// queue's tables, versioned by River itself in river_migration) with the grants
// vacancy_app needs on them.
func Up(databaseURL string) error {
	if err := upVacancy(databaseURL); err != nil {
		return err
	}
	return upRiver(databaseURL)
}

func upVacancy(databaseURL string) (err error) {
	m, err := open(databaseURL)
	if err != nil {
		return err
	}
	defer closeM(m, &err)
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// Down reverts the last n of Vacancy's migrations. River's tables stay: drop
// them with River's own CLI if the job queue is no longer wanted.
func Down(databaseURL string, n int) (err error) {
	if n < 1 {
		return errors.New("migrate down needs a positive number of steps")
	}
	m, err := open(databaseURL)
	if err != nil {
		return err
	}
	defer closeM(m, &err)
	if err := m.Steps(-n); err != nil {
		return fmt.Errorf("migrate down %d: %w", n, err)
	}
	return nil
}

// Version reports the database's schema version; 0 when none is applied.
func Version(databaseURL string) (v uint, dirty bool, err error) {
	m, err := open(databaseURL)
	if err != nil {
		return 0, false, err
	}
	defer closeM(m, &err)
	v, dirty, err = m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read schema version: %w", err)
	}
	return v, dirty, nil
}

// Latest is the newest migration this binary carries: the schema version it expects.
func Latest() uint {
	entries, _ := fs.ReadDir(migrations.FS, ".")
	var latest uint
	for _, e := range entries {
		n, _, ok := strings.Cut(e.Name(), "_")
		if v, err := strconv.ParseUint(n, 10, 32); ok && err == nil && uint(v) > latest {
			latest = uint(v)
		}
	}
	return latest
}

// NotReadyError says why the database's schema cannot serve this binary; Code is
// stable for clients of /readyz (schema_outdated, schema_dirty).
type NotReadyError struct {
	Code   string
	Detail string
}

func (e *NotReadyError) Error() string { return e.Code + ": " + e.Detail }

// CheckReady checks the database answers and its schema is the one this binary
// was built for. A newer schema is accepted: during a rolling upgrade the new
// release migrates first while the old one still serves, which works because
// migrations only expand the schema a release uses (docs/operations.md).
func CheckReady(ctx context.Context, pool *pgxpool.Pool) error {
	var version int64
	var dirty bool
	err := pool.QueryRow(ctx, "SELECT version, dirty FROM schema_migrations LIMIT 1").Scan(&version, &dirty)
	var pgErr *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || (errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UndefinedTable) {
		return &NotReadyError{Code: "schema_outdated", Detail: "the database has no schema: run `api migrate up`"}
	}
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	want := int64(Latest())
	switch {
	case dirty:
		return &NotReadyError{Code: "schema_dirty", Detail: fmt.Sprintf("migration %d stopped halfway: repair it, then run `api migrate up`", version)}
	case version < want:
		return &NotReadyError{Code: "schema_outdated", Detail: fmt.Sprintf("the schema is at version %d, this binary needs %d: run `api migrate up`", version, want)}
	}
	return nil
}

// To migrates Vacancy's schema up or down to version; 0 removes it entirely.
// Versions need not be contiguous (they are the migrations' numbers).
func To(databaseURL string, version uint) (err error) {
	m, err := open(databaseURL)
	if err != nil {
		return err
	}
	defer closeM(m, &err)
	if version == 0 {
		err = m.Down()
	} else {
		err = m.Migrate(version)
	}
	if err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate to version %d: %w", version, err)
	}
	return nil
}
