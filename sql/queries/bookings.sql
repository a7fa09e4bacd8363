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
                           guests, extra_guests_total, discount, breakdown)
VALUES (@organisation_id, @id, @booking_id, @position, @item_id, daterange(@check_in::date, @check_out::date), @nights,
        @quantity, @nightly_price, @room_total, @addons_total, @total, @status, @hold_expires_at,
        coalesce(sqlc.narg(guests)::integer, 1), @extra_guests_total, @discount, sqlc.narg(breakdown)::jsonb);

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

-- name: ListBookings :many
SELECT b.* FROM bookings b
WHERE b.organisation_id = @organisation_id
  -- An unpaid hold past its deadline counts as expired, as clients see it.
  AND (sqlc.narg(status)::text IS NULL OR sqlc.narg(status)::text =
       CASE WHEN b.status = 'unpaid' AND b.expires_at <= @now::timestamptz THEN 'expired' ELSE b.status END)
  AND (sqlc.narg(before)::uuid IS NULL OR b.id < sqlc.narg(before)::uuid)
  AND (sqlc.narg(item_id)::uuid IS NULL OR sqlc.narg(from_date)::date IS NOT NULL OR EXISTS (
      SELECT 1 FROM booking_items bi
      WHERE bi.organisation_id = @organisation_id AND bi.booking_id = b.id AND bi.item_id = sqlc.narg(item_id)::uuid))
  AND (sqlc.narg(from_date)::date IS NULL OR EXISTS (
      SELECT 1 FROM booking_items bi
      WHERE bi.organisation_id = @organisation_id AND bi.booking_id = b.id
        AND (sqlc.narg(item_id)::uuid IS NULL OR bi.item_id = sqlc.narg(item_id)::uuid)
        AND bi.date_range && daterange(sqlc.narg(from_date)::date, sqlc.narg(to_date)::date)))
  AND (sqlc.narg(property_id)::uuid IS NULL OR EXISTS (
      SELECT 1 FROM booking_items bi
      JOIN items i ON i.organisation_id = bi.organisation_id AND i.id = bi.item_id
      WHERE bi.organisation_id = @organisation_id AND bi.booking_id = b.id
        AND i.property_id = sqlc.narg(property_id)::uuid))
ORDER BY b.id DESC
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
UPDATE bookings SET
    status = @status,
    payment_reference = coalesce(sqlc.narg(payment_reference), payment_reference),
    cancel_reason = coalesce(sqlc.narg(cancel_reason), cancel_reason),
    confirmed_at = CASE WHEN @status = 'paid' THEN now() ELSE confirmed_at END,
    cancelled_at = CASE WHEN @status = 'cancelled' THEN now() ELSE cancelled_at END,
    completed_at = CASE WHEN @status = 'complete' THEN now() ELSE completed_at END,
    expired_at = CASE WHEN @status = 'expired' THEN now() ELSE expired_at END,
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
-- deadline across organisations through the due_holds view, then expires each in its
-- organisation's scoped transaction.
SELECT organisation_id, booking_id FROM due_holds
ORDER BY expires_at
LIMIT @row_limit;
