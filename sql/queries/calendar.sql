-- name: InsertICalFeed :one
INSERT INTO ical_feeds (organisation_id, id, item_id, unit_id, name, include_guest_names, token_hash)
VALUES (@organisation_id, @id, @item_id, sqlc.narg(unit_id), @name, @include_guest_names, @token_hash)
RETURNING id, item_id, unit_id, name, include_guest_names, created_at, revoked_at;

-- name: ListICalFeeds :many
SELECT id, item_id, unit_id, name, include_guest_names, created_at, revoked_at FROM ical_feeds
WHERE organisation_id = @organisation_id AND item_id = @item_id
  AND (sqlc.narg(after)::uuid IS NULL OR id > sqlc.narg(after)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: RevokeICalFeed :one
-- The command's time, not now(): Citus refuses a stable function next to a column
-- in an UPDATE.
UPDATE ical_feeds SET revoked_at = coalesce(revoked_at, @now::timestamptz)
WHERE organisation_id = @organisation_id AND item_id = @item_id AND id = @id
RETURNING id, item_id, unit_id, name, include_guest_names, created_at, revoked_at;

-- name: ICalFeedByTokenHash :one
-- Pre-tenant (see sqlc.yaml): GET /ical/{token}.ics carries no API key, so the
-- feed's organisation is found by the token's hash, through the SECURITY DEFINER
-- function ical_feed_by_token (migration 0011), which sees only live feeds and
-- returns only their organisation and id. The feed is then read in its
-- organisation's scoped transaction.
-- The columns are spelled out with their types: sqlc cannot read a function's
-- result columns.
SELECT (f).organisation_id::uuid AS organisation_id, (f).id::uuid AS id
FROM ical_feed_by_token(sqlc.arg(token_hash)::bytea) AS f;

-- name: GetLiveICalFeed :one
-- A live feed with what rendering it needs: the item's name and its property's
-- time zone (NULL: the organisation's).
SELECT f.id, f.item_id, f.unit_id, f.include_guest_names, i.name AS item_name, p.timezone AS property_timezone
FROM ical_feeds f
JOIN items i ON i.organisation_id = f.organisation_id AND i.id = f.item_id
LEFT JOIN properties p ON p.organisation_id = i.organisation_id AND p.id = i.property_id
WHERE f.organisation_id = @organisation_id AND f.id = @id AND f.revoked_at IS NULL;

-- name: FeedOccupancies :many
-- What a feed lists: the active occupancies of the item (or one unit) overlapping
-- [from_date, to_date), with the booking or block behind each.
SELECT o.id, o.unit_id, lower(o.date_range)::date AS start_date, upper(o.date_range)::date AS end_date, o.status,
       o.booking_id, o.block_id,
       b.version AS booking_version, b.updated_at AS booking_updated_at, b.guest_name,
       bl.version AS block_version, bl.updated_at AS block_updated_at, bl.source_uid
FROM occupancies o
LEFT JOIN bookings b ON b.organisation_id = o.organisation_id AND b.id = o.booking_id
LEFT JOIN blocks bl ON bl.organisation_id = o.organisation_id AND bl.id = o.block_id
WHERE o.organisation_id = @organisation_id AND o.item_id = @item_id
  AND (sqlc.narg(unit_id)::uuid IS NULL OR o.unit_id = sqlc.narg(unit_id)::uuid)
  AND o.status NOT IN ('cancelled', 'expired') -- active (migration 0014)
  AND (o.status <> 'unpaid' OR o.hold_expires_at > @now::timestamptz)
  AND o.date_range && daterange(@from_date::date, @to_date::date)
ORDER BY lower(o.date_range), o.booking_id, o.block_id, o.id;

-- name: InsertCalendarImport :one
INSERT INTO calendar_imports (organisation_id, id, item_id, unit_id, name, url)
VALUES (@organisation_id, @id, @item_id, sqlc.narg(unit_id), @name, @url)
RETURNING *;

-- name: GetCalendarImport :one
SELECT * FROM calendar_imports WHERE organisation_id = @organisation_id AND item_id = @item_id AND id = @id;

-- name: GetCalendarImportForUpdate :one
SELECT * FROM calendar_imports WHERE organisation_id = @organisation_id AND id = @id FOR UPDATE;

-- name: ListCalendarImports :many
SELECT * FROM calendar_imports
WHERE organisation_id = @organisation_id AND item_id = @item_id
  AND (sqlc.narg(after)::uuid IS NULL OR id > sqlc.narg(after)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: UpdateCalendarImport :one
-- A new url forgets the old feed's validators, so the next sync fetches it whole.
UPDATE calendar_imports SET name = @name, unit_id = sqlc.narg(unit_id), url = @url,
    etag = CASE WHEN url = @url THEN etag END,
    last_modified = CASE WHEN url = @url THEN last_modified END,
    version = version + 1, updated_at = now()
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: DeleteCalendarImport :exec
DELETE FROM calendar_imports WHERE organisation_id = @organisation_id AND id = @id;

-- name: RecordCalendarSync :one
UPDATE calendar_imports SET last_synced_at = now(), last_status = @last_status, last_error = sqlc.narg(last_error),
    etag = sqlc.narg(etag), last_modified = sqlc.narg(last_modified),
    events_imported = @events_imported, conflicts = @conflicts
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: RecordCalendarSyncError :one
-- A failed sync keeps the validators and counts of the last good one.
UPDATE calendar_imports SET last_synced_at = now(), last_status = 'error', last_error = @last_error
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: DueCalendarImports :many
-- Pre-tenant (see sqlc.yaml): the periodic sync lists every import across
-- organisations through the SECURITY DEFINER function due_calendar_imports
-- (migration 0011; ids only, least recently synced first, at most 1000 a call),
-- then syncs each in its organisation's scoped transaction.
SELECT (c).organisation_id::uuid AS organisation_id, (c).id::uuid AS id
FROM due_calendar_imports(sqlc.arg(row_limit)::integer) AS c;

-- name: ImportBlocks :many
SELECT id, item_id, unit_id, lower(date_range)::date AS start_date, upper(date_range)::date AS end_date, kind, reason,
       source_import_id, source_uid, version, created_at, updated_at
FROM blocks WHERE organisation_id = @organisation_id AND source_import_id = @import_id
ORDER BY id;

-- name: DeleteImportBlocks :many
DELETE FROM blocks WHERE organisation_id = @organisation_id AND source_import_id = @import_id
RETURNING id, item_id, unit_id, lower(date_range)::date AS start_date, upper(date_range)::date AS end_date, kind, reason,
          source_import_id, source_uid, version, created_at, updated_at;

-- name: ItemOccupantIDs :many
-- Which of ids are bookings or blocks that occupy the item: an imported event
-- with such a UID is this item's own occupancy coming back from another channel.
SELECT DISTINCT coalesce(o.booking_id, o.block_id)::uuid AS id FROM occupancies o
WHERE o.organisation_id = @organisation_id AND o.item_id = @item_id
  AND (o.booking_id = ANY(@ids::uuid[]) OR o.block_id = ANY(@ids::uuid[]));

-- name: OtherImportsUIDs :many
-- Which of uids other imports of the item already mirror as blocks.
SELECT DISTINCT source_uid::text AS uid FROM blocks
WHERE organisation_id = @organisation_id AND item_id = @item_id
  AND source_import_id IS NOT NULL AND source_import_id <> @import_id
  AND source_uid = ANY(@uids::text[]);

-- name: RecordCalendarConflict :one
-- No row back: this conflict was reported before.
INSERT INTO calendar_conflicts (organisation_id, import_id, uid, start_date, end_date, booking_ids)
VALUES (@organisation_id, @import_id, @uid, @start_date, @end_date, @booking_ids)
ON CONFLICT DO NOTHING
RETURNING reported_at;
