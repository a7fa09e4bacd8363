-- name: TakeEventPositions :one
-- Takes the organisation's next feed positions (taken of them) and returns the last of
-- them. The organisation's row stays locked until the transaction ends, so its
-- next writer waits: positions are gap-free, and a reader never sees position
-- n+1 committed before n (see docs/scaling.md, "The event feed's order").
INSERT INTO event_positions (organisation_id, last_position)
VALUES (@organisation_id, sqlc.arg(taken)::bigint)
ON CONFLICT (organisation_id) DO UPDATE SET last_position = event_positions.last_position + EXCLUDED.last_position
RETURNING last_position;

-- name: InsertEvents :batchone
-- One statement per event, all sent in one round trip.
INSERT INTO events (organisation_id, position, id, type, command_id, data)
VALUES (@organisation_id, @position, @id, @type, @command_id, @data)
RETURNING seq;

-- name: NotifyEvents :exec
-- Wakes the live streams of the organisation on every server instance, at commit.
-- Sent by the application in the command's transaction, so on Citus it runs on
-- the coordinator the instances listen to (a trigger would fire on the worker).
-- Touches no table: a named exception in sqlc.yaml.
SELECT pg_notify('vacancy_events', sqlc.arg(organisation_id)::uuid::text);

-- name: ListEvents :many
-- The feed, in position order. Positions are committed in order (see
-- TakeEventPositions), so a reader that resumes after the last position it saw
-- never skips an event.
SELECT e.seq, e.position, e.id, e.type, e.occurred_at, e.command_id, e.data
FROM events e
WHERE e.organisation_id = @organisation_id
  AND e.position > sqlc.arg(after_position)::bigint
  AND (cardinality(sqlc.arg(types)::text[]) = 0 OR e.type = ANY(sqlc.arg(types)::text[]))
ORDER BY e.position
LIMIT @row_limit;

-- name: EventFeedTail :one
-- The position of the newest event: where a live stream without a resume
-- position starts.
SELECT coalesce(max(e.position), 0)::bigint AS position
FROM events e
WHERE e.organisation_id = @organisation_id;

-- name: EventPositionBySeq :one
-- Translates a cursor issued before migration 0011 (which named an event by its
-- seq) into the event's position.
SELECT position FROM events WHERE organisation_id = @organisation_id AND seq = @seq;

-- name: GetEventBySeq :one
SELECT seq, id, type, occurred_at, command_id, data
FROM events
WHERE organisation_id = @organisation_id AND seq = @seq;
