package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"
)

// The minimal floors are what PostgreSQL itself needs for the two hot paths,
// with nothing but the necessary SQL (docs/benchmarks.md): the shape of the
// pgbench floors of issue 15, sent by this process with pgx in the same run, so
// that API ÷ minimal compares figures taken minutes apart on the same data.
// They run as the superuser the bench connects as, so without row level
// security, like the pgbench floors: what RLS costs counts against the API.

// minimalAvailabilitySQL is the availability search alone: the first page of
// the organisation's active items that fit the party and the stay and have at
// least $5 units with no active occupancy overlapping the stay, with how many.
// It is the statement of the pgbench floor with the exclusion moved from the
// item's booking items to its units' occupancies.
const minimalAvailabilitySQL = `SELECT i.*, f.free AS available_units
FROM items i
CROSS JOIN LATERAL (
    SELECT count(*) AS free FROM units u
    WHERE u.organisation_id = i.organisation_id AND u.item_id = i.id AND u.status = 'active'
      AND NOT EXISTS (SELECT 1 FROM occupancies o
                      WHERE o.organisation_id = u.organisation_id AND o.unit_id = u.id
                        AND o.status IN ('unpaid', 'paid', 'complete', 'blocked')
                        AND o.date_range && daterange($2, $3)
                        AND (o.status <> 'unpaid' OR o.hold_expires_at > now()))) f
WHERE i.organisation_id = $1 AND i.status = 'active' AND i.capacity >= $4
  AND i.min_nights <= 2 AND i.max_nights >= 2 AND i.unit_count >= $5 AND f.free >= $5
ORDER BY i.id LIMIT 51`

// The minimal booking: one transaction, the tenant setting travelling with
// BEGIN as the server sends it, then the booking, its booking item, the
// occupancy of a free unit of the item (the first the database finds; the
// exclusion constraint is the check) and the event, each in its own round trip,
// and COMMIT. Ids are made here, as the server makes them.
const (
	minimalInsertBooking = `INSERT INTO bookings (organisation_id, id, status, guest_name, guest_email, currency, total, expires_at)
VALUES ($1, $2, 'unpaid', 'Bench Guest', 'guest@example.com', 'EUR', $3, now() + interval '30 minutes')`
	minimalInsertBookingItem = `INSERT INTO booking_items (organisation_id, id, booking_id, position, item_id, date_range, nights,
    nightly_price, room_total, addons_total, total, status, hold_expires_at)
VALUES ($1, $2, $3, 0, $4, daterange($5, $6), 2, 10000, $7, 0, $7, 'unpaid', now() + interval '30 minutes')`
	minimalInsertOccupancy = `INSERT INTO occupancies (organisation_id, id, unit_id, item_id, date_range, booking_id, booking_item_id,
    status, hold_expires_at)
SELECT $1, $2, u.id, u.item_id, daterange($4, $5), $6, $7, 'unpaid', now() + interval '30 minutes'
FROM units u
WHERE u.organisation_id = $1 AND u.item_id = $3 AND u.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM occupancies o
                  WHERE o.organisation_id = u.organisation_id AND o.unit_id = u.id
                    AND o.status IN ('unpaid', 'paid', 'complete', 'blocked')
                    AND o.date_range && daterange($4, $5)
                    AND (o.status <> 'unpaid' OR o.hold_expires_at > now()))
LIMIT 1`
	// The event takes the organisation's next feed position in the same
	// statement (the schema requires one; see docs/scaling.md).
	minimalInsertEvent = `WITH p AS (
    INSERT INTO event_positions (organisation_id, last_position) VALUES ($1, 1)
    ON CONFLICT (organisation_id) DO UPDATE SET last_position = event_positions.last_position + 1
    RETURNING last_position)
INSERT INTO events (organisation_id, id, type, data, position) SELECT $1, $2, 'booking.created', $3, p.last_position FROM p`
)

// openMinimal opens the minimal floors' pool: the superuser URL, uuids in
// binary as the server sends them, statements prepared and cached per
// connection (pgx's default, pgbench's -M prepared).
func openMinimal(ctx context.Context, url string, conns int, tracer pgx.QueryTracer) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	pc.MaxConns, pc.MinConns = int32(conns), int32(conns)
	pc.ConnConfig.Tracer = tracer
	pc.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
		pgxuuid.Register(conn.TypeMap())
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open minimal floor pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect minimal floor pool: %w", err)
	}
	return pool, nil
}

// availabilityMinimal runs the availability statement for the stays and
// parties the API is asked about; quantity 0 is 1, as in the API.
func (w *workload) availabilityMinimal(p *pgxpool.Pool, quantity int) func(context.Context, *rand.Rand) error {
	return func(ctx context.Context, rng *rand.Rand) error {
		o := w.org(rng.IntN)
		in, out := w.stay(rng.IntN)
		rows, err := p.Query(ctx, minimalAvailabilitySQL, o.ID, in, out, int32(1+rng.IntN(4)), int32(max(1, quantity)))
		if err != nil {
			return err
		}
		// The rows are received, not decoded: the floor needs no Go values.
		for rows.Next() {
		}
		rows.Close()
		return rows.Err()
	}
}

// bookingMinimal books one unit of the next free slot (the API's and the
// same-SQL floor's sequence) in the minimal transaction.
func (w *workload) bookingMinimal(p *pgxpool.Pool) func(context.Context, *rand.Rand) error {
	return func(ctx context.Context, _ *rand.Rand) error {
		o, item, in, out := w.freeSlot()
		begin := fmt.Sprintf("BEGIN; SELECT set_config('app.organisation_id', '%s', true)", o.ID)
		tx, err := p.BeginTx(ctx, pgx.TxOptions{BeginQuery: begin})
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
		id, line := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
		const total = 20000
		if _, err := tx.Exec(ctx, minimalInsertBooking, o.ID, id, total); err != nil {
			return fmt.Errorf("insert booking: %w", err)
		}
		if _, err := tx.Exec(ctx, minimalInsertBookingItem, o.ID, line, id, item, in, out, total); err != nil {
			return fmt.Errorf("insert booking item: %w", err)
		}
		tag, err := tx.Exec(ctx, minimalInsertOccupancy, o.ID, uuid.Must(uuid.NewV7()), item, in, out, id, line)
		if err != nil {
			return fmt.Errorf("insert occupancy: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return errors.New("floor slot unexpectedly taken: no free unit")
		}
		data, err := json.Marshal(map[string]any{"id": id, "status": "unpaid", "total": total, "currency": "EUR",
			"guest": benchGuest, "items": []map[string]any{{"id": line, "item_id": item, "check_in": day(in),
				"check_out": day(out), "quantity": 1}}, "created_at": time.Now().UTC()})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, minimalInsertEvent, o.ID, uuid.Must(uuid.NewV7()), data); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		return tx.Commit(ctx)
	}
}
