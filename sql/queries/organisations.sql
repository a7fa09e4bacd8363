-- name: CreateOrganisation :one
INSERT INTO organisations (id, slug, name, currency, timezone, hold_minutes)
VALUES (@organisation_id, @slug, @name, @currency, @timezone, @hold_minutes)
RETURNING *;

-- name: GetOrganisation :one
SELECT * FROM organisations WHERE organisations.id = @organisation_id;

-- name: OrganisationClock :one
-- The organisation's settings with the database's clock, so "today" and hold
-- deadlines come from one time source.
SELECT id, slug, currency, timezone, hold_minutes, (now() + clock_offset)::timestamptz AS now, livemode
FROM organisations WHERE organisations.id = @organisation_id;

-- name: CreateSandbox :one
-- The sandbox twin of a live organisation (its id derived from the live one),
-- or nothing when it exists already.
INSERT INTO organisations (id, slug, name, currency, timezone, hold_minutes, livemode, live_organisation_id)
VALUES (@organisation_id, @slug, @name, @currency, @timezone, @hold_minutes, false, @live_organisation_id)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: SetClockOffset :one
-- Moves the clock of a sandbox so it reads the given time (never backwards: a CHECK keeps
-- the offset non-negative and the caller checks against the current clock).
UPDATE organisations SET clock_offset = sqlc.arg(target_time)::timestamptz - now(), updated_at = now()
WHERE organisations.id = @organisation_id AND NOT livemode
RETURNING (now() + clock_offset)::timestamptz AS clock_time;
