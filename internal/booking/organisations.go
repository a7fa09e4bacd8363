package booking

import (
	"context"
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
func (s *Service) CreateOrganisation(ctx context.Context, cmd CreateOrganisation) (OrganisationWithKey, error) {
	id := uuid.Must(uuid.NewV7())
	sc := scope.Platform(id)
	var out OrganisationWithKey
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
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
		// The organisation did not exist before this command, so its record is
		// claimed and finished here rather than by execute.
		fp, err := fingerprint("organisation.create", cmd, nil)
		if err != nil {
			return err
		}
		claim := uuid.Must(uuid.NewV7())
		if _, err := q.ClaimCommand(ctx, db.ClaimCommandParams{OrganisationID: id, ActorID: uuid.Nil, ID: cmd.ID,
			Type: "organisation.create", Fingerprint: fp, Claim: claim, LeaseSeconds: claimLease.Seconds()}); err != nil {
			return fmt.Errorf("record command: %w", err)
		}
		return finish(ctx, q, db.GetCommandParams{OrganisationID: id, ActorID: uuid.Nil, ID: cmd.ID}, claim, "ok", []byte(`{}`))
	})
	if err != nil {
		return OrganisationWithKey{}, fmt.Errorf("create organisation %q: %w", cmd.Slug, err)
	}
	return out, nil
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
