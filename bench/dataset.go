package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"golang.org/x/sync/errgroup"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
)

// The loaded history spans two years centred on today: a year of past stays and
// a year of future ones. Benchmarked bookings are placed after it (see slots).
const (
	historyDays = 730
	pastDays    = 365
)

// organisation is a loaded tenant and what the load generator needs of it.
type organisation struct {
	ID       uuid.UUID
	Slug     string
	Key      string    // an admin API key (secret)
	KeyID    uuid.UUID // its id: the actor of commands
	Items    []uuid.UUID
	Bookings []uuid.UUID // a sample of its loaded bookings, for the read mix
}

// Scope is the organisation's admin scope, as the server derives it from Key.
func (o *organisation) Scope() scope.Scope {
	return scope.Scope{OrganisationID: o.ID, ActorID: o.KeyID, Role: scope.RoleAdmin}
}

// dataset is one loaded database.
type dataset struct {
	Name         string
	URL          string // superuser URL
	Orgs         []*organisation
	BookingItems int
	Today        time.Time // UTC midnight; every organisation is on UTC
	LoadTime     time.Duration
}

// sizes says how much to load.
type sizes struct {
	Orgs         int
	ItemsPerOrg  int
	BookingItems int
	// RateRules per item, spread over the loaded future; with any, each
	// organisation also has an inclusive VAT and a city tax per guest-night.
	RateRules int
}

const bookingSamplePerOrg = 2000

// load creates, migrates and fills the database dbname on the server behind
// admin: organisations and their API keys through the domain (so keys are hashed
// exactly as in production), items, bookings and booking items with COPY.
func load(ctx context.Context, admin *pgx.Conn, serverURL func(db string) string, dbname string, sz sizes, seed uint64, log func(string, ...any)) (*dataset, error) {
	started := time.Now()
	ident := pgx.Identifier{dbname}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return nil, fmt.Errorf("drop database %s: %w", dbname, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return nil, fmt.Errorf("create database %s: %w", dbname, err)
	}
	url := serverURL(dbname)
	if err := dbmigrate.Up(url); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", dbname, err)
	}
	ds := &dataset{Name: dbname, URL: url, BookingItems: sz.BookingItems, Today: today()}

	// Organisations and keys through the domain.
	sdb, err := scope.Open(ctx, url, scope.Config{MaxConns: 4})
	if err != nil {
		return nil, err
	}
	defer sdb.Close()
	svc := service.New(sdb, service.Config{})
	for i := range sz.Orgs {
		slug := fmt.Sprintf("bench-%04d", i)
		meta, err := command.NewMeta("", uuid.Nil, nil, time.Now())
		if err != nil {
			return nil, err
		}
		cmd, err := tenancy.NewCreateOrganisation(meta, tenancy.CreateOrganisationInput{Slug: slug, Name: "Bench " + slug})
		if err != nil {
			return nil, fmt.Errorf("organisation %s: %w", slug, err)
		}
		out, _, err := svc.CreateOrganisation(ctx, cmd)
		if err != nil {
			return nil, err
		}
		ds.Orgs = append(ds.Orgs, &organisation{ID: out.ID, Slug: slug, Key: out.APIKey.Key, KeyID: out.APIKey.ID})
	}

	// Everything else with COPY, one organisation per transaction, a few in parallel.
	pool, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	perOrg := split(sz.BookingItems, sz.Orgs)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(3)
	var mu sync.Mutex
	done := 0
	for i, o := range ds.Orgs {
		g.Go(func() error {
			conn, err := pgx.ConnectConfig(gctx, pool)
			if err != nil {
				return fmt.Errorf("connect: %w", err)
			}
			defer conn.Close(context.WithoutCancel(gctx))
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			if err := loadOrganisation(gctx, conn, o, sz.ItemsPerOrg, perOrg[i], sz.RateRules, ds.Today, rng); err != nil {
				return fmt.Errorf("load organisation %s: %w", o.Slug, err)
			}
			mu.Lock()
			done++
			if done%20 == 0 || done == len(ds.Orgs) {
				log("  %s: %d/%d organisations loaded (%s)", dbname, done, len(ds.Orgs), time.Since(started).Round(time.Second))
			}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Fresh statistics and a visibility map, as a long-running database would have.
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		return nil, fmt.Errorf("vacuum analyze: %w", err)
	}
	ds.LoadTime = time.Since(started)
	return ds, nil
}

// split divides total into n near-equal parts.
func split(total, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = total / n
		if i < total%n {
			out[i]++
		}
	}
	return out
}

