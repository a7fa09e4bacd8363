package scale_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
)

// The loaded organisation: 5,000 items in 5 properties (one of them holding
// only 10 items), each item with 200 stays of 1 to 3 nights, one per 5-day
// slot over 1,000 days from 700 days ago: a million bookings with a million
// stays, each occupying its item's unit. Statuses: 59% paid, 21% complete
// (past stays), 10% cancelled, 10% expired, and about 1,000 unpaid holds, a few
// dozen of them past their deadline. Booking ids grow with the creation time (30
// days before the stay), as UUIDv7 ids do.
const (
	loadItems    = 5000
	stayPerItem  = 200
	scaleOrgSlug = "scale"
	scaleDBName  = "vacancy_scale"
)

// rareItem, rareProperty are a single item, and the 10-item property.
var (
	rareItem     = uuid.MustParse("00000000-0001-7000-8000-000000000077")
	rareProperty = uuid.MustParse("00000000-0000-7000-8000-000000000004")
	bigProperty  = uuid.MustParse("00000000-0000-7000-8000-000000000001")
)

var loadStatements = []string{
	`INSERT INTO properties (organisation_id, id, name, timezone)
	 SELECT $1, ('00000000-0000-7000-8000-' || lpad(p::text, 12, '0'))::uuid, 'Property ' || p, 'UTC'
	 FROM generate_series(0, 4) p`,
	`INSERT INTO items (organisation_id, id, name, capacity, nightly_price, property_id)
	 SELECT $1, ('00000000-0001-7000-8000-' || lpad(i::text, 12, '0'))::uuid, 'Room ' || i, 2, 10000,
	        ('00000000-0000-7000-8000-' || lpad((CASE WHEN i < 10 THEN 4 ELSE i % 4 END)::text, 12, '0'))::uuid
	 FROM generate_series(0, ` + strconv.Itoa(loadItems-1) + `) i`,
	`INSERT INTO units (organisation_id, id, item_id, name)
	 SELECT organisation_id, gen_random_uuid(), id, '1' FROM items WHERE organisation_id = $1`,
	`CREATE TEMP TABLE gb AS
	 SELECT g.*, ('00000000-0001-7000-8000-' || lpad(i::text, 12, '0'))::uuid AS item_id,
	        (lpad(to_hex((extract(epoch FROM (g.check_in - 30)::timestamptz) * 1000)::bigint + i), 12, '0')
	         || '7' || substr(md5(i || '-' || j), 1, 3) || '8' || substr(md5(j || '-' || i), 1, 15))::uuid AS booking_id,
	        CASE WHEN g.r < 1 THEN 'unpaid'
	             WHEN g.r < 100 THEN 'cancelled'
	             WHEN g.r < 200 THEN 'expired'
	             WHEN g.check_in + g.nights < current_date AND g.r < 500 THEN 'complete'
	             ELSE 'paid' END AS status
	 FROM (SELECT i, j, (current_date - 700 + j * 5 + (hashint4(i * 1000 + j) & 1))::date AS check_in,
	              1 + (abs(hashint4(i * 7 + j)) % 3) AS nights, abs(hashint4(i * 13 + j * 17)) % 1000 AS r
	       FROM generate_series(0, ` + strconv.Itoa(loadItems-1) + `) i, generate_series(0, ` + strconv.Itoa(stayPerItem-1) + `) j) g`,
	`INSERT INTO bookings (organisation_id, id, status, guest_name, guest_email, currency, total, expires_at, created_at, updated_at)
	 SELECT $1, booking_id, status, 'Guest ' || i || '/' || j, 'guest@example.com', 'EUR', 10000 * nights,
	        CASE WHEN status = 'unpaid' AND i % 20 <> 0 THEN now() + interval '30 minutes'
	             ELSE (check_in - 30)::timestamptz + interval '30 minutes' END,
	        (check_in - 30)::timestamptz, (check_in - 30)::timestamptz
	 FROM gb`,
	`INSERT INTO booking_items (organisation_id, id, booking_id, position, item_id, date_range, nights, nightly_price,
	                            room_total, addons_total, total, status, hold_expires_at, property_id)
	 SELECT $1, gen_random_uuid(), gb.booking_id, 0, gb.item_id, daterange(check_in, check_in + nights), nights, 10000,
	        10000 * nights, 0, 10000 * nights, gb.status, b.expires_at, it.property_id
	 FROM gb JOIN bookings b ON b.organisation_id = $1 AND b.id = gb.booking_id
	 JOIN items it ON it.organisation_id = $1 AND it.id = gb.item_id`,
	`INSERT INTO occupancies (organisation_id, id, unit_id, item_id, date_range, booking_id, booking_item_id, status, hold_expires_at)
	 SELECT bi.organisation_id, gen_random_uuid(), u.id, bi.item_id, bi.date_range, bi.booking_id, bi.id, bi.status, bi.hold_expires_at
	 FROM booking_items bi JOIN units u ON u.organisation_id = bi.organisation_id AND u.item_id = bi.item_id
	 WHERE bi.organisation_id = $1`,
}

