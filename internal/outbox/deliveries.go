package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// WebhookDelivery is one event's delivery to one endpoint, with its attempts.
type WebhookDelivery struct {
	ID             uuid.UUID         `json:"id"`
	EndpointID     uuid.UUID         `json:"endpoint_id"`
	EventID        uuid.UUID         `json:"event_id"`
	EventType      string            `json:"event_type"`
	Status         string            `json:"status"`
	Attempts       int32             `json:"attempts"`
	LastStatusCode *int32            `json:"last_status_code"`
	LastError      *string           `json:"last_error"`
	LastLatencyMs  *int32            `json:"last_latency_ms"`
	LastAttemptAt  *time.Time        `json:"last_attempt_at"`
	NextAttemptAt  *time.Time        `json:"next_attempt_at"`
	DeliveredAt    *time.Time        `json:"delivered_at"`
	CreatedAt      time.Time         `json:"created_at"`
	AttemptLog     []DeliveryAttempt `json:"attempt_log"`
}

// DeliveryAttempt is one HTTP attempt of a delivery.
type DeliveryAttempt struct {
	Attempt     int32     `json:"attempt"`
	AttemptedAt time.Time `json:"attempted_at"`
	StatusCode  *int32    `json:"status_code"`
	Error       *string   `json:"error"`
	LatencyMs   int32     `json:"latency_ms"`
}

// withAttempts assembles deliveries with their attempt logs (one query for all).
func withAttempts(ctx context.Context, q *db.Queries, sc scope.Scope, rows []db.WebhookDelivery) ([]WebhookDelivery, error) {
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	attempts, err := q.ListWebhookAttempts(ctx, db.ListWebhookAttemptsParams{OrganisationID: sc.OrganisationID, DeliveryIds: ids})
	if err != nil {
		return nil, fmt.Errorf("load delivery attempts: %w", err)
	}
	byDelivery := map[uuid.UUID][]DeliveryAttempt{}
	for _, a := range attempts {
		byDelivery[a.DeliveryID] = append(byDelivery[a.DeliveryID], DeliveryAttempt{Attempt: a.Attempt,
			AttemptedAt: a.AttemptedAt, StatusCode: a.StatusCode, Error: a.Error, LatencyMs: a.LatencyMs})
	}
	out := make([]WebhookDelivery, len(rows))
	for i, r := range rows {
		log := byDelivery[r.ID]
		if log == nil {
			log = []DeliveryAttempt{}
		}
		out[i] = WebhookDelivery{ID: r.ID, EndpointID: r.EndpointID, EventID: r.EventID, EventType: r.EventType,
			Status: r.Status, Attempts: r.Attempts, LastStatusCode: r.LastStatusCode, LastError: r.LastError,
			LastLatencyMs: r.LastLatencyMs, LastAttemptAt: r.LastAttemptAt, NextAttemptAt: r.NextAttemptAt,
			DeliveredAt: r.DeliveredAt, CreatedAt: r.CreatedAt, AttemptLog: log}
	}
	return out, nil
}

// NewDeliveryStatus validates a delivery list's status filter ("" for all).
func NewDeliveryStatus(status string) (*string, error) {
	switch status {
	case "":
		return nil, nil
	case DeliveryPending, DeliverySucceeded, DeliveryFailed:
		return &status, nil
	}
	return nil, domain.Invalid("status", "invalid", "status must be pending, succeeded or failed")
}

// ListWebhookDeliveries lists an endpoint's deliveries, newest first.
func (s *Outbox) ListWebhookDeliveries(ctx context.Context, sc scope.Scope, endpointID uuid.UUID, status *string, page domain.Page) (domain.List[WebhookDelivery], error) {
	if err := domain.Authorize(sc, domain.OpReadWebhooks); err != nil {
		return domain.List[WebhookDelivery]{}, err
	}
	var out domain.List[WebhookDelivery]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		if _, err := getEndpoint(ctx, q, sc, endpointID); err != nil {
			return err
		}
		rows, err := q.ListWebhookDeliveries(ctx, db.ListWebhookDeliveriesParams{OrganisationID: sc.OrganisationID,
			EndpointID: endpointID, Status: status, Before: page.Cursor, RowLimit: page.Limit + 1})
		if err != nil {
			return fmt.Errorf("list webhook deliveries: %w", err)
		}
		ds, err := withAttempts(ctx, q, sc, rows)
		if err != nil {
			return err
		}
		out = domain.Paginate(ds, page, func(d WebhookDelivery) (WebhookDelivery, uuid.UUID) { return d, d.ID })
		return nil
	})
	return out, err
}

// RetryWebhookDelivery sends a delivery again now: one that failed for good, or
// one that succeeded and the receiver wants again. A delivery whose retries are
// still scheduled is left to them.
type RetryWebhookDelivery struct {
	command.Meta `json:"-"`
	EndpointID   uuid.UUID `json:"endpoint_id"`
	DeliveryID   uuid.UUID `json:"delivery_id"`
}

// RetryWebhookDelivery handles RetryWebhookDelivery: the delivery becomes pending
// and its job is enqueued in the same transaction.
func (s *Outbox) RetryWebhookDelivery(ctx context.Context, sc scope.Scope, cmd RetryWebhookDelivery) (WebhookDelivery, command.Receipt, error) {
	return command.RunJobs(ctx, s.exec, sc, cmd.Meta, domain.OpRetryWebhookDelivery, cmd, func(q *db.Queries, enqueue scope.Enqueue) (WebhookDelivery, []domain.Event, error) {
		ep, err := getEndpoint(ctx, q, sc, cmd.EndpointID)
		if err != nil {
			return WebhookDelivery{}, nil, err
		}
		d, err := q.GetWebhookDeliveryForUpdate(ctx, db.GetWebhookDeliveryForUpdateParams{OrganisationID: sc.OrganisationID, ID: cmd.DeliveryID})
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && d.EndpointID != ep.ID) {
			return WebhookDelivery{}, nil, domain.NotFound("webhook delivery")
		}
		if err != nil {
			return WebhookDelivery{}, nil, fmt.Errorf("load webhook delivery: %w", err)
		}
		if !ep.Enabled {
			return WebhookDelivery{}, nil, domain.Conflict(CodeEndpointDisabled, "the endpoint is disabled; enable it first")
		}
		if d.Status == DeliveryPending {
			msg := "the delivery already has an attempt scheduled"
			if d.NextAttemptAt != nil {
				msg += " at " + d.NextAttemptAt.UTC().Format(time.RFC3339)
			}
			return WebhookDelivery{}, nil, domain.Conflict(CodeDeliveryPending, "%s", msg)
		}
		row, err := q.RequeueWebhookDelivery(ctx, db.RequeueWebhookDeliveryParams{OrganisationID: sc.OrganisationID, ID: d.ID})
		if err != nil {
			return WebhookDelivery{}, nil, fmt.Errorf("requeue webhook delivery: %w", err)
		}
		if err := enqueue(ctx, DeliveryJob{OrganisationID: sc.OrganisationID, DeliveryID: d.ID}); err != nil {
			return WebhookDelivery{}, nil, err
		}
		out, err := withAttempts(ctx, q, sc, []db.WebhookDelivery{row})
		if err != nil {
			return WebhookDelivery{}, nil, err
		}
		return out[0], nil, nil
	})
}
