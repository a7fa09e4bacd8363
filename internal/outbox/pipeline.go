package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

// DeliveryJob is the background job that sends one delivery (internal/jobs works it).
type DeliveryJob struct {
	OrganisationID uuid.UUID `json:"organisation_id"`
	DeliveryID     uuid.UUID `json:"delivery_id"`
	// Behind is set when the organisation had a backlog of deliveries as this one
	// was made: the job waits behind every organisation that keeps up.
	Behind bool `json:"behind,omitempty"`
}

// Kind names the job's worker.
func (DeliveryJob) Kind() string { return "webhook_delivery" }

// Delivery job priorities (River works lower numbers first): an organisation
// whose deliveries keep up gets the first; one with a backlog, for example
// endpoints that time out, the last, so it slows only itself.
const (
	priorityKeepingUp = 1
	priorityBehind    = 4
)

// InsertOpts gives the job its priority.
func (j DeliveryJob) InsertOpts() river.InsertOpts {
	if j.Behind {
		return river.InsertOpts{Priority: priorityBehind}
	}
	return river.InsertOpts{Priority: priorityKeepingUp}
}

// BacklogLimit is how many pending deliveries an organisation may have before
// its new ones wait behind everyone else's: a queue ordered by priority then age
// holds at most this many of one organisation's jobs ahead of another's.
const BacklogLimit = 100

// fanOut creates a delivery, and its job, for every enabled endpoint of the
// organisation (as EnabledWebhookEndpoints read them) that wants each event.
func fanOut(ctx context.Context, q *db.Queries, sc scope.Scope, enqueue scope.Enqueue, endpoints []db.EnabledWebhookEndpointsRow, events []writtenEvent) error {
	if len(endpoints) == 0 {
		return nil
	}
	var deliveries []db.InsertWebhookDeliveriesParams
	var jobs []scope.Job
	for _, e := range events {
		for _, ep := range endpoints {
			if !slices.Contains(ep.EventTypes, AllEventTypes) && !slices.Contains(ep.EventTypes, e.typ) {
				continue
			}
			id := uuid.Must(uuid.NewV7())
			deliveries = append(deliveries, db.InsertWebhookDeliveriesParams{OrganisationID: sc.OrganisationID, ID: id,
				EndpointID: ep.ID, EventSeq: e.seq, EventID: e.id, EventType: e.typ})
			jobs = append(jobs, DeliveryJob{OrganisationID: sc.OrganisationID, DeliveryID: id})
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	backlog, err := q.PendingDeliveries(ctx, db.PendingDeliveriesParams{OrganisationID: sc.OrganisationID, RowLimit: BacklogLimit})
	if err != nil {
		return fmt.Errorf("count pending webhook deliveries: %w", err)
	}
	if backlog >= BacklogLimit {
		for i := range jobs {
			j := jobs[i].(DeliveryJob)
			j.Behind = true
			jobs[i] = j
		}
	}
	var insertErr error
	q.InsertWebhookDeliveries(ctx, deliveries).Exec(func(_ int, err error) {
		if err != nil && insertErr == nil {
			insertErr = fmt.Errorf("insert webhook deliveries: %w", err)
		}
	})
	if insertErr != nil {
		return insertErr
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
func (s *Outbox) PrepareDelivery(ctx context.Context, organisationID, deliveryID uuid.UUID) (OutgoingDelivery, error) {
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
			OrganisationID: sc.OrganisationID, Data: ev.Data, CommandID: ev.CommandID, Livemode: sc.Livemode()})
		if err != nil {
			return fmt.Errorf("encode webhook body: %w", err)
		}
		out = OutgoingDelivery{Delivery: webhook.Delivery{URL: ep.Url, Secret: ep.Secret, EventID: ev.ID.String(),
			EventType: ev.Type, DeliveryID: d.ID.String(), Body: body}, EndpointID: ep.ID, Attempt: d.Attempts + 1}
		if ep.PreviousSecret != nil && ep.PreviousSecretExpiresAt != nil {
			// The sender decides at signing time whether the overlap still lasts.
			out.PreviousSecret, out.PreviousUntil = *ep.PreviousSecret, *ep.PreviousSecretExpiresAt
		}
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
func (s *Outbox) RecordDeliveryAttempt(ctx context.Context, organisationID, deliveryID uuid.UUID, a AttemptRecord, disableAfter time.Duration) (stop bool, err error) {
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
			FailingSince: ep.FailingSince, Enabled: ep.Enabled, DisabledReason: ep.DisabledReason, Now: a.At}
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
		// The host only: a URL's path and query may carry the receiver's token.
		s.log.WarnContext(ctx, "webhook endpoint disabled: it kept failing", "organisation_id", organisationID,
			"endpoint_id", disabled.ID, "host", webhook.Host(disabled.Url), "failing_since", disabled.FailingSince,
			"disable_after", disableAfter.String())
	}
	return stop, err
}
