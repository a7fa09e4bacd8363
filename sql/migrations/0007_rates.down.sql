ALTER TABLE booking_items DROP CONSTRAINT booking_items_guests,
    DROP COLUMN guests, DROP COLUMN extra_guests_total, DROP COLUMN discount, DROP COLUMN breakdown;
DROP TABLE charges;
DROP TABLE rate_rules;
ALTER TABLE items
    DROP CONSTRAINT items_base_guests, DROP CONSTRAINT items_extra_guest_price, DROP CONSTRAINT items_min_lead_hours,
    DROP CONSTRAINT items_max_advance_days, DROP CONSTRAINT items_discounts_array,
    DROP COLUMN base_guests, DROP COLUMN extra_guest_price, DROP COLUMN min_lead_hours, DROP COLUMN max_advance_days,
    DROP COLUMN discounts, DROP COLUMN rates_version;
