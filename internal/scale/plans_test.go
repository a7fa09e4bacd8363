package scale_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
)

// capture keeps the SQL and arguments of the last named sqlc query the pool ran.
type capture struct {
	mu   sync.Mutex
	name string
	sql  string
	args []any
}

func (c *capture) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if rest, ok := strings.CutPrefix(d.SQL, "-- name: "); ok {
		name, _, _ := strings.Cut(rest, " ")
		if strings.HasPrefix(name, "List") || strings.HasPrefix(name, "DueHolds") {
			c.mu.Lock()
			c.name, c.sql, c.args = name, d.SQL, append([]any(nil), d.Args...)
			c.mu.Unlock()
		}
	}
	return ctx
}

func (c *capture) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestListBookingsPlans: every booking list filter, alone and combined, at a
// million bookings in one organisation, reads an index on the filter: the
// plan a prepared statement settles on (generic, planned without the
// arguments) reads at most maxBuffers pages. The plans go to
// VACANCY_SCALE_PLANS (a file) for docs/operations.md.
func TestListBookingsPlans(t *testing.T) {
	ld := load(t)
	ctx := context.Background()
	var c capture
	d, err := scope.Open(ctx, ld.url, scope.Config{MaxConns: 2, Tracer: &c})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	svc := service.New(d, service.Config{})
	day := func(n int) string { return time.Now().UTC().AddDate(0, 0, n).Format("2006-01-02") }

	cases := []struct {
		what                   string
		status, item, property string
		from, to               string
		maxBuffers             int64
	}{
		{what: "no filter", maxBuffers: 300},
		{what: "status=paid (59%)", status: "paid", maxBuffers: 300},
		{what: "status=unpaid (0.1%, live holds)", status: "unpaid", maxBuffers: 3000},
		{what: "status=expired (10%, with the due holds)", status: "expired", maxBuffers: 1000},
		{what: "item_id (200 stays)", item: rareItem.String(), maxBuffers: 300},
		{what: "item_id + status=unpaid", item: rareItem.String(), status: "unpaid", maxBuffers: 3000},
		{what: "from/to: one night (about 2,500 stays overlap)", from: day(10), to: day(11), maxBuffers: 1000},
		{what: "from/to: 30 nights", from: day(5), to: day(35), maxBuffers: 3000},
		{what: "from/to: in 3 years (nothing booked)", from: day(1100), to: day(1130), maxBuffers: 300},
		{what: "from/to: 30 nights + status=cancelled", from: day(5), to: day(35), status: "cancelled", maxBuffers: 3000},
		{what: "property_id (10 items)", property: rareProperty.String(), maxBuffers: 300},
		{what: "property_id (1,250 items)", property: bigProperty.String(), maxBuffers: 300},
		{what: "property_id + status=unpaid (about 900 live holds)", property: bigProperty.String(), status: "unpaid", maxBuffers: 6000},
	}
	var out strings.Builder
	for _, tc := range cases {
		f, err := booking.NewBookingFilter(tc.status, tc.item, tc.property, tc.from, tc.to)
		if err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		page, _ := domain.NewPage(50, "")
		if _, err := svc.ListBookings(ctx, ld.org, f, page); err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		c.mu.Lock()
		name, sql, args := c.name, c.sql, c.args
		c.mu.Unlock()
		generic, median, err := explainGeneric(ctx, t, ld.url, ld.org.OrganisationID, sql, args)
		if err != nil {
			t.Fatalf("%s: %v", tc.what, err)
		}
		buffers, _ := planTotals(generic)
		t.Logf("%-52s %-22s %7.2f ms %6d pages", tc.what, name, float64(median.Microseconds())/1000, buffers)
		if buffers > tc.maxBuffers {
			t.Errorf("%s (%s) read %d pages, more than %d: the filter is not index-backed\n%s", tc.what, name, buffers, tc.maxBuffers, generic)
		}
		fmt.Fprintf(&out, "#### %s\n\n`%s`, generic plan: %d pages (8 KiB), median %.2f ms\n\n```\n%s\n```\n\n",
			tc.what, name, buffers, float64(median.Microseconds())/1000, compact(generic))
	}
	if path := os.Getenv("VACANCY_SCALE_PLANS"); path != "" {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// explainGeneric runs EXPLAIN (ANALYZE, BUFFERS) of the query's generic plan as
// the application role under row level security, as the server would after a
// prepared statement's fifth run, and times 7 runs of it (the median). The
// transaction is rolled back.
func explainGeneric(ctx context.Context, t *testing.T, url string, org uuid.UUID, sql string, args []any) (string, time.Duration, error) {
	conn := pgtest.Superuser(t, url).Conn(t)
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", 0, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	for _, s := range []string{"SET LOCAL ROLE " + scope.AppRole, "SET LOCAL plan_cache_mode = force_generic_plan",
		fmt.Sprintf("SELECT set_config('app.organisation_id', '%s', true)", org)} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return "", 0, err
		}
	}
	if _, err := tx.Exec(ctx, "PREPARE measured AS "+sql); err != nil {
		return "", 0, fmt.Errorf("prepare: %w", err)
	}
	lits := make([]string, len(args))
	for i, a := range args {
		if lits[i], err = pgtest.Literal(a); err != nil {
			return "", 0, err
		}
	}
	execute := "EXECUTE measured(" + strings.Join(lits, ", ") + ")"
	var runs []time.Duration
	for range 7 {
		started := time.Now()
		if _, err := tx.Exec(ctx, execute); err != nil {
			return "", 0, err
		}
		runs = append(runs, time.Since(started))
	}
	slices.Sort(runs)
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) "+execute)
	if err != nil {
		return "", 0, err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), runs[len(runs)/2], err
}

