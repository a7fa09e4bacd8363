-- name: InsertUnit :one
INSERT INTO units (organisation_id, id, item_id, name)
VALUES (@organisation_id, @id, @item_id, @name)
RETURNING *;

-- name: InsertUnits :batchexec
-- An item's first units (item creation), one statement each, all sent in one round
-- trip. Not INSERT ... SELECT unnest(...): Citus runs that as COPY, which row level
-- security refuses.
INSERT INTO units (organisation_id, id, item_id, name)
VALUES (@organisation_id, @id, @item_id, @name);

-- name: GetUnit :one
SELECT * FROM units WHERE organisation_id = @organisation_id AND item_id = @item_id AND id = @id;

-- name: GetUnitForUpdate :one
SELECT * FROM units WHERE organisation_id = @organisation_id AND item_id = @item_id AND id = @id FOR UPDATE;

-- name: ListUnits :many
SELECT * FROM units
WHERE organisation_id = @organisation_id AND item_id = @item_id
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(after)::uuid IS NULL OR id > sqlc.narg(after)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: UpdateUnit :one
UPDATE units SET name = @name, status = @status, version = version + 1, updated_at = now()
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: CountActiveUnits :one
-- Recounts the active units of an item into items.unit_count, in the transaction that
-- changed them (the caller holds the row lock of the item).
UPDATE items i SET unit_count = c.n
FROM (SELECT count(*)::integer AS n FROM units u
      WHERE u.organisation_id = sqlc.arg(organisation_id) AND u.item_id = sqlc.arg(item_id)
        AND u.status = 'active') c
WHERE i.organisation_id = sqlc.arg(organisation_id) AND i.id = sqlc.arg(item_id)
RETURNING i.unit_count;

-- name: UnitFutureBookings :many
-- Active bookings that occupy the unit on or after the given date.
SELECT DISTINCT o.booking_id::uuid AS booking_id FROM occupancies o
WHERE o.organisation_id = @organisation_id AND o.unit_id = @unit_id
  AND o.booking_id IS NOT NULL
  AND o.status IN ('unpaid', 'paid', 'complete')
  AND (o.status <> 'unpaid' OR o.hold_expires_at > @now::timestamptz)
  AND upper(o.date_range) > @from_date::date
ORDER BY 1;

-- name: FreeUnits :many
-- The active units of the item free for all of [check_in, check_out), best first: the
-- unit whose neighbouring occupancies leave the smallest gaps before and after
-- the stay, so pools stay bookable for long stays; then by name and id, so the
-- choice is deterministic. Occupancies of except_booking do not count (a booking
-- that moves its own dates).
SELECT u.id, u.name FROM units u
WHERE u.organisation_id = sqlc.arg(organisation_id) AND u.item_id = sqlc.arg(item_id) AND u.status = 'active'
  AND NOT EXISTS (
      SELECT 1 FROM occupancies o
      WHERE o.organisation_id = sqlc.arg(organisation_id) AND o.unit_id = u.id
        AND o.status NOT IN ('cancelled', 'expired') -- active (migration 0014)
        AND o.date_range && daterange(sqlc.arg(check_in)::date, sqlc.arg(check_out)::date)
        AND (o.status <> 'unpaid' OR o.hold_expires_at > sqlc.arg(now)::timestamptz)
        AND (sqlc.narg(except_booking)::uuid IS NULL OR o.booking_id IS DISTINCT FROM sqlc.narg(except_booking)::uuid))
ORDER BY
    coalesce(sqlc.arg(check_in)::date - (
        SELECT max(upper(o.date_range)) FROM occupancies o
        WHERE o.organisation_id = sqlc.arg(organisation_id) AND o.unit_id = u.id
          AND o.status NOT IN ('cancelled', 'expired') -- active (migration 0014)
          AND (o.status <> 'unpaid' OR o.hold_expires_at > sqlc.arg(now)::timestamptz)
          AND (sqlc.narg(except_booking)::uuid IS NULL OR o.booking_id IS DISTINCT FROM sqlc.narg(except_booking)::uuid)
          AND upper(o.date_range) <= sqlc.arg(check_in)::date), 100000)
  + coalesce((
        SELECT min(lower(o.date_range)) FROM occupancies o
        WHERE o.organisation_id = sqlc.arg(organisation_id) AND o.unit_id = u.id
          AND o.status NOT IN ('cancelled', 'expired') -- active (migration 0014)
          AND (o.status <> 'unpaid' OR o.hold_expires_at > sqlc.arg(now)::timestamptz)
          AND (sqlc.narg(except_booking)::uuid IS NULL OR o.booking_id IS DISTINCT FROM sqlc.narg(except_booking)::uuid)
          AND lower(o.date_range) >= sqlc.arg(check_out)::date) - sqlc.arg(check_out)::date, 100000),
    u.name, u.id;

-- name: InsertOccupancy :exec
INSERT INTO occupancies (organisation_id, id, unit_id, item_id, date_range, booking_id, booking_item_id, block_id,
                         status, hold_expires_at)
VALUES (@organisation_id, @id, @unit_id, @item_id, daterange(@check_in::date, @check_out::date),
        sqlc.narg(booking_id), sqlc.narg(booking_item_id), sqlc.narg(block_id), @status, sqlc.narg(hold_expires_at));

-- name: OverlappingBookings :many
-- The active bookings that occupy the unit during [check_in, check_out).
SELECT DISTINCT o.booking_id::uuid AS booking_id FROM occupancies o
WHERE o.organisation_id = @organisation_id AND o.unit_id = @unit_id
  AND o.booking_id IS NOT NULL
  AND o.status IN ('unpaid', 'paid', 'complete')
  AND (o.status <> 'unpaid' OR o.hold_expires_at > @now::timestamptz)
  AND o.date_range && daterange(@check_in::date, @check_out::date)
ORDER BY 1;

-- name: BookingItemUnits :many
SELECT o.booking_item_id::uuid AS booking_item_id, u.id, u.name FROM occupancies o
JOIN units u ON u.organisation_id = o.organisation_id AND u.id = o.unit_id
WHERE o.organisation_id = @organisation_id AND o.booking_item_id = ANY(@booking_item_ids::uuid[])
ORDER BY o.booking_item_id, u.name, u.id;

-- name: UnitsByIDs :many
SELECT * FROM units WHERE organisation_id = @organisation_id AND id = ANY(sqlc.arg(ids)::uuid[]);

-- name: OverlappingItemBookings :many
-- The active bookings that occupy any unit of the item during [check_in, check_out).
SELECT DISTINCT o.booking_id::uuid AS booking_id FROM occupancies o
WHERE o.organisation_id = @organisation_id AND o.item_id = @item_id
  AND o.booking_id IS NOT NULL
  AND o.status IN ('unpaid', 'paid', 'complete')
  AND (o.status <> 'unpaid' OR o.hold_expires_at > @now::timestamptz)
  AND o.date_range && daterange(@check_in::date, @check_out::date)
ORDER BY 1;
