-- name: LockCommandKey :one
-- Takes the idempotency key for the rest of the transaction, without waiting:
-- false means another transaction runs a command under the same key now. The
-- key is a hash of (organisation, actor, id), so two keys may share a lock (a
-- false in-use answer, with odds of 2^-64 per pair of concurrent commands). It
-- runs where the session is (on Citus, the coordinator every instance uses) and
-- reads no table: a named exception in sqlc.yaml.
SELECT pg_try_advisory_xact_lock(hashtextextended(
    sqlc.arg(organisation_id)::uuid::text || '/' || sqlc.arg(actor_id)::uuid::text || '/' || sqlc.arg(id)::text, 0)) AS locked;

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

-- name: PreferGenericPlans :exec
-- For the rest of the transaction, prepared statements run their generic plan
-- instead of planning each execution anew. A command's statements are lookups
-- by key whose generic plans are as good as custom ones, but PostgreSQL keeps
-- planning any statement whose generic plan it estimates at more than its
-- custom plans (an array parameter counts as many elements, a one-element
-- array as one): that planning cost a booking more than executing its
-- statements did. The availability search sets it too (see AvailableItems).
-- Reads whose best plan depends on their arguments (the booking lists) do not.
-- Not under Citus (citus.version is set where the extension is loaded): its
-- planner prunes shards by the parameters' values and cannot build a generic
-- plan of a statement that joins or nests distributed tables ("could not
-- create distributed plan"); there every statement keeps its custom plans.
-- Touches no table: a named exception in sqlc.yaml.
SELECT set_config('plan_cache_mode', 'force_generic_plan', true)
WHERE current_setting('citus.version', true) IS NULL;

-- name: RecordCommand :execrows
-- Records the outcome of a command that ran in this transaction under its
-- key's lock (LockCommandKey) without a claim row: the command's only write to
-- the log. No row affected means a record exists already.
INSERT INTO commands (organisation_id, actor_id, id, type, fingerprint, state, claim, locked_until, outcome, result,
                      finished_at, duration_ms)
VALUES (@organisation_id, @actor_id, @id, @type, @fingerprint, 'done', @claim, now(), @outcome, @result, now(),
        @duration_ms::double precision)
ON CONFLICT (organisation_id, actor_id, id) DO NOTHING;

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
