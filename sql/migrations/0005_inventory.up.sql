-- Inventory: properties, units of items, blocks, and one exclusion constraint over
-- every unit's occupancy (a booking's stay on a unit, or a block). The constraint
-- moves from the item to the unit: two active occupancies of one unit can never
-- overlap, whatever the application does.

CREATE TABLE properties (
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    id              uuid NOT NULL,
    name            text NOT NULL,
    address_lines   text[] NOT NULL DEFAULT '{}',
    city            text NOT NULL DEFAULT '',
    country_code    text,
    timezone        text NOT NULL,
    status          text NOT NULL DEFAULT 'active',
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, id),
    CONSTRAINT properties_status_valid CHECK (status IN ('active', 'archived')),
    CONSTRAINT properties_country_code CHECK (country_code ~ '^[A-Z]{2}$')
);

ALTER TABLE items
    ADD COLUMN property_id uuid,
    -- The number of active units, kept by the commands that change units, in
    -- their transaction (under the item's row lock).
    ADD COLUMN unit_count integer NOT NULL DEFAULT 1,
    ADD CONSTRAINT items_property FOREIGN KEY (organisation_id, property_id) REFERENCES properties (organisation_id, id),
    ADD CONSTRAINT items_unit_count CHECK (unit_count BETWEEN 0 AND 1000);

CREATE INDEX items_property ON items (organisation_id, property_id) WHERE property_id IS NOT NULL;

CREATE TABLE units (
    organisation_id uuid NOT NULL,
    id              uuid NOT NULL,
    item_id         uuid NOT NULL,
    name            text NOT NULL,
    status          text NOT NULL DEFAULT 'active',
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, id),
    FOREIGN KEY (organisation_id, item_id) REFERENCES items (organisation_id, id),
    CONSTRAINT units_name_unique UNIQUE (organisation_id, item_id, name),
    CONSTRAINT units_status_valid CHECK (status IN ('active', 'archived')),
    CONSTRAINT units_name_length CHECK (length(name) BETWEEN 1 AND 100)
);

CREATE INDEX units_active ON units (organisation_id, item_id) INCLUDE (name) WHERE status = 'active';

ALTER TABLE booking_items
    ADD COLUMN quantity integer NOT NULL DEFAULT 1,
    ADD CONSTRAINT booking_items_quantity CHECK (quantity BETWEEN 1 AND 1000),
    DROP CONSTRAINT booking_items_no_overlap;

DROP INDEX booking_items_active_by_item;

CREATE TABLE blocks (
    organisation_id  uuid NOT NULL,
    id               uuid NOT NULL,
    item_id          uuid NOT NULL,
    unit_id          uuid NOT NULL,
    date_range       daterange NOT NULL,
    kind             text NOT NULL,
    reason           text NOT NULL DEFAULT '',
    -- Where an external block came from (calendar sync): the import and the
    -- event's UID. NULL for blocks made through the API.
    source_import_id uuid,
    source_uid       text,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, id),
    FOREIGN KEY (organisation_id, item_id) REFERENCES items (organisation_id, id),
    FOREIGN KEY (organisation_id, unit_id) REFERENCES units (organisation_id, id),
    CONSTRAINT blocks_kind_valid CHECK (kind IN ('maintenance', 'owner', 'external')),
    CONSTRAINT blocks_range_finite CHECK (NOT isempty(date_range) AND NOT lower_inf(date_range) AND NOT upper_inf(date_range)),
    CONSTRAINT blocks_range_length CHECK (upper(date_range) - lower(date_range) <= 366),
    CONSTRAINT blocks_source UNIQUE (organisation_id, source_import_id, source_uid)
);

CREATE INDEX blocks_item ON blocks (organisation_id, item_id, id);

-- What occupies a unit for a range of nights: one row per unit of a booking's
-- stay, or a block. status mirrors the booking's (unpaid, paid, complete,
-- cancelled, expired) or is 'blocked'; an unpaid hold past hold_expires_at does
-- not count as occupying, whether or not the sweep has recorded its expiry.
CREATE TABLE occupancies (
    organisation_id uuid NOT NULL,
    id              uuid NOT NULL,
    unit_id         uuid NOT NULL,
    item_id         uuid NOT NULL,
    date_range      daterange NOT NULL,
    booking_id      uuid,
    booking_item_id uuid,
    block_id        uuid,
    status          text NOT NULL,
    hold_expires_at timestamptz,
    PRIMARY KEY (organisation_id, id),
    FOREIGN KEY (organisation_id, unit_id) REFERENCES units (organisation_id, id),
    FOREIGN KEY (organisation_id, booking_item_id) REFERENCES booking_items (organisation_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organisation_id, block_id) REFERENCES blocks (organisation_id, id) ON DELETE CASCADE,
    CONSTRAINT occupancies_one_source CHECK ((booking_item_id IS NULL) <> (block_id IS NULL)
                                             AND (booking_item_id IS NULL) = (booking_id IS NULL)),
    CONSTRAINT occupancies_status_valid CHECK (status IN ('unpaid', 'paid', 'complete', 'cancelled', 'expired', 'blocked')),
    CONSTRAINT occupancies_range_finite CHECK (NOT isempty(date_range) AND NOT lower_inf(date_range) AND NOT upper_inf(date_range)),
    -- The final arbiter against double booking: two active occupancies of one unit
    -- never overlap. The tenant id leads, as Citus requires of a distributed table.
    CONSTRAINT occupancies_no_overlap EXCLUDE USING gist (
        organisation_id WITH =,
        unit_id WITH =,
        date_range WITH &&
    ) WHERE (status IN ('unpaid', 'paid', 'complete', 'blocked'))
);

-- A unit's active occupancies in a leaf page or two, index-only (see 0003 on why
-- a B-tree beats the GiST index under row level security).
CREATE INDEX occupancies_active_by_unit ON occupancies (organisation_id, unit_id)
    INCLUDE (date_range, status, hold_expires_at, booking_id)
    WHERE status IN ('unpaid', 'paid', 'complete', 'blocked');
CREATE INDEX occupancies_active_by_item ON occupancies (organisation_id, item_id)
    INCLUDE (unit_id, date_range, status, hold_expires_at)
    WHERE status IN ('unpaid', 'paid', 'complete', 'blocked');
CREATE INDEX occupancies_booking ON occupancies (organisation_id, booking_id) WHERE booking_id IS NOT NULL;
CREATE INDEX occupancies_booking_item ON occupancies (organisation_id, booking_item_id) WHERE booking_item_id IS NOT NULL;
CREATE INDEX occupancies_block ON occupancies (organisation_id, block_id) WHERE block_id IS NOT NULL;

-- Every existing item becomes a one-unit item, and every existing stay occupies
-- that unit: the item-level constraint held, so the unit-level one does.
INSERT INTO units (organisation_id, id, item_id, name, created_at, updated_at)
SELECT organisation_id, gen_random_uuid(), id, '1', created_at, created_at FROM items;

INSERT INTO occupancies (organisation_id, id, unit_id, item_id, date_range, booking_id, booking_item_id, status, hold_expires_at)
SELECT bi.organisation_id, gen_random_uuid(), u.id, bi.item_id, bi.date_range, bi.booking_id, bi.id, bi.status, bi.hold_expires_at
FROM booking_items bi
JOIN units u ON u.organisation_id = bi.organisation_id AND u.item_id = bi.item_id;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['properties', 'units', 'blocks', 'occupancies'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (organisation_id = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid))
            WITH CHECK (organisation_id = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid))$p$, t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON properties, units, blocks, occupancies TO vacancy_app;
