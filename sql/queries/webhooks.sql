-- name: InsertWebhookEndpoint :one
INSERT INTO webhook_endpoints (organisation_id, id, url, description, event_types, enabled, secret)
VALUES (@organisation_id, @id, @url, @description, @event_types, @enabled, @secret)
RETURNING *;

-- name: GetWebhookEndpoint :one
SELECT * FROM webhook_endpoints WHERE organisation_id = @organisation_id AND id = @id;

-- name: GetWebhookEndpointForUpdate :one
SELECT * FROM webhook_endpoints WHERE organisation_id = @organisation_id AND id = @id FOR UPDATE;

-- name: ListWebhookEndpoints :many
SELECT * FROM webhook_endpoints
WHERE organisation_id = @organisation_id AND (sqlc.narg(after)::uuid IS NULL OR id > sqlc.narg(after)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: UpdateWebhookEndpoint :one
-- An admin's change. Enabling an endpoint forgets its failure history.
UPDATE webhook_endpoints SET
    url = @url, description = @description, event_types = @event_types, enabled = @enabled,
    failing_since = CASE WHEN @enabled::boolean AND NOT enabled THEN NULL ELSE failing_since END,
    disabled_reason = CASE WHEN @enabled::boolean THEN NULL ELSE disabled_reason END,
    version = version + 1, updated_at = now()
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: RotateWebhookEndpointSecret :one
-- A new signing secret; the replaced one, when given, keeps signing until
-- previous_secret_expires_at. The time is a parameter, not now(), for Citus.
UPDATE webhook_endpoints SET
    secret = sqlc.arg(secret),
    previous_secret = sqlc.narg(previous_secret),
    previous_secret_expires_at = sqlc.narg(previous_secret_expires_at),
    version = version + 1, updated_at = sqlc.arg(now)
WHERE organisation_id = sqlc.arg(organisation_id) AND id = sqlc.arg(id)
RETURNING *;

-- name: DeleteWebhookEndpoint :one
DELETE FROM webhook_endpoints WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: EnabledWebhookEndpoints :many
-- Where a command's events go: the organisation's enabled endpoints. FOR KEY
-- SHARE keeps them from being deleted until the command's deliveries to them are
-- written (a concurrent DELETE of an endpoint waits, then removes those too),
-- instead of failing the command on the deliveries' foreign key.
SELECT id, event_types FROM webhook_endpoints
WHERE organisation_id = @organisation_id AND enabled
ORDER BY id
FOR KEY SHARE;

-- name: InsertWebhookDeliveries :batchexec
-- One statement per delivery, all sent in one round trip. Not INSERT ... SELECT
-- unnest(...): Citus runs that as COPY, which row level security refuses.
INSERT INTO webhook_deliveries (organisation_id, id, endpoint_id, event_seq, event_id, event_type)
VALUES (@organisation_id, @id, @endpoint_id, @event_seq, @event_id, @event_type);

-- name: GetWebhookDelivery :one
SELECT * FROM webhook_deliveries WHERE organisation_id = @organisation_id AND id = @id;

-- name: GetWebhookDeliveryForUpdate :one
SELECT * FROM webhook_deliveries WHERE organisation_id = @organisation_id AND id = @id FOR UPDATE;

-- name: ListWebhookDeliveries :many
-- Newest first.
SELECT * FROM webhook_deliveries
WHERE organisation_id = @organisation_id AND endpoint_id = @endpoint_id
  AND (sqlc.narg(status)::text IS NULL OR status = sqlc.narg(status)::text)
  AND (sqlc.narg(before)::uuid IS NULL OR id < sqlc.narg(before)::uuid)
ORDER BY id DESC
LIMIT @row_limit;

-- name: ListWebhookAttempts :many
SELECT * FROM webhook_attempts
WHERE organisation_id = @organisation_id AND delivery_id = ANY(sqlc.arg(delivery_ids)::uuid[])
ORDER BY delivery_id, attempt;

-- name: InsertWebhookAttempt :exec
INSERT INTO webhook_attempts (organisation_id, delivery_id, attempt, attempted_at, status_code, error, latency_ms)
VALUES (@organisation_id, @delivery_id, @attempt, @attempted_at, @status_code, @error, @latency_ms);

-- name: RecordWebhookDelivery :one
UPDATE webhook_deliveries SET
    status = @status, attempts = @attempts, last_status_code = @last_status_code, last_error = @last_error,
    last_latency_ms = @last_latency_ms, last_attempt_at = @last_attempt_at, next_attempt_at = @next_attempt_at,
    delivered_at = CASE WHEN @status = 'succeeded' THEN @last_attempt_at ELSE delivered_at END
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: RequeueWebhookDelivery :one
UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now()
WHERE organisation_id = @organisation_id AND id = @id
RETURNING *;

-- name: SetWebhookEndpointHealth :exec
-- The delivery worker's bookkeeping on an endpoint it holds locked: the start of the
-- current run of failures, and the server disabling it after too long a run. @now,
-- not now(): Citus refuses a stable function next to a column in an UPDATE.
UPDATE webhook_endpoints SET
    failing_since = sqlc.narg(failing_since),
    enabled = @enabled,
    disabled_reason = sqlc.narg(disabled_reason),
    version = CASE WHEN @enabled::boolean = enabled THEN version ELSE version + 1 END,
    updated_at = CASE WHEN @enabled::boolean = enabled THEN updated_at ELSE @now::timestamptz END
WHERE organisation_id = @organisation_id AND id = @id;

-- name: CountWebhookEndpoints :one
-- The organisation's endpoints (after LockOrganisationQuota, see CountLiveAPIKeys).
SELECT count(*) FROM webhook_endpoints WHERE organisation_id = @organisation_id;

-- name: PendingDeliveries :one
-- How many of the organisation's deliveries are pending, counting no further
-- than row_limit (webhook_deliveries_pending): the fan-out's measure of how far
-- behind the organisation's webhooks are.
SELECT count(*) FROM (
    SELECT 1 FROM webhook_deliveries
    WHERE organisation_id = @organisation_id AND status = 'pending'
    LIMIT @row_limit
) p;
