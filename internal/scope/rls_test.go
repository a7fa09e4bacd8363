package scope_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// role is a login role a test creates on the test server (roles are
// server-wide), with a URL of the test's database that logs in as it.
type role struct {
	name string
	url  string
}

// newRole creates a login role with a random name and password; attributes
// are appended to CREATE ROLE. It is dropped when the test ends, after whatever
// it owns in the test's database went back to the superuser.
func newRole(t *testing.T, env *testenv.Env, attributes string) role {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name, password := "t_role_"+hex.EncodeToString(b), hex.EncodeToString(b)+"pw"
	admin := superConn(t, env)
	if _, err := admin.Exec(context.Background(), "CREATE ROLE "+name+" LOGIN PASSWORD '"+password+"' "+attributes); err != nil {
		t.Fatalf("create role: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		conn := pgtest.Connect(t, env.URL)
		var super string
		if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&super); err != nil {
			t.Errorf("drop role %s: %v", name, err)
			return
		}
		// TO CURRENT_USER would do, but crashes the backend on Citus 13.2.2.
		for _, stmt := range []string{"REASSIGN OWNED BY " + name + " TO " + pgx.Identifier{super}.Sanitize(),
			"DROP OWNED BY " + name, "DROP ROLE " + name} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
				return
			}
		}
	})
	u, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(name, password)
	return role{name: name, url: u.String()}
}

// superConn is a connection to the test's database as the test server's
// superuser, closed when the test ends.
func superConn(t *testing.T, env *testenv.Env) *pgx.Conn {
	t.Helper()
	conn := pgtest.Connect(t, env.URL)
	return conn
}

// giveTablesTo makes owner the owner of every table under row level security,
// as if it had run the migrations.
func giveTablesTo(t *testing.T, env *testenv.Env, owner string) {
	t.Helper()
	// Citus changes the shards of every table in one transaction only one
	// connection at a time; PostgreSQL ignores the setting.
	_, err := superConn(t, env).Exec(context.Background(), `BEGIN;
		SET LOCAL citus.multi_shard_modify_mode TO 'sequential';
		DO $$
		DECLARE r record;
		BEGIN
			FOR r IN SELECT relname FROM pg_class
			         WHERE relnamespace = to_regnamespace(current_schema()) AND relkind = 'r' AND relrowsecurity LOOP
				EXECUTE format('ALTER TABLE %I OWNER TO `+owner+`', r.relname);
			END LOOP;
		END $$;
		COMMIT`)
	if err != nil {
		t.Fatalf("give the tables to %s: %v", owner, err)
	}
}

// querier is a connection or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func itemNames(t *testing.T, q querier) []string {
	t.Helper()
	rows, err := q.Query(context.Background(), "SELECT name FROM items ORDER BY name")
	if err != nil {
		t.Fatalf("select items: %v", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func currentUser(t *testing.T, q querier) string {
	t.Helper()
	rows, err := q.Query(context.Background(), "SELECT current_user")
	if err != nil {
		t.Fatal(err)
	}
	u, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// confinedToA checks, in a transaction bound to organisation a (in whatever
// way the caller bound it), that SQL without any organisation filter reads and
// changes only a's rows and cannot write b's.
func confinedToA(t *testing.T, tx pgx.Tx, a, b scope.Scope) {
	t.Helper()
	ctx := context.Background()
	if got := itemNames(t, tx); !slices.Equal(got, []string{"a-room"}) {
		t.Errorf("in A's transaction an unfiltered SELECT must see A's item only, saw %v", got)
	}
	var orgs int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM organisations").Scan(&orgs); err != nil || orgs != 1 {
		t.Errorf("in A's transaction one organisation must be visible, saw %d (%v)", orgs, err)
	}
	var keys int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM api_keys WHERE organisation_id = $1", b.OrganisationID).Scan(&keys); err != nil || keys != 0 {
		t.Errorf("B's keys must be invisible in A's transaction, saw %d (%v)", keys, err)
	}
	tag, err := tx.Exec(ctx, "UPDATE items SET description = 'touched'")
	if err != nil || tag.RowsAffected() != 1 {
		t.Errorf("an unfiltered UPDATE in A's transaction must touch A's one item, touched %d (%v)", tag.RowsAffected(), err)
	}
	_, err = tx.Exec(ctx, "SAVEPOINT plant")
	if err == nil {
		_, err = tx.Exec(ctx, "INSERT INTO items (organisation_id, id, name, capacity, nightly_price) VALUES ($1, $2, 'planted', 1, 1)",
			b.OrganisationID, uuid.Must(uuid.NewV7()))
		_, _ = tx.Exec(ctx, "ROLLBACK TO SAVEPOINT plant")
	}
	if !isRLSViolation(err) {
		t.Errorf("inserting B's row from A's transaction must violate the policy, got %v", err)
	}
}

// isRLSViolation: PostgreSQL answers 42501; Citus passes a worker's refusal on
// with its message.
func isRLSViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42501" || strings.Contains(pgErr.Message, "row-level security"))
}

