package domain

import (
	"encoding/base64"
	"fmt"

	"github.com/google/uuid"
)

// Page asks for one page of a list: at most Limit rows that follow Cursor in the
// list's order (ascending ids for most lists, descending for bookings and
// deliveries, so a store passes Cursor as "after" or "before" accordingly).
type Page struct {
	// Cursor is the id of the last row of the previous page; nil for the first page.
	Cursor *uuid.UUID
	Limit  int32
}

// List is one page of results and the cursor of the next page, if any.
type List[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// Lists are ordered by id (UUIDv7); a cursor is the last id of a page, made opaque.
// New rows sort after existing ones, so paging never skips or repeats a row.
const (
	DefaultLimit = 50
	MaxLimit     = 100
)

// NewPage validates a limit (0 means the default) and an opaque cursor.
func NewPage(limit int, cursor string) (Page, error) {
	var p Problems
	page := Page{Limit: DefaultLimit}
	if limit != 0 {
		if limit < 1 || limit > MaxLimit {
			p.Add("limit", "out_of_range", "limit must be between 1 and %d", MaxLimit)
		}
		page.Limit = int32(limit)
	}
	if cursor != "" {
		id, err := decodeCursor(cursor)
		if err != nil {
			p.Add("cursor", "invalid", "cursor is not one this server issued")
		} else {
			page.Cursor = &id
		}
	}
	return page, p.Err()
}

func encodeCursor(id uuid.UUID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func decodeCursor(s string) (uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return uuid.Nil, fmt.Errorf("malformed cursor")
	}
	return uuid.UUID(b), nil
}

// Paginate turns up to Limit+1 rows into a page: the extra row only says there is more.
func Paginate[R, T any](rows []R, page Page, conv func(R) (T, uuid.UUID)) List[T] {
	out := List[T]{Data: make([]T, 0, min(len(rows), int(page.Limit)))}
	for i, r := range rows {
		if i == int(page.Limit) {
			_, lastID := conv(rows[i-1])
			c := encodeCursor(lastID)
			out.NextCursor = &c
			break
		}
		v, _ := conv(r)
		out.Data = append(out.Data, v)
	}
	return out
}
