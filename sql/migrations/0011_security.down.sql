-- Back to the views, the xid feed order and the NOTIFY trigger, with row level
-- security enabled but not forced. Plain PostgreSQL only: a distributed schema
-- cannot take the trigger back. Cursors issued since 0011 stop working.
DROP FUNCTION retention_organisations(uuid, integer);
DROP FUNCTION due_calendar_imports(integer);
DROP INDEX ical_feeds_by_token;
ALTER TABLE ical_feeds DROP CONSTRAINT ical_feeds_token_hash,
    ADD CONSTRAINT ical_feeds_token_hash UNIQUE (token_hash);
DROP FUNCTION ical_feed_by_token(bytea);
DROP FUNCTION due_holds(integer);
DROP FUNCTION api_key_credential(text);
DROP POLICY pretenant_read ON calendar_imports;
DROP POLICY pretenant_read ON ical_feeds;
DROP POLICY pretenant_read ON bookings;
DROP POLICY pretenant_read ON organisations;
DROP POLICY pretenant_read ON api_keys;
-- Also revokes the column privileges. The role is cluster-wide and may serve
-- other databases: it is left in place.
REVOKE ALL ON api_keys, organisations, bookings, ical_feeds, calendar_imports FROM vacancy_pretenant;

DO $$
DECLARE
    t record;
    col text;
BEGIN
    FOR t IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind = 'r' AND c.relrowsecurity LOOP
        col := CASE WHEN t.relname = 'organisations' THEN 'id' ELSE 'organisation_id' END;
        IF EXISTS (SELECT FROM pg_policies WHERE schemaname = current_schema() AND tablename = t.relname
                                               AND policyname = 'tenant_isolation') THEN
            EXECUTE format($p$ALTER POLICY tenant_isolation ON %1$I
                USING (%2$I = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid))
                WITH CHECK (%2$I = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid))$p$, t.relname, col);
        END IF;
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t.relname);
    END LOOP;
END
$$;

CREATE VIEW api_key_credentials AS
SELECT k.id, k.organisation_id, k.prefix, k.role, k.secret_hash, k.revoked_at,
       o.slug AS organisation_slug
FROM api_keys k
JOIN organisations o ON o.id = k.organisation_id;
GRANT SELECT ON api_key_credentials TO vacancy_app;

CREATE VIEW due_holds AS
SELECT b.organisation_id, b.id AS booking_id, b.expires_at
FROM bookings b
JOIN organisations o ON o.id = b.organisation_id
WHERE b.status = 'unpaid' AND b.expires_at <= now() + o.clock_offset;
GRANT SELECT ON due_holds TO vacancy_app;

CREATE VIEW ical_feed_tokens AS
SELECT organisation_id, id, token_hash FROM ical_feeds WHERE revoked_at IS NULL;
CREATE VIEW calendar_imports_due AS
SELECT organisation_id, id, last_synced_at FROM calendar_imports;
GRANT SELECT ON ical_feed_tokens, calendar_imports_due TO vacancy_app;

DROP TABLE event_positions;
REVOKE USAGE ON SEQUENCE events_seq_seq FROM vacancy_app;

-- Positions become stand-in transaction ids: per organisation they keep the
-- feed's order, and they are far below any running transaction's.
ALTER TABLE events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
UPDATE events SET xid = position::text::xid8;
CREATE INDEX events_feed ON events (organisation_id, xid, seq);
ALTER TABLE events DROP COLUMN position;

CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vacancy_events', NEW.organisation_id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_notify();
