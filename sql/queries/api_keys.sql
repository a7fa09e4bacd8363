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

-- name: CountLiveAPIKeys :one
-- The organisation's keys that are not revoked. Run it after
-- LockOrganisationQuota, in a statement of its own: under READ COMMITTED a
-- statement that waited for the lock would still count with the snapshot it
-- began with.
SELECT count(*) FROM api_keys WHERE organisation_id = @organisation_id AND revoked_at IS NULL;

-- name: NotifyAPIKeyRevoked :exec
-- Tells every server instance, at the revocation's commit, that the key is
-- revoked: their event streams with it end at once (internal/stream).
SELECT pg_notify('vacancy_keys', k.id::text) FROM api_keys k
WHERE k.organisation_id = @organisation_id AND k.id = @id;
