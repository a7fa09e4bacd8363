-- name: InsertProperty :one
INSERT INTO properties (organisation_id, id, name, address_lines, city, country_code, timezone)
VALUES (@organisation_id, @id, @name, @address_lines, @city, sqlc.narg(country_code), @timezone)
RETURNING *;

-- name: GetProperty :one
SELECT * FROM properties WHERE organisation_id = @organisation_id AND id = @id;

-- name: GetPropertyForUpdate :one
SELECT * FROM properties WHERE organisation_id = @organisation_id AND id = @id FOR UPDATE;

-- name: ListProperties :many
SELECT * FROM properties
WHERE organisation_id = @organisation_id
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(after)::uuid IS NULL OR id > sqlc.narg(after)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: UpdateProperty :one
UPDATE properties SET name = @name, address_lines = @address_lines, city = @city,
    country_code = sqlc.narg(country_code), timezone = @timezone, status = @status,
    version = version + 1, updated_at = now()
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: PropertyActiveItems :many
SELECT id FROM items
WHERE organisation_id = @organisation_id AND property_id = @property_id AND status = 'active'
ORDER BY id
LIMIT 100;
