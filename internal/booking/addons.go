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

// Addon is an extra booked with an item: breakfast, parking, a cot.
type Addon struct {
	ID          uuid.UUID `json:"id"`
	ItemID      uuid.UUID `json:"item_id"`
	Name        string    `json:"name"`
	Price       int64     `json:"price"`
	Currency    string    `json:"currency"`
	Per         string    `json:"per"`
	MaxQuantity int32     `json:"max_quantity"`
	CreatedAt   time.Time `json:"created_at"`
}

// Per says how an add-on's price counts.
const (
	PerBooking = "booking" // once per booked item
	PerNight   = "night"   // once per night
)

func addonFromRow(a db.Addon, currency string) Addon {
	return Addon{ID: a.ID, ItemID: a.ItemID, Name: a.Name, Price: a.Price, Currency: currency, Per: a.Per,
		MaxQuantity: a.MaxQuantity, CreatedAt: a.CreatedAt}
}

// AddonInput is the body of add-on creation.
type AddonInput struct {
	Name        string `json:"name"`
	Price       *int64 `json:"price"`
	Per         string `json:"per"`
	MaxQuantity *int32 `json:"max_quantity"`
}

// CreateAddon adds an add-on to an item.
type CreateAddon struct {
	Meta        `json:"-"`
	ItemID      uuid.UUID `json:"item_id"`
	Name        string    `json:"name"`
	Price       int64     `json:"price"`
	Per         string    `json:"per"`
	MaxQuantity int32     `json:"max_quantity"`
}

// NewCreateAddon validates in.
func NewCreateAddon(meta Meta, itemID uuid.UUID, in AddonInput) (CreateAddon, error) {
	cmd := CreateAddon{Meta: meta, ItemID: itemID, Name: strings.TrimSpace(in.Name), Per: in.Per, MaxQuantity: 1}
	var p problems
	checkText(&p, "name", cmd.Name, 1, 200)
	if in.Price == nil {
		p.add("price", "required", "price is required")
	} else if cmd.Price = *in.Price; cmd.Price < 0 || cmd.Price > maxPrice {
		p.add("price", "out_of_range", "price must be between 0 and %d minor units", int64(maxPrice))
	}
	if cmd.Per != PerBooking && cmd.Per != PerNight {
		p.add("per", "invalid", "per must be booking or night")
	}
	if in.MaxQuantity != nil {
		if cmd.MaxQuantity = *in.MaxQuantity; cmd.MaxQuantity < 1 || cmd.MaxQuantity > 1000 {
			p.add("max_quantity", "out_of_range", "max_quantity must be between 1 and 1000")
		}
	}
	return cmd, p.err()
}

// CreateAddon handles CreateAddon.
func (s *Service) CreateAddon(ctx context.Context, sc scope.Scope, cmd CreateAddon) (Addon, Receipt, error) {
	if err := requireRole(sc, scope.RoleAdmin, "manage the catalogue"); err != nil {
		return Addon{}, Receipt{}, err
	}
	return execute(ctx, s, sc, cmd.Meta, "addon.create", cmd, func(q *db.Queries) (Addon, []Event, error) {
		c, err := loadClock(ctx, q, sc)
		if err != nil {
			return Addon{}, nil, err
		}
		if err := requireItem(ctx, q, sc, cmd.ItemID); err != nil {
			return Addon{}, nil, err
		}
		row, err := q.CreateAddon(ctx, db.CreateAddonParams{OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
			ItemID: cmd.ItemID, Name: cmd.Name, Price: cmd.Price, Per: cmd.Per, MaxQuantity: cmd.MaxQuantity})
		if err != nil {
			return Addon{}, nil, fmt.Errorf("insert addon: %w", err)
		}
		return addonFromRow(row, c.org.Currency), nil, nil
	})
}

// ArchiveAddon removes an add-on from sale; bookings keep their copy of it.
type ArchiveAddon struct {
	Meta    `json:"-"`
	ItemID  uuid.UUID `json:"item_id"`
	AddonID uuid.UUID `json:"addon_id"`
}

// ArchiveAddon handles ArchiveAddon.
func (s *Service) ArchiveAddon(ctx context.Context, sc scope.Scope, cmd ArchiveAddon) (Addon, Receipt, error) {
	if err := requireRole(sc, scope.RoleAdmin, "manage the catalogue"); err != nil {
		return Addon{}, Receipt{}, err
	}
	return execute(ctx, s, sc, cmd.Meta, "addon.archive", cmd, func(q *db.Queries) (Addon, []Event, error) {
		c, err := loadClock(ctx, q, sc)
		if err != nil {
			return Addon{}, nil, err
		}
		row, err := q.ArchiveAddon(ctx, db.ArchiveAddonParams{OrganisationID: sc.OrganisationID, ItemID: cmd.ItemID, ID: cmd.AddonID})
		if errors.Is(err, pgx.ErrNoRows) {
			return Addon{}, nil, notFound("addon")
		}
		if err != nil {
			return Addon{}, nil, fmt.Errorf("archive addon: %w", err)
		}
		return addonFromRow(row, c.org.Currency), nil, nil
	})
}

// ListAddons lists an item's add-ons on sale.
func (s *Service) ListAddons(ctx context.Context, sc scope.Scope, itemID uuid.UUID) (List[Addon], error) {
	out := List[Addon]{Data: []Addon{}}
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		c, err := loadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		if err := requireItem(ctx, q, sc, itemID); err != nil {
			return err
		}
		rows, err := q.ListAddons(ctx, db.ListAddonsParams{OrganisationID: sc.OrganisationID, ItemID: itemID})
		if err != nil {
			return fmt.Errorf("list addons: %w", err)
		}
		for _, r := range rows {
			out.Data = append(out.Data, addonFromRow(r, c.org.Currency))
		}
		return nil
	})
	return out, err
}
