package calendar

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Conflict is what a calendar.conflict event carries: an event of an imported
// feed that overlaps active bookings, which the database refused to block (the
// bookings stand). It is reported once per import, UID and date range.
type Conflict struct {
	ImportID uuid.UUID `json:"import_id"`
	ItemID   uuid.UUID `json:"item_id"`
	// UnitID is the import's unit; nil when the import places its events on
	// whichever unit is free (then every unit was taken).
	UnitID     *uuid.UUID  `json:"unit_id"`
	UID        string      `json:"uid"`
	Start      domain.Date `json:"start"`
	End        domain.Date `json:"end"`
	Summary    string      `json:"summary"`
	BookingIDs []uuid.UUID `json:"booking_ids"`
	DetectedAt time.Time   `json:"detected_at"`
}

// SyncImport syncs an item's import now and answers it with the outcome.
func (c *Calendar) SyncImport(ctx context.Context, sc scope.Scope, itemID, importID uuid.UUID) (Import, error) {
	return c.sync(ctx, sc, &itemID, importID)
}

// RunSyncJob syncs the job's import. A feed that cannot be fetched or read is
// an outcome recorded on the import, not a job failure; an import deleted since
// the job was queued is nothing to do.
func (c *Calendar) RunSyncJob(ctx context.Context, job SyncJob) error {
	_, err := c.sync(ctx, scope.Platform(job.OrganisationID), nil, job.ImportID)
	if domain.IsKind(err, domain.KindNotFound) {
		return nil
	}
	return err
}

// ImportsToSync lists up to limit imports across organisations, least recently
// synced first, as the jobs that sync them.
func (c *Calendar) ImportsToSync(ctx context.Context, limit int32) ([]SyncJob, error) {
	refs, err := c.db.CalendarImports(ctx, limit)
	if err != nil {
		return nil, err
	}
	jobs := make([]SyncJob, len(refs))
	for i, r := range refs {
		jobs[i] = SyncJob{OrganisationID: r.OrganisationID, ImportID: r.ID}
	}
	return jobs, nil
}

// maxErrorLen bounds last_error.
const maxErrorLen = 500

// sync fetches an import's feed (outside any transaction), reads it, and
// reconciles the import's blocks with it in one transaction. A feed that cannot
// be fetched or read changes nothing but the import's last_status and last_error.
func (c *Calendar) sync(ctx context.Context, sc scope.Scope, itemID *uuid.UUID, id uuid.UUID) (Import, error) {
	if err := domain.Authorize(sc, domain.OpSyncCalendarImport); err != nil {
		return Import{}, err
	}
	var imp db.CalendarImport
	var loc *time.Location
	var from, to domain.Date
	err := c.db.Tx(ctx, sc, func(q *db.Queries) error {
		var err error
		if imp, err = lockImport(ctx, q, sc, itemID, id); err != nil {
			return err
		}
		clock, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		it, err := q.ItemsByIDs(ctx, db.ItemsByIDsParams{OrganisationID: sc.OrganisationID, Ids: []uuid.UUID{imp.ItemID}})
		if err != nil || len(it) == 0 {
			return fmt.Errorf("load item %s: %w", imp.ItemID, err)
		}
		loc = zone(clock, it[0].PropertyTimezone)
		today := domain.DateOf(clock.Now, loc)
		from, to = today.AddDays(-PastDays), today.AddDays(FutureDays)
		return nil
	})
	if err != nil {
		return Import{}, err
	}
	fetched, err := c.fetcher.Fetch(ctx, imp.Url, Validators{ETag: deref(imp.Etag), LastModified: deref(imp.LastModified)})
	var occs []Occurrence
	if err == nil && !fetched.NotModified {
		occs, err = Occurrences(fetched.Body, loc, from, to)
	}
	if err != nil {
		if ctx.Err() != nil {
			return Import{}, ctx.Err()
		}
		return c.recordError(ctx, sc, imp.ID, err.Error())
	}
	return command.Reconcile(ctx, c.exec, sc, domain.OpSyncCalendarImport,
		func(q *db.Queries, _ scope.Enqueue, savepoint scope.Savepoint) (Import, []domain.Event, error) {
			cur, err := lockImport(ctx, q, sc, itemID, id)
			if err != nil {
				return Import{}, nil, err
			}
			if cur.Url != imp.Url { // changed while we fetched: its own sync is queued
				return importFromRow(cur), nil, nil
			}
			params := db.RecordCalendarSyncParams{OrganisationID: sc.OrganisationID, ID: cur.ID, LastStatus: ptr(StatusNotModified),
				Etag: cur.Etag, LastModified: cur.LastModified, EventsImported: cur.EventsImported, Conflicts: cur.Conflicts}
			var events []domain.Event
			if !fetched.NotModified {
				r := &reconciler{c: c, ctx: ctx, q: q, sc: sc, savepoint: savepoint, imp: cur}
				if err := r.run(occs); err != nil {
					return Import{}, nil, err
				}
				events = r.events
				params.LastStatus, params.EventsImported, params.Conflicts = ptr(StatusOK), r.imported, r.conflicts
				params.Etag, params.LastModified = nonEmpty(fetched.Validators.ETag), nonEmpty(fetched.Validators.LastModified)
			}
			row, err := q.RecordCalendarSync(ctx, params)
			if err != nil {
				return Import{}, nil, fmt.Errorf("record calendar sync: %w", err)
			}
			return importFromRow(row), events, nil
		})
}

