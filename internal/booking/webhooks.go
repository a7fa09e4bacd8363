package booking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

// Webhook conflict codes.
const (
	CodeDeliveryPending  = "delivery_pending"
	CodeEndpointDisabled = "endpoint_disabled"
)

// Delivery statuses: pending (an attempt is scheduled), succeeded (a 2xx answer),
// failed (attempts exhausted, or the endpoint was disabled).
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// AllEventTypes subscribes an endpoint to every event type, including ones added later.
const AllEventTypes = "*"

// DisabledForFailing is an endpoint's disabled_reason once the server has
// disabled it for failing without a break for too long.
const DisabledForFailing = "failing"

// WebhookEndpoint is a URL that receives the organisation's events.
type WebhookEndpoint struct {
	ID          uuid.UUID `json:"id"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	EventTypes  []string  `json:"event_types"`
	Enabled     bool      `json:"enabled"`
	// DisabledReason is "failing" when the server disabled the endpoint.
	DisabledReason *string `json:"disabled_reason"`
	// FailingSince is the first failed attempt of the current run of failures.
	FailingSince *time.Time `json:"failing_since"`
	// Secret signs deliveries; it is set only in the answer to the creation.
	Secret    string    `json:"secret,omitempty"`
	Version   int32     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func endpointFromRow(r db.WebhookEndpoint) WebhookEndpoint {
	return WebhookEndpoint{ID: r.ID, URL: r.Url, Description: r.Description, EventTypes: r.EventTypes,
		Enabled: r.Enabled, DisabledReason: r.DisabledReason, FailingSince: r.FailingSince, Version: r.Version,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// WebhookEndpointInput is the body of endpoint create (url required) and PATCH
// (all optional).
type WebhookEndpointInput struct {
	URL         *string  `json:"url"`
	Description *string  `json:"description"`
	EventTypes  []string `json:"event_types"`
	Enabled     *bool    `json:"enabled"`
}

// WebhookEndpointFields are an endpoint's editable fields after validation.
type WebhookEndpointFields struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"`
	Enabled     bool     `json:"enabled"`
}

// shapeOnly checks a URL's form; the server's policy (https only, public
// addresses) is applied by the Service, which knows it.
var shapeOnly = webhook.Policy{AllowHTTP: true}

func (f WebhookEndpointFields) apply(in WebhookEndpointInput, creating bool) (WebhookEndpointFields, error) {
	var p problems
	if in.URL != nil {
		f.URL = strings.TrimSpace(*in.URL)
		if _, err := shapeOnly.CheckSyntax(f.URL); err != nil {
			var ue *webhook.URLError
			errors.As(err, &ue)
			p.add("url", ue.Code, "%s", ue.Message)
		}
	} else if creating {
		p.add("url", "required", "url is required")
	}
	if in.Description != nil {
		f.Description = strings.TrimSpace(*in.Description)
		checkText(&p, "description", f.Description, 0, 500)
	}
	if in.EventTypes != nil {
		f.EventTypes = nil
		if len(in.EventTypes) == 0 {
			p.add("event_types", "required", "event_types needs at least one type, or \"*\" for all")
		}
		for i, t := range in.EventTypes {
			switch {
			case t == AllEventTypes:
				f.EventTypes = []string{AllEventTypes}
			case !slices.Contains(EventTypes, t):
				p.add(fmt.Sprintf("event_types[%d]", i), "invalid", "unknown event type %q; use %s or \"*\"", t, strings.Join(EventTypes, ", "))
			case !slices.Contains(f.EventTypes, AllEventTypes) && !slices.Contains(f.EventTypes, t):
				f.EventTypes = append(f.EventTypes, t)
			}
		}
		if slices.Contains(f.EventTypes, AllEventTypes) {
			f.EventTypes = []string{AllEventTypes}
		}
	}
	if in.Enabled != nil {
		f.Enabled = *in.Enabled
	}
	return f, p.err()
}

// CreateWebhookEndpoint registers an endpoint.
type CreateWebhookEndpoint struct {
	Meta `json:"-"`
	WebhookEndpointFields
}

// NewCreateWebhookEndpoint validates in. Defaults: every event type, enabled.
func NewCreateWebhookEndpoint(meta Meta, in WebhookEndpointInput) (CreateWebhookEndpoint, error) {
	f, err := WebhookEndpointFields{EventTypes: []string{AllEventTypes}, Enabled: true}.apply(in, true)
	return CreateWebhookEndpoint{Meta: meta, WebhookEndpointFields: f}, err
}

