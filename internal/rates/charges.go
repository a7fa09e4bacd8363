package rates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Charge is a tax or a fee of the organisation, on every item or on ItemIDs.
// It is a Percent of a stay's room and add-on amounts after discounts (fees),
// plus its taxable fees (taxes), or an Amount per stay, night or guest-night
// (times the units booked). An inclusive charge is already in the prices and is
// shown for information; an exclusive one is added to the total.
type Charge struct {
	ID        uuid.UUID       `json:"id"`
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Percent   *domain.Percent `json:"percent"`
	Amount    *int64          `json:"amount"`
	Currency  string          `json:"currency"`
	Per       string          `json:"per"`
	Inclusive bool            `json:"inclusive"`
	Taxable   bool            `json:"taxable"`
	ItemIDs   []uuid.UUID     `json:"item_ids"`
	Version   int32           `json:"version"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Kinds and bases of charges.
const (
	KindTax         = "tax"
	KindFee         = "fee"
	PerStay         = "stay"
	PerNight        = "night"
	PerGuestNight   = "guest_night"
	MaxCharges      = 100 // per organisation
	maxChargedItems = 100
)

// AppliesTo reports whether the charge applies to stays of the item.
func (c Charge) AppliesTo(itemID uuid.UUID) bool {
	return c.ItemIDs == nil || slices.Contains(c.ItemIDs, itemID)
}

// ChargeFromRow is a charge as the API shows it.
func ChargeFromRow(r db.Charge, currency string) Charge {
	c := Charge{ID: r.ID, Name: r.Name, Kind: r.Kind, Amount: r.Amount, Currency: currency, Per: r.Per,
		Inclusive: r.Inclusive, Taxable: r.Taxable, ItemIDs: r.ItemIds, Version: r.Version, CreatedAt: r.CreatedAt,
		UpdatedAt: r.UpdatedAt}
	if r.PercentBp != nil {
		p := domain.Percent(*r.PercentBp)
		c.Percent = &p
	}
	return c
}

// ChargeInput is a charge as clients send it: the body of POST (name, kind and
// percent or amount required) and of PATCH (absent fields stay; item_ids: null
// means every item).
type ChargeInput struct {
	Name      *string            `json:"name"`
	Kind      *string            `json:"kind"`
	Percent   Field[json.Number] `json:"percent,omitzero"`
	Amount    Field[int64]       `json:"amount,omitzero"`
	Per       *string            `json:"per"`
	Inclusive *bool              `json:"inclusive"`
	Taxable   *bool              `json:"taxable"`
	ItemIDs   Field[[]string]    `json:"item_ids,omitzero"`
}

// ChargeFields are a charge's fields after validation.
type ChargeFields struct {
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Percent   *domain.Percent `json:"percent"`
	Amount    *int64          `json:"amount"`
	Per       string          `json:"per"`
	Inclusive bool            `json:"inclusive"`
	Taxable   bool            `json:"taxable"`
	ItemIDs   []uuid.UUID     `json:"item_ids"`
}

func chargeFieldsFromRow(r db.Charge) ChargeFields {
	c := ChargeFromRow(r, "")
	return ChargeFields{Name: c.Name, Kind: c.Kind, Percent: c.Percent, Amount: c.Amount, Per: c.Per,
		Inclusive: c.Inclusive, Taxable: c.Taxable, ItemIDs: c.ItemIDs}
}

// apply overlays in on f and validates the result.
func (f ChargeFields) apply(in ChargeInput, creating bool) (ChargeFields, error) {
	var p domain.Problems
	if creating {
		if in.Name == nil {
			p.Add("name", "required", "name is required")
		}
		if in.Kind == nil {
			p.Add("kind", "required", "kind is required")
		}
	}
	if in.Name != nil {
		f.Name = strings.TrimSpace(*in.Name)
		domain.CheckText(&p, "name", f.Name, 1, 200)
	}
	if in.Kind != nil {
		if f.Kind = *in.Kind; f.Kind != KindTax && f.Kind != KindFee {
			p.Add("kind", "invalid", "kind must be tax or fee")
		}
	}
	if in.Percent.Set {
		f.Percent = nil
		if in.Percent.Value != nil {
			v := domain.CheckPercent(&p, "percent", in.Percent.Value)
			f.Percent = &v
		}
	}
	f.Amount = in.Amount.or(f.Amount)
	if in.Amount.Set && f.Amount != nil && (*f.Amount < 0 || *f.Amount > catalogue.MaxPrice) {
		p.Add("amount", "out_of_range", "amount must be between 0 and %d minor units", int64(catalogue.MaxPrice))
	}
	if (f.Percent == nil) == (f.Amount == nil) {
		p.Add("amount", "one_of", "a charge has either a percent or an amount (send the other as null to switch)")
	}
	if in.Per != nil {
		if f.Per = *in.Per; f.Per != PerStay && f.Per != PerNight && f.Per != PerGuestNight {
			p.Add("per", "invalid", "per must be stay, night or guest_night")
		}
	}
	if f.Percent != nil && f.Per != PerStay {
		p.Add("per", "percent_per_stay", "a percent charge is taken of the stay's amounts: per must be stay")
	}
	if in.Inclusive != nil {
		f.Inclusive = *in.Inclusive
	}
	if in.Taxable != nil {
		f.Taxable = *in.Taxable
	}
	if f.Taxable && f.Kind == KindTax {
		p.Add("taxable", "fees_only", "only fees are taxable: taxes are never taxed")
	}
	if in.ItemIDs.Set {
		f.ItemIDs = nil
		if in.ItemIDs.Value != nil {
			f.ItemIDs = parseItemIDs(&p, *in.ItemIDs.Value)
		}
	}
	return f, p.Err()
}

func parseItemIDs(p *domain.Problems, in []string) []uuid.UUID {
	if len(in) == 0 || len(in) > maxChargedItems {
		p.Add("item_ids", "out_of_range", "item_ids lists 1 to %d items; null applies the charge to every item", maxChargedItems)
		return nil
	}
	out := make([]uuid.UUID, 0, len(in))
	for i, s := range in {
		id, err := uuid.Parse(s)
		switch {
		case err != nil:
			p.Add(fmt.Sprintf("item_ids[%d]", i), "invalid", "item_ids[%d] must be an item id", i)
		case slices.Contains(out, id):
			p.Add(fmt.Sprintf("item_ids[%d]", i), "duplicate", "item %s is listed twice", id)
		default:
			out = append(out, id)
		}
	}
	return out
}

// requireItems answers a field error for each id that names no item of the organisation.
func requireItems(ctx context.Context, q *db.Queries, sc scope.Scope, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	found, err := q.ExistingItems(ctx, db.ExistingItemsParams{OrganisationID: sc.OrganisationID, Ids: ids})
	if err != nil {
		return fmt.Errorf("load items: %w", err)
	}
	var p domain.Problems
	for i, id := range ids {
		if !slices.Contains(found, id) {
			p.Add(fmt.Sprintf("item_ids[%d]", i), "not_found", "no item %s in this organisation", id)
		}
	}
	return p.Err()
}

// CreateCharge adds a tax or fee.
type CreateCharge struct {
	command.Meta `json:"-"`
	ChargeFields
}

// NewCreateCharge validates in.
func NewCreateCharge(meta command.Meta, in ChargeInput) (CreateCharge, error) {
	f, err := ChargeFields{Per: PerStay}.apply(in, true)
	return CreateCharge{Meta: meta, ChargeFields: f}, err
}

// CreateCharge handles CreateCharge.
func (s *Rates) CreateCharge(ctx context.Context, sc scope.Scope, cmd CreateCharge) (Charge, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpCreateCharge, cmd, func(q *db.Queries) (Charge, []domain.Event, error) {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return Charge{}, nil, err
		}
		f := cmd.ChargeFields
		if err := requireItems(ctx, q, sc, f.ItemIDs); err != nil {
			return Charge{}, nil, err
		}
		n, err := q.CountCharges(ctx, sc.OrganisationID)
		if err != nil {
			return Charge{}, nil, fmt.Errorf("count charges: %w", err)
		}
		if n >= MaxCharges {
			return Charge{}, nil, domain.Conflict(domain.CodeChargeLimit, "the organisation has %d taxes and fees, the most it may have", MaxCharges)
		}
		row, err := q.InsertCharge(ctx, db.InsertChargeParams{OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
			Name: f.Name, Kind: f.Kind, PercentBp: percentBP(f.Percent), Amount: f.Amount, Per: f.Per, Inclusive: f.Inclusive,
			Taxable: f.Taxable, ItemIds: f.ItemIDs})
		if err != nil {
			return Charge{}, nil, fmt.Errorf("insert charge: %w", err)
		}
		ev, err := chargesChanged(ctx, q, sc, c.Currency)
		if err != nil {
			return Charge{}, nil, err
		}
		return ChargeFromRow(row, c.Currency), []domain.Event{ev}, nil
	})
}

func percentBP(p *domain.Percent) *int32 {
	if p == nil {
		return nil
	}
	v := int32(*p)
	return &v
}

// UpdateCharge changes a charge (PATCH semantics). ExpectedVersion is required.
type UpdateCharge struct {
	command.Meta `json:"-"`
	ChargeID     uuid.UUID   `json:"charge_id"`
	Input        ChargeInput `json:"input"`
}

// NewUpdateCharge checks what can be checked without the current charge.
func NewUpdateCharge(meta command.Meta, id uuid.UUID, in ChargeInput) (UpdateCharge, error) {
	_, err := ChargeFields{Name: "x", Kind: KindFee, Per: PerStay}.apply(in, false)
	// How in combines with the current charge (percent or amount, per) is
	// checked when the command runs.
	if e, ok := domain.AsError(err); ok {
		var kept domain.Problems
		for _, f := range e.Fields {
			if f.Code != "one_of" && f.Code != "percent_per_stay" && f.Code != "fees_only" {
				kept = append(kept, f)
			}
		}
		err = kept.Err()
	}
	return UpdateCharge{Meta: meta, ChargeID: id, Input: in}, err
}

// UpdateCharge handles UpdateCharge.
func (s *Rates) UpdateCharge(ctx context.Context, sc scope.Scope, cmd UpdateCharge) (Charge, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpUpdateCharge, cmd, func(q *db.Queries) (Charge, []domain.Event, error) {
		c, cur, err := lockCharge(ctx, q, sc, cmd.Meta, cmd.ChargeID)
		if err != nil {
			return Charge{}, nil, err
		}
		f, err := chargeFieldsFromRow(cur).apply(cmd.Input, false)
		if err != nil {
			return Charge{}, nil, err
		}
		if cmd.Input.ItemIDs.Set {
			if err := requireItems(ctx, q, sc, f.ItemIDs); err != nil {
				return Charge{}, nil, err
			}
		}
		row, err := q.UpdateCharge(ctx, db.UpdateChargeParams{OrganisationID: sc.OrganisationID, ID: cur.ID, Name: f.Name,
			Kind: f.Kind, PercentBp: percentBP(f.Percent), Amount: f.Amount, Per: f.Per, Inclusive: f.Inclusive,
			Taxable: f.Taxable, ItemIds: f.ItemIDs})
		if err != nil {
			return Charge{}, nil, fmt.Errorf("update charge: %w", err)
		}
		ev, err := chargesChanged(ctx, q, sc, c.Currency)
		if err != nil {
			return Charge{}, nil, err
		}
		return ChargeFromRow(row, c.Currency), []domain.Event{ev}, nil
	})
}

// DeleteCharge removes a charge; bookings keep the amounts they were charged.
type DeleteCharge struct {
	command.Meta `json:"-"`
	ChargeID     uuid.UUID `json:"charge_id"`
}

// DeleteCharge handles DeleteCharge; the answer is the charge as it was.
func (s *Rates) DeleteCharge(ctx context.Context, sc scope.Scope, cmd DeleteCharge) (Charge, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpDeleteCharge, cmd, func(q *db.Queries) (Charge, []domain.Event, error) {
		c, cur, err := lockCharge(ctx, q, sc, cmd.Meta, cmd.ChargeID)
		if err != nil {
			return Charge{}, nil, err
		}
		if _, err := q.DeleteCharge(ctx, db.DeleteChargeParams{OrganisationID: sc.OrganisationID, ID: cur.ID}); err != nil {
			return Charge{}, nil, fmt.Errorf("delete charge: %w", err)
		}
		ev, err := chargesChanged(ctx, q, sc, c.Currency)
		if err != nil {
			return Charge{}, nil, err
		}
		return ChargeFromRow(cur, c.Currency), []domain.Event{ev}, nil
	})
}

func lockCharge(ctx context.Context, q *db.Queries, sc scope.Scope, meta command.Meta, id uuid.UUID) (domain.Clock, db.Charge, error) {
	c, err := domain.LoadClock(ctx, q, sc)
	if err != nil {
		return domain.Clock{}, db.Charge{}, err
	}
	cur, err := q.GetChargeForUpdate(ctx, db.GetChargeForUpdateParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Clock{}, db.Charge{}, domain.NotFound("charge")
	}
	if err != nil {
		return domain.Clock{}, db.Charge{}, fmt.Errorf("load charge: %w", err)
	}
	if err := meta.CheckVersion(cur.Version); err != nil {
		return domain.Clock{}, db.Charge{}, err
	}
	return c, cur, nil
}

// ChargeSet is every charge of the organisation: the charges.changed event's data.
type ChargeSet struct {
	Charges []Charge `json:"charges"`
}

func chargesChanged(ctx context.Context, q *db.Queries, sc scope.Scope, currency string) (domain.Event, error) {
	rows, err := q.AllCharges(ctx, sc.OrganisationID)
	if err != nil {
		return domain.Event{}, fmt.Errorf("list charges: %w", err)
	}
	set := ChargeSet{Charges: make([]Charge, len(rows))}
	for i, r := range rows {
		set.Charges[i] = ChargeFromRow(r, currency)
	}
	return domain.Event{Type: domain.EventChargesChanged, Data: set}, nil
}

// GetCharge returns one charge.
func (s *Rates) GetCharge(ctx context.Context, sc scope.Scope, id uuid.UUID) (Charge, error) {
	if err := domain.Authorize(sc, domain.OpReadCatalogue); err != nil {
		return Charge{}, err
	}
	var out Charge
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		row, err := q.GetCharge(ctx, db.GetChargeParams{OrganisationID: sc.OrganisationID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.NotFound("charge")
		}
		if err != nil {
			return fmt.Errorf("get charge: %w", err)
		}
		out = ChargeFromRow(row, c.Currency)
		return nil
	})
	return out, err
}

// ListCharges lists the organisation's taxes and fees, oldest first.
func (s *Rates) ListCharges(ctx context.Context, sc scope.Scope, page domain.Page) (domain.List[Charge], error) {
	if err := domain.Authorize(sc, domain.OpReadCatalogue); err != nil {
		return domain.List[Charge]{}, err
	}
	var out domain.List[Charge]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		rows, err := q.ListCharges(ctx, db.ListChargesParams{OrganisationID: sc.OrganisationID, After: page.Cursor, RowLimit: page.Limit + 1})
		if err != nil {
			return fmt.Errorf("list charges: %w", err)
		}
		out = domain.Paginate(rows, page, func(r db.Charge) (Charge, uuid.UUID) { return ChargeFromRow(r, c.Currency), r.ID })
		return nil
	})
	return out, err
}

// ChargesFor loads the charges that apply to any of the items, fees first.
func ChargesFor(ctx context.Context, q *db.Queries, sc scope.Scope, itemIDs []uuid.UUID) ([]Charge, error) {
	rows, err := q.ChargesForItems(ctx, db.ChargesForItemsParams{OrganisationID: sc.OrganisationID, ItemIds: itemIDs})
	if err != nil {
		return nil, fmt.Errorf("load charges: %w", err)
	}
	out := make([]Charge, len(rows))
	for i, r := range rows {
		out[i] = ChargeFromRow(r, "")
	}
	return out, nil
}
