DROP VIEW IF EXISTS api_key_credentials;
DROP TABLE IF EXISTS events, commands, booking_item_addons, booking_items, bookings, addons, items, api_keys, organisations;
-- The vacancy_app role is cluster-wide and may serve other databases: it is left in place.