// checkURL applies the server's policy: scheme, and the addresses the host
// resolves to.
func (s *Service) checkURL(ctx context.Context, raw string) error {
	if _, err := s.webhooks.CheckURL(ctx, raw); err != nil {
		var ue *webhook.URLError
		if errors.As(err, &ue) {
			return Invalid("url", ue.Code, ue.Message)
		}
		return fmt.Errorf("check webhook url: %w", err)
	}
	return nil
}

// CreateWebhookEndpoint registers an endpoint; the answer carries the signing
// secret, shown this once (a replay of the request does not show it again).
func (s *Service) CreateWebhookEndpoint(ctx context.Context, sc scope.Scope, cmd CreateWebhookEndpoint) (WebhookEndpoint, Receipt, error) {
	if err := requireRole(sc, scope.RoleAdmin, "manage webhooks"); err != nil {
		return WebhookEndpoint{}, Receipt{}, err
	}
	if err := s.checkURL(ctx, cmd.URL); err != nil {
		return WebhookEndpoint{}, Receipt{}, err
	}
	var secret string
	ep, rc, err := execute(ctx, s, sc, cmd.Meta, "webhook_endpoint.create", cmd, func(q *db.Queries) (WebhookEndpoint, []Event, error) {
		sec := webhook.NewSecret()
		row, err := q.InsertWebhookEndpoint(ctx, db.InsertWebhookEndpointParams{OrganisationID: sc.OrganisationID,
			ID: uuid.Must(uuid.NewV7()), Url: cmd.URL, Description: cmd.Description, EventTypes: cmd.EventTypes,
			Enabled: cmd.Enabled, Secret: sec})
		if err != nil {
			return WebhookEndpoint{}, nil, fmt.Errorf("insert webhook endpoint: %w", err)
		}
		secret = sec
		return endpointFromRow(row), nil, nil
	})
	ep.Secret = secret
	return ep, rc, err
}

// UpdateWebhookEndpoint changes an endpoint (PATCH semantics). Enabling a disabled
// endpoint forgets its failure history.
type UpdateWebhookEndpoint struct {
	Meta       `json:"-"`
	EndpointID uuid.UUID            `json:"endpoint_id"`
	Input      WebhookEndpointInput `json:"input"`
}

// NewUpdateWebhookEndpoint checks what can be checked without the current endpoint.
func NewUpdateWebhookEndpoint(meta Meta, id uuid.UUID, in WebhookEndpointInput) (UpdateWebhookEndpoint, error) {
	cmd := UpdateWebhookEndpoint{Meta: meta, EndpointID: id, Input: in}
	if in.URL == nil && in.Description == nil && in.EventTypes == nil && in.Enabled == nil {
		return cmd, Invalid("", "empty", "nothing to change: send url, description, event_types or enabled")
	}
	_, err := WebhookEndpointFields{}.apply(in, false)
	return cmd, err
}

// UpdateWebhookEndpoint handles UpdateWebhookEndpoint.
func (s *Service) UpdateWebhookEndpoint(ctx context.Context, sc scope.Scope, cmd UpdateWebhookEndpoint) (WebhookEndpoint, Receipt, error) {
	if err := requireRole(sc, scope.RoleAdmin, "manage webhooks"); err != nil {
		return WebhookEndpoint{}, Receipt{}, err
	}
	if cmd.Input.URL != nil {
		if err := s.checkURL(ctx, strings.TrimSpace(*cmd.Input.URL)); err != nil {
			return WebhookEndpoint{}, Receipt{}, err
		}
	}
	return execute(ctx, s, sc, cmd.Meta, "webhook_endpoint.update", cmd, func(q *db.Queries) (WebhookEndpoint, []Event, error) {
		cur, err := q.GetWebhookEndpointForUpdate(ctx, db.GetWebhookEndpointForUpdateParams{OrganisationID: sc.OrganisationID, ID: cmd.EndpointID})
		if errors.Is(err, pgx.ErrNoRows) {
			return WebhookEndpoint{}, nil, notFound("webhook endpoint")
		}
		if err != nil {
			return WebhookEndpoint{}, nil, fmt.Errorf("load webhook endpoint: %w", err)
		}
		if err := checkVersion(cmd.Meta, cur.Version); err != nil {
			return WebhookEndpoint{}, nil, err
		}
		f, err := WebhookEndpointFields{URL: cur.Url, Description: cur.Description, EventTypes: cur.EventTypes,
			Enabled: cur.Enabled}.apply(cmd.Input, false)
		if err != nil {
			return WebhookEndpoint{}, nil, err
		}
		row, err := q.UpdateWebhookEndpoint(ctx, db.UpdateWebhookEndpointParams{OrganisationID: sc.OrganisationID,
			ID: cur.ID, Url: f.URL, Description: f.Description, EventTypes: f.EventTypes, Enabled: f.Enabled})
		if err != nil {
			return WebhookEndpoint{}, nil, fmt.Errorf("update webhook endpoint: %w", err)
		}
		return endpointFromRow(row), nil, nil
	})
}

