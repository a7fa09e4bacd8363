package booking

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

	"github.com/vacancy-dev/vacancy/internal/db"
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
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func organisationFromRow(o db.Organisation) Organisation {
	return Organisation{ID: o.ID, Slug: o.Slug, Name: o.Name, Currency: o.Currency, Timezone: o.Timezone,
		HoldMinutes: o.HoldMinutes, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
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
	Meta        `json:"-"`
	Slug        string `json:"slug"`
	Name        string `json:"name"`
	Currency    string `json:"currency"`
	Timezone    string `json:"timezone"`
	HoldMinutes int32  `json:"hold_minutes"`
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// NewCreateOrganisation validates in and applies the defaults (EUR, UTC, 30 minutes).
func NewCreateOrganisation(meta Meta, in CreateOrganisationInput) (CreateOrganisation, error) {
	cmd := CreateOrganisation{Meta: meta, Slug: in.Slug, Name: strings.TrimSpace(in.Name),
		Currency: "EUR", Timezone: "UTC", HoldMinutes: 30}
	var p problems
	if !slugPattern.MatchString(in.Slug) {
		p.add("slug", "invalid", "slug must be 1-63 lowercase letters, digits or inner hyphens")
	} else if _, err := uuid.Parse(in.Slug); err == nil {
		p.add("slug", "invalid", "slug must not look like an id")
	}
	checkText(&p, "name", cmd.Name, 1, 200)
	if in.Currency != nil {
		cmd.Currency = *in.Currency
		if u, err := currency.ParseISO(cmd.Currency); err != nil || u.String() != cmd.Currency {
			p.add("currency", "invalid", "currency must be an upper-case ISO 4217 code such as EUR")
		}
	}
	if in.Timezone != nil {
		cmd.Timezone = *in.Timezone
		if _, err := loadLocation(cmd.Timezone); err != nil {
			p.add("timezone", "invalid", "timezone must be an IANA time zone such as Europe/Amsterdam")
		}
	}
	if in.HoldMinutes != nil {
		cmd.HoldMinutes = *in.HoldMinutes
		if cmd.HoldMinutes < 1 || cmd.HoldMinutes > 10080 {
			p.add("hold_minutes", "out_of_range", "hold_minutes must be between 1 and 10080 (a week)")
		}
	}
	return cmd, p.err()
}

func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, errors.New("not an IANA time zone")
	}
	return time.LoadLocation(name)
}

// OrganisationWithKey is the answer to CreateOrganisation: the organisation and its
// first admin key, whose secret is shown this once.
type OrganisationWithKey struct {
	Organisation
	APIKey APIKey `json:"api_key"`
}

// CreateOrganisation creates the organisation and its first admin key. It runs in
// the new organisation's scope, as the platform operator.
func (s *Service) CreateOrganisation(ctx context.Context, cmd CreateOrganisation) (OrganisationWithKey, Receipt, error) {
	const typ = "organisation.create"
	receipt := Receipt{CommandID: cmd.ID}
	fp, err := fingerprint(typ, cmd, nil)
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
			return conflict(CodeSlugTaken, "an organisation with slug %q already exists", cmd.Slug)
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
		claim := uuid.Must(uuid.NewV7())
		if _, err := q.ClaimCommand(ctx, db.ClaimCommandParams{OrganisationID: id, ActorID: uuid.Nil, ID: cmd.ID,
			Type: typ, Fingerprint: fp, Claim: claim, LeaseSeconds: claimLease.Seconds()}); err != nil {
			return fmt.Errorf("record command: %w", err)
		}
		return finish(ctx, q, db.GetCommandParams{OrganisationID: id, ActorID: uuid.Nil, ID: cmd.ID}, claim, "ok", []byte(`{}`))
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
func (s *Service) replayPlatform(ctx context.Context, key, typ string, fp []byte) (OrganisationWithKey, bool, error) {
	prior, err := s.db.PlatformCommandByID(ctx, key)
	if errors.Is(err, pgx.ErrNoRows) {
		return OrganisationWithKey{}, false, nil
	}
	if err != nil {
		return OrganisationWithKey{}, false, err
	}
	if prior.Type != typ || !bytes.Equal(prior.Fingerprint, fp) {
		return OrganisationWithKey{}, false, &Error{Kind: KindInvalid, Code: CodeKeyReused,
			Message: "this idempotency key was already used for a different request"}
	}
	var out OrganisationWithKey
	if err := json.Unmarshal(prior.Result, &out); err != nil {
		return OrganisationWithKey{}, false, fmt.Errorf("decode stored organisation: %w", err)
	}
	return out, true, nil
}

// GetOrganisation returns the scope's organisation.
func (s *Service) GetOrganisation(ctx context.Context, sc scope.Scope) (Organisation, error) {
	var out Organisation
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		row, err := q.GetOrganisation(ctx, sc.OrganisationID)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("organisation")
		}
		if err != nil {
			return fmt.Errorf("get organisation: %w", err)
		}
		out = organisationFromRow(row)
		return nil
	})
	return out, err
}

// clock is the organisation's calendar settings and the database's now.
type clock struct {
	org      db.OrganisationClockRow
	loc      *time.Location
	now      time.Time
	today    Date
	holdTill time.Time
}

func loadClock(ctx context.Context, q *db.Queries, sc scope.Scope) (clock, error) {
	row, err := q.OrganisationClock(ctx, sc.OrganisationID)
	if errors.Is(err, pgx.ErrNoRows) {
		return clock{}, notFound("organisation")
	}
	if err != nil {
		return clock{}, fmt.Errorf("load organisation: %w", err)
	}
	loc, err := loadLocation(row.Timezone)
	if err != nil {
		return clock{}, fmt.Errorf("organisation time zone %q: %w", row.Timezone, err)
	}
	return clock{org: row, loc: loc, now: row.Now, today: DateOf(row.Now, loc),
		holdTill: row.Now.Add(time.Duration(row.HoldMinutes) * time.Minute)}, nil
}

// checkText validates a free-text field's length in characters. Text may hold
// anything but NUL, which PostgreSQL cannot store in text.
func checkText(p *problems, field, v string, minLen, maxLen int) {
	if strings.ContainsRune(v, 0) {
		p.add(field, "invalid", "%s must not contain NUL characters", field)
		return
	}
	n := len([]rune(v))
	switch {
	case n < minLen && minLen == 1:
		p.add(field, "required", "%s is required", field)
	case n < minLen || n > maxLen:
		p.add(field, "length", "%s must be %d to %d characters", field, minLen, maxLen)
	}
}
