-- name: PlatformCommandByID :one
-- Pre-tenant: a platform command is found by its key before any organisation is
-- known (see the 0004 migration).
SELECT id, type, fingerprint, organisation_id, result FROM platform_commands WHERE id = @id;

-- name: RecordPlatformCommand :exec
INSERT INTO platform_commands (id, type, fingerprint, organisation_id, result)
VALUES (@id, @type, @fingerprint, @organisation_id, @result);
