-- Row level security that holds on its own, and a schema Citus can distribute.
--
-- 1. Every table with row level security is FORCEd: its owner is subject to the
--    policies too, so a connection that never took on vacancy_app (a pooler that
--    lost the SET ROLE, a RESET ROLE, a login as the owner) still sees no
--    organisation but the one its transaction names. Superusers and BYPASSRLS
--    roles still bypass every policy: the server refuses to run as either.
-- 2. The policies compare with the setting directly, without a subquery: Citus
--    refuses subqueries in policies of distributed tables, and current_setting is
--    stable, so the comparison is still an index condition.
-- 3. The pre-tenant reads (API-key lookup, hold-expiry sweep, iCalendar feed
--    by token, calendar imports due for sync) move from views,
--    which ran with their owner's rights and so stop working once the owner is
--    subject to RLS, into SECURITY DEFINER functions owned by vacancy_pretenant, a
--    NOLOGIN role that owns nothing else and may only read, through policies of
--    its own, the columns those functions return. Nobody is a member of it. (On
--    Citus it must be able to log in on the workers, as vacancy_app must:
--    docs/scaling.md.)
-- 4. Events get a per-organisation position, assigned under a per-organisation
--    row lock in event_positions, instead of the writing transaction's xid
--    (node-local on Citus); live-stream wake-ups are sent by the application
--    (pg_notify in the command's transaction on the session's node) instead of a
--    trigger, which on Citus fires on the worker that holds the shard.
--
-- Not expand-only: the views and the xid column go. Stop the instances of the
-- previous release before migrating (docs/operations.md).

-- The roles. An existing vacancy_app may be NOLOGIN (the server's login role
-- takes it on) or LOGIN (the server logs in as it), but never SUPERUSER or
-- BYPASSRLS: row level security would not apply to it.
DO $$
DECLARE
    r record;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vacancy_pretenant') THEN
        CREATE ROLE vacancy_pretenant NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    FOR r IN SELECT rolname, rolsuper, rolbypassrls FROM pg_roles
             WHERE rolname IN ('vacancy_app', 'vacancy_pretenant') LOOP
        IF r.rolsuper OR r.rolbypassrls THEN
            RAISE EXCEPTION 'role % is %: row level security would not apply to it', r.rolname,
                CASE WHEN r.rolsuper THEN 'SUPERUSER' ELSE 'BYPASSRLS' END
                USING HINT = format('ALTER ROLE %I NOSUPERUSER NOBYPASSRLS, then run the migrations again', r.rolname);
        END IF;
    END LOOP;
    IF pg_has_role('vacancy_app', 'vacancy_pretenant', 'USAGE') THEN
        RAISE EXCEPTION 'role vacancy_app is a member of vacancy_pretenant: it would read every organisation''s keys'
            USING HINT = 'REVOKE vacancy_pretenant FROM vacancy_app, then run the migrations again';
    END IF;
END
$$;

-- Events: a position per organisation, 1, 2, 3, ... in commit order. Existing
-- events keep the order the feed gave them (writing transaction, then seq).
ALTER TABLE events ADD COLUMN position bigint;
UPDATE events e SET position = r.position
FROM (SELECT organisation_id, seq, row_number() OVER (PARTITION BY organisation_id ORDER BY xid, seq) AS position
      FROM events) r
WHERE e.organisation_id = r.organisation_id AND e.seq = r.seq;
ALTER TABLE events ALTER COLUMN position SET NOT NULL,
    ADD CONSTRAINT events_position_positive CHECK (position >= 1),
    ADD CONSTRAINT events_position_key UNIQUE (organisation_id, position);
DROP INDEX events_feed;
ALTER TABLE events DROP COLUMN xid;
DROP TRIGGER events_notify ON events;
DROP FUNCTION events_notify();

-- The last position given out per organisation. A command's transaction takes
-- its positions by updating this row, and holds the row's lock until it ends:
-- the next writer of the organisation waits, so positions are gap-free and
-- become visible in order (a reader never sees position n+1 before n).
CREATE TABLE event_positions (
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    last_position   bigint NOT NULL,
    PRIMARY KEY (organisation_id),
    CONSTRAINT event_positions_nonnegative CHECK (last_position >= 0)
);

