-- Vacancy's first schema: organisations (the tenants), their API keys, the catalogue
-- (items and add-ons), bookings with their items and add-ons, the command log that
-- backs idempotency, and the event outbox.
--
-- Every tenant table carries organisation_id and has it first in its primary key and in
-- every foreign key, so the schema stays distributable by organisation_id (Citus-style).
-- Row level security is enabled on every tenant table; the application runs as the
-- vacancy_app role, which owns nothing and does not bypass RLS.

CREATE EXTENSION IF NOT EXISTS btree_gist;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vacancy_app') THEN
        CREATE ROLE vacancy_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    -- The login role that runs the migrations (and the server) must be able to
    -- SET ROLE vacancy_app on each pooled connection.
    IF NOT pg_has_role(current_user, 'vacancy_app', 'MEMBER') THEN
        EXECUTE format('GRANT vacancy_app TO %I', current_user);
    END IF;
END
$$;

CREATE TABLE organisations (
    id           uuid PRIMARY KEY,
    slug         text NOT NULL,
    name         text NOT NULL,
    currency     text NOT NULL,
    timezone     text NOT NULL,
    hold_minutes integer NOT NULL DEFAULT 30,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organisations_slug_key UNIQUE (slug),
    CONSTRAINT organisations_slug_format CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT organisations_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT organisations_hold_minutes_range CHECK (hold_minutes BETWEEN 1 AND 10080)
);

CREATE TABLE api_keys (
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    id              uuid NOT NULL,
    name            text NOT NULL,
    role            text NOT NULL,
    prefix          text NOT NULL,
    secret_hash     bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz,
    PRIMARY KEY (organisation_id, id),
    CONSTRAINT api_keys_prefix_key UNIQUE (prefix),
    CONSTRAINT api_keys_role_valid CHECK (role IN ('admin', 'write', 'read')),
    CONSTRAINT api_keys_hash_length CHECK (octet_length(secret_hash) = 32)
);

CREATE TABLE items (
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    id              uuid NOT NULL,
    name            text NOT NULL,
    description     text NOT NULL DEFAULT '',
    capacity        integer NOT NULL,
    nightly_price   bigint NOT NULL,
    min_nights      integer NOT NULL DEFAULT 1,
    max_nights      integer NOT NULL DEFAULT 365,
    status          text NOT NULL DEFAULT 'active',
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, id),
    CONSTRAINT items_status_valid CHECK (status IN ('active', 'archived')),
    CONSTRAINT items_capacity_range CHECK (capacity BETWEEN 1 AND 10000),
    CONSTRAINT items_price_range CHECK (nightly_price >= 0),
    CONSTRAINT items_nights_range CHECK (min_nights >= 1 AND max_nights >= min_nights AND max_nights <= 365)
);

-- Availability scans the active items of one organisation.
CREATE INDEX items_active ON items (organisation_id, capacity) WHERE status = 'active';

CREATE TABLE addons (
    organisation_id uuid NOT NULL,
    id              uuid NOT NULL,
    item_id         uuid NOT NULL,
    name            text NOT NULL,
    price           bigint NOT NULL,
    per             text NOT NULL,
    max_quantity    integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    archived_at     timestamptz,
    PRIMARY KEY (organisation_id, id),
    FOREIGN KEY (organisation_id, item_id) REFERENCES items (organisation_id, id),
    CONSTRAINT addons_per_valid CHECK (per IN ('booking', 'night')),
    CONSTRAINT addons_price_range CHECK (price >= 0),
    CONSTRAINT addons_quantity_range CHECK (max_quantity BETWEEN 1 AND 1000)
);

CREATE INDEX addons_item ON addons (organisation_id, item_id);

CREATE TABLE bookings (
    organisation_id   uuid NOT NULL REFERENCES organisations (id),
    id                uuid NOT NULL,
    status            text NOT NULL,
    guest_name        text NOT NULL,
    guest_email       text NOT NULL,
    guest_phone       text,
    notes             text NOT NULL DEFAULT '',
    currency          text NOT NULL,
    total             bigint NOT NULL,
    expires_at        timestamptz NOT NULL,
    payment_reference text,
    cancel_reason     text,
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    confirmed_at      timestamptz,
    cancelled_at      timestamptz,
    completed_at      timestamptz,
    expired_at        timestamptz,
    PRIMARY KEY (organisation_id, id),
    CONSTRAINT bookings_status_valid CHECK (status IN ('unpaid', 'paid', 'cancelled', 'expired', 'complete')),
    CONSTRAINT bookings_total_range CHECK (total >= 0)
);

-- The hold-expiry sweep looks for unpaid bookings past their deadline.
CREATE INDEX bookings_unpaid_expiry ON bookings (expires_at) WHERE status = 'unpaid';
CREATE INDEX bookings_status ON bookings (organisation_id, status, id);

