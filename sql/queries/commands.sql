-- name: ClaimCommand :one
-- Claims an idempotency key for execution: a new key, or a running one whose
-- executor's lease ran out (it crashed, and its transaction rolled back with it).
-- No row back means somebody else has it: see GetCommand.
INSERT INTO commands (organisation_id, actor_id, id, type, fingerprint, state, claim, locked_until)
VALUES (@organisation_id, @actor_id, @id, @type, @fingerprint, 'running', @claim, now() + make_interval(secs => @lease_seconds::double precision))
-- The conflict branch reads the time as EXCLUDED.started_at (the default, now()):
-- Citus refuses now() in ON CONFLICT ... DO UPDATE and its WHERE.
ON CONFLICT (organisation_id, actor_id, id) DO UPDATE
    SET claim = EXCLUDED.claim, locked_until = EXCLUDED.locked_until, started_at = EXCLUDED.started_at
    WHERE commands.state = 'running' AND commands.locked_until < EXCLUDED.started_at
      AND commands.fingerprint = EXCLUDED.fingerprint
RETURNING claim;

-- name: GetCommand :one
SELECT type, fingerprint, state, outcome, result, locked_until
FROM commands
WHERE organisation_id = @organisation_id AND actor_id = @actor_id AND id = @id;

-- name: FinishCommand :execrows
-- duration_ms is the executor's own measure: Citus refuses clock_timestamp() in an
-- UPDATE.
UPDATE commands SET
    state = 'done', outcome = @outcome, result = @result, finished_at = now(),
    duration_ms = @duration_ms::double precision
WHERE organisation_id = @organisation_id AND actor_id = @actor_id AND id = @id
  AND claim = @claim AND state = 'running';

-- name: ReleaseCommand :exec
DELETE FROM commands
WHERE organisation_id = @organisation_id AND actor_id = @actor_id AND id = @id
  AND claim = @claim AND state = 'running';