INSERT INTO event_positions (organisation_id, last_position)
SELECT organisation_id, max(position) FROM events GROUP BY organisation_id;

ALTER TABLE event_positions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON event_positions
    USING (organisation_id = NULLIF(current_setting('app.organisation_id', true), '')::uuid)
    WITH CHECK (organisation_id = NULLIF(current_setting('app.organisation_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE ON event_positions TO vacancy_app;
-- Citus draws identity values on the coordinator with nextval, which checks the
-- sequence's privileges (PostgreSQL alone does not).
GRANT USAGE ON SEQUENCE events_seq_seq TO vacancy_app;

-- Every policy without a subquery, and every table with row level security
-- forced. The loop covers tables of later migrations too, as long as they name
-- their policy tenant_isolation and key it on organisation_id (organisations: id).
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
                USING (%2$I = NULLIF(current_setting('app.organisation_id', true), '')::uuid)
                WITH CHECK (%2$I = NULLIF(current_setting('app.organisation_id', true), '')::uuid)$p$, t.relname, col);
        END IF;
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.relname);
    END LOOP;
END
$$;

-- A feed token's hash was unique across organisations by constraint; Citus can
-- enforce uniqueness only together with the distribution column. It stays unique
-- per organisation by constraint, and across organisations by the token's 128
-- random bits; a plain index serves the lookup by token (on Citus, one probe per
-- shard).
ALTER TABLE ical_feeds DROP CONSTRAINT ical_feeds_token_hash,
    ADD CONSTRAINT ical_feeds_token_hash UNIQUE (organisation_id, token_hash);
CREATE INDEX ical_feeds_by_token ON ical_feeds (token_hash);

-- The pre-tenant reads. vacancy_pretenant reads only these columns, through
-- policies that apply to it alone (every other role still needs the tenant
-- setting), and only SELECT.
DROP VIEW api_key_credentials;
DROP VIEW due_holds;
DROP VIEW ical_feed_tokens;
DROP VIEW calendar_imports_due;

GRANT SELECT (organisation_id, id, prefix, role, secret_hash, revoked_at) ON api_keys TO vacancy_pretenant;
GRANT SELECT (id, slug, clock_offset) ON organisations TO vacancy_pretenant;
GRANT SELECT (organisation_id, id, status, expires_at) ON bookings TO vacancy_pretenant;
GRANT SELECT (organisation_id, id, token_hash, revoked_at) ON ical_feeds TO vacancy_pretenant;
GRANT SELECT (organisation_id, id, last_synced_at) ON calendar_imports TO vacancy_pretenant;
CREATE POLICY pretenant_read ON api_keys FOR SELECT TO vacancy_pretenant USING (true);
CREATE POLICY pretenant_read ON organisations FOR SELECT TO vacancy_pretenant USING (true);
CREATE POLICY pretenant_read ON bookings FOR SELECT TO vacancy_pretenant USING (status = 'unpaid');
CREATE POLICY pretenant_read ON ical_feeds FOR SELECT TO vacancy_pretenant USING (revoked_at IS NULL);
CREATE POLICY pretenant_read ON calendar_imports FOR SELECT TO vacancy_pretenant USING (true);

-- Authentication: the key with this public prefix, and its organisation's slug.
-- One row at most (prefixes are unique); nothing about any other key. PL/pgSQL
-- rather than SQL: Citus cannot plan a SQL function's parameters into a
-- distributed query.
CREATE FUNCTION api_key_credential(key_prefix text)
RETURNS TABLE (id uuid, organisation_id uuid, role text, secret_hash bytea, revoked_at timestamptz, organisation_slug text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT k.id, k.organisation_id, k.role, k.secret_hash, k.revoked_at, o.slug
    FROM api_keys k
    JOIN organisations o ON o.id = k.organisation_id
    WHERE k.prefix = key_prefix;
END
$$;

-- The hold-expiry sweep: unpaid holds past their deadline, across
-- organisations, oldest deadline first, at most 1000 per call. Each is then
-- expired in its organisation's scoped transaction.
CREATE FUNCTION due_holds(row_limit integer)
RETURNS TABLE (organisation_id uuid, booking_id uuid)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT b.organisation_id, b.id
    FROM bookings b
    JOIN organisations o ON o.id = b.organisation_id
    -- A sandbox's clock may run ahead of the database's (test mode).
    WHERE b.status = 'unpaid' AND b.expires_at <= now() + o.clock_offset
    ORDER BY b.expires_at
    LIMIT least(greatest(row_limit, 0), 1000);
END
$$;

-- GET /ical/{token}.ics carries no API key: the live feed whose token has this
-- hash, its organisation and id only. The feed is then read in its
-- organisation's scoped transaction.
CREATE FUNCTION ical_feed_by_token(hash bytea)
RETURNS TABLE (organisation_id uuid, id uuid)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT f.organisation_id, f.id FROM ical_feeds f
    WHERE f.token_hash = hash AND f.revoked_at IS NULL;
END
$$;

-- The periodic calendar sync: imports across organisations, least recently
-- synced first, ids only, at most 1000 per call. Each is then synced in its
-- organisation's scoped transaction.
CREATE FUNCTION due_calendar_imports(row_limit integer)
RETURNS TABLE (organisation_id uuid, id uuid)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT c.organisation_id, c.id FROM calendar_imports c
    ORDER BY c.last_synced_at NULLS FIRST, c.id
    LIMIT least(greatest(row_limit, 0), 1000);
END
$$;

-- Retention (migration 0012, docs/operations.md#retention) visits every
-- organisation, a page of ids at a time, and deletes in each one's scoped
-- transaction.
CREATE FUNCTION retention_organisations(after uuid, n integer)
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT o.id FROM organisations o WHERE o.id > after ORDER BY o.id LIMIT least(greatest(n, 0), 1000);
END
$$;

REVOKE ALL ON FUNCTION api_key_credential(text), due_holds(integer), ical_feed_by_token(bytea),
    due_calendar_imports(integer), retention_organisations(uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api_key_credential(text), due_holds(integer), ical_feed_by_token(bytea),
    due_calendar_imports(integer), retention_organisations(uuid, integer) TO vacancy_app;

-- Hand the functions to vacancy_pretenant. A role that is not a superuser may
-- do so only if it may SET ROLE to the new owner, which must be allowed to
-- create in the schema: both are granted for this step and taken back, so the
-- migrating role (the tables' owner) never reads with vacancy_pretenant's
-- rights. PostgreSQL 16 and later grant the SET option alone (the role that
-- created vacancy_pretenant already holds ADMIN, without SET or INHERIT); 15
-- has no options, and CREATEROLE lets the migrating role grant any role.
DO $$
DECLARE
    super boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
BEGIN
    IF NOT super THEN
        EXECUTE format('GRANT CREATE ON SCHEMA %I TO vacancy_pretenant', current_schema());
        IF current_setting('server_version_num')::int >= 160000 THEN
            EXECUTE format('GRANT vacancy_pretenant TO %I WITH SET TRUE, INHERIT FALSE', current_user);
        ELSE
            EXECUTE format('GRANT vacancy_pretenant TO %I', current_user);
        END IF;
    END IF;
    ALTER FUNCTION api_key_credential(text) OWNER TO vacancy_pretenant;
    ALTER FUNCTION due_holds(integer) OWNER TO vacancy_pretenant;
    ALTER FUNCTION ical_feed_by_token(bytea) OWNER TO vacancy_pretenant;
    ALTER FUNCTION due_calendar_imports(integer) OWNER TO vacancy_pretenant;
    ALTER FUNCTION retention_organisations(uuid, integer) OWNER TO vacancy_pretenant;
    IF NOT super THEN
        EXECUTE format('REVOKE vacancy_pretenant FROM %I', current_user);
        EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM vacancy_pretenant', current_schema());
    END IF;
END
$$;