// seesNothing checks that a session bound to no organisation sees no tenant row.
func seesNothing(t *testing.T, q querier) {
	t.Helper()
	if got := itemNames(t, q); len(got) != 0 {
		t.Errorf("a session bound to no organisation must see no items, saw %v", got)
	}
}

// TestRowLevelSecurityWithoutEachDefence removes the defences in front of row
// level security one at a time: the SET ROLE every pooled connection runs, the
// role itself (a RESET ROLE or DISCARD ALL inside the pool), and the non-owner
// login (a connection as the tables' owner). Another organisation's rows stay
// invisible in each case, because every tenant table forces row level security
// on its owner too. A superuser is the exception PostgreSQL makes: it bypasses
// every policy, forced or not, which is why the server refuses to act as one.
func TestRowLevelSecurityWithoutEachDefence(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	a, _ := env.Organisation(t, "org-a")
	b, _ := env.Organisation(t, "org-b")
	addItem(t, env, a, "a-room")
	addItem(t, env, b, "b-room")

	// The owner is a member of vacancy_app, as the migrations make the role
	// that runs them.
	owner := newRole(t, env, "IN ROLE "+scope.AppRole)
	giveTablesTo(t, env, owner.name)
	member := newRole(t, env, "IN ROLE "+scope.AppRole)

	// bindToA binds a raw transaction to A the way scope does.
	bindToA := func(t *testing.T, conn *pgx.Conn) pgx.Tx {
		t.Helper()
		tx, err := conn.BeginTx(ctx, pgx.TxOptions{BeginQuery: scope.BeginQuery(a.OrganisationID)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
		return tx
	}
	connectAs := func(t *testing.T, r role) *pgx.Conn {
		t.Helper()
		conn := pgtest.Connect(t, r.url)
		return conn
	}
	// poolAs is the server's pool, logged in as r, with one connection so that
	// what one transaction leaves behind meets the next.
	poolAs := func(t *testing.T, r role) *scope.DB {
		t.Helper()
		d, err := scope.Open(ctx, r.url, scope.Config{MaxConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(d.Close)
		return d
	}

	t.Run("no SET ROLE: the login role, a member of vacancy_app", func(t *testing.T) {
		conn := connectAs(t, member)
		if u := currentUser(t, conn); u != member.name {
			t.Fatalf("the session must act as the login role, acts as %s", u)
		}
		seesNothing(t, conn)
		confinedToA(t, bindToA(t, conn), a, b)
	})

	t.Run("no SET ROLE: a connection as the tables' owner", func(t *testing.T) {
		conn := connectAs(t, owner)
		seesNothing(t, conn)
		confinedToA(t, bindToA(t, conn), a, b)
	})

	t.Run("RESET ROLE inside a scoped transaction, logged in as the owner", func(t *testing.T) {
		d := poolAs(t, owner)
		tx, err := d.BeginRaw(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "RESET ROLE"); err != nil {
			t.Fatal(err)
		}
		if u := currentUser(t, tx); u != owner.name {
			t.Fatalf("after RESET ROLE the transaction must act as the owner, acts as %s", u)
		}
		confinedToA(t, tx, a, b)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		// The RESET outlives the transaction: the pooled connection now acts as
		// the owner for whoever takes it next.
		if u := currentUser(t, d.Pool()); u != owner.name {
			t.Fatalf("the connection must still act as the owner, acts as %s", u)
		}
		seesNothing(t, d.Pool())
		tx, err = d.BeginRaw(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if got := itemNames(t, tx); !slices.Equal(got, []string{"b-room"}) {
			t.Errorf("the next transaction, bound to B, must see B's item only, saw %v", got)
		}
	})

	t.Run("DISCARD ALL on a pooled connection of a member login role", func(t *testing.T) {
		d := poolAs(t, member)
		if _, err := d.Pool().Exec(ctx, "DISCARD ALL"); err != nil {
			t.Fatal(err)
		}
		if u := currentUser(t, d.Pool()); u != member.name {
			t.Fatalf("after DISCARD ALL the connection must act as the login role, acts as %s", u)
		}
		seesNothing(t, d.Pool())
		tx, err := d.BeginRaw(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		confinedToA(t, tx, a, b)
	})

	t.Run("the superuser bypasses row level security, forced or not", func(t *testing.T) {
		tx, err := env.DB.BeginRaw(ctx, a) // env.URL logs in as the test server's superuser
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "RESET ROLE"); err != nil {
			t.Fatal(err)
		}
		if got := itemNames(t, tx); !slices.Equal(got, []string{"a-room", "b-room"}) {
			t.Errorf("a superuser sees every organisation's rows (PostgreSQL exempts it from every policy), saw %v", got)
		}
	})
}

// TestForcedRowLevelSecurityEverywhere: every table with an organisation_id
// (but the platform's own command log) has row level security enabled and
// forced, and no policy holds a subquery (Citus refuses them). A table a later
// migration adds must follow.
func TestForcedRowLevelSecurityEverywhere(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	rows, err := superConn(t, env).Query(context.Background(), `
		SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
		       coalesce((SELECT bool_or(p.qual ILIKE '%select%' OR p.with_check ILIKE '%select%')
		                 FROM pg_policies p WHERE p.schemaname = current_schema() AND p.tablename = c.relname), false)
		FROM pg_class c
		WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind = 'r'
		  AND (c.relname = 'organisations' OR EXISTS (SELECT FROM pg_attribute a
		       WHERE a.attrelid = c.oid AND a.attname = 'organisation_id' AND NOT a.attisdropped))
		ORDER BY c.relname`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var name string
		var enabled, forced, subquery bool
		if err := rows.Scan(&name, &enabled, &forced, &subquery); err != nil {
			t.Fatal(err)
		}
		if name == "platform_commands" { // not tenant data: read before any organisation is known
			continue
		}
		n++
		if !enabled || !forced {
			t.Errorf("table %s: row level security enabled=%t forced=%t, want both", name, enabled, forced)
		}
		if subquery {
			t.Errorf("table %s: a policy holds a subquery", name)
		}
	}
	if rows.Err() != nil || n < 15 {
		t.Fatalf("found %d tenant tables (%v)", n, rows.Err())
	}
}

// TestConnectionsRefuseRolesThatBypassRLS: the check every new pooled
// connection runs after SET ROLE refuses a role that is a superuser, has
// BYPASSRLS or holds vacancy_pretenant's rights, and a login role that may not
// take on vacancy_app is told how to fix it.
func TestConnectionsRefuseRolesThatBypassRLS(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	conn := superConn(t, env)
	for _, c := range []struct {
		attributes, want string
	}{
		{"SUPERUSER", "is a superuser"},
		{"BYPASSRLS", "has BYPASSRLS"},
		{"IN ROLE " + scope.PretenantRole, "has the rights of " + scope.PretenantRole},
	} {
		r := newRole(t, env, c.attributes)
		err := scope.TakeRole(ctx, conn, r.name)
		if !errors.Is(err, scope.ErrUnsafeRole) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("a role with %s must be refused (%q), got %v", c.attributes, c.want, err)
		}
		if _, err := conn.Exec(ctx, "RESET ROLE"); err != nil {
			t.Fatal(err)
		}
	}
	if err := scope.TakeRole(ctx, conn, scope.AppRole); err != nil {
		t.Errorf("%s must be accepted: %v", scope.AppRole, err)
	}

	outsider := newRole(t, env, "")
	_, err := scope.Open(ctx, outsider.url, scope.Config{})
	if err == nil || !strings.Contains(err.Error(), "must be "+scope.AppRole+" or a member of it") {
		t.Errorf("a login role that may not take on %s must be refused with a hint, got %v", scope.AppRole, err)
	}
	member := newRole(t, env, "IN ROLE "+scope.AppRole)
	d, err := scope.Open(ctx, member.url, scope.Config{})
	if err != nil {
		t.Fatalf("a login role that is a member of %s must be accepted: %v", scope.AppRole, err)
	}
	d.Close()
}
