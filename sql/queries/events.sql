-- name: InsertEvent :one
INSERT INTO events (organisation_id, id, type, command_id, data)
VALUES (@organisation_id, @id, @type, @command_id, @data)
RETURNING seq;

-- name: ListEvents :many
-- The feed, in (xid, seq) order. Only events of transactions that ended before the
-- oldest still-running transaction began (xid below the snapshot's xmin) are read:
-- every transaction that could still add an event with a smaller position is over,
-- so a reader that resumes after the last position it saw never skips an event that
-- committed late. xid8 travels as bigint (it counts transactions from 0 and never
-- reaches 2^63).
SELECT e.seq, e.xid::text::bigint AS xid, e.id, e.type, e.occurred_at, e.command_id, e.data
FROM events e
WHERE e.organisation_id = @organisation_id
  AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
  AND (e.xid, e.seq) > (sqlc.arg(after_xid)::bigint::text::xid8, sqlc.arg(after_seq)::bigint)
  AND (cardinality(sqlc.arg(types)::text[]) = 0 OR e.type = ANY(sqlc.arg(types)::text[]))
ORDER BY e.xid, e.seq
LIMIT @row_limit;

-- name: EventsHeldBack :one
-- Whether committed events after the position wait behind a still-running older
-- transaction: the feed holds them back until it ends.
SELECT EXISTS (
    SELECT 1 FROM events e
    WHERE e.organisation_id = @organisation_id
      AND e.xid >= pg_snapshot_xmin(pg_current_snapshot())
      AND (e.xid, e.seq) > (sqlc.arg(after_xid)::bigint::text::xid8, sqlc.arg(after_seq)::bigint)
)::boolean AS held;

-- name: EventFeedTail :one
-- The position of the newest event the feed can return now: where a live stream
-- without a resume position starts.
SELECT coalesce(max(e.xid::text::bigint), 0)::bigint AS xid, coalesce(max(e.seq), 0)::bigint AS seq
FROM (
    SELECT xid, seq FROM events
    WHERE organisation_id = @organisation_id
      AND xid < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY xid DESC, seq DESC
    LIMIT 1
) e;

-- name: GetEventBySeq :one
SELECT seq, id, type, occurred_at, command_id, data
FROM events
WHERE organisation_id = @organisation_id AND seq = @seq;