func ptr[T any](v T) *T { return &v }

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// recordError records a sync that changed nothing, and why.
func (c *Calendar) recordError(ctx context.Context, sc scope.Scope, id uuid.UUID, why string) (Import, error) {
	why = strings.ToValidUTF8(strings.ReplaceAll(why, "\x00", ""), "")
	if r := []rune(why); len(r) > maxErrorLen {
		why = string(r[:maxErrorLen])
	}
	var out Import
	err := c.db.Tx(ctx, sc, func(q *db.Queries) error {
		row, err := q.RecordCalendarSyncError(ctx, db.RecordCalendarSyncErrorParams{OrganisationID: sc.OrganisationID, ID: id, LastError: &why})
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.NotFound("calendar import")
		}
		if err != nil {
			return fmt.Errorf("record calendar sync: %w", err)
		}
		out = importFromRow(row)
		return nil
	})
	return out, err
}

// reconciler brings one import's blocks in line with its feed, in the sync's
// transaction, under the item's row lock (as bookings and blocks of the item
// take it). The database has the last word: every block is written in a
// savepoint, and one the exclusion constraint refuses is only that.
type reconciler struct {
	c         *Calendar
	ctx       context.Context
	q         *db.Queries
	sc        scope.Scope
	savepoint scope.Savepoint
	imp       db.CalendarImport
	item      db.Item

	now                 time.Time // the organisation's clock
	events              []domain.Event
	imported, conflicts int32
}

func (r *reconciler) run(occs []Occurrence) error {
	ctx, q, sc := r.ctx, r.q, r.sc
	item, err := q.GetItemForUpdate(ctx, db.GetItemForUpdateParams{OrganisationID: sc.OrganisationID, ID: r.imp.ItemID})
	if err != nil {
		return fmt.Errorf("lock item: %w", err)
	}
	r.item = item
	clock, err := domain.LoadClock(ctx, q, sc)
	if err != nil {
		return err
	}
	r.now = clock.Now
	if r.events, err = r.c.bookings.ExpireItemHolds(ctx, q, sc, clock, item.ID); err != nil {
		return err
	}
	if occs, err = r.withoutEchoes(occs); err != nil {
		return err
	}
	if r.imp.UnitID != nil || item.UnitCount <= 1 {
		occs = withoutOverlaps(occs) // one unit: what overlaps is blocked once
	}
	existing, err := q.ImportBlocks(ctx, db.ImportBlocksParams{OrganisationID: sc.OrganisationID, ImportID: &r.imp.ID})
	if err != nil {
		return fmt.Errorf("load the import's blocks: %w", err)
	}
	byKey := map[string]db.ImportBlocksRow{}
	for _, b := range existing {
		byKey[deref(b.SourceUid)] = b
	}
	want := map[string]bool{}
	var moves []move
	var inserts []Occurrence
	for _, o := range occs {
		if want[o.Key] {
			continue
		}
		want[o.Key] = true
		b, ok := byKey[o.Key]
		switch {
		case !ok:
			inserts = append(inserts, o)
		case domain.DateFromTime(b.StartDate) != o.Start || domain.DateFromTime(b.EndDate) != o.End ||
			b.Reason != r.reason(o) || (r.imp.UnitID != nil && b.UnitID != *r.imp.UnitID):
			moves = append(moves, move{block: b, to: o})
		default:
			r.imported++
		}
	}
	// Vanished (or cancelled) events first, so that what moves or arrives can take
	// their nights.
	for _, b := range existing {
		if !want[deref(b.SourceUid)] {
			if err := r.deleteBlock(b); err != nil {
				return err
			}
		}
	}
	if err := r.moveAll(moves); err != nil {
		return err
	}
	for _, o := range inserts {
		if err := r.insert(o); err != nil {
			return err
		}
	}
	return nil
}