CREATE TABLE booking_items (
    organisation_id uuid NOT NULL,
    id              uuid NOT NULL,
    booking_id      uuid NOT NULL,
    position        integer NOT NULL,
    item_id         uuid NOT NULL,
    date_range      daterange NOT NULL,
    nights          integer NOT NULL,
    nightly_price   bigint NOT NULL,
    room_total      bigint NOT NULL,
    addons_total    bigint NOT NULL,
    total           bigint NOT NULL,
    -- Denormalised from bookings so the exclusion constraint and the availability
    -- query need no join: status mirrors bookings.status, hold_expires_at mirrors
    -- bookings.expires_at (an unpaid hold past it no longer blocks the dates).
    status          text NOT NULL,
    hold_expires_at timestamptz NOT NULL,
    PRIMARY KEY (organisation_id, id),
    FOREIGN KEY (organisation_id, booking_id) REFERENCES bookings (organisation_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organisation_id, item_id) REFERENCES items (organisation_id, id),
    CONSTRAINT booking_items_status_valid CHECK (status IN ('unpaid', 'paid', 'cancelled', 'expired', 'complete')),
    CONSTRAINT booking_items_range_finite CHECK (NOT isempty(date_range) AND NOT lower_inf(date_range) AND NOT upper_inf(date_range)),
    CONSTRAINT booking_items_nights CHECK (nights = upper(date_range) - lower(date_range)),
    -- The final arbiter against double booking: two active booking items of one item
    -- can never overlap, whatever the application does.
    CONSTRAINT booking_items_no_overlap EXCLUDE USING gist (
        organisation_id WITH =,
        item_id WITH =,
        date_range WITH &&
    ) WHERE (status IN ('unpaid', 'paid', 'complete'))
);

CREATE INDEX booking_items_booking ON booking_items (organisation_id, booking_id, position);

CREATE TABLE booking_item_addons (
    organisation_id uuid NOT NULL,
    booking_item_id uuid NOT NULL,
    addon_id        uuid NOT NULL,
    name            text NOT NULL,
    per             text NOT NULL,
    unit_price      bigint NOT NULL,
    quantity        integer NOT NULL,
    total           bigint NOT NULL,
    PRIMARY KEY (organisation_id, booking_item_id, addon_id),
    FOREIGN KEY (organisation_id, booking_item_id) REFERENCES booking_items (organisation_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organisation_id, addon_id) REFERENCES addons (organisation_id, id),
    CONSTRAINT booking_item_addons_quantity CHECK (quantity >= 1)
);

-- The command log: every handled command, keyed by the idempotency key of the API
-- key that issued it. A row is claimed ('running') before the command executes and
-- finished ('done') in the command's own transaction, so an acknowledged command is
-- recorded exactly when its effects are.
CREATE TABLE commands (
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    actor_id        uuid NOT NULL,
    id              text NOT NULL,
    type            text NOT NULL,
    fingerprint     bytea NOT NULL,
    state           text NOT NULL,
    claim           uuid NOT NULL,
    locked_until    timestamptz NOT NULL,
    outcome         text,
    result          jsonb,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    duration_ms     double precision,
    PRIMARY KEY (organisation_id, actor_id, id),
    CONSTRAINT commands_state_valid CHECK (state IN ('running', 'done')),
    CONSTRAINT commands_id_length CHECK (length(id) BETWEEN 1 AND 255)
);

CREATE INDEX commands_started ON commands (started_at);

-- The outbox: domain events written in the transaction of the change they describe.
-- xid is the writing transaction's id; readers only read below the oldest running
-- transaction so a late-committing writer is never skipped.
CREATE TABLE events (
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    xid             xid8 NOT NULL DEFAULT pg_current_xact_id(),
    id              uuid NOT NULL,
    type            text NOT NULL,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    command_id      text,
    data            jsonb NOT NULL,
    PRIMARY KEY (organisation_id, seq)
);

CREATE INDEX events_feed ON events (organisation_id, xid, seq);

-- Pre-tenant lookup for authentication: a key's prefix finds the key and its
-- organisation before any tenant is known. The view runs with its owner's rights
-- (the migrating role, which owns the tables and is not subject to their RLS), and
-- exposes only what authentication needs.
CREATE VIEW api_key_credentials AS
SELECT k.id, k.organisation_id, k.prefix, k.role, k.secret_hash, k.revoked_at,
       o.slug AS organisation_slug
FROM api_keys k
JOIN organisations o ON o.id = k.organisation_id;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_keys', 'items', 'addons', 'bookings', 'booking_items',
                             'booking_item_addons', 'commands', 'events'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (organisation_id = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid))
            WITH CHECK (organisation_id = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid))$p$, t);
    END LOOP;
END
$$;

ALTER TABLE organisations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organisations
    USING (id = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid))
    WITH CHECK (id = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid));

GRANT SELECT, INSERT, UPDATE, DELETE ON organisations, api_keys, items, addons, bookings,
    booking_items, booking_item_addons, commands, events TO vacancy_app;
GRANT SELECT ON api_key_credentials TO vacancy_app;
GRANT SELECT ON schema_migrations TO vacancy_app;

-- Unpaid holds are transient: a small partial index lets a new booking expire the
-- stale holds on its items cheaply before it inserts.
CREATE INDEX booking_items_unpaid ON booking_items (organisation_id, item_id, hold_expires_at) WHERE status = 'unpaid';
