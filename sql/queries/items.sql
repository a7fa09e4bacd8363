-- name: CreateItem :one
INSERT INTO items (organisation_id, id, name, description, capacity, nightly_price, min_nights, max_nights,
                   property_id, unit_count, base_guests, extra_guest_price, min_lead_hours, max_advance_days, discounts)
VALUES (@organisation_id, @id, @name, @description, @capacity, @nightly_price, @min_nights, @max_nights,
        sqlc.narg(property_id), @unit_count, @base_guests, @extra_guest_price, @min_lead_hours,
        sqlc.narg(max_advance_days), @discounts)
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

-- name: MoveItemStays :exec
-- A booking's stay records its item's property (for the bookings list's
-- property filter, migration 0009): when an item moves, its stays move with it.
UPDATE booking_items SET property_id = sqlc.narg(property_id)
WHERE organisation_id = sqlc.arg(organisation_id) AND item_id = sqlc.arg(item_id)
  AND property_id IS DISTINCT FROM sqlc.narg(property_id);

-- name: UpdateItem :one
UPDATE items SET
    name = @name, description = @description, capacity = @capacity, nightly_price = @nightly_price,
    min_nights = @min_nights, max_nights = @max_nights, status = @status, property_id = sqlc.narg(property_id),
    base_guests = @base_guests, extra_guest_price = @extra_guest_price, min_lead_hours = @min_lead_hours,
    max_advance_days = sqlc.narg(max_advance_days), discounts = @discounts,
    version = version + 1, updated_at = now()
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: AvailableItems :many
-- Active items that fit the party and the stay, whose rates sell the stay, and
-- that have at least sqlc.arg(quantity) units free for every night of [check_in,
-- check_out), with that number of free units and the stay's room price per unit
-- (the nights' prices as a JSON list too when breakdown is true). A unit is free
-- when no active occupancy (a booking's stay or a block) overlaps the stay; an
-- unpaid hold past its deadline does not occupy, whether or not the expiry sweep
-- has run yet. The rates (each date's effective values as in StayNights): no
-- night is closed; the arrival date is not closed to arrival and its min/max
-- nights allow the stay's nights; the departure date is not closed to
-- departure; and the arrival (00:00 of check_in in the item's property's time
-- zone, else timezone) is at least min_lead_hours from now and at most
-- max_advance_days after today (the organisation clock's). Items are visited in id order, each with its own
-- laterals, so the scan stops at the page's last item.
SELECT sqlc.embed(i), f.free::integer AS available_units, st.room_price::bigint AS room_price,
       st.nightly_prices::jsonb AS nightly_prices
FROM items i
-- The organisation clock and time zone (as OrganisationClock reads them), so
-- that the search needs nothing from an earlier round trip and travels in the
-- pipeline that reads the clock.
CROSS JOIN (
    SELECT (now() + org.clock_offset)::timestamptz AS now, org.timezone
    FROM organisations org WHERE org.id = sqlc.arg(organisation_id)
) c
CROSS JOIN LATERAL (
    SELECT count(*) AS free FROM units u
    WHERE u.organisation_id = sqlc.arg(organisation_id) AND u.item_id = i.id AND u.status = 'active'
      AND NOT EXISTS (
          SELECT 1 FROM occupancies o
          WHERE o.organisation_id = sqlc.arg(organisation_id) AND o.unit_id = u.id
            AND o.status NOT IN ('cancelled', 'expired') -- active (migration 0014)
            AND o.date_range && daterange(sqlc.arg(check_in)::date, sqlc.arg(check_out)::date)
            AND (o.status <> 'unpaid' OR o.hold_expires_at > c.now))
) f
CROSS JOIN LATERAL (
    -- Date k of the stay is check_in + k, k = 0 .. nights (nights = check_out -
    -- check_in: the last is the departure date). Integers, not dates: the planner
    -- sizes an integer series from its bounds, where a date series always looks
    -- like 1000 rows and the inflated cost buys a JIT compilation that takes
    -- longer than the query.
    SELECT sum(coalesce(e.nightly_price, i.nightly_price)) FILTER (WHERE d.k < sqlc.arg(nights)::integer) AS room_price,
           CASE WHEN sqlc.arg(breakdown)::boolean THEN
               jsonb_agg(jsonb_build_object('date', sqlc.arg(check_in)::date + d.k,
                                            'price', coalesce(e.nightly_price, i.nightly_price),
                                            'rule_id', e.price_rule_id) ORDER BY d.k) FILTER (WHERE d.k < sqlc.arg(nights)::integer)
           END AS nightly_prices,
           coalesce(bool_or(e.closed) FILTER (WHERE d.k < sqlc.arg(nights)::integer), false) AS closed,
           coalesce(bool_or(e.closed_to_arrival) FILTER (WHERE d.k = 0), false) AS closed_to_arrival,
           coalesce(bool_or(e.closed_to_departure) FILTER (WHERE d.k = sqlc.arg(nights)::integer), false) AS closed_to_departure,
           min(coalesce(e.min_nights, i.min_nights)) FILTER (WHERE d.k = 0) AS min_nights,
           min(coalesce(e.max_nights, i.max_nights)) FILTER (WHERE d.k = 0) AS max_nights
    FROM generate_series(0, sqlc.arg(nights)::integer) AS d(k)
    -- The item's rules that overlap the stay, read once (one index range: the
    -- rules that end after check_in, migration 0015) and joined to the dates
    -- they cover, each date's winners picked per field. Both bounds compare a
    -- column with a parameter, which row level security lets into the index
    -- scan; a probe per date (check_in + k is not leakproof) read every rule of
    -- the item once per date.
    LEFT JOIN (
        SELECT k.k,
               (array_agg(r.nightly_price ORDER BY r.id DESC) FILTER (WHERE r.nightly_price IS NOT NULL))[1] AS nightly_price,
               (array_agg(r.id ORDER BY r.id DESC) FILTER (WHERE r.nightly_price IS NOT NULL))[1] AS price_rule_id,
               (array_agg(r.min_nights ORDER BY r.id DESC) FILTER (WHERE r.min_nights IS NOT NULL))[1] AS min_nights,
               (array_agg(r.max_nights ORDER BY r.id DESC) FILTER (WHERE r.max_nights IS NOT NULL))[1] AS max_nights,
               (array_agg(r.closed_to_arrival ORDER BY r.id DESC) FILTER (WHERE r.closed_to_arrival IS NOT NULL))[1] AS closed_to_arrival,
               (array_agg(r.closed_to_departure ORDER BY r.id DESC) FILTER (WHERE r.closed_to_departure IS NOT NULL))[1] AS closed_to_departure,
               (array_agg(r.closed ORDER BY r.id DESC) FILTER (WHERE r.closed IS NOT NULL))[1] AS closed
        FROM rate_rules r
        JOIN generate_series(0, sqlc.arg(nights)::integer) AS k(k)
          ON r.start_date <= (sqlc.arg(check_in)::date + k.k) AND (sqlc.arg(check_in)::date + k.k) < r.end_date
         AND (r.days IS NULL OR extract(isodow FROM (sqlc.arg(check_in)::date + k.k))::smallint = ANY (r.days))
        WHERE r.organisation_id = sqlc.arg(organisation_id) AND r.item_id = i.id
          AND r.end_date > sqlc.arg(check_in)::date AND r.start_date <= sqlc.arg(check_out)::date
        GROUP BY k.k
    ) e ON e.k = d.k
) st
WHERE i.organisation_id = sqlc.arg(organisation_id)
  AND i.status = 'active'
  AND (sqlc.narg(after)::uuid IS NULL OR i.id > sqlc.narg(after)::uuid)
  -- The other conditions as two opaque ones (coalesce of a condition): the
  -- planner rates each as passing half of the rows instead of multiplying the
  -- default selectivities of a dozen comparisons with parameters down to one
  -- row. Expecting one row, a generic plan sorted every item of the
  -- organisation instead of walking them in id order up to the page, so every
  -- search was planned anew (as long as it ran). Each item-level condition is
  -- still checked before the laterals run for the item.
  AND coalesce(
      i.capacity >= sqlc.arg(guests)::integer
      AND i.unit_count >= sqlc.arg(quantity)::integer
      AND (sqlc.narg(property_id)::uuid IS NULL OR i.property_id = sqlc.narg(property_id)::uuid)
      AND (i.min_lead_hours = 0 OR
           (sqlc.arg(check_in)::date)::timestamp AT TIME ZONE coalesce(
               (SELECT p.timezone FROM properties p WHERE p.organisation_id = sqlc.arg(organisation_id) AND p.id = i.property_id),
               c.timezone) >= c.now + i.min_lead_hours * interval '1 hour')
      AND (i.max_advance_days IS NULL OR
           sqlc.arg(check_in)::date <= (c.now AT TIME ZONE coalesce(
               (SELECT p.timezone FROM properties p WHERE p.organisation_id = sqlc.arg(organisation_id) AND p.id = i.property_id),
               c.timezone))::date + i.max_advance_days), false)
  AND coalesce(
      f.free >= sqlc.arg(quantity)::integer
      AND NOT st.closed AND NOT st.closed_to_arrival AND NOT st.closed_to_departure
      AND st.min_nights <= sqlc.arg(nights)::integer AND st.max_nights >= sqlc.arg(nights)::integer, false)
ORDER BY i.id
LIMIT sqlc.arg(row_limit);

-- name: ItemCalendar :many
-- One row per day of [from, to): the item's active units, how many of them an
-- active occupancy covers, the blocks on that day, and the day's effective rates
-- (as in StayNights): the price of the night that starts on it and the rule that
-- set it, closed, closed to arrival or departure, min and max nights.
SELECT (sqlc.arg(from_date)::date + k)::date AS day,
       (SELECT count(*) FROM units u
        WHERE u.organisation_id = sqlc.arg(organisation_id) AND u.item_id = sqlc.arg(item_id)
          AND u.status = 'active')::integer AS total_units,
       (SELECT count(DISTINCT o.unit_id) FROM occupancies o
        JOIN units u ON u.organisation_id = o.organisation_id AND u.id = o.unit_id AND u.status = 'active'
        WHERE o.organisation_id = sqlc.arg(organisation_id) AND o.item_id = sqlc.arg(item_id)
          AND o.status NOT IN ('cancelled', 'expired') -- active (migration 0014)
          AND o.date_range @> (sqlc.arg(from_date)::date + k)
          AND (o.status <> 'unpaid' OR o.hold_expires_at > sqlc.arg(now)::timestamptz))::integer AS occupied_units,
       coalesce((SELECT jsonb_agg(jsonb_build_object('id', b.id, 'unit_id', b.unit_id, 'kind', b.kind,
                                                     'reason', b.reason) ORDER BY b.id)
                 FROM blocks b
                 WHERE b.organisation_id = sqlc.arg(organisation_id) AND b.item_id = sqlc.arg(item_id)
                   AND b.date_range @> (sqlc.arg(from_date)::date + k)), '[]'::jsonb)::jsonb AS blocks,
       coalesce(e.nightly_price, i.nightly_price)::bigint AS price,
       -- uuid.Nil when no rule sets the price (the item's own).
       coalesce(e.price_rule_id, '00000000-0000-0000-0000-000000000000')::uuid AS price_rule_id,
       coalesce(e.min_nights, i.min_nights)::integer AS min_nights,
       coalesce(e.max_nights, i.max_nights)::integer AS max_nights,
       coalesce(e.closed_to_arrival, false)::boolean AS closed_to_arrival,
       coalesce(e.closed_to_departure, false)::boolean AS closed_to_departure,
       coalesce(e.closed, false)::boolean AS closed
FROM items i
-- Day k is from + k (an integer series: see AvailableItems).
CROSS JOIN generate_series(0, sqlc.arg(to_date)::date - sqlc.arg(from_date)::date - 1) AS k
-- The item's rules that overlap [from, to), read once and joined to the days
-- they cover (as in AvailableItems: the bounds compared with parameters reach
-- the index, a probe per day read every rule of the item for each day).
LEFT JOIN (
    SELECT d.k AS day_k,
           (array_agg(r.nightly_price ORDER BY r.id DESC) FILTER (WHERE r.nightly_price IS NOT NULL))[1] AS nightly_price,
           (array_agg(r.id ORDER BY r.id DESC) FILTER (WHERE r.nightly_price IS NOT NULL))[1] AS price_rule_id,
           (array_agg(r.min_nights ORDER BY r.id DESC) FILTER (WHERE r.min_nights IS NOT NULL))[1] AS min_nights,
           (array_agg(r.max_nights ORDER BY r.id DESC) FILTER (WHERE r.max_nights IS NOT NULL))[1] AS max_nights,
           (array_agg(r.closed_to_arrival ORDER BY r.id DESC) FILTER (WHERE r.closed_to_arrival IS NOT NULL))[1] AS closed_to_arrival,
           (array_agg(r.closed_to_departure ORDER BY r.id DESC) FILTER (WHERE r.closed_to_departure IS NOT NULL))[1] AS closed_to_departure,
           (array_agg(r.closed ORDER BY r.id DESC) FILTER (WHERE r.closed IS NOT NULL))[1] AS closed
    FROM rate_rules r
    JOIN generate_series(0, sqlc.arg(to_date)::date - sqlc.arg(from_date)::date - 1) AS d(k)
      ON r.start_date <= (sqlc.arg(from_date)::date + d.k) AND (sqlc.arg(from_date)::date + d.k) < r.end_date
     AND (r.days IS NULL OR extract(isodow FROM (sqlc.arg(from_date)::date + d.k))::smallint = ANY (r.days))
    WHERE r.organisation_id = sqlc.arg(organisation_id) AND r.item_id = sqlc.arg(item_id)
      AND r.end_date > sqlc.arg(from_date)::date AND r.start_date < sqlc.arg(to_date)::date
    GROUP BY d.k
) e ON e.day_k = k
WHERE i.organisation_id = sqlc.arg(organisation_id) AND i.id = sqlc.arg(item_id)
ORDER BY k;

-- name: LockItemsForBooking :many
-- Locks, in id order, the items a booking is about to take and, for a change of
-- an existing booking, the items it holds now. Bookings of one item then run one
-- at a time: without it, concurrent overlapping inserts wait on each other inside
-- the exclusion constraint's check, deadlock, and every deadlock costs
-- deadlock_timeout before PostgreSQL breaks it. FOR NO KEY UPDATE does not block
-- the foreign-key checks (FOR KEY SHARE) of booking_items inserts.
-- The ids come from one union, joined by index: a condition "id = ANY(..) OR id
-- IN (..)" read every item of the organisation to lock the few asked for.
SELECT i.id FROM items i
WHERE i.organisation_id = @organisation_id
  AND i.id IN (
      SELECT unnest(@item_ids::uuid[])
      UNION
      SELECT bi.item_id FROM booking_items bi
      WHERE bi.organisation_id = @organisation_id AND bi.booking_id = sqlc.narg(booking_id)::uuid)
ORDER BY i.id
FOR NO KEY UPDATE;
