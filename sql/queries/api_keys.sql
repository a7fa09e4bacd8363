-- name: APIKeyCredentialsByPrefix :one
-- Pre-tenant: authentication finds a key by its public prefix before any tenant is
-- known, through the SECURITY DEFINER function api_key_credential (migration 0011),
-- which returns that one key and nothing else.
-- The columns are spelled out with their types: sqlc cannot read a function's
-- result columns.
SELECT (c).id::uuid AS id, (c).organisation_id::uuid AS organisation_id, (c).role::text AS role,
       (c).secret_hash::bytea AS secret_hash, ((c).revoked_at::timestamptz IS NOT NULL)::boolean AS revoked,
       (c).organisation_slug::text AS organisation_slug
FROM api_key_credential(@prefix::text) AS c;

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
-- @now, not now(): Citus refuses a stable function next to a column in an UPDATE.
UPDATE api_keys SET revoked_at = coalesce(revoked_at, @now::timestamptz)
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
