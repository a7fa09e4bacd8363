-- name: ExpireStaleHolds :many
-- Expires unpaid holds past their deadline in the caller's transaction: those on
-- the given items (a new booking takes their dates, so a stale hold never blocks it
-- even before the sweep runs), or the given booking (the sweep).
WITH stale AS (
    UPDATE bookings b
    SET status = 'expired', expired_at = @now::timestamptz, version = b.version + 1, updated_at = now()
    WHERE b.organisation_id = @organisation_id
      AND b.status = 'unpaid'
      AND b.expires_at <= @now::timestamptz
      AND (sqlc.narg(booking_id)::uuid IS NULL OR b.id = sqlc.narg(booking_id)::uuid)
      AND (sqlc.narg(item_ids)::uuid[] IS NULL OR b.id IN (
          SELECT bi.booking_id FROM booking_items bi
          WHERE bi.organisation_id = @organisation_id
            AND bi.item_id = ANY(sqlc.narg(item_ids)::uuid[])
            AND bi.status = 'unpaid'
            AND bi.hold_expires_at <= @now::timestamptz))
    RETURNING b.id
), expired_items AS (
    UPDATE booking_items bi SET status = 'expired'
    WHERE bi.organisation_id = @organisation_id AND bi.booking_id IN (SELECT id FROM stale)
    RETURNING bi.booking_id
), expired_units AS (
    UPDATE occupancies o SET status = 'expired'
    WHERE o.organisation_id = @organisation_id AND o.booking_id IN (SELECT id FROM stale)
    RETURNING o.booking_id
)
SELECT id FROM stale;

-- name: InsertBooking :one
INSERT INTO bookings (organisation_id, id, status, guest_name, guest_email, guest_phone, notes, currency, total, expires_at)
VALUES (@organisation_id, @id, 'unpaid', @guest_name, @guest_email, @guest_phone, @notes, @currency, @total, @expires_at)
RETURNING *;

-- name: InsertBookingItem :exec
INSERT INTO booking_items (organisation_id, id, booking_id, position, item_id, date_range, nights, quantity,
                           nightly_price, room_total, addons_total, total, status, hold_expires_at,
                           guests, extra_guests_total, discount, breakdown, property_id)
VALUES (@organisation_id, @id, @booking_id, @position, @item_id, daterange(@check_in::date, @check_out::date), @nights,
        @quantity, @nightly_price, @room_total, @addons_total, @total, @status, @hold_expires_at,
        coalesce(sqlc.narg(guests)::integer, 1), @extra_guests_total, @discount, sqlc.narg(breakdown)::jsonb,
        sqlc.narg(property_id));

-- name: InsertBookingItemAddon :exec
INSERT INTO booking_item_addons (organisation_id, booking_item_id, addon_id, name, per, unit_price, quantity, total)
VALUES (@organisation_id, @booking_item_id, @addon_id, @name, @per, @unit_price, @quantity, @total);

-- name: GetBooking :one
SELECT * FROM bookings WHERE organisation_id = @organisation_id AND id = @id;

-- name: GetBookingForUpdate :one
SELECT * FROM bookings WHERE organisation_id = @organisation_id AND id = @id FOR UPDATE;

-- name: BookingItems :many
SELECT bi.id, bi.booking_id, bi.position, bi.item_id, lower(bi.date_range)::date AS check_in,
       upper(bi.date_range)::date AS check_out, bi.nights, bi.quantity, bi.nightly_price, bi.room_total,
       bi.addons_total, bi.total, bi.guests, bi.extra_guests_total, bi.discount, bi.breakdown
FROM booking_items bi
WHERE bi.organisation_id = @organisation_id AND bi.booking_id = ANY(@booking_ids::uuid[])
ORDER BY bi.booking_id, bi.position;

-- name: BookingItemAddons :many
SELECT a.booking_item_id, a.addon_id, a.name, a.per, a.unit_price, a.quantity, a.total
FROM booking_item_addons a
WHERE a.organisation_id = @organisation_id AND a.booking_item_id = ANY(@booking_item_ids::uuid[])
ORDER BY a.booking_item_id, a.addon_id;

-- The booking list, newest first. Each filter has a query of its own, chosen by
-- the caller, so that even the plan a prepared statement settles on (planned
-- without the arguments) reads an index on the filter instead of walking every
-- booking of the organisation; docs/operations.md shows the plans at a million
-- bookings. Where a filter is absent the caller passes a value that matches
-- everything (before: the largest uuid; from and to: 0001-01-01 and 9999-12-31;
-- status: ''). Inner limits are the constant 101 (a page of at most 100, and one
-- more to tell whether there is a next page) so that the planner knows a page
-- is small; the outer LIMIT trims to the page asked for. An unpaid hold past its
-- deadline counts as expired, as clients see it; booking_items mirror their
-- booking's status and deadline.

