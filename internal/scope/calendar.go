package scope

import (
	"context"
	"fmt"

	"github.com/vacancy-dev/vacancy/internal/db"
)

// FeedRef names a live calendar feed and its organisation.
type FeedRef = db.ICalFeedByTokenHashRow

// FeedByTokenHash finds a live (not revoked) calendar feed by the SHA-256 of its
// token: a named pre-tenant query (see sqlc.yaml), since GET /ical/{token}.ics
// carries no API key. It reads through a view that exposes only the feed's
// organisation and id; the feed is then read in that organisation's scoped
// transaction. pgx.ErrNoRows (wrapped) means no such live feed.
func (d *DB) FeedByTokenHash(ctx context.Context, hash []byte) (FeedRef, error) {
	f, err := db.New(d.pool).ICalFeedByTokenHash(ctx, hash)
	if err != nil {
		return FeedRef{}, fmt.Errorf("look up calendar feed: %w", err)
	}
	return f, nil
}

// ImportRef names a calendar import and its organisation.
type ImportRef = db.DueCalendarImportsRow

// CalendarImports lists up to limit calendar imports across organisations, least
// recently synced first: the periodic sync's pre-tenant read (a named exception
// in sqlc.yaml), through a view of ids only. Each import is then synced in its
// organisation's scoped transaction.
func (d *DB) CalendarImports(ctx context.Context, limit int32) ([]ImportRef, error) {
	rows, err := db.New(d.pool).DueCalendarImports(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("list calendar imports: %w", err)
	}
	return rows, nil
}
