-- Availability, quotes and new bookings ask, for one item at a time, whether an
-- active booking item overlaps a stay. Under row level security the range
-- overlap (&&) cannot be an index condition: it is not leakproof, so PostgreSQL
-- evaluates it only after the tenant policy, as a filter. The exclusion
-- constraint's GiST index was therefore probed by (organisation_id, item_id)
-- alone, which in a GiST tree visits many pages (about 30 per probe at a million
-- booking items). A B-tree finds an item's active stays in a leaf page or two,
-- and carries every column those queries read, so the probe is an index-only
-- scan.
CREATE INDEX booking_items_active_by_item ON booking_items (organisation_id, item_id)
    INCLUDE (date_range, status, hold_expires_at, booking_id)
    WHERE status IN ('unpaid', 'paid', 'complete');