-- name: ListBookings :many
-- No filter: the primary key, backwards.
SELECT l.* FROM (
    SELECT b.* FROM bookings b
    WHERE b.organisation_id = @organisation_id AND b.id < @before
    ORDER BY b.id DESC
    LIMIT 101
) l
ORDER BY l.id DESC
LIMIT @row_limit;

-- name: ListBookingsByStatus :many
-- bookings_status, backwards; for expired also the unpaid holds past their
-- deadline (each branch stops after a page).
WITH by_status AS (
    SELECT b.* FROM bookings b
    WHERE b.organisation_id = @organisation_id AND b.status = @status AND b.id < @before
      AND (@status <> 'unpaid' OR b.expires_at > @now::timestamptz)
    ORDER BY b.id DESC
    LIMIT 101
), due AS (
    SELECT b.* FROM bookings b
    WHERE b.organisation_id = @organisation_id AND @status = 'expired' AND b.status = 'unpaid' AND b.id < @before
      AND b.expires_at <= @now::timestamptz
    ORDER BY b.id DESC
    LIMIT 101
)
SELECT l.* FROM (SELECT * FROM by_status UNION ALL SELECT * FROM due) l
ORDER BY l.id DESC
LIMIT @row_limit;

-- name: ListBookingsByItem :many
-- An item's stays, newest booking first (booking_items_by_item, index only),
-- the other filters applied to them: reads at most the item's stays.
SELECT b.* FROM (
    SELECT DISTINCT bi.booking_id FROM booking_items bi
    WHERE bi.organisation_id = @organisation_id AND bi.item_id = @item_id AND bi.booking_id < @before
      AND bi.check_in < sqlc.arg(to_date)::date AND bi.check_out > sqlc.arg(from_date)::date
      AND (sqlc.narg(property_id)::uuid IS NULL OR bi.property_id = sqlc.narg(property_id)::uuid)
      AND (sqlc.arg(status)::text = '' OR bi.status = sqlc.arg(status)::text
           OR (sqlc.arg(status)::text = 'expired' AND bi.status = 'unpaid' AND bi.hold_expires_at <= sqlc.arg(now)::timestamptz))
      AND (sqlc.arg(status)::text <> 'unpaid' OR bi.hold_expires_at > sqlc.arg(now)::timestamptz)
    ORDER BY bi.booking_id DESC
    LIMIT 101
) m
JOIN bookings b ON b.organisation_id = @organisation_id AND b.id = m.booking_id
ORDER BY b.id DESC
LIMIT @row_limit;

-- name: ListBookingsByStay :many
-- Stays overlapping [from, to) through booking_items_by_stay, one range per
-- length class (see the 0009 migration), then the newest bookings among them:
-- reads about twice the stays that overlap the dates. The CTE keeps the planner
-- from walking the bookings in id order hoping to meet overlapping stays early.
WITH m AS MATERIALIZED (
    SELECT bi.booking_id FROM booking_items bi
    WHERE bi.organisation_id = @organisation_id AND bi.booking_id < @before
      AND bi.check_in < sqlc.arg(to_date)::date AND bi.check_out > sqlc.arg(from_date)::date
      AND ((bi.stay_class = 0 AND bi.check_in >= sqlc.arg(from_date)::date - 0)
           OR (bi.stay_class = 1 AND bi.check_in >= sqlc.arg(from_date)::date - 1)
           OR (bi.stay_class = 2 AND bi.check_in >= sqlc.arg(from_date)::date - 3)
           OR (bi.stay_class = 3 AND bi.check_in >= sqlc.arg(from_date)::date - 7)
           OR (bi.stay_class = 4 AND bi.check_in >= sqlc.arg(from_date)::date - 15)
           OR (bi.stay_class = 5 AND bi.check_in >= sqlc.arg(from_date)::date - 31)
           OR (bi.stay_class = 6 AND bi.check_in >= sqlc.arg(from_date)::date - 63)
           OR (bi.stay_class = 7 AND bi.check_in >= sqlc.arg(from_date)::date - 127)
           OR (bi.stay_class = 8 AND bi.check_in >= sqlc.arg(from_date)::date - 255)
           OR (bi.stay_class = 9 AND bi.check_in >= sqlc.arg(from_date)::date - 511))
      AND (sqlc.narg(property_id)::uuid IS NULL OR bi.property_id = sqlc.narg(property_id)::uuid)
      AND (sqlc.arg(status)::text = '' OR bi.status = sqlc.arg(status)::text
           OR (sqlc.arg(status)::text = 'expired' AND bi.status = 'unpaid' AND bi.hold_expires_at <= sqlc.arg(now)::timestamptz))
      AND (sqlc.arg(status)::text <> 'unpaid' OR bi.hold_expires_at > sqlc.arg(now)::timestamptz)
)
SELECT b.* FROM bookings b
WHERE b.organisation_id = @organisation_id
  AND b.id IN (SELECT DISTINCT m.booking_id FROM m ORDER BY m.booking_id DESC LIMIT 101)
