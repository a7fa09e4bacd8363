package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
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
	// Secret signs deliveries; it is set only in the answer to the creation
	// and to a rotation of the secret.
	Secret string `json:"secret,omitempty"`
	// PreviousSecretExpiresAt is when the secret the last rotation replaced
	// stops signing deliveries beside the current one; nil when there is none.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	Version                 int32      `json:"version"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

func endpointFromRow(r db.WebhookEndpoint) WebhookEndpoint {
	return WebhookEndpoint{ID: r.ID, URL: r.Url, Description: r.Description, EventTypes: r.EventTypes,
		Enabled: r.Enabled, DisabledReason: r.DisabledReason, FailingSince: r.FailingSince,
		PreviousSecretExpiresAt: r.PreviousSecretExpiresAt, Version: r.Version,
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
var shapeOnly = webhook.Policy{AllowHTTP: true, Ports: []int{webhook.AnyPort}}

func (f WebhookEndpointFields) apply(in WebhookEndpointInput, creating bool) (WebhookEndpointFields, error) {
	var p domain.Problems
	if in.URL != nil {
		f.URL = strings.TrimSpace(*in.URL)
		if _, err := shapeOnly.CheckSyntax(f.URL); err != nil {
			var ue *webhook.URLError
			errors.As(err, &ue)
			p.Add("url", ue.Code, "%s", ue.Message)
		}
	} else if creating {
		p.Add("url", "required", "url is required")
	}
	if in.Description != nil {
		f.Description = strings.TrimSpace(*in.Description)
		domain.CheckText(&p, "description", f.Description, 0, 500)
	}
	if in.EventTypes != nil {
		f.EventTypes = nil
		if len(in.EventTypes) == 0 {
			p.Add("event_types", "required", "event_types needs at least one type, or \"*\" for all")
		}
		for i, t := range in.EventTypes {
			switch {
			case t == AllEventTypes:
				f.EventTypes = []string{AllEventTypes}
			case !slices.Contains(domain.EventTypes, t):
				p.Add(fmt.Sprintf("event_types[%d]", i), "invalid", "unknown event type %q; use %s or \"*\"", t, strings.Join(domain.EventTypes, ", "))
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
	return f, p.Err()
}

// CreateWebhookEndpoint registers an endpoint.
type CreateWebhookEndpoint struct {
	command.Meta `json:"-"`
	WebhookEndpointFields
}

// NewCreateWebhookEndpoint validates in. Defaults: every event type, enabled.
func NewCreateWebhookEndpoint(meta command.Meta, in WebhookEndpointInput) (CreateWebhookEndpoint, error) {
	f, err := WebhookEndpointFields{EventTypes: []string{AllEventTypes}, Enabled: true}.apply(in, true)
	return CreateWebhookEndpoint{Meta: meta, WebhookEndpointFields: f}, err
}

// checkURL applies the server's policy: scheme, and the addresses the host
// resolves to.
func (s *Outbox) checkURL(ctx context.Context, raw string) error {
	if _, err := s.webhooks.CheckURL(ctx, raw); err != nil {
		var ue *webhook.URLError
		if errors.As(err, &ue) {
			return domain.Invalid("url", ue.Code, ue.Message)
		}
		return fmt.Errorf("check webhook url: %w", err)
	}
	return nil
}

// CodeEndpointLimit is the conflict of an endpoint creation past the
// organisation's quota.
const CodeEndpointLimit = "webhook_endpoint_limit_reached"

// CreateWebhookEndpoint registers an endpoint; the answer carries the signing
// secret, shown this once (a replay of the request does not show it again).
// The URL's host is resolved inside the recorded command, so a retry replays
// the first answer. An organisation holds at most its quota of endpoints: each
// one multiplies the deliveries its events cost.
func (s *Outbox) CreateWebhookEndpoint(ctx context.Context, sc scope.Scope, cmd CreateWebhookEndpoint) (WebhookEndpoint, command.Receipt, error) {
	var secret string
	check := func(ctx context.Context) error { return s.checkURL(ctx, cmd.URL) }
	ep, rc, err := command.RunChecked(ctx, s.exec, sc, cmd.Meta, domain.OpCreateWebhookEndpoint, cmd, check, func(q *db.Queries) (WebhookEndpoint, []domain.Event, error) {
		if err := q.LockOrganisationQuota(ctx, sc.OrganisationID); err != nil {
			return WebhookEndpoint{}, nil, fmt.Errorf("lock the organisation's quota: %w", err)
		}
		n, err := q.CountWebhookEndpoints(ctx, sc.OrganisationID)
		if err != nil {
			return WebhookEndpoint{}, nil, fmt.Errorf("count webhook endpoints: %w", err)
		}
		if n >= int64(s.endpointQuota) {
			return WebhookEndpoint{}, nil, domain.Conflict(CodeEndpointLimit,
				"the organisation has %d webhook endpoints, its limit: delete one first, or subscribe an existing one to more event types", n)
		}
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
	command.Meta `json:"-"`
	EndpointID   uuid.UUID            `json:"endpoint_id"`
	Input        WebhookEndpointInput `json:"input"`
}

// NewUpdateWebhookEndpoint checks what can be checked without the current endpoint.
func NewUpdateWebhookEndpoint(meta command.Meta, id uuid.UUID, in WebhookEndpointInput) (UpdateWebhookEndpoint, error) {
	cmd := UpdateWebhookEndpoint{Meta: meta, EndpointID: id, Input: in}
	if in.URL == nil && in.Description == nil && in.EventTypes == nil && in.Enabled == nil {
		return cmd, domain.Invalid("", "empty", "nothing to change: send url, description, event_types or enabled")
	}
	_, err := WebhookEndpointFields{}.apply(in, false)
	return cmd, err
}

// UpdateWebhookEndpoint handles UpdateWebhookEndpoint; a new URL's host is
// resolved inside the recorded command, as at creation.
func (s *Outbox) UpdateWebhookEndpoint(ctx context.Context, sc scope.Scope, cmd UpdateWebhookEndpoint) (WebhookEndpoint, command.Receipt, error) {
	check := func(ctx context.Context) error {
		if cmd.Input.URL == nil {
			return nil
		}
		return s.checkURL(ctx, strings.TrimSpace(*cmd.Input.URL))
	}
	return command.RunChecked(ctx, s.exec, sc, cmd.Meta, domain.OpUpdateWebhookEndpoint, cmd, check, func(q *db.Queries) (WebhookEndpoint, []domain.Event, error) {
		cur, err := q.GetWebhookEndpointForUpdate(ctx, db.GetWebhookEndpointForUpdateParams{OrganisationID: sc.OrganisationID, ID: cmd.EndpointID})
		if errors.Is(err, pgx.ErrNoRows) {
			return WebhookEndpoint{}, nil, domain.NotFound("webhook endpoint")
		}
		if err != nil {
			return WebhookEndpoint{}, nil, fmt.Errorf("load webhook endpoint: %w", err)
		}
		if err := cmd.Meta.CheckVersion(cur.Version); err != nil {
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
	command.Meta `json:"-"`
	EndpointID   uuid.UUID `json:"endpoint_id"`
}

// DeleteWebhookEndpoint handles DeleteWebhookEndpoint.
func (s *Outbox) DeleteWebhookEndpoint(ctx context.Context, sc scope.Scope, cmd DeleteWebhookEndpoint) (WebhookEndpoint, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpDeleteWebhookEndpoint, cmd, func(q *db.Queries) (WebhookEndpoint, []domain.Event, error) {
		cur, err := q.GetWebhookEndpointForUpdate(ctx, db.GetWebhookEndpointForUpdateParams{OrganisationID: sc.OrganisationID, ID: cmd.EndpointID})
		if errors.Is(err, pgx.ErrNoRows) {
			return WebhookEndpoint{}, nil, domain.NotFound("webhook endpoint")
		}
		if err != nil {
			return WebhookEndpoint{}, nil, fmt.Errorf("load webhook endpoint: %w", err)
		}
		if err := cmd.Meta.CheckVersion(cur.Version); err != nil {
			return WebhookEndpoint{}, nil, err
		}
		row, err := q.DeleteWebhookEndpoint(ctx, db.DeleteWebhookEndpointParams{OrganisationID: sc.OrganisationID, ID: cmd.EndpointID})
		if err != nil {
			return WebhookEndpoint{}, nil, fmt.Errorf("delete webhook endpoint: %w", err)
		}
		return endpointFromRow(row), nil, nil
	})
}

// Rotation overlaps, in seconds: how long the replaced secret keeps signing
// deliveries beside the new one.
const (
	DefaultRotationOverlap = 86400  // a day
	MaxRotationOverlap     = 604800 // a week
)

// RotateSecretInput is the optional body of a rotation.
type RotateSecretInput struct {
	OverlapSeconds *int64 `json:"overlap_seconds"`
}

// RotateWebhookSecret gives an endpoint a new signing secret. For Overlap after
// the command is issued, deliveries are signed with the new secret and the one
// it replaced, so the receiver can switch at its own pace; an Overlap of 0 ends
// the old secret at once. Rotating again during an overlap ends the earlier
// one: only the secret just replaced keeps signing.
type RotateWebhookSecret struct {
	command.Meta `json:"-"`
	EndpointID   uuid.UUID `json:"endpoint_id"`
	// OverlapSeconds is recorded in seconds, as the request gave it.
	OverlapSeconds int64 `json:"overlap_seconds"`
}

// NewRotateWebhookSecret validates in; the overlap defaults to a day.
func NewRotateWebhookSecret(meta command.Meta, id uuid.UUID, in RotateSecretInput) (RotateWebhookSecret, error) {
	cmd := RotateWebhookSecret{Meta: meta, EndpointID: id, OverlapSeconds: DefaultRotationOverlap}
	if in.OverlapSeconds != nil {
		cmd.OverlapSeconds = *in.OverlapSeconds
		if cmd.OverlapSeconds < 0 || cmd.OverlapSeconds > MaxRotationOverlap {
			return cmd, domain.Invalid("overlap_seconds", "out_of_range",
				fmt.Sprintf("overlap_seconds must be between 0 and %d (a week)", MaxRotationOverlap))
		}
	}
	return cmd, nil
}

// RotateWebhookSecret handles RotateWebhookSecret. The answer carries the new
// secret, shown this once as at creation: a replay answers the same endpoint
// without it.
func (s *Outbox) RotateWebhookSecret(ctx context.Context, sc scope.Scope, cmd RotateWebhookSecret) (WebhookEndpoint, command.Receipt, error) {
	var secret string
	ep, rc, err := command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpRotateWebhookSecret, cmd, func(q *db.Queries) (WebhookEndpoint, []domain.Event, error) {
		cur, err := q.GetWebhookEndpointForUpdate(ctx, db.GetWebhookEndpointForUpdateParams{OrganisationID: sc.OrganisationID, ID: cmd.EndpointID})
		if errors.Is(err, pgx.ErrNoRows) {
			return WebhookEndpoint{}, nil, domain.NotFound("webhook endpoint")
		}
		if err != nil {
			return WebhookEndpoint{}, nil, fmt.Errorf("load webhook endpoint: %w", err)
		}
		if err := cmd.Meta.CheckVersion(cur.Version); err != nil {
			return WebhookEndpoint{}, nil, err
		}
		p := db.RotateWebhookEndpointSecretParams{OrganisationID: sc.OrganisationID, ID: cur.ID,
			Secret: webhook.NewSecret(), Now: cmd.IssuedAt}
		if cmd.OverlapSeconds > 0 {
			until := cmd.IssuedAt.Add(time.Duration(cmd.OverlapSeconds) * time.Second)
			p.PreviousSecret, p.PreviousSecretExpiresAt = &cur.Secret, &until
		}
		row, err := q.RotateWebhookEndpointSecret(ctx, p)
		if err != nil {
			return WebhookEndpoint{}, nil, fmt.Errorf("rotate webhook endpoint secret: %w", err)
		}
		secret = p.Secret
		return endpointFromRow(row), nil, nil
	})
	ep.Secret = secret
	return ep, rc, err
}

func getEndpoint(ctx context.Context, q *db.Queries, sc scope.Scope, id uuid.UUID) (db.WebhookEndpoint, error) {
	row, err := q.GetWebhookEndpoint(ctx, db.GetWebhookEndpointParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return row, domain.NotFound("webhook endpoint")
	}
	if err != nil {
		return row, fmt.Errorf("load webhook endpoint: %w", err)
	}
	return row, nil
}

// GetWebhookEndpoint returns one endpoint (never its secret).
func (s *Outbox) GetWebhookEndpoint(ctx context.Context, sc scope.Scope, id uuid.UUID) (WebhookEndpoint, error) {
	if err := domain.Authorize(sc, domain.OpReadWebhooks); err != nil {
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
func (s *Outbox) ListWebhookEndpoints(ctx context.Context, sc scope.Scope, page domain.Page) (domain.List[WebhookEndpoint], error) {
	if err := domain.Authorize(sc, domain.OpReadWebhooks); err != nil {
		return domain.List[WebhookEndpoint]{}, err
	}
	var out domain.List[WebhookEndpoint]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		rows, err := q.ListWebhookEndpoints(ctx, db.ListWebhookEndpointsParams{OrganisationID: sc.OrganisationID,
			After: page.Cursor, RowLimit: page.Limit + 1})
		if err != nil {
			return fmt.Errorf("list webhook endpoints: %w", err)
		}
		out = domain.Paginate(rows, page, func(r db.WebhookEndpoint) (WebhookEndpoint, uuid.UUID) { return endpointFromRow(r), r.ID })
		return nil
	})
	return out, err
}