// DeleteWebhookEndpoint removes an endpoint with its delivery log; deliveries
// still scheduled for it are dropped. An If-Match (ExpectedVersion) that is not
// the current version changes nothing.
type DeleteWebhookEndpoint struct {
	Meta       `json:"-"`
	EndpointID uuid.UUID `json:"endpoint_id"`
}

// DeleteWebhookEndpoint handles DeleteWebhookEndpoint.
func (s *Service) DeleteWebhookEndpoint(ctx context.Context, sc scope.Scope, cmd DeleteWebhookEndpoint) (WebhookEndpoint, Receipt, error) {
	if err := requireRole(sc, scope.RoleAdmin, "manage webhooks"); err != nil {
		return WebhookEndpoint{}, Receipt{}, err
	}
	return execute(ctx, s, sc, cmd.Meta, "webhook_endpoint.delete", cmd, func(q *db.Queries) (WebhookEndpoint, []Event, error) {
		cur, err := q.GetWebhookEndpointForUpdate(ctx, db.GetWebhookEndpointForUpdateParams{OrganisationID: sc.OrganisationID, ID: cmd.EndpointID})
		if errors.Is(err, pgx.ErrNoRows) {
			return WebhookEndpoint{}, nil, notFound("webhook endpoint")
		}
		if err != nil {
			return WebhookEndpoint{}, nil, fmt.Errorf("load webhook endpoint: %w", err)
		}
		if err := checkVersion(cmd.Meta, cur.Version); err != nil {
			return WebhookEndpoint{}, nil, err
		}
		row, err := q.DeleteWebhookEndpoint(ctx, db.DeleteWebhookEndpointParams{OrganisationID: sc.OrganisationID, ID: cmd.EndpointID})
		if err != nil {
			return WebhookEndpoint{}, nil, fmt.Errorf("delete webhook endpoint: %w", err)
		}
		return endpointFromRow(row), nil, nil
	})
}

func getEndpoint(ctx context.Context, q *db.Queries, sc scope.Scope, id uuid.UUID) (db.WebhookEndpoint, error) {
	row, err := q.GetWebhookEndpoint(ctx, db.GetWebhookEndpointParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return row, notFound("webhook endpoint")
	}
	if err != nil {
		return row, fmt.Errorf("load webhook endpoint: %w", err)
	}
	return row, nil
}

// GetWebhookEndpoint returns one endpoint (never its secret).
func (s *Service) GetWebhookEndpoint(ctx context.Context, sc scope.Scope, id uuid.UUID) (WebhookEndpoint, error) {
	if err := requireRole(sc, scope.RoleAdmin, "manage webhooks"); err != nil {
		return WebhookEndpoint{}, err
	}
	var out WebhookEndpoint
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		row, err := getEndpoint(ctx, q, sc, id)
		out = endpointFromRow(row)
		return err
	})
	return out, err
}

// ListWebhookEndpoints lists the organisation's endpoints, oldest first.
func (s *Service) ListWebhookEndpoints(ctx context.Context, sc scope.Scope, page Page) (List[WebhookEndpoint], error) {
	if err := requireRole(sc, scope.RoleAdmin, "manage webhooks"); err != nil {
		return List[WebhookEndpoint]{}, err
	}
	var out List[WebhookEndpoint]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		rows, err := q.ListWebhookEndpoints(ctx, db.ListWebhookEndpointsParams{OrganisationID: sc.OrganisationID,
			After: page.After, RowLimit: page.Limit + 1})
		if err != nil {
			return fmt.Errorf("list webhook endpoints: %w", err)
		}
		out = paginate(rows, page, func(r db.WebhookEndpoint) (WebhookEndpoint, uuid.UUID) { return endpointFromRow(r), r.ID })
		return nil
	})
	return out, err
}

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
	return nil, Invalid("status", "invalid", "status must be pending, succeeded or failed")
}