ORDER BY b.id DESC
LIMIT @row_limit;

-- name: ListBookingsByProperty :many
-- A property's stays, newest booking first (booking_items_by_property).
SELECT b.* FROM (
    SELECT DISTINCT bi.booking_id FROM booking_items bi
    WHERE bi.organisation_id = @organisation_id AND bi.property_id = @property_id AND bi.booking_id < @before
      AND (sqlc.arg(status)::text = '' OR bi.status = sqlc.arg(status)::text
           OR (sqlc.arg(status)::text = 'expired' AND bi.status = 'unpaid' AND bi.hold_expires_at <= sqlc.arg(now)::timestamptz))
      AND (sqlc.arg(status)::text <> 'unpaid' OR bi.hold_expires_at > sqlc.arg(now)::timestamptz)
    ORDER BY bi.booking_id DESC
    LIMIT 101
) m
JOIN bookings b ON b.organisation_id = @organisation_id AND b.id = m.booking_id
ORDER BY b.id DESC
LIMIT @row_limit;

-- name: ListLiveHoldsByStay :many
-- status=unpaid with a property or dates: the live holds (bookings_status),
-- each checked for a matching stay. Holds are few (they expire within the
-- organisation's hold_minutes), so this reads less than any stay index would.
SELECT l.* FROM (
    SELECT b.* FROM bookings b
    WHERE b.organisation_id = @organisation_id AND b.status = 'unpaid' AND b.id < @before
      AND b.expires_at > sqlc.arg(now)::timestamptz
      AND EXISTS (
          SELECT 1 FROM booking_items bi
          WHERE bi.organisation_id = @organisation_id AND bi.booking_id = b.id
            AND (sqlc.narg(property_id)::uuid IS NULL OR bi.property_id = sqlc.narg(property_id)::uuid)
            AND bi.check_in < sqlc.arg(to_date)::date AND bi.check_out > sqlc.arg(from_date)::date)
    ORDER BY b.id DESC
    LIMIT 101
) l
ORDER BY l.id DESC
LIMIT @row_limit;

-- name: UpdateBookingDetails :one
UPDATE bookings SET
    guest_name = @guest_name, guest_email = @guest_email, guest_phone = @guest_phone, notes = @notes,
    total = @total, version = version + 1, updated_at = now()
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: DeleteBookingItems :exec
DELETE FROM booking_items WHERE organisation_id = @organisation_id AND booking_id = @booking_id;

-- name: SetBookingStatus :one
-- @now, not now(): Citus refuses a stable function next to a column in an UPDATE.
UPDATE bookings SET
    status = @status,
    payment_reference = coalesce(sqlc.narg(payment_reference), payment_reference),
    cancel_reason = coalesce(sqlc.narg(cancel_reason), cancel_reason),
    confirmed_at = CASE WHEN @status = 'paid' THEN @now::timestamptz ELSE confirmed_at END,
    cancelled_at = CASE WHEN @status = 'cancelled' THEN @now::timestamptz ELSE cancelled_at END,
    completed_at = CASE WHEN @status = 'complete' THEN @now::timestamptz ELSE completed_at END,
    expired_at = CASE WHEN @status = 'expired' THEN @now::timestamptz ELSE expired_at END,
    version = version + 1, updated_at = now()
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: SetBookingItemsStatus :exec
-- A booking's status, mirrored onto its stays and the units they occupy (a
-- cancelled or expired booking frees every unit).
WITH units_status AS (
    UPDATE occupancies o SET status = @status
    WHERE o.organisation_id = @organisation_id AND o.booking_id = @booking_id
)
UPDATE booking_items bi SET status = @status
WHERE bi.organisation_id = @organisation_id AND bi.booking_id = @booking_id;

-- name: DueHolds :many
-- Pre-tenant (see sqlc.yaml): the hold-expiry sweep finds unpaid holds past their
-- deadline across organisations, oldest deadline first, through the SECURITY
-- DEFINER function due_holds (migration 0011; at most 1000 a call), then expires
-- each in its organisation's scoped transaction.
-- The columns are spelled out with their types: sqlc cannot read a function's
-- result columns.
SELECT (h).organisation_id::uuid AS organisation_id, (h).booking_id::uuid AS booking_id
FROM due_holds(@row_limit::integer) AS h;
