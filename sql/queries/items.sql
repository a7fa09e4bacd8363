-- name: CreateItem :one
INSERT INTO items (organisation_id, id, name, description, capacity, nightly_price, min_nights, max_nights,
                   property_id, unit_count)
VALUES (@organisation_id, @id, @name, @description, @capacity, @nightly_price, @min_nights, @max_nights,
        sqlc.narg(property_id), @unit_count)
RETURNING *;

-- name: GetItem :one
SELECT * FROM items WHERE organisation_id = @organisation_id AND id = @id;

-- name: GetItemForUpdate :one
SELECT * FROM items WHERE organisation_id = @organisation_id AND id = @id FOR UPDATE;

-- name: ItemsByIDs :many
-- The items of a request with their property's time zone (NULL: the organisation's).
SELECT sqlc.embed(i), p.timezone AS property_timezone FROM items i
LEFT JOIN properties p ON p.organisation_id = i.organisation_id AND p.id = i.property_id
WHERE i.organisation_id = @organisation_id AND i.id = ANY(sqlc.arg(ids)::uuid[]);

-- name: ListItems :many
SELECT * FROM items
WHERE organisation_id = @organisation_id
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(property_id)::uuid IS NULL OR property_id = sqlc.narg(property_id)::uuid)
  AND (sqlc.narg(after)::uuid IS NULL OR id > sqlc.narg(after)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: UpdateItem :one
UPDATE items SET
    name = @name, description = @description, capacity = @capacity, nightly_price = @nightly_price,
    min_nights = @min_nights, max_nights = @max_nights, status = @status, property_id = sqlc.narg(property_id),
    version = version + 1, updated_at = now()
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: AvailableItems :many
-- Active items that fit the party and the stay and have at least @quantity units
-- free for every night of [check_in, check_out), with that number of free units.
-- A unit is free when no active occupancy (a booking's stay or a block) overlaps
-- the stay; an unpaid hold past its deadline does not occupy, whether or not the
-- expiry sweep has run yet.
SELECT sqlc.embed(i), f.free::integer AS available_units
FROM items i
CROSS JOIN LATERAL (
    SELECT count(*) AS free FROM units u
    WHERE u.organisation_id = @organisation_id AND u.item_id = i.id AND u.status = 'active'
      AND NOT EXISTS (
          SELECT 1 FROM occupancies o
          WHERE o.organisation_id = @organisation_id AND o.unit_id = u.id
            AND o.status IN ('unpaid', 'paid', 'complete', 'blocked')
            AND o.date_range && daterange(@check_in::date, @check_out::date)
            AND (o.status <> 'unpaid' OR o.hold_expires_at > @now::timestamptz))
) f
WHERE i.organisation_id = @organisation_id
  AND i.status = 'active'
  AND i.capacity >= @guests::integer
  AND i.min_nights <= @nights::integer AND i.max_nights >= @nights::integer
  AND i.unit_count >= @quantity::integer
  AND (sqlc.narg(property_id)::uuid IS NULL OR i.property_id = sqlc.narg(property_id)::uuid)
  AND (sqlc.narg(after)::uuid IS NULL OR i.id > sqlc.narg(after)::uuid)
  AND f.free >= @quantity::integer
ORDER BY i.id
LIMIT @row_limit;

-- name: ItemCalendar :many
-- One row per day of [from, to): the item's active units, how many of them an
-- active occupancy covers, and the blocks on that day.
SELECT day::date AS day,
       (SELECT count(*) FROM units u
        WHERE u.organisation_id = sqlc.arg(organisation_id) AND u.item_id = sqlc.arg(item_id)
          AND u.status = 'active')::integer AS total_units,
       (SELECT count(DISTINCT o.unit_id) FROM occupancies o
        JOIN units u ON u.organisation_id = o.organisation_id AND u.id = o.unit_id AND u.status = 'active'
        WHERE o.organisation_id = sqlc.arg(organisation_id) AND o.item_id = sqlc.arg(item_id)
          AND o.status IN ('unpaid', 'paid', 'complete', 'blocked')
          AND o.date_range @> day::date
          AND (o.status <> 'unpaid' OR o.hold_expires_at > sqlc.arg(now)::timestamptz))::integer AS occupied_units,
       coalesce((SELECT jsonb_agg(jsonb_build_object('id', b.id, 'unit_id', b.unit_id, 'kind', b.kind,
                                                     'reason', b.reason) ORDER BY b.id)
                 FROM blocks b
                 WHERE b.organisation_id = sqlc.arg(organisation_id) AND b.item_id = sqlc.arg(item_id)
                   AND b.date_range @> day::date), '[]'::jsonb)::jsonb AS blocks
FROM generate_series(sqlc.arg(from_date)::date, sqlc.arg(to_date)::date - 1, interval '1 day') AS day
ORDER BY day;

-- name: LockItemsForBooking :many
-- Locks, in id order, the items a booking is about to take and, for a change of
-- an existing booking, the items it holds now. Bookings of one item then run one
-- at a time: without it, concurrent overlapping inserts wait on each other inside
-- the exclusion constraint's check, deadlock, and every deadlock costs
-- deadlock_timeout before PostgreSQL breaks it. FOR NO KEY UPDATE does not block
-- the foreign-key checks (FOR KEY SHARE) of booking_items inserts.
SELECT i.id FROM items i
WHERE i.organisation_id = @organisation_id
  AND (i.id = ANY(@item_ids::uuid[]) OR i.id IN (
      SELECT bi.item_id FROM booking_items bi
      WHERE bi.organisation_id = @organisation_id AND bi.booking_id = sqlc.narg(booking_id)::uuid))
ORDER BY i.id
FOR NO KEY UPDATE;
