-- Calendar sync (iCalendar): feeds that export an item's (or a unit's) occupancy
-- under a secret token, imports that mirror another channel's feed as external
-- blocks, and the conflicts sync has reported (once each).

CREATE TABLE ical_feeds (
    organisation_id     uuid NOT NULL REFERENCES organisations (id),
    id                  uuid NOT NULL,
    item_id             uuid NOT NULL,
    unit_id             uuid,
    name                text NOT NULL DEFAULT '',
    include_guest_names boolean NOT NULL DEFAULT false,
    -- SHA-256 of the token; the token itself is shown once, at creation.
    token_hash          bytea NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at          timestamptz,
    PRIMARY KEY (organisation_id, id),
    FOREIGN KEY (organisation_id, item_id) REFERENCES items (organisation_id, id),
    FOREIGN KEY (organisation_id, unit_id) REFERENCES units (organisation_id, id),
    CONSTRAINT ical_feeds_token_hash UNIQUE (token_hash),
    CONSTRAINT ical_feeds_token_hash_length CHECK (length(token_hash) = 32)
);

CREATE INDEX ical_feeds_item ON ical_feeds (organisation_id, item_id, id);

-- The feed lookup runs before any organisation is known (GET /ical/{token}.ics
-- has no API key): this view exposes only what finds the feed's organisation.
CREATE VIEW ical_feed_tokens AS
SELECT organisation_id, id, token_hash FROM ical_feeds WHERE revoked_at IS NULL;

CREATE TABLE calendar_imports (
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    id              uuid NOT NULL,
    item_id         uuid NOT NULL,
    unit_id         uuid,
    name            text NOT NULL,
    url             text NOT NULL,
    -- The validators of the last feed fetched, for a conditional GET.
    etag            text,
    last_modified   text,
    last_synced_at  timestamptz,
    last_status     text,
    last_error      text,
    events_imported integer NOT NULL DEFAULT 0,
    conflicts       integer NOT NULL DEFAULT 0,
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, id),
    FOREIGN KEY (organisation_id, item_id) REFERENCES items (organisation_id, id),
    FOREIGN KEY (organisation_id, unit_id) REFERENCES units (organisation_id, id),
    CONSTRAINT calendar_imports_status_valid CHECK (last_status IN ('ok', 'not_modified', 'error')),
    CONSTRAINT calendar_imports_url_length CHECK (length(url) BETWEEN 1 AND 2048)
);

CREATE INDEX calendar_imports_item ON calendar_imports (organisation_id, item_id, id);

-- The periodic sync finds every import across organisations through this view,
-- then syncs each in its organisation's scoped transaction.
CREATE VIEW calendar_imports_due AS
SELECT organisation_id, id, last_synced_at FROM calendar_imports;

-- An external block mirrors an event of an import; the import's blocks go with it.
ALTER TABLE blocks
    ADD CONSTRAINT blocks_source_import FOREIGN KEY (organisation_id, source_import_id)
        REFERENCES calendar_imports (organisation_id, id);

-- What sync has reported as a calendar.conflict: an incoming event the database
-- refused because active bookings hold those nights. One row (and one event) per
-- import, UID and date range, however often the feed repeats it.
CREATE TABLE calendar_conflicts (
    organisation_id uuid NOT NULL,
    import_id       uuid NOT NULL,
    uid             text NOT NULL,
    start_date      date NOT NULL,
    end_date        date NOT NULL,
    booking_ids     uuid[] NOT NULL,
    reported_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, import_id, uid, start_date, end_date),
    FOREIGN KEY (organisation_id, import_id) REFERENCES calendar_imports (organisation_id, id) ON DELETE CASCADE
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['ical_feeds', 'calendar_imports', 'calendar_conflicts'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (organisation_id = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid))
            WITH CHECK (organisation_id = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid))$p$, t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON ical_feeds, calendar_imports, calendar_conflicts TO vacancy_app;
GRANT SELECT ON ical_feed_tokens, calendar_imports_due TO vacancy_app;
