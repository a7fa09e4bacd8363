package dbmigrate_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// distribution is how Citus holds each of a database's Vacancy tables:
// "reference", "distributed" (colocated with events) or "local".
func distribution(t *testing.T, conn *pgx.Conn) map[string]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT c.relname,
		       CASE WHEN p.repmodel = 't' THEN 'reference'
		            WHEN p.partmethod = 'h' AND p.colocationid = (SELECT colocationid FROM pg_dist_partition
		                                                          WHERE logicalrelid = 'events'::regclass)
		            THEN 'distributed'
		            ELSE 'local' END
		FROM pg_class c LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
		WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind = 'r'`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var name, how string
		if err := rows.Scan(&name, &how); err != nil {
			t.Fatal(err)
		}
		out[name] = how
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	return out
}

func checkDistribution(t *testing.T, got map[string]string) {
	t.Helper()
	for name, how := range got {
		want := "distributed"
		switch {
		case name == "organisations" || name == "api_keys" || name == "platform_commands":
			want = "reference"
		case name == "schema_migrations" || len(name) > 6 && name[:6] == "river_":
			want = "local"
		}
		if how != want {
			t.Errorf("table %s is %s, want %s", name, how, want)
		}
	}
}

// TestMigrateUpDistributesALaterTable (Citus only): a table a later migration
// creates on a distributed schema, with a foreign key to organisations (Citus
// makes it a local table of the coordinator's), is distributed by the next
// migrate up, colocated, with its key.
func TestMigrateUpDistributesALaterTable(t *testing.T) {
	testenv.RequireCitus(t)
	env := testenv.New(t)
	ctx := context.Background()
	conn := pgtest.Connect(t, env.URL)
	checkDistribution(t, distribution(t, conn))
	if _, err := conn.Exec(ctx, `CREATE TABLE later_things (
		organisation_id uuid NOT NULL REFERENCES organisations (id),
		id uuid NOT NULL,
		PRIMARY KEY (organisation_id, id))`); err != nil {
		t.Fatal(err)
	}
	if err := dbmigrate.Up(env.URL); err != nil {
		t.Fatal(err)
	}
	got := distribution(t, conn)
	if got["later_things"] != "distributed" {
		t.Fatalf("a later tenant table must be distributed by migrate up, is %s", got["later_things"])
	}
	var keys int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'later_things'::regclass AND contype = 'f'").Scan(&keys); err != nil || keys != 1 {
		t.Fatalf("its foreign key must be back: %d, %v", keys, err)
	}
	if err := dbmigrate.Down(env.URL, 1); err == nil {
		t.Fatal("migrating down a distributed schema must be refused")
	}
}

// TestMoveASingleNodeDatabaseOntoCitus (Citus only): a database migrated and
// used on PostgreSQL alone (as if restored onto the coordinator with pg_dump)
// becomes a Citus database, then migrate up distributes it, rows included, and
// the server carries on with it.
func TestMoveASingleNodeDatabaseOntoCitus(t *testing.T) {
	testenv.RequireCitus(t)
	server := testenv.Server(t)
	ctx := context.Background()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "t_move_" + hex.EncodeToString(b)
	execOn := func(url, sql string, args ...any) {
		t.Helper()
		conn := pgtest.Connect(t, url)
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	coordinator := server.URL(name)
	execOn(server.URL("postgres"), "CREATE DATABASE "+name)
	t.Cleanup(func() {
		for _, url := range append([]string{server.URL("postgres")}, server.WorkerURLs("postgres")...) {
			conn := pgtest.Connect(t, url)
			if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				t.Error(err)
			}
			_ = conn.Close(context.Background())
		}
	})

	// On PostgreSQL alone: migrate, create an organisation with a booking's worth
	// of events.
	if err := dbmigrate.Up(coordinator); err != nil {
		t.Fatal(err)
	}
	d, err := scope.Open(ctx, coordinator, scope.Config{})
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(d, service.Config{})
	meta, _ := command.NewMeta("", [16]byte{}, nil, time.Now())
	cmd, err := tenancy.NewCreateOrganisation(meta, tenancy.CreateOrganisationInput{Slug: "moved", Name: "Moved"})
	if err != nil {
		t.Fatal(err)
	}
	org, _, err := svc.CreateOrganisation(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()

	// Make it a Citus coordinator, as docs/scaling.md says.
	for _, w := range server.WorkerURLs("postgres") {
		execOn(w, "CREATE DATABASE "+name)
	}
	for _, w := range server.WorkerURLs(name) {
		execOn(w, "CREATE EXTENSION citus")
	}
	execOn(coordinator, "CREATE EXTENSION citus")
	host, port := hostPort(t, coordinator)
	execOn(coordinator, "SELECT citus_set_coordinator_host($1, $2)", host, port)
	for _, w := range server.WorkerURLs(name) {
		h, p := hostPort(t, w)
		execOn(coordinator, "SELECT citus_add_node($1, $2)", h, p)
	}
	if err := dbmigrate.Up(coordinator); err != nil {
		t.Fatalf("migrate up must distribute a populated schema: %v", err)
	}
	conn := pgtest.Connect(t, coordinator)
	checkDistribution(t, distribution(t, conn))

	d, err = scope.Open(ctx, coordinator, scope.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	svc = service.New(d, service.Config{})
	p, err := svc.Authenticate(ctx, org.APIKey.Key)
	if err != nil || p.Scope.OrganisationID != org.ID {
		t.Fatalf("the organisation's key must still authenticate: %+v, %v", p, err)
	}
	var keys, commands int
	if err := conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM api_keys WHERE organisation_id = $1), (SELECT count(*) FROM commands WHERE organisation_id = $1)",
		org.ID).Scan(&keys, &commands); err != nil || keys != 1 || commands != 1 {
		t.Fatalf("the rows must be in the shards: %d keys, %d commands, %v", keys, commands, err)
	}
}

func hostPort(t *testing.T, raw string) (string, int) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname(), port
}