func today() time.Time {
	y, m, d := time.Now().UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Booking statuses of the loaded history: mostly paid, some completed, cancelled
// or expired (those two free their dates, so they may overlap nothing or anything;
// they are placed like the others anyway).
func pickStatus(rng *rand.Rand, checkOut, today time.Time) string {
	switch r := rng.IntN(100); {
	case r < 6:
		return booking.StatusCancelled
	case r < 9:
		return booking.StatusExpired
	case r < 20 && checkOut.Before(today):
		return booking.StatusComplete
	}
	return booking.StatusPaid
}

// loadOrganisation copies one organisation's items, bookings and booking items.
// Every item's stays are placed in disjoint segments of the two-year history, so
// no two stays of an item overlap and the exclusion constraint accepts them all.
func loadOrganisation(ctx context.Context, conn *pgx.Conn, o *organisation, items, bookingItems, rateRules int, today time.Time, rng *rand.Rand) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	type item struct {
		id    uuid.UUID
		price int64
	}
	its := make([]item, items)
	o.Items = make([]uuid.UUID, items)
	itemRows := make([][]any, items)
	for j := range its {
		id := uuid.Must(uuid.NewV7())
		its[j] = item{id: id, price: int64(5000 + rng.IntN(250)*100)}
		o.Items[j] = id
		itemRows[j] = []any{o.ID, id, fmt.Sprintf("Room %d", j+1), int32(1 + rng.IntN(6)), its[j].price, int32(1), int32(30)}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"items"},
		[]string{"organisation_id", "id", "name", "capacity", "nightly_price", "min_nights", "max_nights"},
		pgx.CopyFromRows(itemRows)); err != nil {
		return fmt.Errorf("copy items: %w", err)
	}
	// One unit per item, as the API creates them.
	if _, err := tx.Exec(ctx, `INSERT INTO units (organisation_id, id, item_id, name)
		SELECT organisation_id, gen_random_uuid(), id, '1' FROM items WHERE organisation_id = $1`, o.ID); err != nil {
		return fmt.Errorf("insert units: %w", err)
	}
	if rateRules > 0 {
		// Rules every 16 days from a month ago, a week to three weeks long (so some
		// overlap), a third of them on Fridays and Saturdays only: prices only, so
		// every stay the scenarios ask for stays sellable.
		if _, err := tx.Exec(ctx, `INSERT INTO rate_rules (organisation_id, id, item_id, start_date, end_date, days, nightly_price)
			SELECT i.organisation_id, gen_random_uuid(), i.id, $2::date + k * 16, $2::date + k * 16 + 7 + (k % 3) * 7,
			       CASE WHEN k % 3 = 0 THEN '{5,6}'::smallint[] END, i.nightly_price + (k % 7) * 500
			FROM items i CROSS JOIN generate_series(0, $3::integer - 1) AS k
			WHERE i.organisation_id = $1`, o.ID, today.AddDate(0, 0, -30), rateRules); err != nil {
			return fmt.Errorf("insert rate rules: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO charges (organisation_id, id, name, kind, percent_bp, amount, per, inclusive)
			VALUES ($1, gen_random_uuid(), 'VAT', 'tax', 1000, NULL, 'stay', true),
			       ($1, gen_random_uuid(), 'City tax', 'tax', NULL, 150, 'guest_night', false)`, o.ID); err != nil {
			return fmt.Errorf("insert charges: %w", err)
		}
	}

	start := today.AddDate(0, 0, -pastDays)
	perItem := split(bookingItems, items)
	var bookingRows, lineRows [][]any
	for j, it := range its {
		k := min(perItem[j], historyDays/2)
		if k == 0 {
			continue
		}
		seg := historyDays / k
		for s := range k {
			nights := 1 + rng.IntN(min(7, seg-1))
			checkIn := start.AddDate(0, 0, s*seg+rng.IntN(seg-nights+1))
			checkOut := checkIn.AddDate(0, 0, nights)
			created := checkIn.Add(-time.Duration(1+rng.IntN(90*24)) * time.Hour)
			status := pickStatus(rng, checkOut, today)
			total := it.price * int64(nights)
			bid := uuid.Must(uuid.NewV7())
			bookingRows = append(bookingRows, []any{o.ID, bid, status, "Guest " + bid.String()[:8], "guest@example.com",
				"EUR", total, created.Add(30 * time.Minute), created, created})
			lineRows = append(lineRows, []any{o.ID, uuid.Must(uuid.NewV7()), bid, int32(0), it.id,
				pgtype.Range[pgtype.Date]{Lower: pgtype.Date{Time: checkIn, Valid: true}, Upper: pgtype.Date{Time: checkOut, Valid: true},
					LowerType: pgtype.Inclusive, UpperType: pgtype.Exclusive, Valid: true},
				int32(nights), it.price, total, int64(0), total, status, created.Add(30 * time.Minute)})
			if len(o.Bookings) < bookingSamplePerOrg {
				o.Bookings = append(o.Bookings, bid)
			}
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bookings"},
		[]string{"organisation_id", "id", "status", "guest_name", "guest_email", "currency", "total", "expires_at", "created_at", "updated_at"},
		pgx.CopyFromRows(bookingRows)); err != nil {
		return fmt.Errorf("copy bookings: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"booking_items"},
		[]string{"organisation_id", "id", "booking_id", "position", "item_id", "date_range", "nights", "nightly_price",
			"room_total", "addons_total", "total", "status", "hold_expires_at"},
		pgx.CopyFromRows(lineRows)); err != nil {
		return fmt.Errorf("copy booking items: %w", err)
	}
	// Each stay occupies its item's unit.
	if _, err := tx.Exec(ctx, `INSERT INTO occupancies (organisation_id, id, unit_id, item_id, date_range, booking_id,
			booking_item_id, status, hold_expires_at)
		SELECT bi.organisation_id, gen_random_uuid(), u.id, bi.item_id, bi.date_range, bi.booking_id, bi.id, bi.status, bi.hold_expires_at
		FROM booking_items bi JOIN units u ON u.organisation_id = bi.organisation_id AND u.item_id = bi.item_id
		WHERE bi.organisation_id = $1`, o.ID); err != nil {
		return fmt.Errorf("insert occupancies: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
