package booking

import (
	"context"
	"errors"
	"fmt"
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

// Block kinds: why a unit is out of service.
const (
	BlockMaintenance = "maintenance"
	BlockOwner       = "owner"
	BlockExternal    = "external" // another channel's booking (calendar sync)
)

// maxBlockDays bounds a block's length.
const maxBlockDays = 366

// Block takes one unit of an item out of service for [Start, End). It lives under
// the same exclusion constraint as bookings: a block never overlaps an active
// booking of its unit, and no booking lands on a blocked unit.
type Block struct {
	ID     uuid.UUID   `json:"id"`
	ItemID uuid.UUID   `json:"item_id"`
	UnitID uuid.UUID   `json:"unit_id"`
	Start  domain.Date `json:"start"`
	End    domain.Date `json:"end"`
	Kind   string      `json:"kind"`
	Reason string      `json:"reason"`
	// Source is where an external block came from (calendar sync); nil for
	// blocks made through the API.
	Source    *BlockSource `json:"source"`
	Version   int32        `json:"version"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
}

// BlockSource is the calendar import and event UID an external block mirrors.
type BlockSource struct {
	ImportID uuid.UUID `json:"import_id"`
	UID      string    `json:"uid"`
}

func blockFromRow(id, itemID, unitID uuid.UUID, start, end time.Time, kind, reason string, importID *uuid.UUID, uid *string,
	version int32, created, updated time.Time) Block {
	b := Block{ID: id, ItemID: itemID, UnitID: unitID, Start: domain.DateFromTime(start), End: domain.DateFromTime(end),
		Kind: kind, Reason: reason, Version: version, CreatedAt: created, UpdatedAt: updated}
	if importID != nil && uid != nil {
		b.Source = &BlockSource{ImportID: *importID, UID: *uid}
	}
	return b
}

// BlockInput is the body of block creation (start, end and kind required) and of
// a block PATCH (all optional; kind cannot change).
type BlockInput struct {
	UnitID *string `json:"unit_id"`
	Start  *string `json:"start"`
	End    *string `json:"end"`
	Reason *string `json:"reason"`
	Kind   *string `json:"kind"`
}

// BlockFields are a block's editable fields after validation.
type BlockFields struct {
	UnitID *uuid.UUID  `json:"unit_id"`
	Start  domain.Date `json:"start"`
	End    domain.Date `json:"end"`
	Reason string      `json:"reason"`
	Kind   string      `json:"kind"`
}

func (f BlockFields) apply(in BlockInput, creating bool) (BlockFields, error) {
	var p domain.Problems
	if in.UnitID != nil {
		id, err := uuid.Parse(*in.UnitID)
		if err != nil {
			p.Add("unit_id", "invalid", "unit_id must be a unit id")
		}
		f.UnitID = &id
	}
	start, end := in.Start, in.End
	if creating {
		if start == nil {
			p.Add("start", "required", "start is required")
		}
		if end == nil {
			p.Add("end", "required", "end is required")
		}
	}
	if start != nil {
		d, err := domain.ParseDate(*start)
		if err != nil {
			p.Add("start", "invalid", "%s", err.Error())
		}
		f.Start = d
	}
	if end != nil {
		d, err := domain.ParseDate(*end)
		if err != nil {
			p.Add("end", "invalid", "%s", err.Error())
		}
		f.End = d
	}
	if len(p) == 0 && !f.Start.IsZero() && !f.End.IsZero() {
		switch n := f.Start.DaysUntil(f.End); {
		case n < 1:
			p.Add("end", "before_start", "end must be after start")
		case n > maxBlockDays:
			p.Add("end", "too_long", "a block is at most %d days", maxBlockDays)
		}
	}
	if in.Reason != nil {
		f.Reason = strings.TrimSpace(*in.Reason)
		domain.CheckText(&p, "reason", f.Reason, 0, 1000)
	}
	if in.Kind != nil {
		if !creating {
			p.Add("kind", "read_only", "a block's kind cannot change")
		}
		f.Kind = *in.Kind
		if f.Kind != BlockMaintenance && f.Kind != BlockOwner && f.Kind != BlockExternal {
			p.Add("kind", "invalid", "kind must be maintenance, owner or external")
		}
	} else if creating {
		p.Add("kind", "required", "kind is required: maintenance, owner or external")
	}
	return f, p.Err()
}

// CreateBlock takes a unit out of service.
type CreateBlock struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID `json:"item_id"`
	BlockFields
}

// NewCreateBlock validates in.
func NewCreateBlock(meta command.Meta, itemID uuid.UUID, in BlockInput) (CreateBlock, error) {
	f, err := BlockFields{}.apply(in, true)
	return CreateBlock{Meta: meta, ItemID: itemID, BlockFields: f}, err
}

// CreateBlock handles CreateBlock: the given unit, or one chosen like a booking's
// (the free unit whose neighbours leave the smallest gaps).
func (s *Bookings) CreateBlock(ctx context.Context, sc scope.Scope, cmd CreateBlock) (Block, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpCreateBlock, cmd, func(q *db.Queries) (Block, []domain.Event, error) {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return Block{}, nil, err
		}
		it, err := lockItem(ctx, q, sc, cmd.ItemID)
		if err != nil {
			return Block{}, nil, err
		}
		if it.Status != catalogue.ItemActive {
			return Block{}, nil, domain.Conflict(domain.CodeItemArchived, "item %s is archived", it.ID)
		}
		events, err := s.expireStaleHolds(ctx, q, sc, c, []uuid.UUID{it.ID}, nil)
		if err != nil {
			return Block{}, nil, err
		}
		unit, err := blockUnit(ctx, q, sc, c.Now, it.ID, cmd.BlockFields)
		if err != nil {
			return Block{}, nil, err
		}
		row, err := q.InsertBlock(ctx, db.InsertBlockParams{OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
			ItemID: it.ID, UnitID: unit, StartDate: cmd.Start.Time(), EndDate: cmd.End.Time(), Kind: cmd.Kind, Reason: cmd.Reason})
		if err != nil {
			return Block{}, nil, fmt.Errorf("insert block: %w", err)
		}
		err = q.InsertOccupancy(ctx, db.InsertOccupancyParams{OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
			UnitID: unit, ItemID: it.ID, CheckIn: cmd.Start.Time(), CheckOut: cmd.End.Time(), BlockID: &row.ID, Status: "blocked"})
		if isOverlap(err) {
			return Block{}, nil, blockConflict(ctx, q, sc, c.Now, unit, cmd.Start, cmd.End)
		}
		if err != nil {
			return Block{}, nil, fmt.Errorf("insert block occupancy: %w", err)
		}
		b := blockFromRow(row.ID, row.ItemID, row.UnitID, row.StartDate, row.EndDate, row.Kind, row.Reason, row.SourceImportID,
			row.SourceUid, row.Version, row.CreatedAt, row.UpdatedAt)
		return b, append(events, domain.Event{Type: domain.EventBlockCreated, Data: b}), nil
	})
}

// lockItem takes an item's row lock, as bookings of it do, so a block and a
// booking of the same item run one at a time.
func lockItem(ctx context.Context, q *db.Queries, sc scope.Scope, id uuid.UUID) (db.Item, error) {
	it, err := q.GetItemForUpdate(ctx, db.GetItemForUpdateParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return db.Item{}, domain.NotFound("item")
	}
	if err != nil {
		return db.Item{}, fmt.Errorf("lock item: %w", err)
	}
	return it, nil
}

// blockUnit is the unit a block takes: the one asked for, which must be an
// active unit of the item (the exclusion constraint decides whether it is
// free), or the best free unit. A block that moves keeps its unit unless it
// names another: f.UnitID is then its current unit.
func blockUnit(ctx context.Context, q *db.Queries, sc scope.Scope, now time.Time, itemID uuid.UUID, f BlockFields) (uuid.UUID, error) {
	if f.UnitID != nil {
		u, err := q.GetUnit(ctx, db.GetUnitParams{OrganisationID: sc.OrganisationID, ItemID: itemID, ID: *f.UnitID})
		if errors.Is(err, pgx.ErrNoRows) {
			return uuid.Nil, domain.Invalid("unit_id", "not_found", fmt.Sprintf("item %s has no unit %s", itemID, *f.UnitID))
		}
		if err != nil {
			return uuid.Nil, fmt.Errorf("load unit: %w", err)
		}
		if u.Status != catalogue.ItemActive {
			return uuid.Nil, domain.Invalid("unit_id", "unit_archived", fmt.Sprintf("unit %s is archived", u.ID))
		}
		return u.ID, nil // the exclusion constraint decides whether it is free
	}
	free, err := freeUnits(ctx, q, sc, now, itemID, f.Start, f.End, nil)
	if err != nil {
		return uuid.Nil, err
	}
	if len(free) == 0 {
		ids, err := q.OverlappingItemBookings(ctx, db.OverlappingItemBookingsParams{OrganisationID: sc.OrganisationID, Now: now,
			ItemID: itemID, CheckIn: f.Start.Time(), CheckOut: f.End.Time()})
		if err != nil {
			return uuid.Nil, fmt.Errorf("find overlapping bookings: %w", err)
		}
		e := domain.Conflict(domain.CodeBlockConflict, "no unit of item %s is free from %s to %s", itemID, f.Start, f.End)
		e.BookingIDs = ids
		return uuid.Nil, e
	}
	return free[0].ID, nil
}

// blockConflict is the answer to a block the exclusion constraint refused: it
// names the bookings on the unit in those nights (none when another block is).
func blockConflict(ctx context.Context, q *db.Queries, sc scope.Scope, now time.Time, unit uuid.UUID, start, end domain.Date) error {
	ids, err := q.OverlappingBookings(ctx, db.OverlappingBookingsParams{OrganisationID: sc.OrganisationID, Now: now, UnitID: unit,
		CheckIn: start.Time(), CheckOut: end.Time()})
	if err != nil {
		return fmt.Errorf("find overlapping bookings: %w", err)
	}
	e := domain.Conflict(domain.CodeBlockConflict, "unit %s is booked or blocked between %s and %s", unit, start, end)
	e.BookingIDs = ids
	return e
}

// UpdateBlock moves a block (dates, unit) or changes its reason. ExpectedVersion
// is required.
type UpdateBlock struct {
	command.Meta `json:"-"`
	BlockID      uuid.UUID  `json:"block_id"`
	Input        BlockInput `json:"input"`
}

// NewUpdateBlock checks what can be checked without the current block.
func NewUpdateBlock(meta command.Meta, id uuid.UUID, in BlockInput) (UpdateBlock, error) {
	cmd := UpdateBlock{Meta: meta, BlockID: id, Input: in}
	if in.UnitID == nil && in.Start == nil && in.End == nil && in.Reason == nil && in.Kind == nil {
		return cmd, domain.Invalid("", "empty", "nothing to change: send unit_id, start, end or reason")
	}
	today := domain.DateOf(time.Now(), time.UTC)
	_, err := BlockFields{Start: today, End: today.AddDays(1)}.apply(in, false)
	return cmd, err
}

// UpdateBlock handles UpdateBlock.
func (s *Bookings) UpdateBlock(ctx context.Context, sc scope.Scope, cmd UpdateBlock) (Block, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpUpdateBlock, cmd, func(q *db.Queries) (Block, []domain.Event, error) {
		c, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return Block{}, nil, err
		}
		first, err := q.GetBlock(ctx, db.GetBlockParams{OrganisationID: sc.OrganisationID, ID: cmd.BlockID})
		if errors.Is(err, pgx.ErrNoRows) {
			return Block{}, nil, domain.NotFound("block")
		}
		if err != nil {
			return Block{}, nil, fmt.Errorf("load block: %w", err)
		}
		if _, err := lockItem(ctx, q, sc, first.ItemID); err != nil {
			return Block{}, nil, err
		}
		cur, err := q.GetBlockForUpdate(ctx, db.GetBlockForUpdateParams{OrganisationID: sc.OrganisationID, ID: cmd.BlockID})
		if err != nil {
			return Block{}, nil, fmt.Errorf("lock block: %w", err)
		}
		if err := cmd.Meta.CheckVersion(cur.Version); err != nil {
			return Block{}, nil, err
		}
		unit := cur.UnitID
		f, err := BlockFields{UnitID: &unit, Start: domain.DateFromTime(cur.StartDate), End: domain.DateFromTime(cur.EndDate),
			Reason: cur.Reason, Kind: cur.Kind}.apply(cmd.Input, false)
		if err != nil {
			return Block{}, nil, err
		}
		if f.UnitID, err = ptr(blockUnit(ctx, q, sc, c.Now, cur.ItemID, f)); err != nil {
			return Block{}, nil, err
		}
		err = q.MoveBlockOccupancy(ctx, db.MoveBlockOccupancyParams{OrganisationID: sc.OrganisationID, BlockID: &cur.ID,
			UnitID: *f.UnitID, StartDate: f.Start.Time(), EndDate: f.End.Time()})
		if isOverlap(err) {
			return Block{}, nil, blockConflict(ctx, q, sc, c.Now, *f.UnitID, f.Start, f.End)
		}
		if err != nil {
			return Block{}, nil, fmt.Errorf("move block occupancy: %w", err)
		}
		row, err := q.UpdateBlock(ctx, db.UpdateBlockParams{OrganisationID: sc.OrganisationID, ID: cur.ID, UnitID: *f.UnitID,
			StartDate: f.Start.Time(), EndDate: f.End.Time(), Reason: f.Reason})
		if err != nil {
			return Block{}, nil, fmt.Errorf("update block: %w", err)
		}
		b := blockFromRow(row.ID, row.ItemID, row.UnitID, row.StartDate, row.EndDate, row.Kind, row.Reason, row.SourceImportID,
			row.SourceUid, row.Version, row.CreatedAt, row.UpdatedAt)
		return b, []domain.Event{{Type: domain.EventBlockUpdated, Data: b}}, nil
	})
}

func ptr[T any](v T, err error) (*T, error) { return &v, err }

// DeleteBlock puts the unit back in service.
type DeleteBlock struct {
	command.Meta `json:"-"`
	BlockID      uuid.UUID `json:"block_id"`
}

// DeleteBlock handles DeleteBlock; the answer is the block as it was.
func (s *Bookings) DeleteBlock(ctx context.Context, sc scope.Scope, cmd DeleteBlock) (Block, command.Receipt, error) {
	return command.Run(ctx, s.exec, sc, cmd.Meta, domain.OpDeleteBlock, cmd, func(q *db.Queries) (Block, []domain.Event, error) {
		row, err := q.GetBlockForUpdate(ctx, db.GetBlockForUpdateParams{OrganisationID: sc.OrganisationID, ID: cmd.BlockID})
		if errors.Is(err, pgx.ErrNoRows) {
			return Block{}, nil, domain.NotFound("block")
		}
		if err != nil {
			return Block{}, nil, fmt.Errorf("load block: %w", err)
		}
		if err := cmd.Meta.CheckVersion(row.Version); err != nil {
			return Block{}, nil, err
		}
		if err := q.DeleteBlock(ctx, db.DeleteBlockParams{OrganisationID: sc.OrganisationID, ID: row.ID}); err != nil {
			return Block{}, nil, fmt.Errorf("delete block: %w", err)
		}
		b := blockFromRow(row.ID, row.ItemID, row.UnitID, row.StartDate, row.EndDate, row.Kind, row.Reason, row.SourceImportID,
			row.SourceUid, row.Version, row.CreatedAt, row.UpdatedAt)
		return b, []domain.Event{{Type: domain.EventBlockDeleted, Data: b}}, nil
	})
}

// GetBlock returns one block.
func (s *Bookings) GetBlock(ctx context.Context, sc scope.Scope, id uuid.UUID) (Block, error) {
	if err := domain.Authorize(sc, domain.OpReadCatalogue); err != nil {
		return Block{}, err
	}
	var out Block
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		row, err := q.GetBlock(ctx, db.GetBlockParams{OrganisationID: sc.OrganisationID, ID: id})
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.NotFound("block")
		}
		if err != nil {
			return fmt.Errorf("get block: %w", err)
		}
		out = blockFromRow(row.ID, row.ItemID, row.UnitID, row.StartDate, row.EndDate, row.Kind, row.Reason, row.SourceImportID,
			row.SourceUid, row.Version, row.CreatedAt, row.UpdatedAt)
		return nil
	})
	return out, err
}

// BlockFilter narrows a block list.
type BlockFilter struct {
	ItemID   *uuid.UUID
	From, To *domain.Date // blocks overlapping [From, To)
}

// NewBlockFilter validates list filters as they arrive in a query string.
func NewBlockFilter(itemID, from, to string) (BlockFilter, error) {
	var f BlockFilter
	var p domain.Problems
	if itemID != "" {
		id, err := uuid.Parse(itemID)
		if err != nil {
			p.Add("item_id", "invalid", "item_id must be an item id")
		}
		f.ItemID = &id
	}
	if (from == "") != (to == "") {
		p.Add("from", "required", "from and to go together")
	} else if from != "" {
		fd, err := domain.ParseDate(from)
		if err != nil {
			p.Add("from", "invalid", "%s", err.Error())
		}
		td, err2 := domain.ParseDate(to)
		if err2 != nil {
			p.Add("to", "invalid", "%s", err2.Error())
		}
		if err == nil && err2 == nil && !fd.Before(td) {
			p.Add("to", "before_from", "to must be after from")
		}
		f.From, f.To = &fd, &td
	}
	return f, p.Err()
}

// ListBlocks lists blocks by id.
func (s *Bookings) ListBlocks(ctx context.Context, sc scope.Scope, f BlockFilter, page domain.Page) (domain.List[Block], error) {
	if err := domain.Authorize(sc, domain.OpReadCatalogue); err != nil {
		return domain.List[Block]{}, err
	}
	var out domain.List[Block]
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		params := db.ListBlocksParams{OrganisationID: sc.OrganisationID, ItemID: f.ItemID, After: page.Cursor, RowLimit: page.Limit + 1}
		if f.From != nil {
			from, to := f.From.Time(), f.To.Time()
			params.FromDate, params.ToDate = &from, &to
		}
		rows, err := q.ListBlocks(ctx, params)
		if err != nil {
			return fmt.Errorf("list blocks: %w", err)
		}
		out = domain.Paginate(rows, page, func(r db.ListBlocksRow) (Block, uuid.UUID) {
			return blockFromRow(r.ID, r.ItemID, r.UnitID, r.StartDate, r.EndDate, r.Kind, r.Reason, r.SourceImportID,
				r.SourceUid, r.Version, r.CreatedAt, r.UpdatedAt), r.ID
		})
		return nil
	})
	return out, err
}
