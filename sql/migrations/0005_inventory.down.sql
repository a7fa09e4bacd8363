DROP TABLE occupancies;
DROP TABLE blocks;
-- Back to one unit per item: this fails if a pooled item has overlapping stays.
ALTER TABLE booking_items DROP CONSTRAINT booking_items_quantity, DROP COLUMN quantity,
    ADD CONSTRAINT booking_items_no_overlap EXCLUDE USING gist (
        organisation_id WITH =, item_id WITH =, date_range WITH &&
    ) WHERE (status IN ('unpaid', 'paid', 'complete'));
CREATE INDEX booking_items_active_by_item ON booking_items (organisation_id, item_id)
    INCLUDE (date_range, status, hold_expires_at, booking_id)
    WHERE status IN ('unpaid', 'paid', 'complete');
DROP TABLE units;
ALTER TABLE items DROP CONSTRAINT items_property, DROP CONSTRAINT items_unit_count,
    DROP COLUMN property_id, DROP COLUMN unit_count;
DROP TABLE properties;
