-- Test mode: every organisation may have a sandbox twin, a separate organisation
-- row with the same slug whose id is a UUIDv8 derived from the live one (so the
-- distribution key stays organisation_id, and everything tenancy enforces keeps
-- live and test data apart). A sandbox's clock can be moved forward.
ALTER TABLE organisations
    ADD COLUMN livemode boolean NOT NULL DEFAULT true,
    ADD COLUMN live_organisation_id uuid REFERENCES organisations (id),
    -- How far the sandbox's clock runs ahead of the database's; always 0 when live.
    ADD COLUMN clock_offset interval NOT NULL DEFAULT '0',
    ADD CONSTRAINT organisations_sandbox CHECK (livemode = (live_organisation_id IS NULL)),
    ADD CONSTRAINT organisations_clock_live CHECK (NOT livemode OR clock_offset = '0'),
    ADD CONSTRAINT organisations_clock_forward CHECK (clock_offset >= '0'),
    ADD CONSTRAINT organisations_one_sandbox UNIQUE (live_organisation_id);

-- A sandbox shares its live organisation's slug: slugs are unique among live ones.
ALTER TABLE organisations DROP CONSTRAINT organisations_slug_key;
CREATE UNIQUE INDEX organisations_slug_live ON organisations (slug) WHERE livemode;

-- The sweep expires holds by each organisation's clock (a sandbox's may run ahead).
CREATE OR REPLACE VIEW due_holds AS
SELECT b.organisation_id, b.id AS booking_id, b.expires_at
FROM bookings b
JOIN organisations o ON o.id = b.organisation_id
WHERE b.status = 'unpaid' AND b.expires_at <= now() + o.clock_offset;
