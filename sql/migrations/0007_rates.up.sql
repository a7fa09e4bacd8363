-- Rates: prices and stay rules by date (rate rules), per-item guest pricing,
-- length-of-stay discounts, booking windows, and taxes and fees (charges). A
-- booked stay keeps the breakdown it was priced with, so later rate changes
-- never change a booking.

-- The item's own fields stay the defaults of every night; these are the rest of
-- its price list. rates_version counts changes to the item's rate rules: it is
-- the ETag of GET/PUT /items/{id}/rates, apart from the item's own version.
ALTER TABLE items
    ADD COLUMN base_guests       integer NOT NULL DEFAULT 1,
    ADD COLUMN extra_guest_price bigint NOT NULL DEFAULT 0,
    ADD COLUMN min_lead_hours    integer NOT NULL DEFAULT 0,
    ADD COLUMN max_advance_days  integer,
    -- [{"min_nights": 7, "percent": 10}, ...]: the highest percent whose
    -- min_nights the stay reaches applies.
    ADD COLUMN discounts         jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN rates_version     integer NOT NULL DEFAULT 1,
    ADD CONSTRAINT items_base_guests CHECK (base_guests BETWEEN 1 AND capacity),
    ADD CONSTRAINT items_extra_guest_price CHECK (extra_guest_price >= 0),
    ADD CONSTRAINT items_min_lead_hours CHECK (min_lead_hours BETWEEN 0 AND 8784),
    ADD CONSTRAINT items_max_advance_days CHECK (max_advance_days BETWEEN 0 AND 1096),
    ADD CONSTRAINT items_discounts_array CHECK (jsonb_typeof(discounts) = 'array');

-- A rate rule sets some of an item's fields for the nights of [start_date,
-- end_date) that fall on days (ISO day numbers, 1 = Monday; NULL: every day). Where rules
-- overlap, the one created last (the greatest id: ids are UUIDv7) wins for each
-- field it sets; a NULL field is not set.
CREATE TABLE rate_rules (
    organisation_id     uuid NOT NULL,
    id                  uuid NOT NULL,
    item_id             uuid NOT NULL,
    start_date          date NOT NULL,
    end_date            date NOT NULL,
    days                smallint[],
    nightly_price       bigint,
    min_nights          integer,
    max_nights          integer,
    closed_to_arrival   boolean,
    closed_to_departure boolean,
    closed              boolean,
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, id),
    FOREIGN KEY (organisation_id, item_id) REFERENCES items (organisation_id, id),
    CONSTRAINT rate_rules_dates CHECK (start_date < end_date),
    CONSTRAINT rate_rules_days CHECK (days IS NULL OR (cardinality(days) BETWEEN 1 AND 7 AND days <@ '{1,2,3,4,5,6,7}'::smallint[])),
    CONSTRAINT rate_rules_price CHECK (nightly_price >= 0),
    CONSTRAINT rate_rules_nights CHECK (min_nights BETWEEN 1 AND 365 AND max_nights BETWEEN 1 AND 365
                                        AND (min_nights IS NULL OR max_nights IS NULL OR min_nights <= max_nights)),
    CONSTRAINT rate_rules_sets_something CHECK (num_nonnulls(nightly_price, min_nights, max_nights, closed_to_arrival,
                                                             closed_to_departure, closed) > 0)
);

-- Pricing reads an item's rules once per night of a stay: a B-tree on the item
-- carrying every column the lookup reads makes it an index-only scan of the
-- item's few rules, newest first.
CREATE INDEX rate_rules_item ON rate_rules (organisation_id, item_id, id)
    INCLUDE (start_date, end_date, days, nightly_price, min_nights, max_nights, closed_to_arrival, closed_to_departure, closed);

-- Taxes and fees of an organisation, for every item or the items listed. A
-- charge is a percent (in hundredths of a percent: 1350 is 13.5 %) of the
-- stay's room and add-on amounts after discounts, or an amount per stay, night
-- or guest-night. An inclusive charge is already in the prices and is shown for
-- information; an exclusive one is added. A taxable fee is part of what percent
-- taxes are taken of.
CREATE TABLE charges (
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    id              uuid NOT NULL,
    name            text NOT NULL,
    kind            text NOT NULL,
    percent_bp      integer,
    amount          bigint,
    per             text NOT NULL DEFAULT 'stay',
    inclusive       boolean NOT NULL DEFAULT false,
    taxable         boolean NOT NULL DEFAULT false,
    item_ids        uuid[],
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, id),
    CONSTRAINT charges_kind_valid CHECK (kind IN ('tax', 'fee')),
    CONSTRAINT charges_per_valid CHECK (per IN ('stay', 'night', 'guest_night')),
    CONSTRAINT charges_one_amount CHECK ((percent_bp IS NULL) <> (amount IS NULL)),
    CONSTRAINT charges_percent_range CHECK (percent_bp IS NULL OR (percent_bp BETWEEN 1 AND 10000 AND per = 'stay')),
    CONSTRAINT charges_amount_range CHECK (amount >= 0),
    CONSTRAINT charges_taxable_fee CHECK (NOT taxable OR kind = 'fee'),
    CONSTRAINT charges_name_length CHECK (length(name) BETWEEN 1 AND 200)
);

-- A booked stay's price as it was made: guests, the extra-guest amount, the
-- discount, and (breakdown) each night's price and rule, the fees and the taxes.
-- A NULL breakdown is a stay booked before rates: every night at nightly_price,
-- no charges.
ALTER TABLE booking_items
    ADD COLUMN guests             integer NOT NULL DEFAULT 1,
    ADD COLUMN extra_guests_total bigint NOT NULL DEFAULT 0,
    ADD COLUMN discount           bigint NOT NULL DEFAULT 0,
    ADD COLUMN breakdown          jsonb,
    ADD CONSTRAINT booking_items_guests CHECK (guests BETWEEN 1 AND 10000);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['rate_rules', 'charges'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (organisation_id = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid))
            WITH CHECK (organisation_id = (SELECT NULLIF(current_setting('app.organisation_id', true), '')::uuid))$p$, t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON rate_rules, charges TO vacancy_app;
