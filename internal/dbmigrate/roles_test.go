package dbmigrate_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
)

// TestRolesOfAProductionDatabase sets a server up the way docs/operations.md
// recommends, on a PostgreSQL of its own (the roles are server-wide, and this
// test changes them): a superuser creates the tables' owner, with CREATEROLE,
// and its database; the owner runs the migrations and creates the server's
// login role, a member of vacancy_app. Then the server works through that role,
// the owner does not keep vacancy_pretenant's rights, and migrating refuses to
// start while vacancy_app bypasses row level security, or lets it log in.
func TestRolesOfAProductionDatabase(t *testing.T) {
	t.Parallel()
	pg := pgtest.StartOwnContainer(t)
	ctx := context.Background()
	super := pgtest.Connect(t, pg.URL)
	exec := func(conn *pgx.Conn, sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(super, "CREATE ROLE vacancy_owner LOGIN CREATEROLE PASSWORD 'owner-pw'")
	exec(super, "CREATE DATABASE vacancy OWNER vacancy_owner")
	ownerURL := withUser(t, pg.URL, "vacancy", "vacancy_owner", "owner-pw")

	if err := dbmigrate.Up(ownerURL); err != nil {
		t.Fatalf("the tables' owner, not a superuser, must be able to migrate: %v", err)
	}
	owner := pgtest.Connect(t, ownerURL)
	var functionsOwner string
	var pretenantRights bool
	if err := owner.QueryRow(ctx, `SELECT string_agg(DISTINCT proowner::regrole::text, ','),
		       pg_has_role(current_user, 'vacancy_pretenant', 'USAGE')
		FROM pg_proc WHERE proname IN ('api_key_credential', 'due_holds')`).Scan(&functionsOwner, &pretenantRights); err != nil {
		t.Fatal(err)
	}
	if functionsOwner != "vacancy_pretenant" || pretenantRights {
		t.Fatalf("the pre-tenant functions must belong to vacancy_pretenant (%s) and the owner must not hold its rights (%t)",
			functionsOwner, pretenantRights)
	}

	exec(owner, "CREATE ROLE vacancy_server LOGIN PASSWORD 'server-pw' IN ROLE vacancy_app")
	serverURL := withUser(t, pg.URL, "vacancy", "vacancy_server", "server-pw")
	d, err := scope.Open(ctx, serverURL, scope.Config{})
	if err != nil {
		t.Fatalf("the server must run as a login role that is a member of vacancy_app: %v", err)
	}
	svc := service.New(d, service.Config{})
	meta, err := command.NewMeta("", [16]byte{}, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := tenancy.NewCreateOrganisation(meta, tenancy.CreateOrganisationInput{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	org, _, err := svc.CreateOrganisation(ctx, cmd)
	if err != nil {
		t.Fatalf("create an organisation: %v", err)
	}
	if p, err := svc.Authenticate(ctx, org.APIKey.Key); err != nil || p.Scope.OrganisationID != org.ID {
		t.Fatalf("the new key must authenticate through api_key_credential: %+v, %v", p, err)
	}
	if _, err := svc.ExpireDueHolds(ctx, 10); err != nil {
		t.Fatalf("the hold sweep must read through due_holds: %v", err)
	}
	d.Close()
	var visible int
	if err := owner.QueryRow(ctx, "SELECT count(*) FROM organisations").Scan(&visible); err != nil || visible != 0 {
		t.Fatalf("the owner, bound to no organisation, must see none (row level security is forced): %d, %v", visible, err)
	}

	exec(super, "ALTER ROLE vacancy_app BYPASSRLS")
	err = dbmigrate.Up(ownerURL)
	if err == nil || !strings.Contains(err.Error(), "vacancy_app has BYPASSRLS") {
		t.Fatalf("migrating must refuse while vacancy_app bypasses row level security, got %v", err)
	}
	if v, dirty, err := dbmigrate.Version(ownerURL); err != nil || dirty || v != dbmigrate.Latest() {
		t.Fatalf("the refusal must leave the schema as it was: version %d, dirty %t, %v", v, dirty, err)
	}
	_, err = scope.Open(ctx, serverURL, scope.Config{})
	if !errors.Is(err, scope.ErrUnsafeRole) {
		t.Fatalf("the server must refuse to run while vacancy_app bypasses row level security, got %v", err)
	}

	exec(super, "ALTER ROLE vacancy_app NOBYPASSRLS LOGIN PASSWORD 'app-pw'")
	if err := dbmigrate.Up(ownerURL); err != nil {
		t.Fatalf("a vacancy_app that may log in is fine: %v", err)
	}
	d, err = scope.Open(ctx, withUser(t, pg.URL, "vacancy", "vacancy_app", "app-pw"), scope.Config{})
	if err != nil {
		t.Fatalf("the server must run logged in as vacancy_app itself: %v", err)
	}
	d.Close()
}

func withUser(t *testing.T, raw, dbname, user, password string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	u.Path = "/" + dbname
	return u.String()
}
