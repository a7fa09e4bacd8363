package calendar

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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

// Feed exports an item's (or one unit's) occupancy as an iCalendar feed at a
// secret URL. Its token is shown once, when it is created.
type Feed struct {
	ID                uuid.UUID  `json:"id"`
	ItemID            uuid.UUID  `json:"item_id"`
	UnitID            *uuid.UUID `json:"unit_id"`
	Name              string     `json:"name"`
	IncludeGuestNames bool       `json:"include_guest_names"`
	CreatedAt         time.Time  `json:"created_at"`
	RevokedAt         *time.Time `json:"revoked_at"`
	// Path is the feed's secret path (/ical/<token>.ics), only in the answer that
	// created it: a replay of that request does not show it again.
	Path string `json:"path,omitempty"`
}

func feedFromRow(id, itemID uuid.UUID, unitID *uuid.UUID, name string, guests bool, created time.Time, revoked *time.Time) Feed {
	return Feed{ID: id, ItemID: itemID, UnitID: unitID, Name: name, IncludeGuestNames: guests, CreatedAt: created, RevokedAt: revoked}
}

// tokenPrefix marks Vacancy feed tokens; the rest is 256 random bits.
const tokenPrefix = "vcal_"

const tokenLen = len(tokenPrefix) + 43 // 32 bytes, base64url without padding

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// FeedPath is where a feed with token answers.
func FeedPath(token string) string { return "/ical/" + token + ".ics" }

// FeedInput is the body of feed creation.
type FeedInput struct {
	UnitID            *string `json:"unit_id"`
	Name              *string `json:"name"`
	IncludeGuestNames *bool   `json:"include_guest_names"`
}

// CreateFeed creates a feed of an item, or of one of its units.
type CreateFeed struct {
	command.Meta      `json:"-"`
	ItemID            uuid.UUID  `json:"item_id"`
	UnitID            *uuid.UUID `json:"unit_id"`
	Name              string     `json:"name"`
	IncludeGuestNames bool       `json:"include_guest_names"`
}

// NewCreateFeed validates in.
func NewCreateFeed(meta command.Meta, itemID uuid.UUID, in FeedInput) (CreateFeed, error) {
	var p domain.Problems
	cmd := CreateFeed{Meta: meta, ItemID: itemID}
	if in.UnitID != nil {
		id, err := uuid.Parse(*in.UnitID)
		if err != nil {
			p.Add("unit_id", "invalid", "unit_id must be a unit id")
		}
		cmd.UnitID = &id
	}
	if in.Name != nil {
		cmd.Name = strings.TrimSpace(*in.Name)
		domain.CheckText(&p, "name", cmd.Name, 0, 200)
	}
	if in.IncludeGuestNames != nil {
		cmd.IncludeGuestNames = *in.IncludeGuestNames
	}
	return cmd, p.Err()
}

// CreateFeed handles CreateFeed. The answer carries the feed's secret path, shown
// this once: only the token's SHA-256 is stored.
func (c *Calendar) CreateFeed(ctx context.Context, sc scope.Scope, cmd CreateFeed) (Feed, command.Receipt, error) {
	token := newToken()
	f, rc, err := command.Run(ctx, c.exec, sc, cmd.Meta, domain.OpCreateICalFeed, cmd, func(q *db.Queries) (Feed, []domain.Event, error) {
		if _, err := itemUnit(ctx, q, sc, cmd.ItemID, cmd.UnitID); err != nil {
			return Feed{}, nil, err
		}
		row, err := q.InsertICalFeed(ctx, db.InsertICalFeedParams{OrganisationID: sc.OrganisationID, ID: uuid.Must(uuid.NewV7()),
			ItemID: cmd.ItemID, UnitID: cmd.UnitID, Name: cmd.Name, IncludeGuestNames: cmd.IncludeGuestNames, TokenHash: hashToken(token)})
		if err != nil {
			return Feed{}, nil, fmt.Errorf("insert calendar feed: %w", err)
		}
		return feedFromRow(row.ID, row.ItemID, row.UnitID, row.Name, row.IncludeGuestNames, row.CreatedAt, row.RevokedAt), nil, nil
	})
	if err == nil && !rc.Replayed {
		f.Path = FeedPath(token)
	}
	return f, rc, err
}

