-- Retention (internal/retention): each statement deletes at most a batch, so its
-- transaction stays short and writers never wait long behind it. Rows are taken
-- oldest first from an index of the organisation's own, and the age test is applied
-- to that batch, so a run that finds nothing old reads one batch, not the table.

-- name: RetentionOrganisations :many
-- Pre-tenant (see sqlc.yaml): the organisations retention visits, by id.
SELECT retention_organisations(@after::uuid, @row_limit::integer)::uuid AS id;

-- name: PurgeCommands :execrows
-- Idempotency records started before the cutoff (commands_retention).
DELETE FROM commands c
WHERE c.organisation_id = @organisation_id AND (c.actor_id, c.id) IN (
    SELECT o.actor_id, o.id FROM commands o
    WHERE o.organisation_id = @organisation_id AND o.started_at < @cutoff
    ORDER BY o.started_at
    LIMIT @batch);

-- name: PurgeDeliveries :execrows
-- Settled deliveries made before the cutoff, oldest events first
-- (webhook_deliveries_event); their attempts go with them (ON DELETE CASCADE).
WITH oldest AS (
    SELECT w.id AS old_id, (w.created_at < @cutoff AND w.status <> 'pending') AS expired
    FROM webhook_deliveries w
    WHERE w.organisation_id = @organisation_id
    ORDER BY w.event_seq
    LIMIT @batch
)
DELETE FROM webhook_deliveries d
WHERE d.organisation_id = @organisation_id AND d.id IN (
    SELECT old_id FROM oldest WHERE expired);

-- name: PurgeEvents :one
-- Events that occurred before the cutoff, oldest first, except those a delivery
-- still refers to; the organisation's event_positions row remembers the highest
-- position deleted, so that a cursor from before it is refused rather than
-- silently skipping what is gone. Both tables are the organisation's own
-- (colocated on Citus).
WITH oldest AS (
    SELECT v.seq AS old_seq, v.occurred_at < @cutoff AS expired FROM events v
    WHERE v.organisation_id = @organisation_id
    ORDER BY v.position
    LIMIT @batch
), gone AS (
    DELETE FROM events e
    WHERE e.organisation_id = @organisation_id
      AND e.seq IN (SELECT old_seq FROM oldest WHERE expired)
      AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries d
          WHERE d.organisation_id = @organisation_id AND d.event_seq = e.seq)
    RETURNING e.position
), marked AS (
    UPDATE event_positions SET purged_through = (SELECT max(g.position) FROM gone g)
    WHERE event_positions.organisation_id = @organisation_id AND EXISTS (SELECT 1 FROM gone)
      AND purged_through < (SELECT max(g.position) FROM gone g)
)
SELECT count(*) FROM gone;

-- name: EventsPurgedThrough :one
-- The highest event position retention has deleted (0: none).
SELECT coalesce(max(purged_through), 0)::bigint AS purged_through
FROM event_positions WHERE event_positions.organisation_id = @organisation_id;

-- name: PurgePlatformCommands :execrows
-- Pre-tenant (see sqlc.yaml): the platform operator's idempotency records made
-- before the cutoff; not tenant data.
DELETE FROM platform_commands
WHERE id IN (
    SELECT p.id FROM platform_commands p
    WHERE p.created_at < @cutoff
    ORDER BY p.created_at
    LIMIT @batch);
