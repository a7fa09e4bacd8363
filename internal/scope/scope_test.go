package scope_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func addItem(t *testing.T, env *testenv.Env, sc scope.Scope, name string) catalogue.Item {
	t.Helper()
	price, capacity := int64(10000), int32(2)
	meta, _ := command.NewMeta("", sc.ActorID, nil, time.Now())
	cmd, err := catalogue.NewCreateItem(meta, catalogue.ItemInput{Name: &name, Capacity: &capacity, NightlyPrice: &price})
	if err != nil {
		t.Fatal(err)
	}
	it, _, err := env.Service.CreateItem(context.Background(), sc, cmd)
	if err != nil {
		t.Fatalf("create item: %v", err)
	}
	return it
}

// TestRowLevelSecurityIsolatesOrganisations runs SQL with no organisation filter
// inside organisation A's scoped transaction: RLS must still confine it to A.
func TestRowLevelSecurityIsolatesOrganisations(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	a, _ := env.Organisation(t, "org-a")
	b, _ := env.Organisation(t, "org-b")
	addItem(t, env, a, "a-room")
	bItem := addItem(t, env, b, "b-room")

	tx, err := env.DB.BeginRaw(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)

	var names []string
	rows, err := tx.Query(ctx, "SELECT name FROM items")
	if err != nil {
		t.Fatal(err)
	}
	names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "a-room" {
		t.Fatalf("an unfiltered SELECT in A's scope must see only A's items, saw %v", names)
	}
	var orgs int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM organisations").Scan(&orgs); err != nil {
		t.Fatal(err)
	}
	if orgs != 1 {
		t.Fatalf("A's scope must see one organisation, saw %d", orgs)
	}
	tag, err := tx.Exec(ctx, "UPDATE items SET name = 'hijacked'")
	if err != nil {
		t.Fatal(err)
	}
	if tag.RowsAffected() != 1 {
		t.Fatalf("an unfiltered UPDATE in A's scope must touch only A's one item, touched %d", tag.RowsAffected())
	}
	_, err = tx.Exec(ctx, "INSERT INTO items (organisation_id, id, name, capacity, nightly_price) VALUES ($1, $2, 'planted', 1, 1)",
		b.OrganisationID, uuid.Must(uuid.NewV7()))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Fatalf("inserting a row for B from A's scope must violate the RLS policy (42501), got %v", err)
	}
	tx.Rollback(ctx)

	got, err := env.Service.GetItem(ctx, b, bItem.ID)
	if err != nil || got.Name != "b-room" {
		t.Fatalf("B's item must be untouched, got %+v, %v", got, err)
	}
}

// TestUnscopedConnectionSeesNothing: on the app role, a transaction that never set
// the organisation sees no tenant rows at all.
func TestUnscopedConnectionSeesNothing(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	a, _ := env.Organisation(t, "org-a")
	addItem(t, env, a, "a-room")
	var n int
	if err := env.DB.Pool().QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("a query outside any scope must see no items, saw %d", n)
	}
	var role string
	if err := env.DB.Pool().QueryRow(ctx, "SELECT current_user").Scan(&role); err != nil {
		t.Fatal(err)
	}
	if role != scope.AppRole {
		t.Fatalf("pooled connections must run as %s, run as %s", scope.AppRole, role)
	}
}

// TestExclusionConstraintRejectsConcurrentOverlap: two transactions insert
// overlapping booking items for one item at once; the second waits for the
// first, and fails with 23P01 once it commits.
func TestExclusionConstraintRejectsConcurrentOverlap(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	a, _ := env.Organisation(t, "org-a")
	item := addItem(t, env, a, "room")

	insert := func(tx pgx.Tx, from, to string) error {
		bid := uuid.Must(uuid.NewV7())
		if _, err := tx.Exec(ctx, `INSERT INTO bookings (organisation_id, id, status, guest_name, guest_email, currency, total, expires_at)
			VALUES ($1, $2, 'paid', 'g', 'g@example.com', 'EUR', 0, now() + interval '1 hour')`, a.OrganisationID, bid); err != nil {
			return err
		}
		line := uuid.Must(uuid.NewV7())
		if _, err := tx.Exec(ctx, `INSERT INTO booking_items (organisation_id, id, booking_id, position, item_id, date_range, nights,
			nightly_price, room_total, addons_total, total, status, hold_expires_at)
			VALUES ($1, $2, $3, 0, $4, daterange($5::date, $6::date), $6::date - $5::date, 0, 0, 0, 0, 'paid', now())`,
			a.OrganisationID, line, bid, item.ID, from, to); err != nil {
			return err
		}
		// The stay occupies the item's only unit: the exclusion constraint is on units.
		_, err := tx.Exec(ctx, `INSERT INTO occupancies (organisation_id, id, unit_id, item_id, date_range, booking_id,
			booking_item_id, status)
			SELECT $1, $2, u.id, $3, daterange($4::date, $5::date), $6, $7, 'paid' FROM units u
			WHERE u.organisation_id = $1 AND u.item_id = $3`,
			a.OrganisationID, uuid.Must(uuid.NewV7()), item.ID, from, to, bid, line)
		return err
	}
	tx1, err := env.DB.BeginRaw(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(ctx)
	tx2, err := env.DB.BeginRaw(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Rollback(ctx)

	if err := insert(tx1, "2030-01-01", "2030-01-05"); err != nil {
		t.Fatalf("first insert: %v", err)
	}
	second := make(chan error, 1)
	go func() { second <- insert(tx2, "2030-01-04", "2030-01-08") }()
	if err := tx1.Commit(ctx); err != nil {
		t.Fatalf("first commit: %v", err)
	}
	err = <-second
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23P01" {
		t.Fatalf("the overlapping insert must fail with 23P01 exclusion_violation, got %v", err)
	}
	if !booking.IsOverlap(err) {
		t.Fatalf("the store must map 23P01 to an overlap: %v", err)
	}
	// Back-to-back stays share no night and both stand.
	tx3, err := env.DB.BeginRaw(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer tx3.Rollback(ctx)
	if err := insert(tx3, "2030-01-05", "2030-01-07"); err != nil {
		t.Fatalf("a stay starting on the previous check-out day must be accepted: %v", err)
	}
}

// TestQueriesOnlyThroughScope: the generated queries' constructor is called only
// by internal/scope, so no code reaches tenant data without a scoped transaction.
func TestQueriesOnlyThroughScope(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "db") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.Contains(filepath.ToSlash(path), "internal/scope/") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		full, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		alias := ""
		for _, imp := range f.Imports {
			if strings.Trim(imp.Path.Value, `"`) == "github.com/vacancy-dev/vacancy/internal/db" {
				alias = "db"
				if imp.Name != nil {
					alias = imp.Name.Name
				}
			}
		}
		if alias == "" {
			return nil
		}
		ast.Inspect(full, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "New" {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == alias {
					t.Errorf("%s calls %s.New: tenant queries must go through scope.DB.Tx", path, alias)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