// itemUnit checks that the item exists and, when unitID is set, that it is an
// active unit of the item. It answers the item.
func itemUnit(ctx context.Context, q *db.Queries, sc scope.Scope, itemID uuid.UUID, unitID *uuid.UUID) (db.Item, error) {
	it, err := q.GetItem(ctx, db.GetItemParams{OrganisationID: sc.OrganisationID, ID: itemID})
	if errors.Is(err, pgx.ErrNoRows) {
		return db.Item{}, domain.NotFound("item")
	}
	if err != nil {
		return db.Item{}, fmt.Errorf("load item: %w", err)
	}
	if unitID == nil {
		return it, nil
	}
	u, err := q.GetUnit(ctx, db.GetUnitParams{OrganisationID: sc.OrganisationID, ItemID: itemID, ID: *unitID})
	if errors.Is(err, pgx.ErrNoRows) {
		return db.Item{}, domain.Invalid("unit_id", "not_found", fmt.Sprintf("item %s has no unit %s", itemID, *unitID))
	}
	if err != nil {
		return db.Item{}, fmt.Errorf("load unit: %w", err)
	}
	if u.Status != catalogue.ItemActive {
		return db.Item{}, domain.Invalid("unit_id", "unit_archived", fmt.Sprintf("unit %s is archived", u.ID))
	}
	return it, nil
}

// ListFeeds lists an item's feeds (live and revoked) by id, without their tokens.
func (c *Calendar) ListFeeds(ctx context.Context, sc scope.Scope, itemID uuid.UUID, page domain.Page) (domain.List[Feed], error) {
	if err := domain.Authorize(sc, domain.OpReadICalFeeds); err != nil {
		return domain.List[Feed]{}, err
	}
	var out domain.List[Feed]
	err := c.db.Tx(ctx, sc, func(q *db.Queries) error {
		if _, err := itemUnit(ctx, q, sc, itemID, nil); err != nil {
			return err
		}
		rows, err := q.ListICalFeeds(ctx, db.ListICalFeedsParams{OrganisationID: sc.OrganisationID, ItemID: itemID,
			After: page.Cursor, RowLimit: page.Limit + 1})
		if err != nil {
			return fmt.Errorf("list calendar feeds: %w", err)
		}
		out = domain.Paginate(rows, page, func(r db.ListICalFeedsRow) (Feed, uuid.UUID) {
			return feedFromRow(r.ID, r.ItemID, r.UnitID, r.Name, r.IncludeGuestNames, r.CreatedAt, r.RevokedAt), r.ID
		})
		return nil
	})
	return out, err
}

// RevokeFeed revokes a feed: its URL answers 404 from now on.
type RevokeFeed struct {
	command.Meta `json:"-"`
	ItemID       uuid.UUID `json:"item_id"`
	FeedID       uuid.UUID `json:"feed_id"`
}

// RevokeFeed handles RevokeFeed; the answer is the feed, revoked.
func (c *Calendar) RevokeFeed(ctx context.Context, sc scope.Scope, cmd RevokeFeed) (Feed, command.Receipt, error) {
	return command.Run(ctx, c.exec, sc, cmd.Meta, domain.OpRevokeICalFeed, cmd, func(q *db.Queries) (Feed, []domain.Event, error) {
		r, err := q.RevokeICalFeed(ctx, db.RevokeICalFeedParams{OrganisationID: sc.OrganisationID, ItemID: cmd.ItemID, ID: cmd.FeedID})
		if errors.Is(err, pgx.ErrNoRows) {
			return Feed{}, nil, domain.NotFound("calendar feed")
		}
		if err != nil {
			return Feed{}, nil, fmt.Errorf("revoke calendar feed: %w", err)
		}
		return feedFromRow(r.ID, r.ItemID, r.UnitID, r.Name, r.IncludeGuestNames, r.CreatedAt, r.RevokedAt), nil, nil
	})
}

// Document is a rendered feed: an iCalendar object and its entity tag.
type Document struct {
	Body []byte
	ETag string // a strong entity tag of Body, quoted
}

// ErrNoFeed answers a token that names no live feed.
var ErrNoFeed = domain.NotFound("calendar feed")

