-- Test data reset: everything of a sandbox organisation but the organisation
-- itself and its API keys, children before parents.

-- name: ResetCalendarConflicts :exec
DELETE FROM calendar_conflicts WHERE organisation_id = @organisation_id;

-- name: ResetICalFeeds :exec
DELETE FROM ical_feeds WHERE organisation_id = @organisation_id;

-- name: ResetOccupancies :exec
DELETE FROM occupancies WHERE organisation_id = @organisation_id;

-- name: ResetBlocks :exec
DELETE FROM blocks WHERE organisation_id = @organisation_id;

-- name: ResetBookingItemAddons :exec
DELETE FROM booking_item_addons WHERE organisation_id = @organisation_id;

-- name: ResetBookingItems :exec
DELETE FROM booking_items WHERE organisation_id = @organisation_id;

-- name: ResetBookings :exec
DELETE FROM bookings WHERE organisation_id = @organisation_id;

-- name: ResetCalendarImports :exec
DELETE FROM calendar_imports WHERE organisation_id = @organisation_id;

-- name: ResetRateRules :exec
DELETE FROM rate_rules WHERE organisation_id = @organisation_id;

-- name: ResetCharges :exec
DELETE FROM charges WHERE organisation_id = @organisation_id;

-- name: ResetUnits :exec
DELETE FROM units WHERE organisation_id = @organisation_id;

-- name: ResetAddons :exec
DELETE FROM addons WHERE organisation_id = @organisation_id;

-- name: ResetItems :exec
DELETE FROM items WHERE organisation_id = @organisation_id;

-- name: ResetProperties :exec
DELETE FROM properties WHERE organisation_id = @organisation_id;

-- name: ResetWebhookAttempts :exec
DELETE FROM webhook_attempts WHERE organisation_id = @organisation_id;

-- name: ResetWebhookDeliveries :exec
DELETE FROM webhook_deliveries WHERE organisation_id = @organisation_id;

-- name: ResetWebhookEndpoints :exec
DELETE FROM webhook_endpoints WHERE organisation_id = @organisation_id;

-- name: ResetEvents :exec
DELETE FROM events WHERE organisation_id = @organisation_id;

-- name: ResetCommands :exec
-- Every recorded command but the reset itself, which is still running.
DELETE FROM commands WHERE organisation_id = @organisation_id AND NOT (actor_id = @actor_id AND id = @command_id);

-- name: ResetClock :exec
UPDATE organisations SET clock_offset = '0', updated_at = now()
WHERE organisations.id = @organisation_id AND NOT livemode;
