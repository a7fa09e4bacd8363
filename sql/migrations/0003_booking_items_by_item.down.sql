DROP INDEX IF EXISTS booking_items_active_by_item;
