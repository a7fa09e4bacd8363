-- Fairness between tenants, and data that does not grow forever (issue 13).
--
-- 1. Every booking list filter is index-backed. A booking's stays carry, beside
--    their date range, what the list filters on as plain columns compared with
--    leakproof operators: under row level security PostgreSQL may only use a
--    condition as an index condition when its operator is leakproof (see 0003),
--    and neither range overlap (&&) nor a function of a column such as
--    lower(date_range) is. The statuses a client filters on are compared on
--    bookings_status and the stays' mirrored status.
-- 2. statement_timeout for the application role: a runaway statement dies on the
--    server even when the client's cancel request is lost.
-- 3. Retention: indexes for the periodic deletion of old commands, events and
--    webhook deliveries, the feed's horizon (the newest deleted event of each
--    organisation: an older cursor answers 410 cursor_expired), and the
--    pre-tenant listing of organisations the job walks.
-- 4. Webhooks: a pending-delivery index (the fan-out asks how far behind an
--    organisation is), and the previous signing secret during a rotation.

-- 1. List filters.
ALTER TABLE booking_items
    ADD COLUMN check_in date GENERATED ALWAYS AS (lower(date_range)) STORED,
    ADD COLUMN check_out date GENERATED ALWAYS AS (upper(date_range)) STORED,
    -- ceil(log2(nights)): a stay of class c has at most 2^c nights, so the stays
    -- overlapping [from, to) of class c start in [from - 2^c + 1, to). Searching
    -- each class in its own range reads about twice the stays that overlap,
    -- however long the longest stay is.
    ADD COLUMN stay_class smallint GENERATED ALWAYS AS (floor(log(2, (2 * nights - 1)::numeric))::smallint) STORED,
    -- The property of the stay's item, as the application writes it.
    ADD COLUMN property_id uuid;

UPDATE booking_items bi SET property_id = i.property_id
FROM items i
WHERE i.organisation_id = bi.organisation_id AND i.id = bi.item_id AND i.property_id IS NOT NULL;

-- A booking's stays of one item, newest booking first.
CREATE INDEX booking_items_by_item ON booking_items (organisation_id, item_id, booking_id)
    INCLUDE (check_in, check_out, status, hold_expires_at, property_id);
-- Stays by length class and first night.
CREATE INDEX booking_items_by_stay ON booking_items (organisation_id, stay_class, check_in)
    INCLUDE (check_out, booking_id, status, hold_expires_at, property_id);
-- A property's stays, newest booking first.
CREATE INDEX booking_items_by_property ON booking_items (organisation_id, property_id, booking_id)
    INCLUDE (status, hold_expires_at)
    WHERE property_id IS NOT NULL;

-- The stay's property follows its item's: the application writes it with the
-- stay and moves it with the item (MoveItemStays), in the same command. Not a
-- trigger: Citus does not distribute tables with triggers.

-- 2. A statement of the application that runs longer than this is cancelled by
-- the server itself. Role settings apply at login only, not on SET ROLE, so the
-- server's pool applies this role's statement_timeout (and lock_timeout and
-- idle_in_transaction_session_timeout, if an operator sets them) to every
-- connection after its SET ROLE (internal/scope). Changing it needs the ADMIN
-- option on vacancy_app (its creator has it); without it the migration warns
-- and a database administrator runs the statement instead.
DO $$
BEGIN
    ALTER ROLE vacancy_app SET statement_timeout = '30s';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'cannot set vacancy_app''s statement_timeout (%); as an administrator run: ALTER ROLE vacancy_app SET statement_timeout = ''30s''', SQLERRM;
END
$$;

-- 4. Webhooks. The fan-out counts an organisation's pending deliveries (up to a
-- bound) to tell an organisation that keeps up from one that is far behind.
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (organisation_id) WHERE status = 'pending';
