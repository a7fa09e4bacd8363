package catalogue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/text/language"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Property is a place an organisation runs: a hotel, a building of desks. Its
// items are what it sells; its time zone is their calendar's.
type Property struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	Address   Address   `json:"address"`
	Timezone  string    `json:"timezone"`
	Status    string    `json:"status"`
	Version   int32     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Address is a property's postal address: free-form lines, a city and an ISO
// 3166-1 alpha-2 country code, any of them possibly empty.
type Address struct {
	Lines       []string `json:"lines"`
	City        string   `json:"city"`
	CountryCode *string  `json:"country_code"`
}

const (
	PropertyActive   = "active"
	PropertyArchived = "archived"
	maxAddressLines  = 5
)

func propertyFromRow(p db.Property) Property {
	lines := p.AddressLines
	if lines == nil {
		lines = []string{}
	}
	return Property{ID: p.ID, Name: p.Name, Address: Address{Lines: lines, City: p.City, CountryCode: p.CountryCode},
		Timezone: p.Timezone, Status: p.Status, Version: p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

// PropertyInput is the body of property create (name required; the time zone
// defaults to the organisation's) and property PATCH (all optional; an address
// replaces the whole address).
type PropertyInput struct {
	Name     *string  `json:"name"`
	Address  *Address `json:"address"`
	Timezone *string  `json:"timezone"`
	Status   *string  `json:"status"`
}

// PropertyFields are a property's editable fields after validation. An empty
// Timezone on create means the organisation's.
type PropertyFields struct {
	Name     string  `json:"name"`
	Address  Address `json:"address"`
	Timezone string  `json:"timezone"`
	Status   string  `json:"status"`
}

func (f PropertyFields) apply(in PropertyInput, creating bool) (PropertyFields, error) {
	var p domain.Problems
	if creating {
		if in.Name == nil {
			p.Add("name", "required", "name is required")
		}
		if in.Status != nil {
			p.Add("status", "read_only", "a new property is always active")
		}
	}
	if in.Name != nil {
		f.Name = strings.TrimSpace(*in.Name)
		domain.CheckText(&p, "name", f.Name, 1, 200)
	}
	if in.Address != nil {
		f.Address = checkAddress(&p, *in.Address)
	}
	if in.Timezone != nil {
		f.Timezone = *in.Timezone
		if _, err := domain.LoadLocation(f.Timezone); err != nil {
			p.Add("timezone", "invalid", "timezone must be an IANA time zone such as Europe/Paris")
		}
	}
	if in.Status != nil && !creating {
		f.Status = *in.Status
		if f.Status != PropertyActive && f.Status != PropertyArchived {
			p.Add("status", "invalid", "status must be active or archived")
		}
	}
	return f, p.Err()
}

func checkAddress(p *domain.Problems, in Address) Address {
	out := Address{Lines: make([]string, 0, len(in.Lines)), City: strings.TrimSpace(in.City), CountryCode: in.CountryCode}
	if len(in.Lines) > maxAddressLines {
		p.Add("address.lines", "out_of_range", "an address has at most %d lines", maxAddressLines)
	}
	for i, l := range in.Lines {
		l = strings.TrimSpace(l)
		domain.CheckText(p, fmt.Sprintf("address.lines[%d]", i), l, 1, 200)
		out.Lines = append(out.Lines, l)
	}
	domain.CheckText(p, "address.city", out.City, 0, 200)
	if in.CountryCode != nil && !isCountryCode(*in.CountryCode) {
		p.Add("address.country_code", "invalid", "country_code must be an ISO 3166-1 alpha-2 code such as FR, in capitals")
	}
	return out
}

// isCountryCode accepts the current ISO 3166-1 alpha-2 codes of countries and
// territories as CLDR knows them: two capitals, not a grouping (EU), not a
// private-use code (XX, ZZ) and not a code replaced by another (UK is GB).
func isCountryCode(s string) bool {
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return false
	}
	r, err := language.ParseRegion(s)
	return err == nil && r.IsCountry() && r.Canonicalize().String() == s
}

// CreateProperty adds a property.
type CreateProperty struct {
	command.Meta `json:"-"`
	PropertyFields
}

// NewCreateProperty validates in.
func NewCreateProperty(meta command.Meta, in PropertyInput) (CreateProperty, error) {
	f, err := PropertyFields{Address: Address{Lines: []string{}}, Status: PropertyActive}.apply(in, true)
	return CreateProperty{Meta: meta, PropertyFields: f}, err
}

// CreateProperty handles CreateProperty.
func (s *Catalogue) CreateProperty(ctx context.Context, sc scope.Scope, cmd CreateProperty) (Property, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpCreateProperty, cmd, func(q *db.Queries) (Property, []domain.Event, error) {
		f := cmd.PropertyFields
		if f.Timezone == "" {
			c, err := domain.LoadClock(ctx, q, sc)
			if err != nil {
				return Property{}, nil, err
			}
			f.Timezone = c.Location.String()
		}
		row, err := q.InsertProperty(ctx, db.InsertPropertyParams{OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
			Name: f.Name, AddressLines: f.Address.Lines, City: f.Address.City, CountryCode: f.Address.CountryCode,
			Timezone: f.Timezone})
		if err != nil {
			return Property{}, nil, fmt.Errorf("insert property: %w", err)
		}
		return propertyFromRow(row), nil, nil
	})
}

// UpdateProperty changes a property (PATCH semantics). ExpectedVersion is required.
type UpdateProperty struct {
	command.Meta `json:"-"`
	PropertyID   uuid.UUID     `json:"property_id"`
	Input        PropertyInput `json:"input"`
}

