package catalogue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Unit is one physical thing of an item that a stay occupies: room 101, desk 14.
// An item sells its active units; an archived unit takes no new bookings.
type Unit struct {
	ID        uuid.UUID `json:"id"`
	ItemID    uuid.UUID `json:"item_id"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	Version   int32     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

const (
	UnitActive   = "active"
	UnitArchived = "archived"
	// MaxUnits bounds an item's active units (and the units of a new item); the
	// database checks it too (items_unit_count).
	MaxUnits = 1000
	// maxUnitName is the longest unit name, in characters (units_name_length).
	maxUnitName = 100
)

func unitFromRow(u db.Unit) Unit {
	return Unit{ID: u.ID, ItemID: u.ItemID, Name: u.Name, Status: u.Status, Version: u.Version,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// UnitsInput is the units of a new item, as the client sends them: a number of
// units named "1".."N" ("units": 3), or their names ("units": [{"name": "101"}]).
// Decoding keeps the raw JSON and never fails, so that a value of neither form
// is a field error (422) naming units rather than a malformed body (400).
type UnitsInput struct {
	raw json.RawMessage
}

func (u *UnitsInput) UnmarshalJSON(b []byte) error {
	u.raw = append(json.RawMessage(nil), b...)
	return nil
}

func (u UnitsInput) MarshalJSON() ([]byte, error) {
	if len(u.raw) == 0 {
		return []byte("null"), nil
	}
	return u.raw, nil
}

// Units is n units named "1".."n", for callers in Go (tools, benchmarks, tests).
func Units(n int) *UnitsInput { return &UnitsInput{raw: json.RawMessage(strconv.Itoa(n))} }

// names validates the units and returns their names, adding what is wrong to p.
// null means the default: one unit named "1".
func (u UnitsInput) names(p *domain.Problems) []string {
	raw := bytes.TrimSpace(u.raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return []string{"1"}
	case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			p.Add("units", "invalid", "units must be a whole number of units or a list of units")
			return nil
		}
		if err != nil || n < 1 || n > MaxUnits {
			p.Add("units", "out_of_range", "units must be between 1 and %d", MaxUnits)
			return nil
		}
		names := make([]string, n)
		for i := range names {
			names[i] = strconv.Itoa(i + 1)
		}
		return names
	case raw[0] == '[':
		return unitNames(p, raw)
	}
	p.Add("units", "invalid", "units must be a whole number of units or a list of units")
	return nil
}

// unitNames reads units given as a list: [{"name": "101"}, ...].
func unitNames(p *domain.Problems, raw []byte) []string {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		p.Add("units", "invalid", "units must be a whole number of units or a list of units")
		return nil
	}
	if len(list) < 1 || len(list) > MaxUnits {
		p.Add("units", "out_of_range", "units must list 1 to %d units", MaxUnits)
		return nil
	}
	names := make([]string, len(list))
	seen := make(map[string]int, len(list))
	for i, el := range list {
		field := fmt.Sprintf("units[%d]", i)
		var in struct {
			Name *string `json:"name"`
		}
		dec := json.NewDecoder(bytes.NewReader(el))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil || bytes.TrimSpace(el)[0] != '{' {
			p.Add(field, "invalid", "each unit must be an object with a name")
			continue
		}
		if in.Name == nil {
			p.Add(field+".name", "required", "%s.name is required", field)
			continue
		}
		names[i] = strings.TrimSpace(*in.Name)
		before := len(*p)
		domain.CheckText(p, field+".name", names[i], 1, maxUnitName)
		if len(*p) > before {
			continue
		}
		if j, dup := seen[names[i]]; dup {
			p.Add(field+".name", "duplicate", "units[%d] has the same name", j)
			continue
		}
		seen[names[i]] = i
	}
	return names
}

// UnitInput is the body of unit create (name required) and unit PATCH (all optional).
type UnitInput struct {
	Name   *string `json:"name"`
	Status *string `json:"status"`
}

// unitFields are a unit's editable fields after validation.
type unitFields struct {
	Name   string
	Status string
}

func (f unitFields) apply(in UnitInput, creating bool) (unitFields, error) {
	var p domain.Problems
	if creating {
		if in.Name == nil {
			p.Add("name", "required", "name is required")
		}
		if in.Status != nil {
			p.Add("status", "read_only", "a new unit is always active")
		}
	}
	if in.Name != nil {
		f.Name = strings.TrimSpace(*in.Name)
		domain.CheckText(&p, "name", f.Name, 1, maxUnitName)
	}
	if in.Status != nil && !creating {
		f.Status = *in.Status
		if f.Status != UnitActive && f.Status != UnitArchived {
			p.Add("status", "invalid", "status must be active or archived")
		}
	}
	return f, p.Err()
}

// CreateUnit adds a unit to an item.
type CreateUnit struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID `json:"item_id"`
	Name         string    `json:"name"`
}

// NewCreateUnit validates in.
func NewCreateUnit(meta command.Meta, itemID uuid.UUID, in UnitInput) (CreateUnit, error) {
	f, err := unitFields{Status: UnitActive}.apply(in, true)
	return CreateUnit{Meta: meta, ItemID: itemID, Name: f.Name}, err
}

// CreateUnit handles CreateUnit.
func (s *Catalogue) CreateUnit(ctx context.Context, sc scope.Scope, cmd CreateUnit) (Unit, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpCreateUnit, cmd, func(q *db.Queries) (Unit, []domain.Event, error) {
		it, err := lockItem(ctx, q, sc, cmd.ItemID)
		if err != nil {
			return Unit{}, nil, err
		}
		if it.Status != ItemActive {
			return Unit{}, nil, domain.Conflict(domain.CodeItemArchived, "item %s is archived: make it active before adding units", it.ID)
		}
		if it.UnitCount >= MaxUnits {
			return Unit{}, nil, domain.Conflict(domain.CodeUnitLimit, "an item has at most %d active units", MaxUnits)
		}
		row, err := q.InsertUnit(ctx, db.InsertUnitParams{OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
			ItemID: it.ID, Name: cmd.Name})
		if err != nil {
			return Unit{}, nil, unitWriteError(err, cmd.Name)
		}
		if err := countUnits(ctx, q, sc, it.ID); err != nil {
			return Unit{}, nil, err
		}
		return unitFromRow(row), nil, nil
	})
}

// UpdateUnit renames a unit or changes its status (PATCH semantics). ExpectedVersion is required.
type UpdateUnit struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID `json:"item_id"`
	UnitID       uuid.UUID `json:"unit_id"`
	Input        UnitInput `json:"input"`
}

// NewUpdateUnit checks what can be checked without the current unit.
func NewUpdateUnit(meta command.Meta, itemID, unitID uuid.UUID, in UnitInput) (UpdateUnit, error) {
	_, err := unitFields{Name: "x", Status: UnitActive}.apply(in, false)
	return UpdateUnit{Meta: meta, ItemID: itemID, UnitID: unitID, Input: in}, err
}

// UpdateUnit handles UpdateUnit.
func (s *Catalogue) UpdateUnit(ctx context.Context, sc scope.Scope, cmd UpdateUnit) (Unit, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpUpdateUnit, cmd, func(q *db.Queries) (Unit, []domain.Event, error) {
		return changeUnit(ctx, q, sc, cmd.Meta, cmd.ItemID, cmd.UnitID, func(cur unitFields) (unitFields, error) {
			return cur.apply(cmd.Input, false)
		})
	})
}

// ArchiveUnit takes a unit out of service for good; it keeps its past bookings.
type ArchiveUnit struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID `json:"item_id"`
	UnitID       uuid.UUID `json:"unit_id"`
}

// ArchiveUnit handles ArchiveUnit.
func (s *Catalogue) ArchiveUnit(ctx context.Context, sc scope.Scope, cmd ArchiveUnit) (Unit, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpArchiveUnit, cmd, func(q *db.Queries) (Unit, []domain.Event, error) {
		return changeUnit(ctx, q, sc, cmd.Meta, cmd.ItemID, cmd.UnitID, func(cur unitFields) (unitFields, error) {
			cur.Status = UnitArchived
			return cur, nil
		})
	})
}

// changeUnit applies change to a unit under its item's row lock, which bookings
// of the item take too: a unit cannot be archived while a booking lands on it.
func changeUnit(ctx context.Context, q *db.Queries, sc scope.Scope, meta command.Meta, itemID, unitID uuid.UUID,
	change func(unitFields) (unitFields, error)) (Unit, []domain.Event, error) {
	it, err := lockItem(ctx, q, sc, itemID)
	if err != nil {
		return Unit{}, nil, err
	}
	cur, err := q.GetUnitForUpdate(ctx, db.GetUnitForUpdateParams{OrganisationID: sc.OrganisationID, ItemID: itemID, ID: unitID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Unit{}, nil, domain.NotFound("unit")
	}
	if err != nil {
		return Unit{}, nil, fmt.Errorf("load unit: %w", err)
	}
	if err := meta.CheckVersion(cur.Version); err != nil {
		return Unit{}, nil, err
	}
	f, err := change(unitFields{Name: cur.Name, Status: cur.Status})
	if err != nil {
		return Unit{}, nil, err
	}
	switch {
	case cur.Status == UnitActive && f.Status == UnitArchived:
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return Unit{}, nil, err
		}
		ids, err := q.UnitFutureBookings(ctx, db.UnitFutureBookingsParams{OrganisationID: sc.OrganisationID, Now: c.Now,
			UnitID: cur.ID, FromDate: c.Today.Time()})
		if err != nil {
			return Unit{}, nil, fmt.Errorf("bookings of unit %s: %w", cur.ID, err)
		}
		if len(ids) > 0 {
			return Unit{}, nil, &domain.Error{Kind: domain.KindConflict, Code: domain.CodeUnitHasBookings,
				Message:    fmt.Sprintf("unit %q has active bookings from today on (booking_ids): cancel or move them first", cur.Name),
				BookingIDs: ids}
		}
	case cur.Status == UnitArchived && f.Status == UnitActive && it.UnitCount >= MaxUnits:
		return Unit{}, nil, domain.Conflict(domain.CodeUnitLimit, "an item has at most %d active units", MaxUnits)
	}
	row, err := q.UpdateUnit(ctx, db.UpdateUnitParams{OrganisationID: sc.OrganisationID, ID: cur.ID, Name: f.Name, Status: f.Status})
	if err != nil {
		return Unit{}, nil, unitWriteError(err, f.Name)
	}
	if f.Status != cur.Status {
		if err := countUnits(ctx, q, sc, itemID); err != nil {
			return Unit{}, nil, err
		}
	}
	return unitFromRow(row), nil, nil
}

// countUnits brings items.unit_count up to date after a change of the item's
// units, in the change's transaction (which holds the item's row lock).
func countUnits(ctx context.Context, q *db.Queries, sc scope.Scope, itemID uuid.UUID) error {
	if _, err := q.CountActiveUnits(ctx, db.CountActiveUnitsParams{OrganisationID: sc.OrganisationID, ItemID: itemID}); err != nil {
		return fmt.Errorf("count units of item %s: %w", itemID, err)
	}
	return nil
}

// unitWriteError maps a unit insert's or update's error: a name the item already
// has is a conflict the client can act on.
func unitWriteError(err error, name string) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation && pgErr.ConstraintName == "units_name_unique" {
		return domain.Conflict(domain.CodeUnitNameTaken, "the item already has a unit named %q", name)
	}
	return fmt.Errorf("write unit: %w", err)
}

// GetUnit returns one unit of an item.
func (s *Catalogue) GetUnit(ctx context.Context, sc scope.Scope, itemID, unitID uuid.UUID) (Unit, error) {
	if err := domain.Authorize(sc, domain.OpReadCatalogue); err != nil {
		return Unit{}, err
	}
	var out Unit
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		row, err := q.GetUnit(ctx, db.GetUnitParams{OrganisationID: sc.OrganisationID, ItemID: itemID, ID: unitID})
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.NotFound("unit")
		}
		if err != nil {
			return fmt.Errorf("get unit: %w", err)
		}
		out = unitFromRow(row)
		return nil
	})
	return out, err
}

// ListUnits lists an item's units, optionally by status.
func (s *Catalogue) ListUnits(ctx context.Context, sc scope.Scope, itemID uuid.UUID, status string, page domain.Page) (domain.List[Unit], error) {
	if err := domain.Authorize(sc, domain.OpReadCatalogue); err != nil {
		return domain.List[Unit]{}, err
	}
	var st *string
	if status != "" {
		if status != UnitActive && status != UnitArchived {
			return domain.List[Unit]{}, domain.Invalid("status", "invalid", "status must be active or archived")
		}
		st = &status
	}
	var out domain.List[Unit]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		rows, err := q.ListUnits(ctx, db.ListUnitsParams{OrganisationID: sc.OrganisationID, ItemID: itemID, Status: st,
			After: page.Cursor, RowLimit: page.Limit + 1})
		if err != nil {
			return fmt.Errorf("list units: %w", err)
		}
		// Units are never deleted, so an item has at least one: only an empty
		// page needs the second look that tells a missing item from the end.
		if len(rows) == 0 {
			if err := RequireItem(ctx, q, sc, itemID); err != nil {
				return err
			}
		}
		out = domain.Paginate(rows, page, func(r db.Unit) (Unit, uuid.UUID) { return unitFromRow(r), r.ID })
		return nil
	})
	return out, err
}