// withoutEchoes drops the events that are this item's own occupancy coming back
// through another channel (a UID this server exported from the item), or that
// another import of the item already mirrors (two channels passing on one
// event): blocking them again would only refuse, or double, what is there.
func (r *reconciler) withoutEchoes(occs []Occurrence) ([]Occurrence, error) {
	var ids []uuid.UUID
	var uids []string
	for _, o := range occs {
		if id, ok := exportedID(o.UID); ok {
			ids = append(ids, id)
		}
		uids = append(uids, o.UID, o.Key)
	}
	if len(occs) == 0 {
		return occs, nil
	}
	own, err := r.q.ItemOccupantIDs(r.ctx, db.ItemOccupantIDsParams{OrganisationID: r.sc.OrganisationID, ItemID: r.item.ID, Ids: ids})
	if err != nil {
		return nil, fmt.Errorf("find the item's own events: %w", err)
	}
	others, err := r.q.OtherImportsUIDs(r.ctx, db.OtherImportsUIDsParams{OrganisationID: r.sc.OrganisationID, ItemID: r.item.ID,
		ImportID: &r.imp.ID, Uids: uids})
	if err != nil {
		return nil, fmt.Errorf("find events other imports mirror: %w", err)
	}
	return slices.DeleteFunc(occs, func(o Occurrence) bool {
		id, ok := exportedID(o.UID)
		return (ok && slices.Contains(own, id)) || slices.Contains(others, o.UID) || slices.Contains(others, o.Key)
	}), nil
}