var (
	buffersLine = regexp.MustCompile(`^Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?`)
	execLine    = regexp.MustCompile(`^Execution Time: ([0-9.]+) ms`)
)

// planTotals reads the pages the whole plan touched (its top node's buffers)
// and the execution time.
func planTotals(plan string) (pages int64, ms float64) {
	seenTop := false
	for _, l := range strings.Split(plan, "\n") {
		l = strings.TrimSpace(l)
		if m := buffersLine.FindStringSubmatch(l); m != nil && !seenTop {
			seenTop = true
			hit, _ := strconv.ParseInt(m[1], 10, 64)
			read, _ := strconv.ParseInt(m[2], 10, 64)
			pages = hit + read
		}
		if m := execLine.FindStringSubmatch(l); m != nil {
			ms, _ = strconv.ParseFloat(m[1], 64)
		}
	}
	return pages, ms
}

// compact drops the planning details, the repeated length-class index scans
// and the middle of very long conditions of a plan, for the documentation.
func compact(plan string) string {
	var out []string
	bitmap := 0
	for _, l := range strings.Split(plan, "\n") {
		tl := strings.TrimSpace(l)
		if len(l) > 160 {
			l = l[:120] + " … " + l[len(l)-30:]
		}
		switch {
		case strings.HasPrefix(tl, "Planning"), strings.HasPrefix(tl, "Buffers: shared hit") && len(out) > 0 && strings.Contains(out[len(out)-1], "Planning"):
			continue
		case strings.Contains(tl, "Bitmap Index Scan on booking_items_by_stay"):
			bitmap++
			if bitmap > 1 {
				continue
			}
		case bitmap > 1 && (strings.HasPrefix(tl, "Index Cond") || strings.HasPrefix(tl, "Buffers")):
			continue
		}
		out = append(out, l)
	}
	if bitmap > 1 {
		out = append(out, fmt.Sprintf("(%d bitmap index scans on booking_items_by_stay in all, one per length class)", bitmap))
	}
	return strings.Join(out, "\n")
}
