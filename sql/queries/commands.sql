-- name: ClaimCommand :one
-- Claims an idempotency key for execution: a new key, or a running one whose
-- executor's lease ran out (it crashed, and its transaction rolled back with it).
-- No row back means somebody else has it: see GetCommand.
INSERT INTO commands (organisation_id, actor_id, id, type, fingerprint, state, claim, locked_until)
VALUES (@organisation_id, @actor_id, @id, @type, @fingerprint, 'running', @claim, now() + make_interval(secs => @lease_seconds::double precision))
ON CONFLICT (organisation_id, actor_id, id) DO UPDATE
    SET claim = EXCLUDED.claim, locked_until = EXCLUDED.locked_until, started_at = now()
    WHERE commands.state = 'running' AND commands.locked_until < now()
      AND commands.fingerprint = EXCLUDED.fingerprint
RETURNING claim;

-- name: GetCommand :one
SELECT type, fingerprint, state, outcome, result, locked_until
FROM commands
WHERE organisation_id = @organisation_id AND actor_id = @actor_id AND id = @id;

-- name: FinishCommand :execrows
UPDATE commands SET
    state = 'done', outcome = @outcome, result = @result, finished_at = now(),
    duration_ms = extract(epoch FROM clock_timestamp() - started_at) * 1000
WHERE organisation_id = @organisation_id AND actor_id = @actor_id AND id = @id
  AND claim = @claim AND state = 'running';

-- name: ReleaseCommand :exec
DELETE FROM commands
WHERE organisation_id = @organisation_id AND actor_id = @actor_id AND id = @id
  AND claim = @claim AND state = 'running';
