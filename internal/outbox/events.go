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
	"github.com/jackc/pgx/v5"

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

// Publish writes a command's events to the outbox and, for every enabled webhook
// endpoint that wants them, a delivery and its job, all in the command's
// transaction: a rolled-back command leaves no event, no delivery and no job.
//
// The events take the organisation's next feed positions, whose row stays locked
// until the transaction ends: the organisation's next writer waits for this one
// to commit or roll back, so positions are gap-free and commit in order
// (docs/scaling.md explains the cost). Everything that does not need the
// positions is done before taking them or in the same round trip (with, the
// caller's own statements, travel in it too), and the caller should have nothing
// left to do after Publish but commit, so that the lock is held for two round
// trips (events, commit), or four with webhook deliveries. Live streams
// are woken at commit by a notification queued here, on the session's own
// server (on Citus, the coordinator that every instance listens to).
func Publish(ctx context.Context, q *db.Queries, sc scope.Scope, enqueue scope.Enqueue, commandID string, events []domain.Event, with ...db.Call) error {
	if len(events) == 0 {
		return q.Pipeline(ctx, with...)
	}
	var cmd *string
	if commandID != "" {
		cmd = &commandID
	}
	params := make([]db.InsertEventsParams, len(events))
	written := make([]writtenEvent, len(events))
	for i, e := range events {
		data, err := json.Marshal(e.Data)
		if err != nil {
			return fmt.Errorf("encode %s event: %w", e.Type, err)
		}
		id := uuid.Must(uuid.NewV7())
		params[i] = db.InsertEventsParams{OrganisationID: sc.OrganisationID, ID: id, Type: e.Type, CommandID: cmd, Data: data}
		written[i] = writtenEvent{id: id, typ: e.Type}
	}
	// The caller's statements, the notification, the endpoints and the
	// positions travel in one round trip; the positions are taken last in it.
	var endpoints []db.EnabledWebhookEndpointsRow
	var last int64
	calls := append(slices.Clip(with),
		func(q *db.Queries) error {
			if err := q.NotifyEvents(ctx, sc.OrganisationID); err != nil {
				return fmt.Errorf("notify event listeners: %w", err)
			}
			return nil
		},
		func(q *db.Queries) (err error) {
			if endpoints, err = q.EnabledWebhookEndpoints(ctx, sc.OrganisationID); err != nil {
				return fmt.Errorf("load webhook endpoints: %w", err)
			}
			return nil
		},
		func(q *db.Queries) (err error) {
			last, err = q.TakeEventPositions(ctx, db.TakeEventPositionsParams{OrganisationID: sc.OrganisationID, Taken: int64(len(events))})
			if err != nil {
				return fmt.Errorf("take event positions: %w", err)
			}
			return nil
		})
	if err := q.Pipeline(ctx, calls...); err != nil {
		return err
	}
	first := last - int64(len(events)) + 1
	for i := range params {
		params[i].Position = first + int64(i)
	}
	var insertErr error
	q.InsertEvents(ctx, params).QueryRow(func(i int, seq int64, err error) {
		if err != nil && insertErr == nil {
			insertErr = fmt.Errorf("write %s event: %w", params[i].Type, err)
		}
		written[i].seq = seq
	})
	if insertErr != nil {
		return insertErr
	}
	return fanOut(ctx, q, sc, enqueue, endpoints, written)
}

// Cursor is a position in an organisation's event feed. Clients see it as an
// opaque string.
type Cursor struct {
	position int64
	// legacySeq names the event of a cursor issued before migration 0011 (it was
	// the writing transaction's id and the event's seq); Events translates it into
	// that event's position.
	legacySeq int64
}

// String is the cursor as clients see it.
func (c Cursor) String() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(c.position))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// IsZero reports whether c is the start of the feed.
func (c Cursor) IsZero() bool { return c == Cursor{} }

var errBadCursor = errors.New("not a cursor this server issued")

