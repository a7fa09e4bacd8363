CREATE OR REPLACE VIEW due_holds AS
SELECT organisation_id, id AS booking_id, expires_at
FROM bookings
WHERE status = 'unpaid' AND expires_at <= now();
DROP INDEX organisations_slug_live;
-- Fails while sandboxes exist (they share slugs): reset and delete them first.
ALTER TABLE organisations ADD CONSTRAINT organisations_slug_key UNIQUE (slug);
ALTER TABLE organisations DROP CONSTRAINT organisations_one_sandbox, DROP CONSTRAINT organisations_clock_forward,
    DROP CONSTRAINT organisations_clock_live, DROP CONSTRAINT organisations_sandbox,
    DROP COLUMN clock_offset, DROP COLUMN live_organisation_id, DROP COLUMN livemode;
