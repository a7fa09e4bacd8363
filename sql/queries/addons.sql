-- name: CreateAddon :one
INSERT INTO addons (organisation_id, id, item_id, name, price, per, max_quantity)
VALUES (@organisation_id, @id, @item_id, @name, @price, @per, @max_quantity)
RETURNING *;

-- name: ListAddons :many
SELECT * FROM addons
WHERE organisation_id = @organisation_id AND item_id = @item_id AND archived_at IS NULL
ORDER BY id;

-- name: AddonsForItems :many
SELECT * FROM addons
WHERE organisation_id = @organisation_id AND item_id = ANY(@item_ids::uuid[]) AND archived_at IS NULL;

-- name: ArchiveAddon :one
-- @now, not now(): Citus refuses a stable function next to a column in an UPDATE.
UPDATE addons SET archived_at = coalesce(archived_at, @now::timestamptz)
WHERE organisation_id = @organisation_id AND item_id = @item_id AND id = @id
RETURNING *;
