package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

// walk pages through a list with limit, calling between(page) after each page
// that has a next one, and returns the ids in the order served.
func walk[T interface{ id() string }](t *testing.T, c *apitest.Client, path string, limit int, between func(page int)) []string {
	t.Helper()
	var seen []string
	cursor := ""
	for page := 1; ; page++ {
		if page > 50 {
			t.Fatalf("%s: more than 50 pages; the cursor does not advance", path)
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		q := fmt.Sprintf("%s%slimit=%d", path, sep, limit)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		var l list[T]
		c.Get(q).Expect(http.StatusOK).JSON(&l)
		if len(l.Data) > limit {
			t.Fatalf("%s: %d rows on a page of %d", path, len(l.Data), limit)
		}
		seen = append(seen, ids(l.Data)...)
		if l.NextCursor == nil {
			return seen
		}
		cursor = *l.NextCursor
		between(page)
	}
}

func noDuplicates(t *testing.T, what string, seen []string) {
	t.Helper()
	for i, id := range seen {
		if slices.Index(seen, id) != i {
			t.Errorf("%s: %s served twice in %v", what, id, seen)
		}
	}
}

// TestPaginationWhileInserting pages through lists while rows are added between
// pages: every row that existed when paging began is served exactly once, in the
// list's order.
func TestPaginationWhileInserting(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "paging")

	t.Run("items, oldest first: new items may follow, nothing repeats or goes missing", func(t *testing.T) {
		var before []string
		for i := range 7 {
			before = append(before, o.newItem(t, fmt.Sprintf("Room %d", i), 2, 1000).ID)
		}
		var added []string
		seen := walk[item](t, o.as(t, "read"), o.path("/items"), 3, func(int) {
			for range 2 {
				added = append(added, o.newItem(t, "Added", 2, 1000).ID)
			}
		})
		noDuplicates(t, "items", seen)
		if !slices.Equal(seen[:len(before)], before) {
			t.Errorf("the items that existed must come first, in order, none missing:\nwant %v\ngot  %v", before, seen)
		}
		if !slices.IsSorted(seen) {
			t.Errorf("items must be served in id order: %v", seen)
		}
		for _, id := range seen[len(before):] {
			if !slices.Contains(added, id) {
				t.Errorf("item %s came from nowhere", id)
			}
		}
	})

	t.Run("bookings, newest first: new bookings never enter a walk in progress", func(t *testing.T) {
		room := o.newItem(t, "Booked room", 2, 1000)
		var before []string
		for i := range 7 {
			before = append(before, o.newBooking(t, room.ID, day(100+2*i), day(101+2*i)).ID)
		}
		slices.Reverse(before)
		next := 200
		seen := walk[booking](t, o.as(t, "read"), o.path("/bookings?item_id=%s", room.ID), 3, func(int) {
			for range 2 {
				o.newBooking(t, room.ID, day(next), day(next+1))
				next += 2
			}
		})
		if !slices.Equal(seen, before) {
			t.Errorf("the walk must serve exactly the bookings that existed, newest first:\nwant %v\ngot  %v", before, seen)
		}
	})

	t.Run("availability pages cover every free item once", func(t *testing.T) {
		var all list[availableItem]
		o.as(t, "read").Get(o.path("/availability?check_in=%s&check_out=%s&limit=100", day(5), day(6))).Expect(http.StatusOK).JSON(&all)
		seen := walk[availableItem](t, o.as(t, "read"), o.path("/availability?check_in=%s&check_out=%s", day(5), day(6)), 4, func(int) {})
		if !slices.Equal(seen, ids(all.Data)) || len(seen) < 10 {
			t.Errorf("paging by 4 must serve the %d free items once each, got %d: %v", len(all.Data), len(seen), seen)
		}
	})
}