// exportedID reads the booking or block id out of a UID this server exports
// (<id>@vacancy or <id>-<n>@vacancy).
func exportedID(uid string) (uuid.UUID, bool) {
	s, ok := strings.CutSuffix(uid, uidDomain)
	if !ok || len(s) < 36 {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(s[:36])
	if err != nil || (len(s) > 36 && s[36] != '-') {
		return uuid.Nil, false
	}
	return id, true
}

// withoutOverlaps trims events that overlap earlier ones (in order of start),
// so that on one unit the union of the feed's nights is blocked, once.
func withoutOverlaps(occs []Occurrence) []Occurrence {
	slices.SortStableFunc(occs, func(a, b Occurrence) int {
		return cmp.Or(a.Start.Time().Compare(b.Start.Time()), cmp.Compare(a.Key, b.Key))
	})
	var out []Occurrence
	var covered domain.Date
	for _, o := range occs {
		if !covered.IsZero() && o.Start.Before(covered) {
			if !covered.Before(o.End) {
				continue
			}
			o.Start = covered
		}
		covered = maxDate(covered, o.End)
		out = append(out, o)
	}
	return out
}

// reason is an imported block's reason: the import's name and the event's summary.
func (r *reconciler) reason(o Occurrence) string {
	if o.Summary == "" {
		return r.imp.Name
	}
	return r.imp.Name + ": " + o.Summary
}

func (r *reconciler) deleteBlock(b db.ImportBlocksRow) error {
	if err := r.q.DeleteBlock(r.ctx, db.DeleteBlockParams{OrganisationID: r.sc.OrganisationID, ID: b.ID}); err != nil {
		return fmt.Errorf("delete block %s: %w", b.ID, err)
	}
	r.events = append(r.events, domain.Event{Type: domain.EventBlockDeleted, Data: blockOf(b)})
	return nil
}

// insert blocks a new event's nights on the import's unit, or on the unit a
// booking would get. A refusal because bookings hold those nights is a
// conflict; one because other blocks do leaves the nights blocked already.
func (r *reconciler) insert(o Occurrence) error {
	unit, ok, err := r.unitFor(o)
	if err != nil {
		return err
	}
	if !ok {
		_, err := r.refused(o, nil)
		return err
	}
	refused, err := r.write(func(q *db.Queries) (db.ImportBlocksRow, error) {
		key := o.Key
		row, err := q.InsertBlock(r.ctx, db.InsertBlockParams{OrganisationID: r.sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
			ItemID: r.item.ID, UnitID: unit, StartDate: o.Start.Time(), EndDate: o.End.Time(), Kind: booking.BlockExternal,
			Reason: r.reason(o), SourceImportID: &r.imp.ID, SourceUid: &key})
		if err != nil {
			return db.ImportBlocksRow{}, fmt.Errorf("insert block: %w", err)
		}
		err = q.InsertOccupancy(r.ctx, db.InsertOccupancyParams{OrganisationID: r.sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
			UnitID: unit, ItemID: r.item.ID, CheckIn: o.Start.Time(), CheckOut: o.End.Time(), BlockID: &row.ID, Status: "blocked"})
		return db.ImportBlocksRow(row), err
	}, domain.EventBlockCreated)
	if err != nil || !refused {
		return err
	}
	_, err = r.refused(o, &unit)
	return err
}

// unitFor is the unit an event's block takes: the import's, or the best free
// unit of the item. ok is false when no unit is free.
func (r *reconciler) unitFor(o Occurrence) (unit uuid.UUID, ok bool, err error) {
	if r.imp.UnitID != nil {
		return *r.imp.UnitID, true, nil
	}
	free, err := booking.FreeUnits(r.ctx, r.q, r.sc, r.now, r.item.ID, o.Start, o.End)
	if err != nil {
		return uuid.Nil, false, err
	}
	if len(free) == 0 {
		return uuid.Nil, false, nil
	}
	return free[0].ID, true, nil
}

// write runs fn in a savepoint and records its block's event; refused reports an
// exclusion violation, which rolled back what fn did and nothing else.
func (r *reconciler) write(fn func(q *db.Queries) (db.ImportBlocksRow, error), eventType string) (refused bool, err error) {
	var row db.ImportBlocksRow
	err = r.savepoint(r.ctx, func(q *db.Queries) error {
		var err error
		row, err = fn(q)
		return err
	})
	if booking.IsOverlap(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	r.imported++
	r.events = append(r.events, domain.Event{Type: eventType, Data: blockOf(row)})
	return false, nil
}

// refused handles an event the database would not block: when active bookings
// hold some of its nights it is a conflict, reported once per import, UID and
// range. It reports whether bookings were in the way.
func (r *reconciler) refused(o Occurrence, unit *uuid.UUID) (bool, error) {
	var ids []uuid.UUID
	var err error
	if unit != nil && r.imp.UnitID != nil {
		ids, err = r.q.OverlappingBookings(r.ctx, db.OverlappingBookingsParams{OrganisationID: r.sc.OrganisationID, Now: r.now, UnitID: *unit,
			CheckIn: o.Start.Time(), CheckOut: o.End.Time()})
	} else {
		ids, err = r.q.OverlappingItemBookings(r.ctx, db.OverlappingItemBookingsParams{OrganisationID: r.sc.OrganisationID, Now: r.now,
			ItemID: r.item.ID, CheckIn: o.Start.Time(), CheckOut: o.End.Time()})
	}
	if err != nil {
		return false, fmt.Errorf("find overlapping bookings: %w", err)
	}
	if len(ids) == 0 {
		return false, nil // other blocks hold those nights: they stay blocked
	}
	r.conflicts++
	at, err := r.q.RecordCalendarConflict(r.ctx, db.RecordCalendarConflictParams{OrganisationID: r.sc.OrganisationID,
		ImportID: r.imp.ID, Uid: o.UID, StartDate: o.Start.Time(), EndDate: o.End.Time(), BookingIds: ids})
	if errors.Is(err, pgx.ErrNoRows) {
		return true, nil // reported before
	}
	if err != nil {
		return false, fmt.Errorf("record calendar conflict: %w", err)
	}
	r.events = append(r.events, domain.Event{Type: domain.EventCalendarConflict, Data: Conflict{ImportID: r.imp.ID,
		ItemID: r.item.ID, UnitID: r.imp.UnitID, UID: o.UID, Start: o.Start, End: o.End, Summary: o.Summary, BookingIDs: ids,
		DetectedAt: at}})
	return true, nil
}

// move is an event that changed: its block moves to the event's nights.
type move struct {
	block db.ImportBlocksRow
	to    Occurrence
}

// moveAll moves blocks to their events' new nights. A move onto nights that
// another moving block still holds waits for the next pass; what can never move
// (bookings, or other blocks, hold the nights) loses its block, since the event
// is no longer where the block is.
func (r *reconciler) moveAll(moves []move) error {
	for len(moves) > 0 {
		var waiting []move
		for _, m := range moves {
			done, err := r.move(m)
			if err != nil {
				return err
			}
			if !done {
				waiting = append(waiting, m)
			}
		}
		if len(waiting) == len(moves) {
			for _, m := range waiting {
				if err := r.deleteBlock(m.block); err != nil {
					return err
				}
			}
			return nil
		}
		moves = waiting
	}
	return nil
}

// move tries one move: onto the import's unit, else the block's own unit, else
// another free unit of the item. done is false when other blocks hold the nights
// (for now).
func (r *reconciler) move(m move) (done bool, err error) {
	unit := m.block.UnitID
	if r.imp.UnitID != nil {
		unit = *r.imp.UnitID
	}
	refused, err := r.moveTo(m, unit)
	if err != nil || !refused {
		return !refused, err
	}
	if r.imp.UnitID == nil {
		free, err := booking.FreeUnits(r.ctx, r.q, r.sc, r.now, r.item.ID, m.to.Start, m.to.End)
		if err != nil {
			return false, err
		}
		if i := slices.IndexFunc(free, func(u booking.UnitRef) bool { return u.ID != m.block.UnitID }); i >= 0 {
			if refused, err = r.moveTo(m, free[i].ID); err != nil || !refused {
				return !refused, err
			}
		}
	}
	booked, err := r.refused(m.to, &unit)
	if err != nil || !booked {
		return false, err
	}
	return true, r.deleteBlock(m.block) // bookings hold the new nights: the event loses its block
}

// moveTo moves a block onto unit and the event's nights, in a savepoint.
func (r *reconciler) moveTo(m move, unit uuid.UUID) (refused bool, err error) {
	return r.write(func(q *db.Queries) (db.ImportBlocksRow, error) {
		if err := q.MoveBlockOccupancy(r.ctx, db.MoveBlockOccupancyParams{OrganisationID: r.sc.OrganisationID, BlockID: &m.block.ID,
			UnitID: unit, StartDate: m.to.Start.Time(), EndDate: m.to.End.Time()}); err != nil {
			return db.ImportBlocksRow{}, err
		}
		row, err := q.UpdateBlock(r.ctx, db.UpdateBlockParams{OrganisationID: r.sc.OrganisationID, ID: m.block.ID, UnitID: unit,
			StartDate: m.to.Start.Time(), EndDate: m.to.End.Time(), Reason: r.reason(m.to)})
		if err != nil {
			return db.ImportBlocksRow{}, fmt.Errorf("update block: %w", err)
		}
		return db.ImportBlocksRow(row), nil
	}, domain.EventBlockUpdated)
}
