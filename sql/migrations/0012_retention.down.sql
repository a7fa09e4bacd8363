REVOKE DELETE ON platform_commands FROM vacancy_app;
ALTER TABLE event_positions DROP COLUMN purged_through;
DROP INDEX platform_commands_created;
DROP INDEX webhook_deliveries_event;
DROP INDEX commands_retention;
CREATE INDEX commands_started ON commands (started_at);
