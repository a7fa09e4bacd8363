-- name: InsertCharge :one
INSERT INTO charges (organisation_id, id, name, kind, percent_bp, amount, per, inclusive, taxable, item_ids)
VALUES (@organisation_id, @id, @name, @kind, sqlc.narg(percent_bp), sqlc.narg(amount), @per, @inclusive, @taxable,
        sqlc.narg(item_ids)::uuid[])
RETURNING *;

-- name: GetCharge :one
SELECT * FROM charges WHERE organisation_id = @organisation_id AND id = @id;

-- name: GetChargeForUpdate :one
SELECT * FROM charges WHERE organisation_id = @organisation_id AND id = @id FOR UPDATE;

-- name: ListCharges :many
SELECT * FROM charges
WHERE organisation_id = @organisation_id
  AND (sqlc.narg(after)::uuid IS NULL OR id > sqlc.narg(after)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: AllCharges :many
SELECT * FROM charges WHERE organisation_id = @organisation_id ORDER BY id;

-- name: CountCharges :one
SELECT count(*)::integer FROM charges WHERE organisation_id = @organisation_id;

-- name: ChargesForItems :many
-- The charges that apply to any of the items: those for every item, and those
-- listing one of them. Pricing applies them in this order (fees before taxes).
SELECT * FROM charges
WHERE organisation_id = @organisation_id
  AND (item_ids IS NULL OR item_ids && @item_ids::uuid[])
ORDER BY kind, id;

-- name: UpdateCharge :one
UPDATE charges SET name = @name, kind = @kind, percent_bp = sqlc.narg(percent_bp), amount = sqlc.narg(amount),
    per = @per, inclusive = @inclusive, taxable = @taxable, item_ids = sqlc.narg(item_ids)::uuid[],
    version = version + 1, updated_at = now()
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: DeleteCharge :one
DELETE FROM charges WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: ExistingItems :many
-- Which of the ids name items of the organisation.
SELECT id FROM items WHERE organisation_id = @organisation_id AND id = ANY(@ids::uuid[]);