// RenderFeed renders the feed the token names. The token is the only credential:
// an unknown or revoked token is ErrNoFeed, as is anything not shaped like one.
func (c *Calendar) RenderFeed(ctx context.Context, token string) (Document, error) {
	if len(token) != tokenLen || !strings.HasPrefix(token, tokenPrefix) {
		return Document{}, ErrNoFeed
	}
	ref, err := c.db.FeedByTokenHash(ctx, hashToken(token))
	if errors.Is(err, pgx.ErrNoRows) {
		return Document{}, ErrNoFeed
	}
	if err != nil {
		return Document{}, err
	}
	sc := scope.Scope{OrganisationID: ref.OrganisationID, Role: scope.RoleRead}
	var doc Document
	err = c.db.Tx(ctx, sc, func(q *db.Queries) error {
		clock, err := domain.LoadClock(ctx, q, sc)
		if err != nil {
			return err
		}
		f, err := q.GetLiveICalFeed(ctx, db.GetLiveICalFeedParams{OrganisationID: sc.OrganisationID, ID: ref.ID})
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoFeed // revoked since the lookup
		}
		if err != nil {
			return fmt.Errorf("load calendar feed: %w", err)
		}
		today := localToday(clock, f.PropertyTimezone)
		rows, err := q.FeedOccupancies(ctx, db.FeedOccupanciesParams{OrganisationID: sc.OrganisationID, ItemID: f.ItemID,
			UnitID: f.UnitID, FromDate: today.AddDays(-PastDays).Time(), ToDate: today.AddDays(FutureDays).Time()})
		if err != nil {
			return fmt.Errorf("load feed occupancies: %w", err)
		}
		doc = render(f.ItemName, f.IncludeGuestNames, rows)
		return nil
	})
	return doc, err
}

// localToday is today in the item's property's time zone, else the organisation's.
func localToday(c domain.Clock, propertyTimezone *string) domain.Date {
	return domain.DateOf(c.Now, zone(c, propertyTimezone))
}

// zone is the item's property's time zone, else the organisation's.
func zone(c domain.Clock, propertyTimezone *string) *time.Location {
	if propertyTimezone != nil {
		if loc, err := domain.LoadLocation(*propertyTimezone); err == nil {
			return loc
		}
	}
	return c.Location
}

// uidDomain ends the UID of every event Vacancy exports.
const uidDomain = "@vacancy"

// render writes the feed: one all-day VEVENT per occupancy. A booking's first
// stay in the feed has the UID <booking id>@vacancy, its further ones
// <booking id>-<n>@vacancy, so a booking keeps its UID when its dates change (its
// SEQUENCE, from the booking's version, grows); a block is <block id>@vacancy, and
// an external block keeps the UID of the event it mirrors, so a channel that
// exported it recognises its own event coming back. DTSTAMP is when the booking or
// block last changed, so an unchanged calendar renders to the same bytes (and
// ETag).
func render(itemName string, guestNames bool, rows []db.FeedOccupanciesRow) Document {
	var w icsWriter
	w.line("BEGIN", "VCALENDAR")
	w.line("VERSION", "2.0")
	w.line("PRODID", "-//Vacancy//Calendar feed 1.0//EN")
	w.line("CALSCALE", "GREGORIAN")
	w.line("METHOD", "PUBLISH")
	w.text("X-WR-CALNAME", itemName)
	seen := map[string]bool{}
	nth := map[uuid.UUID]int{}
	for _, r := range rows {
		var uid, summary, status string
		var seq int32
		var stamp time.Time
		switch {
		case r.BookingID != nil:
			nth[*r.BookingID]++
			uid = r.BookingID.String() + uidDomain
			if n := nth[*r.BookingID]; n > 1 {
				uid = fmt.Sprintf("%s-%d%s", r.BookingID, n, uidDomain)
			}
			summary, status = "Reserved", "CONFIRMED"
			if r.Status == "unpaid" {
				status = "TENTATIVE"
			}
			if guestNames && r.GuestName != nil {
				summary += ": " + *r.GuestName
			}
			seq, stamp = deref(r.BookingVersion), derefTime(r.BookingUpdatedAt)
		default:
			uid = r.BlockID.String() + uidDomain
			if r.SourceUid != nil && !seen[*r.SourceUid] {
				uid = *r.SourceUid
			}
			summary, status = "Not available", "CONFIRMED"
			seq, stamp = deref(r.BlockVersion), derefTime(r.BlockUpdatedAt)
		}
		if seen[uid] { // a source UID that collides with another event: ours instead
			uid = r.ID.String() + uidDomain
		}
		seen[uid] = true
		w.line("BEGIN", "VEVENT")
		w.text("UID", uid)
		w.line("DTSTAMP", stamp.UTC().Format("20060102T150405Z"))
		w.line("SEQUENCE", fmt.Sprint(max(seq-1, 0)))
		w.line("DTSTART;VALUE=DATE", domain.DateFromTime(r.StartDate).Time().Format("20060102"))
		w.line("DTEND;VALUE=DATE", domain.DateFromTime(r.EndDate).Time().Format("20060102"))
		w.text("SUMMARY", summary)
		w.line("STATUS", status)
		w.line("TRANSP", "OPAQUE")
		w.line("END", "VEVENT")
	}
	w.line("END", "VCALENDAR")
	body := w.b.Bytes()
	sum := sha256.Sum256(body)
	return Document{Body: body, ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefTime(p *time.Time) time.Time { return deref(p) }
