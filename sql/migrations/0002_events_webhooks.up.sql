-- Events, webhooks and the hold-expiry sweep: webhook endpoints with their
-- deliveries and delivery attempts, a NOTIFY on every new event (a wake-up for
-- live streams on every server instance; the content stays in the events table),
-- and the pre-tenant view the sweep reads due holds through.
--
-- River's own tables (the job queue) are not created here: `api migrate up` runs
-- River's migrations after these and grants vacancy_app what River needs.

CREATE TABLE webhook_endpoints (
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    id              uuid NOT NULL,
    url             text NOT NULL,
    description     text NOT NULL DEFAULT '',
    -- The event types delivered to the endpoint; '*' means every type.
    event_types     text[] NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    -- The signing secret. It must stay readable to sign deliveries, so it is
    -- stored as is (unlike API keys, which are stored hashed).
    secret          text NOT NULL,
    version         integer NOT NULL DEFAULT 1,
    -- Start of the current unbroken run of failed attempts; NULL after a success.
    failing_since   timestamptz,
    -- Why the endpoint was disabled by the server ('failing'); NULL when an
    -- admin disabled it or it is enabled.
    disabled_reason text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, id),
    CONSTRAINT webhook_endpoints_event_types CHECK (cardinality(event_types) >= 1),
    CONSTRAINT webhook_endpoints_url_length CHECK (length(url) BETWEEN 1 AND 2048)
);

-- One event to one endpoint. Delivered by a River job enqueued in the transaction
-- that wrote the event.
CREATE TABLE webhook_deliveries (
    organisation_id  uuid NOT NULL,
    id               uuid NOT NULL,
    endpoint_id      uuid NOT NULL,
    event_seq        bigint NOT NULL,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    status           text NOT NULL DEFAULT 'pending',
    attempts         integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text,
    last_latency_ms  integer,
    last_attempt_at  timestamptz,
    next_attempt_at  timestamptz,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, id),
    FOREIGN KEY (organisation_id, endpoint_id) REFERENCES webhook_endpoints (organisation_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organisation_id, event_seq) REFERENCES events (organisation_id, seq),
    CONSTRAINT webhook_deliveries_status_valid CHECK (status IN ('pending', 'succeeded', 'failed'))
);

CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (organisation_id, endpoint_id, id);

-- The delivery log: one row per HTTP attempt.
CREATE TABLE webhook_attempts (
    organisation_id uuid NOT NULL,
    delivery_id     uuid NOT NULL,
    attempt         integer NOT NULL,
    attempted_at    timestamptz NOT NULL,
    status_code     integer,
    error           text,
    latency_ms      integer NOT NULL,
    PRIMARY KEY (organisation_id, delivery_id, attempt),
    FOREIGN KEY (organisation_id, delivery_id) REFERENCES webhook_deliveries (organisation_id, id) ON DELETE CASCADE
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_endpoints', 'webhook_deliveries', 'webhook_attempts'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (organisation_id = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid))
            WITH CHECK (organisation_id = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid))$p$, t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints, webhook_deliveries, webhook_attempts TO vacancy_app;

-- Live streams: every new event wakes the listening server instances, which read
-- the events table for the content. The payload is the organisation id only;
-- PostgreSQL folds identical notifications of one transaction into one and
-- delivers them at commit.
CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vacancy_events', NEW.organisation_id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_notify();

-- Pre-tenant read for the hold-expiry sweep: which unpaid holds are past their
-- deadline, across organisations. Like api_key_credentials, the view runs with its
-- owner's rights and exposes only what the sweep needs; each hold is then expired
-- in its own organisation's scoped transaction.
CREATE VIEW due_holds AS
SELECT organisation_id, id AS booking_id, expires_at
FROM bookings
WHERE status = 'unpaid' AND expires_at <= now();

GRANT SELECT ON due_holds TO vacancy_app;
