package dbmigrate_test

import (
	"context"
	"testing"

	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestInventoryMigrationKeepsEveryBooking populates a database at the schema
// before inventory (version 4: one item is one bookable thing), migrates it up,
// and checks that every item became a one-unit item and every stay occupies
// that unit with the same nights and status: no booking lost or changed.
func TestInventoryMigrationKeepsEveryBooking(t *testing.T) {
	url := testenv.DatabaseURL(t)
	if err := dbmigrate.To(url, 4); err != nil {
		t.Fatalf("down to the schema before inventory: %v", err)
	}
	if v, _, err := dbmigrate.Version(url); err != nil || v != 4 {
		t.Fatalf("want version 4 before the migration, got %d (%v)", v, err)
	}
	ctx := context.Background()
	conn := pgtest.Superuser(t, url).Conn(t)
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// Two organisations, 30 items, 600 stays in every status, back to back on each item.
	exec(`INSERT INTO organisations (id, slug, name, currency, timezone)
		SELECT gen_random_uuid(), 'org-' || n, 'Org ' || n, 'EUR', 'UTC' FROM generate_series(1, 2) n`)
	exec(`INSERT INTO items (organisation_id, id, name, capacity, nightly_price)
		SELECT o.id, gen_random_uuid(), 'Room ' || n, 2, 10000 FROM organisations o, generate_series(1, 15) n`)
	exec(`INSERT INTO bookings (organisation_id, id, status, guest_name, guest_email, currency, total, expires_at)
		SELECT i.organisation_id, gen_random_uuid(), (ARRAY['unpaid','paid','cancelled','expired','complete'])[1 + n % 5],
		       'Guest', 'guest@example.com', 'EUR', 20000, now() + interval '1 hour'
		FROM items i, generate_series(1, 20) n`)
	exec(`INSERT INTO booking_items (organisation_id, id, booking_id, position, item_id, date_range, nights,
		                           nightly_price, room_total, addons_total, total, status, hold_expires_at)
		SELECT b.organisation_id, gen_random_uuid(), b.id, 0, i.id,
		       daterange(current_date + (2 * r.n)::int, current_date + (2 * r.n)::int + 2), 2, 10000, 20000, 0, 20000, b.status, b.expires_at
		FROM (SELECT b.*, row_number() OVER (PARTITION BY b.organisation_id ORDER BY b.id) - 1 AS k FROM bookings b) b
		JOIN LATERAL (SELECT b.k / 15 AS n, b.k % 15 AS slot) r ON true
		JOIN (SELECT i.*, row_number() OVER (PARTITION BY i.organisation_id ORDER BY i.id) - 1 AS slot FROM items i) i
		  ON i.organisation_id = b.organisation_id AND i.slot = r.slot`)
	type stay struct{ item, rng, status string }
	before := map[string]stay{}
	rows, err := conn.Query(ctx, `SELECT id::text, item_id::text, date_range::text, status FROM booking_items`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var s stay
		if err := rows.Scan(&id, &s.item, &s.rng, &s.status); err != nil {
			t.Fatal(err)
		}
		before[id] = s
	}
	if len(before) != 600 {
		t.Fatalf("populated %d stays, want 600", len(before))
	}

	if err := dbmigrate.Up(url); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	var items, units, oneUnit int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM units),
		(SELECT count(*) FROM items i WHERE i.unit_count = 1
		   AND (SELECT count(*) FROM units u WHERE u.organisation_id = i.organisation_id AND u.item_id = i.id AND u.name = '1') = 1)`).
		Scan(&items, &units, &oneUnit); err != nil {
		t.Fatal(err)
	}
	if items != 30 || units != 30 || oneUnit != 30 {
		t.Errorf("every item must become a one-unit item: %d items, %d units, %d with exactly one unit named 1", items, units, oneUnit)
	}
	rows, err = conn.Query(ctx, `SELECT bi.id::text, bi.item_id::text, bi.date_range::text, bi.status,
		       o.date_range::text, o.status, u.item_id::text, (SELECT count(*) FROM occupancies x WHERE x.booking_item_id = bi.id)
		FROM booking_items bi
		JOIN occupancies o ON o.organisation_id = bi.organisation_id AND o.booking_item_id = bi.id
		JOIN units u ON u.organisation_id = o.organisation_id AND u.id = o.unit_id`)
	if err != nil {
		t.Fatal(err)
	}
	after := 0
	for rows.Next() {
		var id, occRange, occStatus, unitItem string
		var s stay
		var n int
		if err := rows.Scan(&id, &s.item, &s.rng, &s.status, &occRange, &occStatus, &unitItem, &n); err != nil {
			t.Fatal(err)
		}
		after++
		if before[id] != s {
			t.Errorf("stay %s changed: %+v, was %+v", id, s, before[id])
		}
		if occRange != s.rng || occStatus != s.status || unitItem != s.item || n != 1 {
			t.Errorf("stay %s must occupy exactly one unit of its item for the same nights and status: %s %s on a unit of %s (%d occupancies)",
				id, occRange, occStatus, unitItem, n)
		}
	}
	if after != len(before) {
		t.Errorf("%d of %d stays occupy a unit after the migration", after, len(before))
	}
}
