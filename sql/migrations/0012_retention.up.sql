-- Retention (docs/operations.md#retention): a periodic job deletes idempotency
-- records, events, and webhook deliveries with their attempts once they are older
-- than their windows, a bounded batch per statement, organisation by organisation.

-- commands_started was maintained on every command and read by nothing; retention
-- reads one organisation's oldest commands.
DROP INDEX commands_started;
CREATE INDEX commands_retention ON commands (organisation_id, started_at);

-- One organisation's deliveries in event order: retention reads the oldest, and
-- deleting an event checks its deliveries (the foreign key) through it instead of
-- scanning them all.
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (organisation_id, event_seq);

CREATE INDEX platform_commands_created ON platform_commands (created_at);

-- The highest event position retention has deleted: a feed cursor below it would
-- skip events that are gone, so it is refused (410 cursor_expired). Kept beside
-- the last position given out: the organisation's own row, colocated with its
-- events on Citus.
ALTER TABLE event_positions ADD COLUMN purged_through bigint NOT NULL DEFAULT 0;

-- The platform operator's idempotency records expire too.
GRANT DELETE ON platform_commands TO vacancy_app;
