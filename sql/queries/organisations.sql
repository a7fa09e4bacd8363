-- name: CreateOrganisation :one
INSERT INTO organisations (id, slug, name, currency, timezone, hold_minutes)
VALUES (@organisation_id, @slug, @name, @currency, @timezone, @hold_minutes)
RETURNING *;

-- name: GetOrganisation :one
SELECT * FROM organisations WHERE organisations.id = @organisation_id;

-- name: OrganisationClock :one
-- The organisation's settings with the database's clock, so "today" and hold
-- deadlines come from one time source.
SELECT id, slug, currency, timezone, hold_minutes, now()::timestamptz AS now
FROM organisations WHERE organisations.id = @organisation_id;

-- name: LockOrganisationQuota :exec
-- Serialises the commands that check a quota of the organisation (API keys,
-- webhook endpoints) until the end of the transaction. FOR NO KEY UPDATE: the
-- foreign-key checks of every other writer (FOR KEY SHARE) do not wait on it.
SELECT organisations.id FROM organisations WHERE organisations.id = @organisation_id FOR NO KEY UPDATE;
