package catalogue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Item is something bookable: a room, a property, a desk.
type Item struct {
	ID           uuid.UUID `json:"id"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	Capacity     int32     `json:"capacity"`
	NightlyPrice int64     `json:"nightly_price"`
	Currency     string    `json:"currency"`
	MinNights    int32     `json:"min_nights"`
	MaxNights    int32     `json:"max_nights"`
	Status       string    `json:"status"`
	// UnitCount is the number of active units: how many stays of the same nights
	// the item can take.
	UnitCount  int32      `json:"unit_count"`
	PropertyID *uuid.UUID `json:"property_id"`
	PriceSettings
	Version   int32     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ItemFromRow is an item as the API shows it.
func ItemFromRow(i db.Item, currency string) Item {
	return Item{ID: i.ID, Name: i.Name, Description: i.Description, Capacity: i.Capacity, NightlyPrice: i.NightlyPrice,
		Currency: currency, MinNights: i.MinNights, MaxNights: i.MaxNights, Status: i.Status, UnitCount: i.UnitCount,
		PropertyID: i.PropertyID, Version: i.Version, CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt,
		PriceSettings: settingsFromRow(i.BaseGuests, i.ExtraGuestPrice, i.MinLeadHours, i.MaxAdvanceDays, i.Discounts)}
}

const (
	ItemActive   = "active"
	ItemArchived = "archived"
	MaxPrice     = 1_000_000_000_00 // a billion in major units: bounds totals far below int64 overflow
	MaxNights    = 365              // the longest stay an item can take
)

// ItemInput is the body of item create (all required but description, the
// night limits, the units and the property) and item PATCH (all optional; units
// change through the item's units resource, not here).
type ItemInput struct {
	Name         *string     `json:"name"`
	Description  *string     `json:"description"`
	Capacity     *int32      `json:"capacity"`
	NightlyPrice *int64      `json:"nightly_price"`
	MinNights    *int32      `json:"min_nights"`
	MaxNights    *int32      `json:"max_nights"`
	Status       *string     `json:"status"`
	Units        *UnitsInput `json:"units,omitempty"`
	PropertyID   NullableID  `json:"property_id,omitzero"`
	PriceSettingsInput
}

// ItemFields are an item's editable fields after validation.
type ItemFields struct {
	Name         string     `json:"name"`
	Description  string     `json:"description"`
	Capacity     int32      `json:"capacity"`
	NightlyPrice int64      `json:"nightly_price"`
	MinNights    int32      `json:"min_nights"`
	MaxNights    int32      `json:"max_nights"`
	Status       string     `json:"status"`
	PropertyID   *uuid.UUID `json:"property_id"`
	PriceSettings
}

// NullableID is an id field that a PATCH can also clear: absent (Set is false),
// null (Set, ID nil) or an id.
type NullableID struct {
	Set bool
	ID  *uuid.UUID
}

func (n *NullableID) UnmarshalJSON(b []byte) error {
	n.Set, n.ID = true, nil
	if string(b) == "null" {
		return nil
	}
	var id uuid.UUID
	if err := json.Unmarshal(b, &id); err != nil {
		return err
	}
	n.ID = &id
	return nil
}

func (n NullableID) MarshalJSON() ([]byte, error) { return json.Marshal(n.ID) }

// IsZero reports an absent field, which omitzero leaves out of the command's record.
func (n NullableID) IsZero() bool { return !n.Set }

// apply overlays in on f and validates the result.
func (f ItemFields) apply(in ItemInput, creating bool) (ItemFields, error) {
	var p domain.Problems
	f = f.check(&p, in, creating)
	return f, p.Err()
}

// check overlays in on f, adding what is wrong to p.
func (f ItemFields) check(p *domain.Problems, in ItemInput, creating bool) ItemFields {
	if creating {
		if in.Name == nil {
			p.Add("name", "required", "name is required")
		}
		if in.Capacity == nil {
			p.Add("capacity", "required", "capacity is required")
		}
		if in.NightlyPrice == nil {
			p.Add("nightly_price", "required", "nightly_price is required")
		}
		if in.Status != nil {
			p.Add("status", "read_only", "a new item is always active")
		}
	}
	if in.Name != nil {
		f.Name = strings.TrimSpace(*in.Name)
		domain.CheckText(p, "name", f.Name, 1, 200)
	}
	if in.Description != nil {
		f.Description = *in.Description
		domain.CheckText(p, "description", f.Description, 0, 5000)
	}
	if in.Capacity != nil {
		f.Capacity = *in.Capacity
		if f.Capacity < 1 || f.Capacity > 10000 {
			p.Add("capacity", "out_of_range", "capacity must be between 1 and 10000 guests")
		}
	}
	if in.NightlyPrice != nil {
		f.NightlyPrice = *in.NightlyPrice
		if f.NightlyPrice < 0 || f.NightlyPrice > MaxPrice {
			p.Add("nightly_price", "out_of_range", "nightly_price must be between 0 and %d minor units", int64(MaxPrice))
		}
	}
	if in.MinNights != nil {
		f.MinNights = *in.MinNights
	}
	if in.MaxNights != nil {
		f.MaxNights = *in.MaxNights
	}
	if f.MinNights < 1 || f.MinNights > MaxNights {
		p.Add("min_nights", "out_of_range", "min_nights must be between 1 and %d", MaxNights)
	} else if f.MaxNights < f.MinNights || f.MaxNights > MaxNights {
		p.Add("max_nights", "out_of_range", "max_nights must be between min_nights and %d", MaxNights)
	}
	if in.Status != nil && !creating {
		f.Status = *in.Status
		if f.Status != ItemActive && f.Status != ItemArchived {
			p.Add("status", "invalid", "status must be active or archived")
		}
	}
	if in.Units != nil && !creating {
		p.Add("units", "read_only", "an item's units change through /items/{id}/units")
	}
	if in.PropertyID.Set {
		f.PropertyID = in.PropertyID.ID
	}
	f.PriceSettings = f.PriceSettings.check(p, in.PriceSettingsInput, max(f.Capacity, 1))
	return f
}

// CreateItem adds an item to the catalogue with its units.
type CreateItem struct {
	command.Meta `json:"-"`
	ItemFields
	UnitNames []string `json:"unit_names"`
}

// NewCreateItem validates in. Without units the item has one unit, named "1".
func NewCreateItem(meta command.Meta, in ItemInput) (CreateItem, error) {
	var p domain.Problems
	f := ItemFields{MinNights: 1, MaxNights: MaxNights, Status: ItemActive, PriceSettings: PriceSettings{BaseGuests: 1}}.check(&p, in, true)
	names := []string{"1"}
	if in.Units != nil {
		names = in.Units.names(&p)
	}
	return CreateItem{Meta: meta, ItemFields: f, UnitNames: names}, p.Err()
}

// CreateItem handles CreateItem.
func (s *Catalogue) CreateItem(ctx context.Context, sc scope.Scope, cmd CreateItem) (Item, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpCreateItem, cmd, func(q *db.Queries) (Item, []domain.Event, error) {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return Item{}, nil, err
		}
		f := cmd.ItemFields
		if f.PropertyID != nil {
			if err := requireProperty(ctx, q, sc, *f.PropertyID, true); err != nil {
				return Item{}, nil, err
			}
		}
		row, err := q.CreateItem(ctx, db.CreateItemParams{OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
			Name: f.Name, Description: f.Description, Capacity: f.Capacity, NightlyPrice: f.NightlyPrice,
			MinNights: f.MinNights, MaxNights: f.MaxNights, PropertyID: f.PropertyID, UnitCount: int32(len(cmd.UnitNames)),
			BaseGuests: f.BaseGuests, ExtraGuestPrice: f.ExtraGuestPrice, MinLeadHours: f.MinLeadHours,
			MaxAdvanceDays: f.MaxAdvanceDays, Discounts: discountsJSON(f.Discounts)})
		if err != nil {
			return Item{}, nil, fmt.Errorf("insert item: %w", err)
		}
		ids := make([]uuid.UUID, len(cmd.UnitNames))
		for i := range ids {
			ids[i] = uuid.Must(uuid.NewV7())
		}
		if err := q.InsertUnits(ctx, db.InsertUnitsParams{OrganisationID: sc.OrganisationID, ItemID: row.ID,
			Ids: ids, Names: cmd.UnitNames}); err != nil {
			return Item{}, nil, fmt.Errorf("insert units of item %s: %w", row.ID, err)
		}
		item := ItemFromRow(row, c.Currency)
		return item, []domain.Event{{Type: domain.EventItemCreated, Data: item}}, nil
	})
}

// UpdateItem changes an item (PATCH semantics). ExpectedVersion is required.
type UpdateItem struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID `json:"item_id"`
	Input        ItemInput `json:"input"`
}

// NewUpdateItem checks what can be checked without the current item.
func NewUpdateItem(meta command.Meta, id uuid.UUID, in ItemInput) (UpdateItem, error) {
	// Base guests are checked against the capacity with the current item.
	_, err := ItemFields{Name: "x", Capacity: 10000, MinNights: 1, MaxNights: MaxNights, Status: ItemActive,
		PriceSettings: PriceSettings{BaseGuests: 1}}.apply(in, false)
	return UpdateItem{Meta: meta, ItemID: id, Input: in}, err
}

// UpdateItem handles UpdateItem.
func (s *Catalogue) UpdateItem(ctx context.Context, sc scope.Scope, cmd UpdateItem) (Item, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpUpdateItem, cmd, func(q *db.Queries) (Item, []domain.Event, error) {
		return s.changeItem(ctx, q, sc, cmd.Meta, cmd.ItemID, func(cur ItemFields) (ItemFields, error) {
			return cur.apply(cmd.Input, false)
		})
	})
}

// ArchiveItem takes an item out of availability; its bookings stay.
type ArchiveItem struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID `json:"item_id"`
}

// ArchiveItem handles ArchiveItem.
func (s *Catalogue) ArchiveItem(ctx context.Context, sc scope.Scope, cmd ArchiveItem) (Item, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpArchiveItem, cmd, func(q *db.Queries) (Item, []domain.Event, error) {
		return s.changeItem(ctx, q, sc, cmd.Meta, cmd.ItemID, func(cur ItemFields) (ItemFields, error) {
			cur.Status = ItemArchived
			return cur, nil
		})
	})
}

func (s *Catalogue) changeItem(ctx context.Context, q *db.Queries, sc scope.Scope, meta command.Meta, id uuid.UUID,
	change func(ItemFields) (ItemFields, error)) (Item, []domain.Event, error) {
	c, err := domain.LoadClock(ctx, q, sc)
	if err != nil {
		return Item{}, nil, err
	}
	cur, err := q.GetItemForUpdate(ctx, db.GetItemForUpdateParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, nil, domain.NotFound("item")
	}
	if err != nil {
		return Item{}, nil, fmt.Errorf("load item: %w", err)
	}
	if err := meta.CheckVersion(cur.Version); err != nil {
		return Item{}, nil, err
	}
	f, err := change(ItemFields{Name: cur.Name, Description: cur.Description, Capacity: cur.Capacity,
		NightlyPrice: cur.NightlyPrice, MinNights: cur.MinNights, MaxNights: cur.MaxNights, Status: cur.Status,
		PropertyID:    cur.PropertyID,
		PriceSettings: settingsFromRow(cur.BaseGuests, cur.ExtraGuestPrice, cur.MinLeadHours, cur.MaxAdvanceDays, cur.Discounts)})
	if err != nil {
		return Item{}, nil, err
	}
	// An active item belongs to an active property: moving it, or bringing it
	// back from the archive, checks (and locks) the property it ends up in.
	moved := !sameID(cur.PropertyID, f.PropertyID)
	revived := cur.Status != ItemActive && f.Status == ItemActive
	if f.PropertyID != nil && (moved || revived) {
		if err := requireProperty(ctx, q, sc, *f.PropertyID, f.Status == ItemActive); err != nil {
			return Item{}, nil, err
		}
	}
	row, err := q.UpdateItem(ctx, db.UpdateItemParams{OrganisationID: sc.OrganisationID, ID: id, Name: f.Name,
		Description: f.Description, Capacity: f.Capacity, NightlyPrice: f.NightlyPrice, MinNights: f.MinNights,
		MaxNights: f.MaxNights, Status: f.Status, PropertyID: f.PropertyID, BaseGuests: f.BaseGuests,
		ExtraGuestPrice: f.ExtraGuestPrice, MinLeadHours: f.MinLeadHours, MaxAdvanceDays: f.MaxAdvanceDays,
		Discounts: discountsJSON(f.Discounts)})
	if err != nil {
		return Item{}, nil, fmt.Errorf("update item: %w", err)
	}
	item := ItemFromRow(row, c.Currency)
	typ := domain.EventItemUpdated
	if cur.Status != ItemArchived && f.Status == ItemArchived {
		typ = domain.EventItemArchived
	}
	return item, []domain.Event{{Type: typ, Data: item}}, nil
}

func sameID(a, b *uuid.UUID) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// lockItem reads an item and takes its row lock, which every change of its
// units holds (and bookings of it wait for).
func lockItem(ctx context.Context, q *db.Queries, sc scope.Scope, id uuid.UUID) (db.Item, error) {
	it, err := q.GetItemForUpdate(ctx, db.GetItemForUpdateParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return db.Item{}, domain.NotFound("item")
	}
	if err != nil {
		return db.Item{}, fmt.Errorf("load item: %w", err)
	}
	return it, nil
}

// RequireItem answers not_found unless the item exists in the scope's organisation.
func RequireItem(ctx context.Context, q *db.Queries, sc scope.Scope, id uuid.UUID) error {
	_, err := q.GetItem(ctx, db.GetItemParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.NotFound("item")
	}
	if err != nil {
		return fmt.Errorf("load item: %w", err)
	}
	return nil
}

// GetItem returns one item.
func (s *Catalogue) GetItem(ctx context.Context, sc scope.Scope, id uuid.UUID) (Item, error) {
	if err := domain.Authorize(sc, domain.OpReadCatalogue); err != nil {
		return Item{}, err
	}
	var out Item
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		row, err := q.GetItem(ctx, db.GetItemParams{OrganisationID: sc.OrganisationID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.NotFound("item")
		}
		if err != nil {
			return fmt.Errorf("get item: %w", err)
		}
		out = ItemFromRow(row, c.Currency)
		return nil
	})
	return out, err
}

// ItemFilter narrows the item list; the zero value lists every item.
type ItemFilter struct {
	Status     *string
	PropertyID *uuid.UUID
}

// NewItemFilter validates the list's query parameters (empty: no filter).
func NewItemFilter(status, propertyID string) (ItemFilter, error) {
	var p domain.Problems
	var f ItemFilter
	if status != "" {
		if status != ItemActive && status != ItemArchived {
			p.Add("status", "invalid", "status must be active or archived")
		}
		f.Status = &status
	}
	if propertyID != "" {
		id, err := uuid.Parse(propertyID)
		if err != nil {
			p.Add("property_id", "invalid", "property_id must be a property id")
		}
		f.PropertyID = &id
	}
	return f, p.Err()
}

// ListItems lists the catalogue, optionally by status and property.
func (s *Catalogue) ListItems(ctx context.Context, sc scope.Scope, f ItemFilter, page domain.Page) (domain.List[Item], error) {
	if err := domain.Authorize(sc, domain.OpReadCatalogue); err != nil {
		return domain.List[Item]{}, err
	}
	var out domain.List[Item]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		rows, err := q.ListItems(ctx, db.ListItemsParams{OrganisationID: sc.OrganisationID, Status: f.Status,
			PropertyID: f.PropertyID, After: page.Cursor, RowLimit: page.Limit + 1})
		if err != nil {
			return fmt.Errorf("list items: %w", err)
		}
		out = domain.Paginate(rows, page, func(r db.Item) (Item, uuid.UUID) { return ItemFromRow(r, c.Currency), r.ID })
		return nil
	})
	return out, err
}