// loaded is the measured database and its organisation.
type loaded struct {
	url string // superuser URL of the database
	org scope.Scope
}

// load returns the database with the organisation's million bookings, loading
// them first if they are not there (about 7 minutes on 2 cores).
func load(t *testing.T) loaded {
	t.Helper()
	if os.Getenv("VACANCY_SCALE") == "" {
		t.Skip("a measurement at production size: run with VACANCY_SCALE=1 (see docs/operations.md)")
	}
	ctx := context.Background()
	admin := os.Getenv("VACANCY_SCALE_DATABASE_URL")
	if admin == "" {
		s, stop, err := pgtest.Start(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		admin = s.URL("postgres")
	}
	url := databaseURL(t, admin, scaleDBName)
	conn := pgtest.Superuser(t, admin).Conn(t)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", scaleDBName).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+scaleDBName); err != nil {
			t.Fatal(err)
		}
	}
	if err := dbmigrate.Up(url); err != nil {
		t.Fatal(err)
	}
	db := pgtest.Superuser(t, url).Conn(t)
	var org, key uuid.UUID
	err := db.QueryRow(ctx, `SELECT o.id, k.id FROM organisations o JOIN api_keys k ON k.organisation_id = o.id
		WHERE o.slug = $1 ORDER BY k.id LIMIT 1`, scaleOrgSlug).Scan(&org, &key)
	if err == pgx.ErrNoRows {
		org, key = createOrganisation(t, url)
		started := time.Now()
		for _, s := range loadStatements {
			var args []any
			if strings.Contains(s, "$1") {
				args = append(args, org)
			}
			if _, err := db.Exec(ctx, s, args...); err != nil {
				t.Fatalf("load: %v\n%s", err, s)
			}
		}
		if _, err := db.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
			t.Fatal(err)
		}
		t.Logf("loaded %d bookings in %s", loadItems*stayPerItem, time.Since(started).Round(time.Second))
	} else if err != nil {
		t.Fatal(err)
	}
	return loaded{url: url, org: scope.Scope{OrganisationID: org, ActorID: key, Role: scope.RoleAdmin}}
}

func databaseURL(t *testing.T, admin, dbname string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	pw := ""
	if cfg.Password != "" {
		pw = ":" + cfg.Password
	}
	return fmt.Sprintf("postgres://%s%s@%s:%d/%s?sslmode=disable", cfg.User, pw, cfg.Host, cfg.Port, dbname)
}

func createOrganisation(t *testing.T, url string) (org, key uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	d, err := scope.Open(ctx, url, scope.Config{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	meta, err := command.NewMeta("", uuid.Nil, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := tenancy.NewCreateOrganisation(meta, tenancy.CreateOrganisationInput{Slug: scaleOrgSlug, Name: "Scale"})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := service.New(d, service.Config{}).CreateOrganisation(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return out.ID, out.APIKey.ID
}