// ParseCursor reads a cursor from its string form: 8 bytes of position, or the
// 16 bytes (transaction id, seq) of a cursor issued before migration 0011.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errBadCursor
	}
	switch len(b) {
	case 8:
		c := Cursor{position: int64(binary.BigEndian.Uint64(b))}
		if c.position < 0 {
			return Cursor{}, errBadCursor
		}
		return c, nil
	case 16:
		xid, seq := int64(binary.BigEndian.Uint64(b[:8])), int64(binary.BigEndian.Uint64(b[8:]))
		if xid < 0 || seq < 0 {
			return Cursor{}, errBadCursor
		}
		return Cursor{legacySeq: seq}, nil
	}
	return Cursor{}, errBadCursor
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
}

// Events reads the organisation's events after fq.After, in feed order: by
// position, which is the order in which their transactions committed, and
// within a transaction the order it wrote them. A transaction's events become
// readable only after every earlier writer of the organisation committed, so a
// consumer that always resumes from NextCursor never misses one. Each resource in
// Data carries its version, which orders changes to one resource.
func (s *Outbox) Events(ctx context.Context, sc scope.Scope, fq FeedQuery) (Feed, error) {
	if err := domain.Authorize(sc, domain.OpReadEvents); err != nil {
		return Feed{}, err
	}
	out := Feed{Data: []StoredEvent{}}
	types := fq.Types
	if types == nil {
		types = []string{}
	}
	err := s.db.Tx(ctx, sc, func(q *db.Queries) error {
		after := fq.After
		if after.legacySeq != 0 {
			p, err := q.EventPositionBySeq(ctx, db.EventPositionBySeqParams{OrganisationID: sc.OrganisationID, Seq: after.legacySeq})
			if errors.Is(err, pgx.ErrNoRows) {
				// Its event is gone: deleted by retention, or never the organisation's.
				if err := checkCursorKept(ctx, q, sc, Cursor{position: 1}); err != nil {
					return err
				}
				return domain.Invalid("after", "invalid", "after must be a cursor from next_cursor or an event stream id")
			}
			if err != nil {
				return fmt.Errorf("read events: %w", err)
			}
			after = Cursor{position: p}
		}
		if err := checkCursorKept(ctx, q, sc, after); err != nil {
			return err
		}
		rows, err := q.ListEvents(ctx, db.ListEventsParams{OrganisationID: sc.OrganisationID,
			AfterPosition: after.position, Types: types, RowLimit: fq.Limit + 1})
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		last := after
		for i, r := range rows {
			if i == int(fq.Limit) {
				out.HasMore = true
				break
			}
			last = Cursor{position: r.Position}
			out.Data = append(out.Data, StoredEvent{ID: r.ID, Type: r.Type, OccurredAt: r.OccurredAt,
				OrganisationID: sc.OrganisationID, Data: r.Data, CommandID: r.CommandID, Livemode: sc.Livemode(), Cursor: last})
		}
		out.NextCursor = last.String()
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
		p, err := q.EventFeedTail(ctx, sc.OrganisationID)
		if err != nil {
			return fmt.Errorf("read event feed tail: %w", err)
		}
		c = Cursor{position: p}
		return nil
	})
	return c, err
}

// CheckCursor answers 410 cursor_expired (a Gone error) for a cursor from before
// what retention has deleted.
func (s *Outbox) CheckCursor(ctx context.Context, sc scope.Scope, after Cursor) error {
	if err := domain.Authorize(sc, domain.OpReadEvents); err != nil {
		return err
	}
	return s.db.Tx(ctx, sc, func(q *db.Queries) error { return checkCursorKept(ctx, q, sc, after) })
}

// checkCursorKept refuses a cursor from before what retention has deleted: the
// events after it are partly gone, and resuming would skip them silently. A
// cursor below the highest position deleted is such a cursor (retention deletes
// the oldest positions first). A legacy cursor is checked once Events has
// translated it.
func checkCursorKept(ctx context.Context, q *db.Queries, sc scope.Scope, after Cursor) error {
	if after.position == 0 {
		return nil
	}
	purged, err := q.EventsPurgedThrough(ctx, sc.OrganisationID)
	if err != nil {
		return fmt.Errorf("read event retention: %w", err)
	}
	if after.position < purged {
		return domain.Gone(domain.CodeCursorExpired,
			"the events after this cursor are older than the feed keeps (see docs/operations.md#retention): start again without a cursor, or from the stream's tail")
	}
	return nil
}
