DROP VIEW IF EXISTS due_holds;
DROP TRIGGER IF EXISTS events_notify ON events;
DROP FUNCTION IF EXISTS events_notify();
DROP TABLE IF EXISTS webhook_attempts, webhook_deliveries, webhook_endpoints;