// NewUpdateProperty checks what can be checked without the current property.
func NewUpdateProperty(meta command.Meta, id uuid.UUID, in PropertyInput) (UpdateProperty, error) {
	_, err := PropertyFields{Name: "x", Status: PropertyActive}.apply(in, false)
	return UpdateProperty{Meta: meta, PropertyID: id, Input: in}, err
}

// UpdateProperty handles UpdateProperty.
func (s *Catalogue) UpdateProperty(ctx context.Context, sc scope.Scope, cmd UpdateProperty) (Property, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpUpdateProperty, cmd, func(q *db.Queries) (Property, []domain.Event, error) {
		return changeProperty(ctx, q, sc, cmd.Meta, cmd.PropertyID, func(cur PropertyFields) (PropertyFields, error) {
			return cur.apply(cmd.Input, false)
		})
	})
}

// ArchiveProperty retires a property that has no active items left.
type ArchiveProperty struct {
	command.Meta `json:"-"`
	PropertyID   uuid.UUID `json:"property_id"`
}

// ArchiveProperty handles ArchiveProperty.
func (s *Catalogue) ArchiveProperty(ctx context.Context, sc scope.Scope, cmd ArchiveProperty) (Property, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpArchiveProperty, cmd, func(q *db.Queries) (Property, []domain.Event, error) {
		return changeProperty(ctx, q, sc, cmd.Meta, cmd.PropertyID, func(cur PropertyFields) (PropertyFields, error) {
			cur.Status = PropertyArchived
			return cur, nil
		})
	})
}

// changeProperty applies change under the property's row lock, which commands
// that put an item in the property (or bring one of its items back) take too:
// an archived property never has an active item.
func changeProperty(ctx context.Context, q *db.Queries, sc scope.Scope, meta command.Meta, id uuid.UUID,
	change func(PropertyFields) (PropertyFields, error)) (Property, []domain.Event, error) {
	cur, err := q.GetPropertyForUpdate(ctx, db.GetPropertyForUpdateParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return Property{}, nil, domain.NotFound("property")
	}
	if err != nil {
		return Property{}, nil, fmt.Errorf("load property: %w", err)
	}
	if err := meta.CheckVersion(cur.Version); err != nil {
		return Property{}, nil, err
	}
	was := propertyFromRow(cur)
	f, err := change(PropertyFields{Name: was.Name, Address: was.Address, Timezone: was.Timezone, Status: was.Status})
	if err != nil {
		return Property{}, nil, err
	}
	if cur.Status == PropertyActive && f.Status == PropertyArchived {
		ids, err := q.PropertyActiveItems(ctx, db.PropertyActiveItemsParams{OrganisationID: sc.OrganisationID, PropertyID: &cur.ID})
		if err != nil {
			return Property{}, nil, fmt.Errorf("items of property %s: %w", cur.ID, err)
		}
		if len(ids) > 0 {
			return Property{}, nil, &domain.Error{Kind: domain.KindConflict, Code: domain.CodePropertyHasItems,
				Message: "the property has active items (item_ids): archive them or move them to another property first",
				ItemIDs: ids}
		}
	}
	row, err := q.UpdateProperty(ctx, db.UpdatePropertyParams{OrganisationID: sc.OrganisationID, ID: cur.ID, Name: f.Name,
		AddressLines: f.Address.Lines, City: f.Address.City, CountryCode: f.Address.CountryCode, Timezone: f.Timezone,
		Status: f.Status})
	if err != nil {
		return Property{}, nil, fmt.Errorf("update property: %w", err)
	}
	return propertyFromRow(row), nil, nil
}

// requireProperty answers a property_id field error unless id names a property
// of the organisation, and an active one when active is set. It takes the
// property's row lock, so a concurrent archiving of the property either sees
// this command's item or waits for it and then refuses.
func requireProperty(ctx context.Context, q *db.Queries, sc scope.Scope, id uuid.UUID, active bool) error {
	row, err := q.GetPropertyForUpdate(ctx, db.GetPropertyForUpdateParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Invalid("property_id", "not_found", "no such property")
	}
	if err != nil {
		return fmt.Errorf("load property: %w", err)
	}
	if active && row.Status != PropertyActive {
		return domain.Invalid("property_id", "property_archived", "the property is archived")
	}
	return nil
}

// GetProperty returns one property.
func (s *Catalogue) GetProperty(ctx context.Context, sc scope.Scope, id uuid.UUID) (Property, error) {
	if err := domain.Authorize(sc, domain.OpReadProperties); err != nil {
		return Property{}, err
	}
	var out Property
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		row, err := q.GetProperty(ctx, db.GetPropertyParams{OrganisationID: sc.OrganisationID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.NotFound("property")
		}
		if err != nil {
			return fmt.Errorf("get property: %w", err)
		}
		out = propertyFromRow(row)
		return nil
	})
	return out, err
}

// ListProperties lists the organisation's properties, optionally by status.
func (s *Catalogue) ListProperties(ctx context.Context, sc scope.Scope, status string, page domain.Page) (domain.List[Property], error) {
	if err := domain.Authorize(sc, domain.OpReadProperties); err != nil {
		return domain.List[Property]{}, err
	}
	var st *string
	if status != "" {
		if status != PropertyActive && status != PropertyArchived {
			return domain.List[Property]{}, domain.Invalid("status", "invalid", "status must be active or archived")
		}
		st = &status
	}
	var out domain.List[Property]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		rows, err := q.ListProperties(ctx, db.ListPropertiesParams{OrganisationID: sc.OrganisationID, Status: st,
			After: page.Cursor, RowLimit: page.Limit + 1})
		if err != nil {
			return fmt.Errorf("list properties: %w", err)
		}
		out = domain.Paginate(rows, page, func(r db.Property) (Property, uuid.UUID) { return propertyFromRow(r), r.ID })
		return nil
	})
	return out, err
}
