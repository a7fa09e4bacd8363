package catalogue

import (
	"context"
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
	command.Meta `json:"-"`
	ItemID       uuid.UUID `json:"item_id"`
	Name         string    `json:"name"`
	Price        int64     `json:"price"`
	Per          string    `json:"per"`
	MaxQuantity  int32     `json:"max_quantity"`
}

// NewCreateAddon validates in.
func NewCreateAddon(meta command.Meta, itemID uuid.UUID, in AddonInput) (CreateAddon, error) {
	cmd := CreateAddon{Meta: meta, ItemID: itemID, Name: strings.TrimSpace(in.Name), Per: in.Per, MaxQuantity: 1}
	var p domain.Problems
	domain.CheckText(&p, "name", cmd.Name, 1, 200)
	if in.Price == nil {
		p.Add("price", "required", "price is required")
	} else if cmd.Price = *in.Price; cmd.Price < 0 || cmd.Price > MaxPrice {
		p.Add("price", "out_of_range", "price must be between 0 and %d minor units", int64(MaxPrice))
	}
	if cmd.Per != PerBooking && cmd.Per != PerNight {
		p.Add("per", "invalid", "per must be booking or night")
	}
	if in.MaxQuantity != nil {
		if cmd.MaxQuantity = *in.MaxQuantity; cmd.MaxQuantity < 1 || cmd.MaxQuantity > 1000 {
			p.Add("max_quantity", "out_of_range", "max_quantity must be between 1 and 1000")
		}
	}
	return cmd, p.Err()
}

// CreateAddon handles CreateAddon.
func (s *Catalogue) CreateAddon(ctx context.Context, sc scope.Scope, cmd CreateAddon) (Addon, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpCreateAddon, cmd, func(q *db.Queries) (Addon, []domain.Event, error) {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return Addon{}, nil, err
		}
		if err := RequireItem(ctx, q, sc, cmd.ItemID); err != nil {
			return Addon{}, nil, err
		}
		row, err := q.CreateAddon(ctx, db.CreateAddonParams{OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
			ItemID: cmd.ItemID, Name: cmd.Name, Price: cmd.Price, Per: cmd.Per, MaxQuantity: cmd.MaxQuantity})
		if err != nil {
			return Addon{}, nil, fmt.Errorf("insert addon: %w", err)
		}
		return addonFromRow(row, c.Currency), nil, nil
	})
}

// ArchiveAddon removes an add-on from sale; bookings keep their copy of it.
type ArchiveAddon struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID `json:"item_id"`
	AddonID      uuid.UUID `json:"addon_id"`
}

// ArchiveAddon handles ArchiveAddon.
func (s *Catalogue) ArchiveAddon(ctx context.Context, sc scope.Scope, cmd ArchiveAddon) (Addon, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpArchiveAddon, cmd, func(q *db.Queries) (Addon, []domain.Event, error) {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return Addon{}, nil, err
		}
		row, err := q.ArchiveAddon(ctx, db.ArchiveAddonParams{OrganisationID: sc.OrganisationID, ItemID: cmd.ItemID, ID: cmd.AddonID, Now: c.Now})
		if errors.Is(err, pgx.ErrNoRows) {
			return Addon{}, nil, domain.NotFound("addon")
		}
		if err != nil {
			return Addon{}, nil, fmt.Errorf("archive addon: %w", err)
		}
		return addonFromRow(row, c.Currency), nil, nil
	})
}

// ListAddons lists an item's add-ons on sale.
func (s *Catalogue) ListAddons(ctx context.Context, sc scope.Scope, itemID uuid.UUID) (domain.List[Addon], error) {
	if err := domain.Authorize(sc, domain.OpReadCatalogue); err != nil {
		return domain.List[Addon]{}, err
	}
	out := domain.List[Addon]{Data: []Addon{}}
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		if err := RequireItem(ctx, q, sc, itemID); err != nil {
			return err
		}
		rows, err := q.ListAddons(ctx, db.ListAddonsParams{OrganisationID: sc.OrganisationID, ItemID: itemID})
		if err != nil {
			return fmt.Errorf("list addons: %w", err)
		}
		for _, r := range rows {
			out.Data = append(out.Data, addonFromRow(r, c.Currency))
		}
		return nil
	})
	return out, err
}