// ListWebhookDeliveries lists an endpoint's deliveries, newest first.
func (s *Service) ListWebhookDeliveries(ctx context.Context, sc scope.Scope, endpointID uuid.UUID, status *string, page Page) (List[WebhookDelivery], error) {
	if err := requireRole(sc, scope.RoleAdmin, "manage webhooks"); err != nil {
		return List[WebhookDelivery]{}, err
	}
	var out List[WebhookDelivery]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		if _, err := getEndpoint(ctx, q, sc, endpointID); err != nil {
			return err
		}
		rows, err := q.ListWebhookDeliveries(ctx, db.ListWebhookDeliveriesParams{OrganisationID: sc.OrganisationID,
			EndpointID: endpointID, Status: status, Before: page.After, RowLimit: page.Limit + 1})
		if err != nil {
			return fmt.Errorf("list webhook deliveries: %w", err)
		}
		ds, err := withAttempts(ctx, q, sc, rows)
		if err != nil {
			return err
		}
		out = paginate(ds, page, func(d WebhookDelivery) (WebhookDelivery, uuid.UUID) { return d, d.ID })
		return nil
	})
	return out, err
}

// RetryWebhookDelivery sends a delivery again now: one that failed for good, or
// one that succeeded and the receiver wants again. A delivery whose retries are
// still scheduled is left to them.
type RetryWebhookDelivery struct {
	Meta       `json:"-"`
	EndpointID uuid.UUID `json:"endpoint_id"`
	DeliveryID uuid.UUID `json:"delivery_id"`
}

