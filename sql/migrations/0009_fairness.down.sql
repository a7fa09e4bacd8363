DROP INDEX webhook_deliveries_pending;
ALTER ROLE vacancy_app RESET statement_timeout;
DROP INDEX booking_items_by_property;
DROP INDEX booking_items_by_stay;
DROP INDEX booking_items_by_item;
ALTER TABLE booking_items DROP COLUMN property_id, DROP COLUMN stay_class, DROP COLUMN check_out, DROP COLUMN check_in;
