-- name: ListRateRules :many
-- An item's rate rules in the order they were created (the last wins).
SELECT * FROM rate_rules
WHERE organisation_id = @organisation_id AND item_id = @item_id
ORDER BY id;

-- name: GetRateRule :one
SELECT * FROM rate_rules WHERE organisation_id = @organisation_id AND item_id = @item_id AND id = @id;

-- name: CountRateRules :one
SELECT count(*)::integer FROM rate_rules WHERE organisation_id = @organisation_id AND item_id = @item_id;

-- name: InsertRateRule :one
INSERT INTO rate_rules (organisation_id, id, item_id, start_date, end_date, days, nightly_price, min_nights, max_nights,
                        closed_to_arrival, closed_to_departure, closed)
VALUES (@organisation_id, @id, @item_id, @start_date, @end_date, sqlc.narg(days)::smallint[], sqlc.narg(nightly_price),
        sqlc.narg(min_nights), sqlc.narg(max_nights), sqlc.narg(closed_to_arrival), sqlc.narg(closed_to_departure),
        sqlc.narg(closed))
RETURNING *;

-- name: InsertRateRules :many
-- Many rules in one statement (PUT replaces an item's rules): @rules is a JSON
-- array of objects with the columns' names; ids are UUIDv7 in the list's order,
-- so a later rule wins over an earlier one.
INSERT INTO rate_rules (organisation_id, id, item_id, start_date, end_date, days, nightly_price, min_nights, max_nights,
                        closed_to_arrival, closed_to_departure, closed)
SELECT @organisation_id::uuid, r.id, @item_id::uuid, r.start_date, r.end_date, r.days, r.nightly_price, r.min_nights,
       r.max_nights, r.closed_to_arrival, r.closed_to_departure, r.closed
FROM jsonb_to_recordset(@rules::jsonb) AS r(id uuid, start_date date, end_date date, days smallint[], nightly_price bigint,
                                            min_nights integer, max_nights integer, closed_to_arrival boolean,
                                            closed_to_departure boolean, closed boolean)
RETURNING *;

-- name: UpdateRateRule :one
UPDATE rate_rules SET start_date = @start_date, end_date = @end_date, days = sqlc.narg(days)::smallint[],
    nightly_price = sqlc.narg(nightly_price), min_nights = sqlc.narg(min_nights), max_nights = sqlc.narg(max_nights),
    closed_to_arrival = sqlc.narg(closed_to_arrival), closed_to_departure = sqlc.narg(closed_to_departure),
    closed = sqlc.narg(closed), version = version + 1, updated_at = now()
WHERE organisation_id = @organisation_id AND item_id = @item_id AND id = @id
RETURNING *;

-- name: DeleteRateRule :one
DELETE FROM rate_rules WHERE organisation_id = @organisation_id AND item_id = @item_id AND id = @id
RETURNING *;

-- name: DeleteRateRules :exec
DELETE FROM rate_rules WHERE organisation_id = @organisation_id AND item_id = @item_id;

-- name: RatesVersion :one
SELECT rates_version FROM items WHERE organisation_id = @organisation_id AND id = @id;

-- name: BumpRatesVersion :one
-- Every change to an item's rules counts here, under the item's row lock: rate
-- changes of one item run one at a time, and If-Match on the rule set compares
-- with the version before the change (the result minus one).
UPDATE items SET rates_version = rates_version + 1
WHERE organisation_id = @organisation_id AND id = @id
RETURNING rates_version;

-- name: StayNights :many
-- The effective price and rules of dates of stays: row n is date days[n] of the
-- stay numbered lines[n] (of items[n]); the caller lists every date of each
-- stay, check_out included (its row only serves closed_to_departure). For each
-- field, the newest rule that covers the date (and its day of the week) and
-- sets the field wins; the item's own field is the default. One statement for
-- all the stays of a request, over one flat list (nested series would make
-- the planner expect a million rows and JIT-compile the query). The rules that
-- may cover any of the dates are read once, in one index scan, and each date
-- picks its own from them in memory: an index probe per date read every rule
-- of the item each time (row level security keeps the date comparisons out of
-- the index condition).
WITH rules AS MATERIALIZED (
    SELECT r.item_id, r.id, r.start_date, r.end_date, r.days, r.nightly_price, r.min_nights, r.max_nights,
           r.closed_to_arrival, r.closed_to_departure, r.closed
    FROM rate_rules r
    WHERE r.organisation_id = @organisation_id AND r.item_id = ANY(@item_ids::uuid[])
      AND r.start_date <= (SELECT max(d) FROM unnest(@days::date[]) AS d)
      AND r.end_date > (SELECT min(d) FROM unnest(@days::date[]) AS d)
)
SELECT sl.line::integer AS line, s.day::date AS day,
       coalesce(e.nightly_price, i.nightly_price)::bigint AS price,
       -- uuid.Nil when no rule sets the price (the item's own).
       coalesce(e.price_rule_id, '00000000-0000-0000-0000-000000000000')::uuid AS price_rule_id,
       coalesce(e.min_nights, i.min_nights)::integer AS min_nights,
       coalesce(e.max_nights, i.max_nights)::integer AS max_nights,
       coalesce(e.closed_to_arrival, false)::boolean AS closed_to_arrival,
       coalesce(e.closed_to_departure, false)::boolean AS closed_to_departure,
       coalesce(e.closed, false)::boolean AS closed
FROM unnest(@days::date[]) WITH ORDINALITY AS s(day, n)
JOIN unnest(@item_ids::uuid[]) WITH ORDINALITY AS si(item_id, n) ON si.n = s.n
JOIN unnest(@lines::integer[]) WITH ORDINALITY AS sl(line, n) ON sl.n = s.n
-- Joined on a column, not on an array element: row level security keeps an
-- expression it cannot prove leakproof out of the items index condition.
JOIN items i ON i.organisation_id = @organisation_id AND i.id = si.item_id
LEFT JOIN LATERAL (
    SELECT (array_agg(r.nightly_price ORDER BY r.id DESC) FILTER (WHERE r.nightly_price IS NOT NULL))[1] AS nightly_price,
           (array_agg(r.id ORDER BY r.id DESC) FILTER (WHERE r.nightly_price IS NOT NULL))[1] AS price_rule_id,
           (array_agg(r.min_nights ORDER BY r.id DESC) FILTER (WHERE r.min_nights IS NOT NULL))[1] AS min_nights,
           (array_agg(r.max_nights ORDER BY r.id DESC) FILTER (WHERE r.max_nights IS NOT NULL))[1] AS max_nights,
           (array_agg(r.closed_to_arrival ORDER BY r.id DESC) FILTER (WHERE r.closed_to_arrival IS NOT NULL))[1] AS closed_to_arrival,
           (array_agg(r.closed_to_departure ORDER BY r.id DESC) FILTER (WHERE r.closed_to_departure IS NOT NULL))[1] AS closed_to_departure,
           (array_agg(r.closed ORDER BY r.id DESC) FILTER (WHERE r.closed IS NOT NULL))[1] AS closed
    FROM rules r
    WHERE r.item_id = i.id
      AND r.start_date <= s.day AND s.day < r.end_date
      AND (r.days IS NULL OR extract(isodow FROM s.day)::smallint = ANY (r.days))
) e ON true
ORDER BY s.n;
