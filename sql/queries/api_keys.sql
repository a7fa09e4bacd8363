-- name: APIKeyCredentialsByPrefix :one
-- Pre-tenant: authentication finds a key by its public prefix before any tenant is
-- known, through the api_key_credentials view (see the migration).
SELECT id, organisation_id, role, secret_hash, revoked_at, organisation_slug
FROM api_key_credentials WHERE prefix = @prefix;

-- name: CreateAPIKey :one
INSERT INTO api_keys (organisation_id, id, name, role, prefix, secret_hash)
VALUES (@organisation_id, @id, @name, @role, @prefix, @secret_hash)
RETURNING *;

-- name: ListAPIKeys :many
SELECT * FROM api_keys
WHERE organisation_id = @organisation_id AND (sqlc.narg(after)::uuid IS NULL OR id > sqlc.narg(after)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: RevokeAPIKey :one
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: TouchAPIKey :exec
UPDATE api_keys SET last_used_at = now()
WHERE organisation_id = @organisation_id AND id = @id;
