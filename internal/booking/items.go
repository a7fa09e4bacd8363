package booking

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/db"
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
	Version      int32     `json:"version"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func itemFromRow(i db.Item, currency string) Item {
	return Item{ID: i.ID, Name: i.Name, Description: i.Description, Capacity: i.Capacity, NightlyPrice: i.NightlyPrice,
		Currency: currency, MinNights: i.MinNights, MaxNights: i.MaxNights, Status: i.Status, Version: i.Version,
		CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt}
}

const (
	ItemActive   = "active"
	ItemArchived = "archived"
	maxPrice     = 1_000_000_000_00 // a billion in major units: bounds totals far below int64 overflow
	maxNights    = 365
)

// ItemInput is the body of item create (all required but description and the
// night limits) and item PATCH (all optional).
type ItemInput struct {
	Name         *string `json:"name"`
	Description  *string `json:"description"`
	Capacity     *int32  `json:"capacity"`
	NightlyPrice *int64  `json:"nightly_price"`
	MinNights    *int32  `json:"min_nights"`
	MaxNights    *int32  `json:"max_nights"`
	Status       *string `json:"status"`
}

// ItemFields are an item's editable fields after validation.
type ItemFields struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	Capacity     int32  `json:"capacity"`
	NightlyPrice int64  `json:"nightly_price"`
	MinNights    int32  `json:"min_nights"`
	MaxNights    int32  `json:"max_nights"`
	Status       string `json:"status"`
}

// apply overlays in on f and validates the result.
func (f ItemFields) apply(in ItemInput, creating bool) (ItemFields, error) {
	var p problems
	if creating {
		if in.Name == nil {
			p.add("name", "required", "name is required")
		}
		if in.Capacity == nil {
			p.add("capacity", "required", "capacity is required")
		}
		if in.NightlyPrice == nil {
			p.add("nightly_price", "required", "nightly_price is required")
		}
		if in.Status != nil {
			p.add("status", "read_only", "a new item is always active")
		}
	}
	if in.Name != nil {
		f.Name = strings.TrimSpace(*in.Name)
		checkText(&p, "name", f.Name, 1, 200)
	}
	if in.Description != nil {
		f.Description = *in.Description
		checkText(&p, "description", f.Description, 0, 5000)
	}
	if in.Capacity != nil {
		f.Capacity = *in.Capacity
		if f.Capacity < 1 || f.Capacity > 10000 {
			p.add("capacity", "out_of_range", "capacity must be between 1 and 10000 guests")
		}
	}
	if in.NightlyPrice != nil {
		f.NightlyPrice = *in.NightlyPrice
		if f.NightlyPrice < 0 || f.NightlyPrice > maxPrice {
			p.add("nightly_price", "out_of_range", "nightly_price must be between 0 and %d minor units", int64(maxPrice))
		}
	}
	if in.MinNights != nil {
		f.MinNights = *in.MinNights
	}
	if in.MaxNights != nil {
		f.MaxNights = *in.MaxNights
	}
	if f.MinNights < 1 || f.MinNights > maxNights {
		p.add("min_nights", "out_of_range", "min_nights must be between 1 and %d", maxNights)
	} else if f.MaxNights < f.MinNights || f.MaxNights > maxNights {
		p.add("max_nights", "out_of_range", "max_nights must be between min_nights and %d", maxNights)
	}
	if in.Status != nil && !creating {
		f.Status = *in.Status
		if f.Status != ItemActive && f.Status != ItemArchived {
			p.add("status", "invalid", "status must be active or archived")
		}
	}
	return f, p.err()
}

// CreateItem adds an item to the catalogue.
type CreateItem struct {
	Meta `json:"-"`
	ItemFields
}

// NewCreateItem validates in.
func NewCreateItem(meta Meta, in ItemInput) (CreateItem, error) {
	f, err := ItemFields{MinNights: 1, MaxNights: maxNights, Status: ItemActive}.apply(in, true)
	return CreateItem{Meta: meta, ItemFields: f}, err
}

func requireRole(sc scope.Scope, r scope.Role, what string) error {
	if !sc.Role.Allows(r) {
		return forbidden("a %s key cannot %s", sc.Role, what)
	}
	return nil
}

// CreateItem handles CreateItem.
func (s *Service) CreateItem(ctx context.Context, sc scope.Scope, cmd CreateItem) (Item, Receipt, error) {
	if err := requireRole(sc, scope.RoleAdmin, "manage the catalogue"); err != nil {
		return Item{}, Receipt{}, err
	}
	return execute(ctx, s, sc, cmd.Meta, "item.create", cmd, func(q *db.Queries) (Item, []Event, error) {
		c, err := loadClock(ctx, q, sc)
		if err != nil {
			return Item{}, nil, err
		}
		f := cmd.ItemFields
		row, err := q.CreateItem(ctx, db.CreateItemParams{OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
			Name: f.Name, Description: f.Description, Capacity: f.Capacity, NightlyPrice: f.NightlyPrice,
			MinNights: f.MinNights, MaxNights: f.MaxNights})
		if err != nil {
			return Item{}, nil, fmt.Errorf("insert item: %w", err)
		}
		item := itemFromRow(row, c.org.Currency)
		return item, []Event{{EventItemCreated, item}}, nil
	})
}

// UpdateItem changes an item (PATCH semantics). ExpectedVersion is required.
type UpdateItem struct {
	Meta   `json:"-"`
	ItemID uuid.UUID `json:"item_id"`
	Input  ItemInput `json:"input"`
}

// NewUpdateItem checks what can be checked without the current item.
func NewUpdateItem(meta Meta, id uuid.UUID, in ItemInput) (UpdateItem, error) {
	_, err := ItemFields{Name: "x", Capacity: 1, MinNights: 1, MaxNights: maxNights, Status: ItemActive}.apply(in, false)
	return UpdateItem{Meta: meta, ItemID: id, Input: in}, err
}

// UpdateItem handles UpdateItem.
func (s *Service) UpdateItem(ctx context.Context, sc scope.Scope, cmd UpdateItem) (Item, Receipt, error) {
	if err := requireRole(sc, scope.RoleAdmin, "manage the catalogue"); err != nil {
		return Item{}, Receipt{}, err
	}
	return execute(ctx, s, sc, cmd.Meta, "item.update", cmd, func(q *db.Queries) (Item, []Event, error) {
		return s.changeItem(ctx, q, sc, cmd.Meta, cmd.ItemID, func(cur ItemFields) (ItemFields, error) {
			return cur.apply(cmd.Input, false)
		})
	})
}

// ArchiveItem takes an item out of availability; its bookings stay.
type ArchiveItem struct {
	Meta   `json:"-"`
	ItemID uuid.UUID `json:"item_id"`
}

// ArchiveItem handles ArchiveItem.
func (s *Service) ArchiveItem(ctx context.Context, sc scope.Scope, cmd ArchiveItem) (Item, Receipt, error) {
	if err := requireRole(sc, scope.RoleAdmin, "manage the catalogue"); err != nil {
		return Item{}, Receipt{}, err
	}
	return execute(ctx, s, sc, cmd.Meta, "item.archive", cmd, func(q *db.Queries) (Item, []Event, error) {
		return s.changeItem(ctx, q, sc, cmd.Meta, cmd.ItemID, func(cur ItemFields) (ItemFields, error) {
			cur.Status = ItemArchived
			return cur, nil
		})
	})
}

func (s *Service) changeItem(ctx context.Context, q *db.Queries, sc scope.Scope, meta Meta, id uuid.UUID,
	change func(ItemFields) (ItemFields, error)) (Item, []Event, error) {
	c, err := loadClock(ctx, q, sc)
	if err != nil {
		return Item{}, nil, err
	}
	cur, err := q.GetItemForUpdate(ctx, db.GetItemForUpdateParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, nil, notFound("item")
	}
	if err != nil {
		return Item{}, nil, fmt.Errorf("load item: %w", err)
	}
	if err := checkVersion(meta, cur.Version); err != nil {
		return Item{}, nil, err
	}
	f, err := change(ItemFields{Name: cur.Name, Description: cur.Description, Capacity: cur.Capacity,
		NightlyPrice: cur.NightlyPrice, MinNights: cur.MinNights, MaxNights: cur.MaxNights, Status: cur.Status})
	if err != nil {
		return Item{}, nil, err
	}
	row, err := q.UpdateItem(ctx, db.UpdateItemParams{OrganisationID: sc.OrganisationID, ID: id, Name: f.Name,
		Description: f.Description, Capacity: f.Capacity, NightlyPrice: f.NightlyPrice, MinNights: f.MinNights,
		MaxNights: f.MaxNights, Status: f.Status})
	if err != nil {
		return Item{}, nil, fmt.Errorf("update item: %w", err)
	}
	item := itemFromRow(row, c.org.Currency)
	typ := EventItemUpdated
	if cur.Status != ItemArchived && f.Status == ItemArchived {
		typ = EventItemArchived
	}
	return item, []Event{{typ, item}}, nil
}

// requireItem answers not_found unless the item exists in the scope's organisation.
func requireItem(ctx context.Context, q *db.Queries, sc scope.Scope, id uuid.UUID) error {
	_, err := q.GetItem(ctx, db.GetItemParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("item")
	}
	if err != nil {
		return fmt.Errorf("load item: %w", err)
	}
	return nil
}

// GetItem returns one item.
func (s *Service) GetItem(ctx context.Context, sc scope.Scope, id uuid.UUID) (Item, error) {
	var out Item
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		c, err := loadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		row, err := q.GetItem(ctx, db.GetItemParams{OrganisationID: sc.OrganisationID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("item")
		}
		if err != nil {
			return fmt.Errorf("get item: %w", err)
		}
		out = itemFromRow(row, c.org.Currency)
		return nil
	})
	return out, err
}

// ListItems lists the catalogue, optionally by status.
func (s *Service) ListItems(ctx context.Context, sc scope.Scope, status string, page Page) (List[Item], error) {
	var st *string
	if status != "" {
		if status != ItemActive && status != ItemArchived {
			return List[Item]{}, Invalid("status", "invalid", "status must be active or archived")
		}
		st = &status
	}
	var out List[Item]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		c, err := loadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		rows, err := q.ListItems(ctx, db.ListItemsParams{OrganisationID: sc.OrganisationID, Status: st, After: page.After, RowLimit: page.Limit + 1})
		if err != nil {
			return fmt.Errorf("list items: %w", err)
		}
		out = paginate(rows, page, func(r db.Item) (Item, uuid.UUID) { return itemFromRow(r, c.org.Currency), r.ID })
		return nil
	})
	return out, err
}