// RetryWebhookDelivery handles RetryWebhookDelivery: the delivery becomes pending
// and its job is enqueued in the same transaction.
func (s *Service) RetryWebhookDelivery(ctx context.Context, sc scope.Scope, cmd RetryWebhookDelivery) (WebhookDelivery, Receipt, error) {
	if err := requireRole(sc, scope.RoleAdmin, "manage webhooks"); err != nil {
		return WebhookDelivery{}, Receipt{}, err
	}
	return executeJobs(ctx, s, sc, cmd.Meta, "webhook_delivery.retry", cmd, func(q *db.Queries, enqueue scope.Enqueue) (WebhookDelivery, []Event, error) {
		ep, err := getEndpoint(ctx, q, sc, cmd.EndpointID)
		if err != nil {
			return WebhookDelivery{}, nil, err
		}
		d, err := q.GetWebhookDeliveryForUpdate(ctx, db.GetWebhookDeliveryForUpdateParams{OrganisationID: sc.OrganisationID, ID: cmd.DeliveryID})
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && d.EndpointID != ep.ID) {
			return WebhookDelivery{}, nil, notFound("webhook delivery")
		}
		if err != nil {
			return WebhookDelivery{}, nil, fmt.Errorf("load webhook delivery: %w", err)
		}
		if !ep.Enabled {
			return WebhookDelivery{}, nil, conflict(CodeEndpointDisabled, "the endpoint is disabled; enable it first")
		}
		if d.Status == DeliveryPending {
			msg := "the delivery already has an attempt scheduled"
			if d.NextAttemptAt != nil {
				msg += " at " + d.NextAttemptAt.UTC().Format(time.RFC3339)
			}
			return WebhookDelivery{}, nil, conflict(CodeDeliveryPending, "%s", msg)
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

// DeliveryJob is the background job that sends one delivery (internal/jobs works it).
type DeliveryJob struct {
	OrganisationID uuid.UUID `json:"organisation_id"`
	DeliveryID     uuid.UUID `json:"delivery_id"`
}

// Kind names the job's worker.
func (DeliveryJob) Kind() string { return "webhook_delivery" }

// fanOut creates a delivery, and its job, for every enabled endpoint of the
// organisation that wants each event.
func fanOut(ctx context.Context, q *db.Queries, sc scope.Scope, enqueue scope.Enqueue, events []writtenEvent) error {
	endpoints, err := q.EnabledWebhookEndpoints(ctx, sc.OrganisationID)
	if err != nil {
		return fmt.Errorf("load webhook endpoints: %w", err)
	}
	if len(endpoints) == 0 {
		return nil
	}
	var p db.InsertWebhookDeliveriesParams
	var jobs []scope.Job
	for _, e := range events {
		for _, ep := range endpoints {
			if !slices.Contains(ep.EventTypes, AllEventTypes) && !slices.Contains(ep.EventTypes, e.typ) {
				continue
			}
			id := uuid.Must(uuid.NewV7())
			p.Ids = append(p.Ids, id)
			p.EndpointIds = append(p.EndpointIds, ep.ID)
			p.EventSeqs = append(p.EventSeqs, e.seq)
			p.EventIds = append(p.EventIds, e.id)
			p.EventTypes = append(p.EventTypes, e.typ)
			jobs = append(jobs, DeliveryJob{OrganisationID: sc.OrganisationID, DeliveryID: id})
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	p.OrganisationID = sc.OrganisationID
	if err := q.InsertWebhookDeliveries(ctx, p); err != nil {
		return fmt.Errorf("insert webhook deliveries: %w", err)
	}
	return enqueue(ctx, jobs...)
}

// ErrNothingToDeliver means a delivery job has nothing to send: the delivery or
// its endpoint is gone, it is no longer pending, or its endpoint is disabled (the
// delivery is then recorded as failed).
var ErrNothingToDeliver = errors.New("nothing to deliver")

// OutgoingDelivery is what one attempt sends.
type OutgoingDelivery struct {
	webhook.Delivery
	EndpointID uuid.UUID
	// Attempt is the number this attempt gets in the delivery log.
	Attempt int32
}

// PrepareDelivery loads a pending delivery, its endpoint and its event, and
// builds the signed request's body: the event exactly as the feed shows it.
func (s *Service) PrepareDelivery(ctx context.Context, organisationID, deliveryID uuid.UUID) (OutgoingDelivery, error) {
	sc := scope.Platform(organisationID)
	var out OutgoingDelivery
	skip := false
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		d, err := q.GetWebhookDeliveryForUpdate(ctx, db.GetWebhookDeliveryForUpdateParams{OrganisationID: sc.OrganisationID, ID: deliveryID})
		if errors.Is(err, pgx.ErrNoRows) {
			skip = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("load webhook delivery: %w", err)
		}
		if d.Status != DeliveryPending {
			skip = true
			return nil
		}
		ep, err := getEndpoint(ctx, q, sc, d.EndpointID)
		if err != nil {
			return err
		}
		if !ep.Enabled {
			skip = true
			msg := "the endpoint is disabled"
			_, err := q.RecordWebhookDelivery(ctx, db.RecordWebhookDeliveryParams{OrganisationID: sc.OrganisationID, ID: d.ID,
				Status: DeliveryFailed, Attempts: d.Attempts, LastStatusCode: d.LastStatusCode, LastError: &msg,
				LastLatencyMs: d.LastLatencyMs, LastAttemptAt: d.LastAttemptAt})
			if err != nil {
				return fmt.Errorf("record webhook delivery: %w", err)
			}
			return nil
		}
		ev, err := q.GetEventBySeq(ctx, db.GetEventBySeqParams{OrganisationID: sc.OrganisationID, Seq: d.EventSeq})
		if err != nil {
			return fmt.Errorf("load event of webhook delivery: %w", err)
		}
		body, err := json.Marshal(StoredEvent{ID: ev.ID, Type: ev.Type, OccurredAt: ev.OccurredAt,
			OrganisationID: sc.OrganisationID, Data: ev.Data, CommandID: ev.CommandID})
		if err != nil {
			return fmt.Errorf("encode webhook body: %w", err)
		}
		out = OutgoingDelivery{Delivery: webhook.Delivery{URL: ep.Url, Secret: ep.Secret, EventID: ev.ID.String(),
			EventType: ev.Type, DeliveryID: d.ID.String(), Body: body}, EndpointID: ep.ID, Attempt: d.Attempts + 1}
		return nil
	})
	if err != nil {
		return OutgoingDelivery{}, err
	}
	if skip {
		return OutgoingDelivery{}, ErrNothingToDeliver
	}
	return out, nil
}

// AttemptRecord is how one attempt went.
type AttemptRecord struct {
	Attempt int32
	At      time.Time
	Result  webhook.Result
	// NextAttemptAt is when the queue tries again after a failure; nil when this
	// was the last attempt.
	NextAttemptAt *time.Time
}

// RecordDeliveryAttempt logs an attempt, updates the delivery, and keeps the
// endpoint's failure run: a success ends it; a failure that extends it to
// disableAfter or more disables the endpoint (with a warning in the log), and the
// delivery then fails for good. stop reports that no further attempt should be made.
func (s *Service) RecordDeliveryAttempt(ctx context.Context, organisationID, deliveryID uuid.UUID, a AttemptRecord, disableAfter time.Duration) (stop bool, err error) {
	sc := scope.Platform(organisationID)
	var disabled *db.WebhookEndpoint
	err = s.db.Tx(ctx, sc, func(q *db.Queries) error {
		d, err := q.GetWebhookDeliveryForUpdate(ctx, db.GetWebhookDeliveryForUpdateParams{OrganisationID: sc.OrganisationID, ID: deliveryID})
		if errors.Is(err, pgx.ErrNoRows) {
			stop = true // deleted with its endpoint meanwhile
			return nil
		}
		if err != nil {
			return fmt.Errorf("load webhook delivery: %w", err)
		}
		ep, err := q.GetWebhookEndpointForUpdate(ctx, db.GetWebhookEndpointForUpdateParams{OrganisationID: sc.OrganisationID, ID: d.EndpointID})
		if err != nil {
			return fmt.Errorf("load webhook endpoint: %w", err)
		}
		// Numbered under the delivery's lock, so attempts of a delivery that was
		// retried by hand while a job was still running never collide.
		a.Attempt = d.Attempts + 1
		ok := a.Result.OK()
		health := db.SetWebhookEndpointHealthParams{OrganisationID: sc.OrganisationID, ID: ep.ID,
			FailingSince: ep.FailingSince, Enabled: ep.Enabled, DisabledReason: ep.DisabledReason}
		if ok {
			health.FailingSince = nil
		} else {
			since := a.At
			if ep.FailingSince != nil {
				since = *ep.FailingSince
			}
			health.FailingSince = &since
			if ep.Enabled && a.At.Sub(since) >= disableAfter {
				reason := DisabledForFailing
				health.Enabled, health.DisabledReason = false, &reason
				disabled = &ep
				disabled.FailingSince = &since
			}
		}
		if err := q.SetWebhookEndpointHealth(ctx, health); err != nil {
			return fmt.Errorf("record webhook endpoint health: %w", err)
		}

		status, next := DeliveryPending, a.NextAttemptAt
		switch {
		case ok:
			status, next = DeliverySucceeded, nil
		case next == nil || !health.Enabled:
			status, next = DeliveryFailed, nil
		}
		stop = status != DeliveryPending
		var code *int32
		if a.Result.StatusCode != 0 {
			c := int32(a.Result.StatusCode)
			code = &c
		}
		var errText *string
		if a.Result.Err != "" {
			errText = &a.Result.Err
		}
		latency := int32(a.Result.Latency.Milliseconds())
		if err := q.InsertWebhookAttempt(ctx, db.InsertWebhookAttemptParams{OrganisationID: sc.OrganisationID,
			DeliveryID: d.ID, Attempt: a.Attempt, AttemptedAt: a.At, StatusCode: code, Error: errText, LatencyMs: latency}); err != nil {
			return fmt.Errorf("log webhook attempt: %w", err)
		}
		if _, err := q.RecordWebhookDelivery(ctx, db.RecordWebhookDeliveryParams{OrganisationID: sc.OrganisationID, ID: d.ID,
			Status: status, Attempts: a.Attempt, LastStatusCode: code, LastError: errText, LastLatencyMs: &latency,
			LastAttemptAt: &a.At, NextAttemptAt: next}); err != nil {
			return fmt.Errorf("record webhook delivery: %w", err)
		}
		return nil
	})
	if err == nil && disabled != nil {
		s.log.WarnContext(ctx, "webhook endpoint disabled: it kept failing", "organisation_id", organisationID,
			"endpoint_id", disabled.ID, "url", disabled.Url, "failing_since", disabled.FailingSince,
			"disable_after", disableAfter.String())
	}
	return stop, err
}
