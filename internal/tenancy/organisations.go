package tenancy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/text/currency"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Organisation is a tenant.
type Organisation struct {
	ID          uuid.UUID `json:"id"`
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	Currency    string    `json:"currency"`
	Timezone    string    `json:"timezone"`
	HoldMinutes int32     `json:"hold_minutes"`
	// Livemode is false for an organisation's test-mode sandbox.
	Livemode  bool      `json:"livemode"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func organisationFromRow(o db.Organisation) Organisation {
	return Organisation{ID: o.ID, Slug: o.Slug, Name: o.Name, Currency: o.Currency, Timezone: o.Timezone,
		HoldMinutes: o.HoldMinutes, Livemode: o.Livemode, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}

// CreateOrganisationInput is what the platform operator sends.
type CreateOrganisationInput struct {
	Slug        string  `json:"slug"`
	Name        string  `json:"name"`
	Currency    *string `json:"currency"`
	Timezone    *string `json:"timezone"`
	HoldMinutes *int32  `json:"hold_minutes"`
}

// CreateOrganisation creates a tenant and its first admin API key.
type CreateOrganisation struct {
	command.Meta `json:"-"`
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	Currency     string `json:"currency"`
	Timezone     string `json:"timezone"`
	HoldMinutes  int32  `json:"hold_minutes"`
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// NewCreateOrganisation validates in and applies the defaults (EUR, UTC, 30 minutes).
func NewCreateOrganisation(meta command.Meta, in CreateOrganisationInput) (CreateOrganisation, error) {
	cmd := CreateOrganisation{Meta: meta, Slug: in.Slug, Name: strings.TrimSpace(in.Name),
		Currency: "EUR", Timezone: "UTC", HoldMinutes: 30}
	var p domain.Problems
	if !slugPattern.MatchString(in.Slug) {
		p.Add("slug", "invalid", "slug must be 1-63 lowercase letters, digits or inner hyphens")
	} else if _, err := uuid.Parse(in.Slug); err == nil {
		p.Add("slug", "invalid", "slug must not look like an id")
	}
	domain.CheckText(&p, "name", cmd.Name, 1, 200)
	if in.Currency != nil {
		cmd.Currency = *in.Currency
		if u, err := currency.ParseISO(cmd.Currency); err != nil || u.String() != cmd.Currency {
			p.Add("currency", "invalid", "currency must be an upper-case ISO 4217 code such as EUR")
		}
	}
	if in.Timezone != nil {
		cmd.Timezone = *in.Timezone
		if _, err := domain.LoadLocation(cmd.Timezone); err != nil {
			p.Add("timezone", "invalid", "timezone must be an IANA time zone such as Europe/Amsterdam")
		}
	}
	if in.HoldMinutes != nil {
		cmd.HoldMinutes = *in.HoldMinutes
		if cmd.HoldMinutes < 1 || cmd.HoldMinutes > 10080 {
			p.Add("hold_minutes", "out_of_range", "hold_minutes must be between 1 and 10080 (a week)")
		}
	}
	return cmd, p.Err()
}

// OrganisationWithKey is the answer to CreateOrganisation: the organisation and its
// first admin key, whose secret is shown this once.
type OrganisationWithKey struct {
	Organisation
	APIKey APIKey `json:"api_key"`
}

// opCreateOrganisation is the platform operator's command; no API key may run it,
// so it is not in the access table.
const opCreateOrganisation domain.Operation = "organisation.create"

// CreateOrganisation creates the organisation and its first admin key. It runs in
// the new organisation's scope, as the platform operator.
func (s *Registry) CreateOrganisation(ctx context.Context, cmd CreateOrganisation) (OrganisationWithKey, command.Receipt, error) {
	const typ = string(opCreateOrganisation)
	receipt := command.Receipt{CommandID: cmd.ID}
	fp, err := command.Fingerprint(typ, cmd, nil)
	if err != nil {
		return OrganisationWithKey{}, receipt, err
	}
	if out, ok, err := s.replayPlatform(ctx, cmd.ID, typ, fp); ok || err != nil {
		receipt.Replayed = ok
		return out, receipt, err
	}
	id := uuid.Must(uuid.NewV7())
	sc := scope.Platform(id)
	var out OrganisationWithKey
	err = s.db.Tx(ctx, sc, func(q *db.Queries) error {
		row, err := q.CreateOrganisation(ctx, db.CreateOrganisationParams{
			OrganisationID: id, Slug: cmd.Slug, Name: cmd.Name, Currency: cmd.Currency,
			Timezone: cmd.Timezone, HoldMinutes: cmd.HoldMinutes,
		})
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation {
			return domain.Conflict(domain.CodeSlugTaken, "an organisation with slug %q already exists", cmd.Slug)
		}
		if err != nil {
			return fmt.Errorf("insert organisation: %w", err)
		}
		out.Organisation = organisationFromRow(row)
		out.APIKey, err = createAPIKey(ctx, q, sc, "initial admin key", scope.RoleAdmin)
		if err != nil {
			return err
		}
		// The stored answer leaves the secret out: a replay cannot reveal it again.
		stored := out
		stored.APIKey.Key = ""
		body, err := json.Marshal(stored)
		if err != nil {
			return fmt.Errorf("encode %s result: %w", typ, err)
		}
		if err := q.RecordPlatformCommand(ctx, db.RecordPlatformCommandParams{ID: cmd.ID, Type: typ,
			Fingerprint: fp, OrganisationID: id, Result: body}); err != nil {
			return fmt.Errorf("record platform command: %w", err)
		}
		// The organisation's own command log records it too, like every command.
		return command.RecordDone(ctx, q, sc, cmd.Meta, opCreateOrganisation, fp)
	})
	if err != nil {
		// A concurrent request with the same key may have won (its organisation took
		// the slug, or its record took the key): answer with its outcome.
		if replayed, ok, rerr := s.replayPlatform(ctx, cmd.ID, typ, fp); ok || rerr != nil {
			receipt.Replayed = ok
			if rerr != nil {
				return OrganisationWithKey{}, receipt, rerr
			}
			return replayed, receipt, nil
		}
		return OrganisationWithKey{}, receipt, fmt.Errorf("create organisation %q: %w", cmd.Slug, err)
	}
	return out, receipt, nil
}

// replayPlatform answers a retried platform command from its record: ok is true
// with the stored answer, or an idempotency_key_reused error for a different
// request under the same key; ok is false when the key is new.
func (s *Registry) replayPlatform(ctx context.Context, key, typ string, fp []byte) (OrganisationWithKey, bool, error) {
	prior, err := s.db.PlatformCommandByID(ctx, key)
	if errors.Is(err, pgx.ErrNoRows) {
		return OrganisationWithKey{}, false, nil
	}
	if err != nil {
		return OrganisationWithKey{}, false, err
	}
	if prior.Type != typ || !bytes.Equal(prior.Fingerprint, fp) {
		return OrganisationWithKey{}, false, &domain.Error{Kind: domain.KindInvalid, Code: domain.CodeKeyReused,
			Message: "this idempotency key was already used for a different request"}
	}
	var out OrganisationWithKey
	if err := json.Unmarshal(prior.Result, &out); err != nil {
		return OrganisationWithKey{}, false, fmt.Errorf("decode stored organisation: %w", err)
	}
	return out, true, nil
}

// GetOrganisation returns the scope's organisation.
func (s *Registry) GetOrganisation(ctx context.Context, sc scope.Scope) (Organisation, error) {
	var out Organisation
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		row, err := q.GetOrganisation(ctx, sc.OrganisationID)
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.NotFound("organisation")
		}
		if err != nil {
			return fmt.Errorf("get organisation: %w", err)
		}
		out = organisationFromRow(row)
		return nil
	})
	return out, err
}
