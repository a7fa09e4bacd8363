package domain

// Event types, as the feed, the live stream and webhooks name them.
const (
	EventBookingCreated   = "booking.created"
	EventBookingUpdated   = "booking.updated"
	EventBookingConfirmed = "booking.confirmed"
	EventBookingCancelled = "booking.cancelled"
	EventBookingCompleted = "booking.completed"
	EventBookingExpired   = "booking.expired"
	EventItemCreated      = "item.created"
	EventItemUpdated      = "item.updated"
	EventItemArchived     = "item.archived"
	EventBlockCreated     = "block.created"
	EventBlockUpdated     = "block.updated"
	EventBlockDeleted     = "block.deleted"
	EventCalendarConflict = "calendar.conflict"
	EventRatesChanged     = "rates.changed"
	EventChargesChanged   = "charges.changed"
)

// EventTypes lists every event type, in the order the API documents them.
var EventTypes = []string{
	EventBookingCreated, EventBookingUpdated, EventBookingConfirmed, EventBookingCancelled,
	EventBookingCompleted, EventBookingExpired, EventItemCreated, EventItemUpdated, EventItemArchived,
	EventBlockCreated, EventBlockUpdated, EventBlockDeleted,
	EventCalendarConflict,
	EventRatesChanged, EventChargesChanged,
}

// Event is a domain event, written to the outbox in the transaction of the change.
// Data is the resource as the API returns it.
type Event struct {
	Type string
	Data any
}
