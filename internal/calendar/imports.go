package calendar

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

// Import subscribes a unit of an item (or a unit chosen per event, as a booking's
// would be) to another channel's feed: each of the feed's events is mirrored as
// an external block.
type Import struct {
	ID     uuid.UUID  `json:"id"`
	ItemID uuid.UUID  `json:"item_id"`
	UnitID *uuid.UUID `json:"unit_id"`
	Name   string     `json:"name"`
	URL    string     `json:"url"`
	// How the last sync went: ok, not_modified (the feed had not changed) or
	// error (LastError says why; nothing was changed).
	LastSyncedAt *time.Time `json:"last_synced_at"`
	LastStatus   *string    `json:"last_status"`
	LastError    *string    `json:"last_error"`
	// EventsImported is how many of the feed's events (occurrences) are mirrored
	// as blocks; Conflicts how many the database refused because active bookings
	// hold those nights.
	EventsImported int32     `json:"events_imported"`
	Conflicts      int32     `json:"conflicts"`
	Version        int32     `json:"version"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// Sync outcomes.
const (
	StatusOK          = "ok"
	StatusNotModified = "not_modified"
	StatusError       = "error"
)

func importFromRow(r db.CalendarImport) Import {
	return Import{ID: r.ID, ItemID: r.ItemID, UnitID: r.UnitID, Name: r.Name, URL: r.Url, LastSyncedAt: r.LastSyncedAt,
		LastStatus: r.LastStatus, LastError: r.LastError, EventsImported: r.EventsImported, Conflicts: r.Conflicts,
		Version: r.Version, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// SyncJob is the background job that syncs one import (internal/jobs works it).
type SyncJob struct {
	OrganisationID uuid.UUID `json:"organisation_id"`
	ImportID       uuid.UUID `json:"import_id"`
}

// Kind names the job's worker.
func (SyncJob) Kind() string { return "calendar_import_sync" }

// ImportInput is the body of import creation (url and name required) and of an
// import PATCH (all optional).
type ImportInput struct {
	URL    *string `json:"url"`
	UnitID *string `json:"unit_id"`
	Name   *string `json:"name"`
}

// ImportFields are an import's editable fields after validation.
type ImportFields struct {
	URL    string     `json:"url"`
	UnitID *uuid.UUID `json:"unit_id"`
	Name   string     `json:"name"`
}

// shapeOnly checks an import URL's form; the server's policy (https only, public
// addresses) is applied by the service, as for webhook URLs.
var shapeOnly = webhook.Policy{AllowHTTP: true}

func (f ImportFields) apply(in ImportInput, creating bool) (ImportFields, error) {
	var p domain.Problems
	if in.URL != nil {
		f.URL = strings.TrimSpace(*in.URL)
		if _, err := shapeOnly.CheckSyntax(f.URL); err != nil {
			var ue *webhook.URLError
			errors.As(err, &ue)
			p.Add("url", ue.Code, "%s", strings.ReplaceAll(ue.Message, "authenticate deliveries by their signature", "put a feed's secret in its path"))
		}
	} else if creating {
		p.Add("url", "required", "url is required")
	}
	if in.UnitID != nil {
		id, err := uuid.Parse(*in.UnitID)
		if err != nil {
			p.Add("unit_id", "invalid", "unit_id must be a unit id")
		}
		f.UnitID = &id
	}
	if in.Name != nil {
		f.Name = strings.TrimSpace(*in.Name)
		domain.CheckText(&p, "name", f.Name, 1, 200)
	} else if creating {
		p.Add("name", "required", "name is required")
	}
	return f, p.Err()
}

// checkURL applies the server's policy to an import URL: scheme, and the
// addresses its host resolves to (every fetch checks them again when it dials).
func (c *Calendar) checkURL(ctx context.Context, raw string) error {
	if _, err := c.policy.CheckURL(ctx, raw); err != nil {
		var ue *webhook.URLError
		if errors.As(err, &ue) {
			return domain.Invalid("url", ue.Code, strings.ReplaceAll(ue.Message, "webhooks reach", "calendar imports reach"))
		}
		return fmt.Errorf("check import url: %w", err)
	}
	return nil
}

// CreateImport subscribes an item to a feed.
type CreateImport struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID `json:"item_id"`
	ImportFields
}

// NewCreateImport validates in.
func NewCreateImport(meta command.Meta, itemID uuid.UUID, in ImportInput) (CreateImport, error) {
	f, err := ImportFields{}.apply(in, true)
	return CreateImport{Meta: meta, ItemID: itemID, ImportFields: f}, err
}

// CreateImport handles CreateImport; the first sync is queued in the same
// transaction.
func (c *Calendar) CreateImport(ctx context.Context, sc scope.Scope, cmd CreateImport) (Import, command.Receipt, error) {
	if err := domain.Authorize(sc, domain.OpCreateCalendarImport); err != nil {
		return Import{}, command.Receipt{}, err
	}
	if err := c.checkURL(ctx, cmd.URL); err != nil {
		return Import{}, command.Receipt{}, err
	}
	return command.RunJobs(ctx, c.exec, sc, cmd.Meta, domain.OpCreateCalendarImport, cmd,
		func(q *db.Queries, enqueue scope.Enqueue) (Import, []domain.Event, error) {
			it, err := itemUnit(ctx, q, sc, cmd.ItemID, cmd.UnitID)
			if err != nil {
				return Import{}, nil, err
			}
			if it.Status != catalogue.ItemActive {
				return Import{}, nil, domain.Conflict(domain.CodeItemArchived, "item %s is archived", it.ID)
			}
			row, err := q.InsertCalendarImport(ctx, db.InsertCalendarImportParams{OrganisationID: sc.OrganisationID,
				ID: uuid.Must(uuid.NewV7()), ItemID: it.ID, UnitID: cmd.UnitID, Name: cmd.Name, Url: cmd.URL})
			if err != nil {
				return Import{}, nil, fmt.Errorf("insert calendar import: %w", err)
			}
			if err := enqueue(ctx, SyncJob{OrganisationID: sc.OrganisationID, ImportID: row.ID}); err != nil {
				return Import{}, nil, err
			}
			return importFromRow(row), nil, nil
		})
}

// GetImport returns one import of an item.
func (c *Calendar) GetImport(ctx context.Context, sc scope.Scope, itemID, id uuid.UUID) (Import, error) {
	if err := domain.Authorize(sc, domain.OpReadCalendarImports); err != nil {
		return Import{}, err
	}
	var out Import
	err := c.db.Tx(ctx, sc, func(q *db.Queries) error {
		row, err := loadImport(ctx, q, sc, itemID, id)
		out = importFromRow(row)
		return err
	})
	return out, err
}

func loadImport(ctx context.Context, q *db.Queries, sc scope.Scope, itemID, id uuid.UUID) (db.CalendarImport, error) {
	row, err := q.GetCalendarImport(ctx, db.GetCalendarImportParams{OrganisationID: sc.OrganisationID, ItemID: itemID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) {
		return db.CalendarImport{}, domain.NotFound("calendar import")
	}
	if err != nil {
		return db.CalendarImport{}, fmt.Errorf("load calendar import: %w", err)
	}
	return row, nil
}

// lockImport takes an import's row lock: its changes, deletion and syncs run
// one at a time. itemID, when set, must be the import's item.
func lockImport(ctx context.Context, q *db.Queries, sc scope.Scope, itemID *uuid.UUID, id uuid.UUID) (db.CalendarImport, error) {
	row, err := q.GetCalendarImportForUpdate(ctx, db.GetCalendarImportForUpdateParams{OrganisationID: sc.OrganisationID, ID: id})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && itemID != nil && row.ItemID != *itemID) {
		return db.CalendarImport{}, domain.NotFound("calendar import")
	}
	if err != nil {
		return db.CalendarImport{}, fmt.Errorf("lock calendar import: %w", err)
	}
	return row, nil
}

// ListImports lists an item's imports by id.
func (c *Calendar) ListImports(ctx context.Context, sc scope.Scope, itemID uuid.UUID, page domain.Page) (domain.List[Import], error) {
	if err := domain.Authorize(sc, domain.OpReadCalendarImports); err != nil {
		return domain.List[Import]{}, err
	}
	var out domain.List[Import]
	err := c.db.Tx(ctx, sc, func(q *db.Queries) error {
		if _, err := itemUnit(ctx, q, sc, itemID, nil); err != nil {
			return err
		}
		rows, err := q.ListCalendarImports(ctx, db.ListCalendarImportsParams{OrganisationID: sc.OrganisationID, ItemID: itemID,
			After: page.Cursor, RowLimit: page.Limit + 1})
		if err != nil {
			return fmt.Errorf("list calendar imports: %w", err)
		}
		out = domain.Paginate(rows, page, func(r db.CalendarImport) (Import, uuid.UUID) { return importFromRow(r), r.ID })
		return nil
	})
	return out, err
}

// UpdateImport changes an import's url, unit or name (If-Match required). A new
// url or unit is synced at once, in the background.
type UpdateImport struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID   `json:"item_id"`
	ImportID     uuid.UUID   `json:"import_id"`
	Input        ImportInput `json:"input"`
}

// NewUpdateImport checks what can be checked without the current import.
func NewUpdateImport(meta command.Meta, itemID, id uuid.UUID, in ImportInput) (UpdateImport, error) {
	cmd := UpdateImport{Meta: meta, ItemID: itemID, ImportID: id, Input: in}
	if in.URL == nil && in.UnitID == nil && in.Name == nil {
		return cmd, domain.Invalid("", "empty", "nothing to change: send url, unit_id or name")
	}
	_, err := ImportFields{}.apply(in, false)
	return cmd, err
}

// UpdateImport handles UpdateImport.
func (c *Calendar) UpdateImport(ctx context.Context, sc scope.Scope, cmd UpdateImport) (Import, command.Receipt, error) {
	if err := domain.Authorize(sc, domain.OpUpdateCalendarImport); err != nil {
		return Import{}, command.Receipt{}, err
	}
	if cmd.Input.URL != nil {
		if err := c.checkURL(ctx, strings.TrimSpace(*cmd.Input.URL)); err != nil {
			return Import{}, command.Receipt{}, err
		}
	}
	return command.RunJobs(ctx, c.exec, sc, cmd.Meta, domain.OpUpdateCalendarImport, cmd,
		func(q *db.Queries, enqueue scope.Enqueue) (Import, []domain.Event, error) {
			cur, err := lockImport(ctx, q, sc, &cmd.ItemID, cmd.ImportID)
			if err != nil {
				return Import{}, nil, err
			}
			if err := cmd.Meta.CheckVersion(cur.Version); err != nil {
				return Import{}, nil, err
			}
			f, err := ImportFields{URL: cur.Url, UnitID: cur.UnitID, Name: cur.Name}.apply(cmd.Input, false)
			if err != nil {
				return Import{}, nil, err
			}
			if _, err := itemUnit(ctx, q, sc, cur.ItemID, f.UnitID); err != nil {
				return Import{}, nil, err
			}
			row, err := q.UpdateCalendarImport(ctx, db.UpdateCalendarImportParams{OrganisationID: sc.OrganisationID, ID: cur.ID,
				Name: f.Name, UnitID: f.UnitID, Url: f.URL})
			if err != nil {
				return Import{}, nil, fmt.Errorf("update calendar import: %w", err)
			}
			if f.URL != cur.Url || !sameUnit(f.UnitID, cur.UnitID) {
				if err := enqueue(ctx, SyncJob{OrganisationID: sc.OrganisationID, ImportID: row.ID}); err != nil {
					return Import{}, nil, err
				}
			}
			return importFromRow(row), nil, nil
		})
}

func sameUnit(a, b *uuid.UUID) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// DeleteImport unsubscribes: the import and every block it made go.
type DeleteImport struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID `json:"item_id"`
	ImportID     uuid.UUID `json:"import_id"`
}

// DeleteImport handles DeleteImport; the answer is the import as it was. Each
// block it made is deleted with its block.deleted event.
func (c *Calendar) DeleteImport(ctx context.Context, sc scope.Scope, cmd DeleteImport) (Import, command.Receipt, error) {
	return command.Run(ctx, c.exec, sc, cmd.Meta, domain.OpDeleteCalendarImport, cmd, func(q *db.Queries) (Import, []domain.Event, error) {
		cur, err := lockImport(ctx, q, sc, &cmd.ItemID, cmd.ImportID)
		if err != nil {
			return Import{}, nil, err
		}
		if err := cmd.Meta.CheckVersion(cur.Version); err != nil {
			return Import{}, nil, err
		}
		rows, err := q.DeleteImportBlocks(ctx, db.DeleteImportBlocksParams{OrganisationID: sc.OrganisationID, ImportID: &cur.ID})
		if err != nil {
			return Import{}, nil, fmt.Errorf("delete the import's blocks: %w", err)
		}
		var events []domain.Event
		for _, r := range rows {
			events = append(events, domain.Event{Type: domain.EventBlockDeleted, Data: blockOf(db.ImportBlocksRow(r))})
		}
		if err := q.DeleteCalendarImport(ctx, db.DeleteCalendarImportParams{OrganisationID: sc.OrganisationID, ID: cur.ID}); err != nil {
			return Import{}, nil, fmt.Errorf("delete calendar import: %w", err)
		}
		return importFromRow(cur), events, nil
	})
}

// blockOf is a block as the API returns it.
func blockOf(r db.ImportBlocksRow) booking.Block {
	b := booking.Block{ID: r.ID, ItemID: r.ItemID, UnitID: r.UnitID, Start: domain.DateFromTime(r.StartDate),
		End: domain.DateFromTime(r.EndDate), Kind: r.Kind, Reason: r.Reason, Version: r.Version, CreatedAt: r.CreatedAt,
		UpdatedAt: r.UpdatedAt}
	if r.SourceImportID != nil && r.SourceUid != nil {
		b.Source = &booking.BlockSource{ImportID: *r.SourceImportID, UID: *r.SourceUid}
	}
	return b
}
