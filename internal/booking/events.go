package booking

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Event types.
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
)

// Event is a domain event, written to the outbox in the transaction of the change.
// Data is the resource as the API returns it.
type Event struct {
	Type string
	Data any
}

func insertEvent(ctx context.Context, q *db.Queries, sc scope.Scope, commandID string, e Event) error {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", e.Type, err)
	}
	var cmd *string
	if commandID != "" {
		cmd = &commandID
	}
	if err := q.InsertEvent(ctx, db.InsertEventParams{
		OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()), Type: e.Type, CommandID: cmd, Data: data,
	}); err != nil {
		return fmt.Errorf("write %s event: %w", e.Type, err)
	}
	return nil
}
