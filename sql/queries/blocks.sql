-- name: InsertBlock :one
INSERT INTO blocks (organisation_id, id, item_id, unit_id, date_range, kind, reason, source_import_id, source_uid)
VALUES (@organisation_id, @id, @item_id, @unit_id, daterange(@start_date::date, @end_date::date), @kind, @reason,
        sqlc.narg(source_import_id), sqlc.narg(source_uid))
RETURNING id, item_id, unit_id, lower(date_range)::date AS start_date, upper(date_range)::date AS end_date, kind, reason,
          source_import_id, source_uid, version, created_at, updated_at;

-- name: GetBlock :one
SELECT id, item_id, unit_id, lower(date_range)::date AS start_date, upper(date_range)::date AS end_date, kind, reason,
       source_import_id, source_uid, version, created_at, updated_at
FROM blocks WHERE organisation_id = @organisation_id AND id = @id;

-- name: GetBlockForUpdate :one
SELECT id, item_id, unit_id, lower(date_range)::date AS start_date, upper(date_range)::date AS end_date, kind, reason,
       source_import_id, source_uid, version, created_at, updated_at
FROM blocks WHERE organisation_id = @organisation_id AND id = @id FOR UPDATE;

-- name: ListBlocks :many
SELECT id, item_id, unit_id, lower(date_range)::date AS start_date, upper(date_range)::date AS end_date, kind, reason,
       source_import_id, source_uid, version, created_at, updated_at
FROM blocks
WHERE organisation_id = @organisation_id
  AND (sqlc.narg(item_id)::uuid IS NULL OR item_id = sqlc.narg(item_id)::uuid)
  AND (sqlc.narg(from_date)::date IS NULL OR date_range && daterange(sqlc.narg(from_date)::date, sqlc.narg(to_date)::date))
  AND (sqlc.narg(after)::uuid IS NULL OR id > sqlc.narg(after)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: UpdateBlock :one
UPDATE blocks SET unit_id = @unit_id, date_range = daterange(@start_date::date, @end_date::date), reason = @reason,
    version = version + 1, updated_at = now()
WHERE organisation_id = @organisation_id AND id = @id
RETURNING id, item_id, unit_id, lower(date_range)::date AS start_date, upper(date_range)::date AS end_date, kind, reason,
          source_import_id, source_uid, version, created_at, updated_at;

-- name: MoveBlockOccupancy :exec
UPDATE occupancies SET unit_id = @unit_id, date_range = daterange(@start_date::date, @end_date::date)
WHERE organisation_id = @organisation_id AND block_id = @block_id;

-- name: DeleteBlock :exec
DELETE FROM blocks WHERE organisation_id = @organisation_id AND id = @id;
