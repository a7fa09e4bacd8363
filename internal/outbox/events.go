package outbox

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// StoredEvent is an event as the feed, the live stream and webhooks carry it.
type StoredEvent struct {
	ID             uuid.UUID       `json:"id"`
	Type           string          `json:"type"`
	OccurredAt     time.Time       `json:"occurred_at"`
	OrganisationID uuid.UUID       `json:"organisation_id"`
	Data           json.RawMessage `json:"data"`
	CommandID      *string         `json:"command_id"`
	// Livemode is false for events of an organisation's test mode.
	Livemode bool `json:"livemode"`
	// Cursor is the event's position in the feed: resume after it with
	// ?after= or Last-Event-ID.
	Cursor Cursor `json:"-"`
}

// writtenEvent is an event just inserted, for the webhook fan-out.
type writtenEvent struct {
	seq int64
	id  uuid.UUID
	typ string
}

func insertEvent(ctx context.Context, q *db.Queries, sc scope.Scope, commandID string, e domain.Event) (writtenEvent, error) {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return writtenEvent{}, fmt.Errorf("encode %s event: %w", e.Type, err)
	}
	var cmd *string
	if commandID != "" {
		cmd = &commandID
	}
	id := uuid.Must(uuid.NewV7())
	seq, err := q.InsertEvent(ctx, db.InsertEventParams{
		OrganisationID: sc.OrganisationID, ID: id, Type: e.Type, CommandID: cmd, Data: data,
	})
	if err != nil {
		return writtenEvent{}, fmt.Errorf("write %s event: %w", e.Type, err)
	}
	return writtenEvent{seq: seq, id: id, typ: e.Type}, nil
}

// Publish writes a command's events to the outbox and, for every enabled webhook
// endpoint that wants them, a delivery and its job, all in the command's
// transaction: a rolled-back command leaves no event, no delivery and no job.
func Publish(ctx context.Context, q *db.Queries, sc scope.Scope, enqueue scope.Enqueue, commandID string, events []domain.Event) error {
	written := make([]writtenEvent, len(events))
	for i, e := range events {
		w, err := insertEvent(ctx, q, sc, commandID, e)
		if err != nil {
			return err
		}
		written[i] = w
	}
	return fanOut(ctx, q, sc, enqueue, written)
}

// Cursor is a position in an organisation's event feed: the writing transaction's
// id and the event's sequence number. Clients see it as an opaque string.
type Cursor struct {
	xid int64
	seq int64
}

// String is the cursor as clients see it.
func (c Cursor) String() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(c.xid))
	binary.BigEndian.PutUint64(b[8:], uint64(c.seq))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// IsZero reports whether c is the start of the feed.
func (c Cursor) IsZero() bool { return c == Cursor{} }

var errBadCursor = errors.New("not a cursor this server issued")

// ParseCursor reads a cursor from its string form.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return Cursor{}, errBadCursor
	}
	c := Cursor{xid: int64(binary.BigEndian.Uint64(b[:8])), seq: int64(binary.BigEndian.Uint64(b[8:]))}
	if c.xid < 0 || c.seq < 0 {
		return Cursor{}, errBadCursor
	}
	return c, nil
}

// FeedQuery asks for events after a position.
type FeedQuery struct {
	After Cursor
	Types []string // empty: every type
	Limit int32
}

// NewFeedQuery validates the feed's query parameters: after (a cursor; empty for
// the start of the feed), types (comma-separated event types; empty for all) and
// limit (1 to 100; 0 for the default of 50).
func NewFeedQuery(after, types string, limit int) (FeedQuery, error) {
	var p domain.Problems
	fq := FeedQuery{Limit: domain.DefaultLimit}
	if after != "" {
		c, err := ParseCursor(after)
		if err != nil {
			p.Add("after", "invalid", "after must be a cursor from next_cursor or an event stream id")
		}
		fq.After = c
	}
	fq.Types = parseEventTypes(&p, "types", types)
	if limit != 0 {
		if limit < 1 || limit > domain.MaxLimit {
			p.Add("limit", "out_of_range", "limit must be between 1 and %d", domain.MaxLimit)
		}
		fq.Limit = int32(limit)
	}
	return fq, p.Err()
}

func parseEventTypes(p *domain.Problems, field, s string) []string {
	var out []string
	if strings.TrimSpace(s) == "" {
		return nil
	}
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if !slices.Contains(domain.EventTypes, t) {
			p.Add(field, "invalid", "unknown event type %q; use %s", t, strings.Join(domain.EventTypes, ", "))
			continue
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// Feed is one page of the event feed.
type Feed struct {
	Data []StoredEvent `json:"data"`
	// NextCursor is where to resume: after the last event of this page, or the
	// query's own position when the page is empty. It is always set, so a consumer
	// can poll with it for events that have not happened yet.
	NextCursor string `json:"next_cursor"`
	// HasMore is true when more events can be read right away.
	HasMore bool `json:"has_more"`
	// HeldBack is true when committed events after this page wait behind an older
	// transaction that is still running: they become readable when it ends.
	HeldBack bool `json:"-"`
}

// Events reads the organisation's events after fq.After, in feed order: by writing
// transaction, then in the order the transaction wrote them. A transaction's events
// appear only once every transaction that began writing before it has ended, so a
// consumer that always resumes from NextCursor never misses one, even from a
// transaction that committed after later ones. Each resource in Data carries its
// version, which orders changes to one resource.
func (s *Outbox) Events(ctx context.Context, sc scope.Scope, fq FeedQuery) (Feed, error) {
	if err := domain.Authorize(sc, domain.OpReadEvents); err != nil {
		return Feed{}, err
	}
	out := Feed{Data: []StoredEvent{}, NextCursor: fq.After.String()}
	types := fq.Types
	if types == nil {
		types = []string{}
	}
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		rows, err := q.ListEvents(ctx, db.ListEventsParams{OrganisationID: sc.OrganisationID,
			AfterXid: fq.After.xid, AfterSeq: fq.After.seq, Types: types, RowLimit: fq.Limit + 1})
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		last := fq.After
		for i, r := range rows {
			if i == int(fq.Limit) {
				out.HasMore = true
				break
			}
			last = Cursor{xid: r.Xid, seq: r.Seq}
			out.Data = append(out.Data, StoredEvent{ID: r.ID, Type: r.Type, OccurredAt: r.OccurredAt,
				OrganisationID: sc.OrganisationID, Data: r.Data, CommandID: r.CommandID, Livemode: sc.Livemode(), Cursor: last})
		}
		out.NextCursor = last.String()
		if out.HasMore {
			return nil
		}
		held, err := q.EventsHeldBack(ctx, db.EventsHeldBackParams{OrganisationID: sc.OrganisationID,
			AfterXid: last.xid, AfterSeq: last.seq})
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		out.HeldBack = held
		return nil
	})
	return out, err
}

// FeedTail is the position of the newest event the feed can return now: a live
// stream that starts there shows what happens from now on.
func (s *Outbox) FeedTail(ctx context.Context, sc scope.Scope) (Cursor, error) {
	if err := domain.Authorize(sc, domain.OpReadEvents); err != nil {
		return Cursor{}, err
	}
	var c Cursor
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		row, err := q.EventFeedTail(ctx, sc.OrganisationID)
		if err != nil {
			return fmt.Errorf("read event feed tail: %w", err)
		}
		c = Cursor{xid: row.Xid, seq: row.Seq}
		return nil
	})
	return c, err
}
