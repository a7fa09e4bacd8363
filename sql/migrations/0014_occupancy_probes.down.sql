DROP INDEX occupancies_active_by_unit;
CREATE INDEX occupancies_active_by_unit ON occupancies (organisation_id, unit_id)
    INCLUDE (date_range, status, hold_expires_at, booking_id)
    WHERE status IN ('unpaid', 'paid', 'complete', 'blocked');
DROP INDEX occupancies_active_by_item;
CREATE INDEX occupancies_active_by_item ON occupancies (organisation_id, item_id)
    INCLUDE (unit_id, date_range, status, hold_expires_at)
    WHERE status IN ('unpaid', 'paid', 'complete', 'blocked');
