-- name: CreateItem :one
INSERT INTO items (organisation_id, id, name, description, capacity, nightly_price, min_nights, max_nights)
VALUES (@organisation_id, @id, @name, @description, @capacity, @nightly_price, @min_nights, @max_nights)
RETURNING *;

-- name: GetItem :one
SELECT * FROM items WHERE organisation_id = @organisation_id AND id = @id;

-- name: GetItemForUpdate :one
SELECT * FROM items WHERE organisation_id = @organisation_id AND id = @id FOR UPDATE;

-- name: ItemsByIDs :many
SELECT * FROM items WHERE organisation_id = @organisation_id AND id = ANY(sqlc.arg(ids)::uuid[]);

-- name: ListItems :many
SELECT * FROM items
WHERE organisation_id = @organisation_id
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(after)::uuid IS NULL OR id > sqlc.narg(after)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: UpdateItem :one
UPDATE items SET
    name = @name, description = @description, capacity = @capacity, nightly_price = @nightly_price,
    min_nights = @min_nights, max_nights = @max_nights, status = @status,
    version = version + 1, updated_at = now()
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: AvailableItems :many
-- Active items that fit the party and the stay, with no active booking item
-- overlapping [check_in, check_out). An unpaid hold past its deadline does not block,
-- whether or not the expiry sweep has run yet.
SELECT i.* FROM items i
WHERE i.organisation_id = @organisation_id
  AND i.status = 'active'
  AND i.capacity >= @guests::integer
  AND i.min_nights <= @nights::integer AND i.max_nights >= @nights::integer
  AND (sqlc.narg(after)::uuid IS NULL OR i.id > sqlc.narg(after)::uuid)
  AND NOT EXISTS (
      SELECT 1 FROM booking_items bi
      WHERE bi.organisation_id = @organisation_id
        AND bi.item_id = i.id
        AND bi.status IN ('unpaid', 'paid', 'complete')
        AND bi.date_range && daterange(@check_in::date, @check_out::date)
        AND (bi.status <> 'unpaid' OR bi.hold_expires_at > now())
  )
ORDER BY i.id
LIMIT @row_limit;

-- name: BlockedItems :many
-- Which of the given items have an active booking item overlapping the range.
SELECT DISTINCT bi.item_id FROM booking_items bi
WHERE bi.organisation_id = @organisation_id
  AND bi.item_id = ANY(@item_ids::uuid[])
  AND bi.status IN ('unpaid', 'paid', 'complete')
  AND bi.date_range && daterange(@check_in::date, @check_out::date)
  AND (bi.status <> 'unpaid' OR bi.hold_expires_at > now())
  AND (sqlc.narg(except_booking)::uuid IS NULL OR bi.booking_id <> sqlc.narg(except_booking)::uuid);

-- name: ItemCalendar :many
-- One row per day of [from, to): whether an active booking item covers it.
SELECT day::date AS day,
       NOT EXISTS (
           SELECT 1 FROM booking_items bi
           WHERE bi.organisation_id = sqlc.arg(organisation_id)
             AND bi.item_id = sqlc.arg(item_id)
             AND bi.status IN ('unpaid', 'paid', 'complete')
             AND bi.date_range @> day::date
             AND (bi.status <> 'unpaid' OR bi.hold_expires_at > now())
       ) AS available
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
