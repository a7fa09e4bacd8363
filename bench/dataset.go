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
	Units        int       // units per item
	BookingItems int       // as loaded
	Today        time.Time // UTC midnight; every organisation is on UTC
	LoadTime     time.Duration
}

// sizes says how much to load. With one unit per item, BookingItems stays are
// spread evenly over the items. With more (a pool), every unit gets stays of its
// own at an occupancy drawn per item, and BookingItems is not used: how many
// stays that makes is counted as they are placed.
type sizes struct {
	Orgs         int
	ItemsPerOrg  int
	UnitsPerItem int
	BookingItems int
	SlugPrefix   string // "bench", "pool"
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
	ds := &dataset{Name: dbname, URL: url, Units: max(1, sz.UnitsPerItem), Today: today()}

	log("  %s: created and migrated (%s)", dbname, time.Since(started).Round(time.Second))

	// Organisations and keys through the domain, four at a time: the scale point
	// creates a thousand.
	sdb, err := scope.Open(ctx, url, scope.Config{MaxConns: 4})
	if err != nil {
		return nil, err
	}
	defer sdb.Close()
	svc := service.New(sdb, service.Config{})
	ds.Orgs = make([]*organisation, sz.Orgs)
	og, octx := errgroup.WithContext(ctx)
	og.SetLimit(4)
	for i := range sz.Orgs {
		og.Go(func() error {
			slug := fmt.Sprintf("%s-%04d", sz.SlugPrefix, i)
			meta, err := command.NewMeta("", uuid.Nil, nil, time.Now())
			if err != nil {
				return err
			}
			cmd, err := tenancy.NewCreateOrganisation(meta, tenancy.CreateOrganisationInput{Slug: slug, Name: "Bench " + slug})
			if err != nil {
				return fmt.Errorf("organisation %s: %w", slug, err)
			}
			out, _, err := svc.CreateOrganisation(octx, cmd)
			if err != nil {
				return fmt.Errorf("organisation %s: %w", slug, err)
			}
			ds.Orgs[i] = &organisation{ID: out.ID, Slug: slug, Key: out.APIKey.Key, KeyID: out.APIKey.ID}
			return nil
		})
	}
	if err := og.Wait(); err != nil {
		return nil, err
	}
	log("  %s: %d organisations and their keys created (%s)", dbname, sz.Orgs, time.Since(started).Round(time.Second))

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
	every := max(20, len(ds.Orgs)/10)
	for i, o := range ds.Orgs {
		g.Go(func() error {
			conn, err := pgx.ConnectConfig(gctx, pool)
			if err != nil {
				return fmt.Errorf("connect: %w", err)
			}
			defer conn.Close(context.WithoutCancel(gctx))
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			n, err := loadOrganisation(gctx, conn, o, sz.ItemsPerOrg, ds.Units, perOrg[i], sz.RateRules, ds.Today, rng)
			if err != nil {
				return fmt.Errorf("load organisation %s: %w", o.Slug, err)
			}
			mu.Lock()
			ds.BookingItems += n
			done++
			if done%every == 0 || done == len(ds.Orgs) {
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
	log("  %s: vacuumed and analysed (%s)", dbname, time.Since(started).Round(time.Second))
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

// stay is one loaded booking item and the unit it occupies.
type stay struct {
	item, unit int
	checkIn    time.Time
	nights     int
}

// loadOrganisation copies one organisation's items, their units, rate rules and
// charges, bookings, booking items and occupancies, and returns how many booking
// items it loaded. No two stays of a unit overlap, so the exclusion constraint
// accepts them all.
func loadOrganisation(ctx context.Context, conn *pgx.Conn, o *organisation, items, units, bookingItems, rateRules int, today time.Time, rng *rand.Rand) (int, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	type item struct {
		id    uuid.UUID
		price int64
		units []uuid.UUID
	}
	its := make([]item, items)
	o.Items = make([]uuid.UUID, items)
	itemRows := make([][]any, items)
	unitRows := make([][]any, 0, items*units)
	for j := range its {
		id := uuid.Must(uuid.NewV7())
		its[j] = item{id: id, price: int64(5000 + rng.IntN(250)*100), units: make([]uuid.UUID, units)}
		o.Items[j] = id
		itemRows[j] = []any{o.ID, id, fmt.Sprintf("Room %d", j+1), int32(1 + rng.IntN(6)), its[j].price, int32(1), int32(30), int32(units)}
		// Units are named "1".."N", as the API names them.
		for u := range units {
			its[j].units[u] = uuid.Must(uuid.NewV7())
			unitRows = append(unitRows, []any{o.ID, its[j].units[u], id, fmt.Sprint(u + 1)})
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"items"},
		[]string{"organisation_id", "id", "name", "capacity", "nightly_price", "min_nights", "max_nights", "unit_count"},
		pgx.CopyFromRows(itemRows)); err != nil {
		return 0, fmt.Errorf("copy items: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"units"}, []string{"organisation_id", "id", "item_id", "name"},
		pgx.CopyFromRows(unitRows)); err != nil {
		return 0, fmt.Errorf("copy units: %w", err)
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
			return 0, fmt.Errorf("insert rate rules: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO charges (organisation_id, id, name, kind, percent_bp, amount, per, inclusive)
			VALUES ($1, gen_random_uuid(), 'VAT', 'tax', 1000, NULL, 'stay', true),
			       ($1, gen_random_uuid(), 'City tax', 'tax', NULL, 150, 'guest_night', false)`, o.ID); err != nil {
			return 0, fmt.Errorf("insert charges: %w", err)
		}
	}

	var stays []stay
	if units == 1 {
		stays = spreadStays(items, bookingItems, today.AddDate(0, 0, -pastDays), rng)
	} else {
		stays = poolStays(items, units, today.AddDate(0, 0, -poolPastDays), rng)
	}
	var bookingRows, lineRows, occupancyRows [][]any
	for _, st := range stays {
		it := its[st.item]
		checkOut := st.checkIn.AddDate(0, 0, st.nights)
		created := st.checkIn.Add(-time.Duration(1+rng.IntN(90*24)) * time.Hour)
		status := pickStatus(rng, checkOut, today)
		total := it.price * int64(st.nights)
		bid, lid := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
		dates := pgtype.Range[pgtype.Date]{Lower: pgtype.Date{Time: st.checkIn, Valid: true}, Upper: pgtype.Date{Time: checkOut, Valid: true},
			LowerType: pgtype.Inclusive, UpperType: pgtype.Exclusive, Valid: true}
		holdTill := created.Add(30 * time.Minute)
		bookingRows = append(bookingRows, []any{o.ID, bid, status, "Guest " + bid.String()[:8], "guest@example.com",
			"EUR", total, holdTill, created, created})
		lineRows = append(lineRows, []any{o.ID, lid, bid, int32(0), it.id, dates,
			int32(st.nights), it.price, total, int64(0), total, status, holdTill})
		occupancyRows = append(occupancyRows, []any{o.ID, uuid.Must(uuid.NewV7()), it.units[st.unit], it.id, dates, bid, lid,
			status, holdTill})
		if len(o.Bookings) < bookingSamplePerOrg {
			o.Bookings = append(o.Bookings, bid)
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bookings"},
		[]string{"organisation_id", "id", "status", "guest_name", "guest_email", "currency", "total", "expires_at", "created_at", "updated_at"},
		pgx.CopyFromRows(bookingRows)); err != nil {
		return 0, fmt.Errorf("copy bookings: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"booking_items"},
		[]string{"organisation_id", "id", "booking_id", "position", "item_id", "date_range", "nights", "nightly_price",
			"room_total", "addons_total", "total", "status", "hold_expires_at"},
		pgx.CopyFromRows(lineRows)); err != nil {
		return 0, fmt.Errorf("copy booking items: %w", err)
	}
	// Each stay occupies its unit.
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"occupancies"},
		[]string{"organisation_id", "id", "unit_id", "item_id", "date_range", "booking_id", "booking_item_id", "status", "hold_expires_at"},
		pgx.CopyFromRows(occupancyRows)); err != nil {
		return 0, fmt.Errorf("copy occupancies: %w", err)
	}
	// The command log of the bookings made in the last 7 days (what retention
	// keeps), under the organisation's key as the API records them. A live
	// database always has one; an empty table measured something else: its
	// statistics say no rows, and the idempotency key's lookup was planned as a
	// scan of the whole table, cached for the connection's life.
	if _, err := tx.Exec(ctx, `INSERT INTO commands (organisation_id, actor_id, id, type, fingerprint, state, claim,
			locked_until, outcome, result, started_at, finished_at, duration_ms)
		SELECT b.organisation_id, $2, gen_random_uuid()::text, 'booking.create', sha256(b.id::text::bytea), 'done',
		       gen_random_uuid(), b.created_at, 'ok',
		       jsonb_build_object('id', b.id, 'status', b.status, 'currency', b.currency, 'total', b.total,
		                          'guest', jsonb_build_object('name', b.guest_name, 'email', b.guest_email),
		                          'expires_at', b.expires_at, 'created_at', b.created_at),
		       b.created_at, b.created_at, 12
		FROM bookings b
		WHERE b.organisation_id = $1 AND b.created_at > $3::timestamptz - interval '7 days' AND b.created_at <= $3::timestamptz`,
		o.ID, o.KeyID, time.Now()); err != nil {
		return 0, fmt.Errorf("insert command log: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return len(stays), nil
}

// spreadStays places bookingItems stays over the one-unit items of an
// organisation, evenly: each item's stays lie in disjoint segments of the
// two-year history.
func spreadStays(items, bookingItems int, start time.Time, rng *rand.Rand) []stay {
	var out []stay
	perItem := split(bookingItems, items)
	for j := range items {
		k := min(perItem[j], historyDays/2)
		if k == 0 {
			continue
		}
		seg := historyDays / k
		for s := range k {
			nights := 1 + rng.IntN(min(7, seg-1))
			out = append(out, stay{item: j, checkIn: start.AddDate(0, 0, s*seg+rng.IntN(seg-nights+1)), nights: nights})
		}
	}
	return out
}

// Occupancy of pooled items: each item draws its own, between these bounds, so
// that some pools are nearly full on a given night (and drop out of a search for
// two units before one for a single unit) while others are mostly free.
const (
	poolMinOccupancy = 0.30
	poolMaxOccupancy = 0.95
)

// A pool's stays cover the coming year, where the searches go, and the last
// three months: a shorter history than the one-unit datasets', since a pool has
// twenty times the stays per item and they must load within the default run.
const (
	poolPastDays = 90
	poolDays     = poolPastDays + historyDays - pastDays
)

// poolStays fills every unit of every pooled item over poolDays from start:
// stays of one to seven nights, separated by gaps whose mean gives the item's
// occupancy. A unit's stays follow one another, so they never overlap.
func poolStays(items, units int, start time.Time, rng *rand.Rand) []stay {
	var out []stay
	const meanNights = 4.0
	for j := range items {
		p := poolMinOccupancy + rng.Float64()*(poolMaxOccupancy-poolMinOccupancy)
		meanGap := meanNights * (1 - p) / p
		for u := range units {
			d := int(rng.ExpFloat64() * meanGap * 2) // a random phase
			for {
				nights := 1 + rng.IntN(7)
				if d+nights > poolDays {
					break
				}
				out = append(out, stay{item: j, unit: u, checkIn: start.AddDate(0, 0, d), nights: nights})
				d += nights + int(rng.ExpFloat64()*meanGap+0.5)
			}
		}
	}
	return out
}
