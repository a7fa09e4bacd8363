// Command bench is `make bench`: it measures Vacancy against the PostgreSQL
// floor on the machine it runs on. It starts PostgreSQL (a testcontainers
// container, or the server named by BENCH_DATABASE_URL), loads a realistic
// dataset with COPY, starts `api serve` as a separate process, drives it over
// loopback with vegeta at a fixed concurrency, and for availability and booking
// creation also drives the floor: the same SQL statements in the same
// transactions, sent with pgx straight to the same database. It writes the
// results to bench/results/latest.{md,json}.
//
// It is a development tool: it may import test support (internal/pgtest) and
// must never be imported.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

// The scenarios, by the dataset they run on: the main one (one unit per item),
// the pool (items with several units each). Availability also runs, API only,
// on the small dataset, and availability and booking on the scale point.
var (
	mainScenarios  = []string{"availability", "quote", "booking", "contention", "reads"}
	poolScenarios  = []string{"pool-availability", "pool-availability-2", "pool-booking"}
	allScenarios   = append(slices.Clone(mainScenarios), poolScenarios...)
	scaleScenarios = []string{"availability", "booking"}
)

type config struct {
	orgs, items, bookingItems, smallBookingItems int
	poolOrgs, poolItems, poolUnits               int
	scale                                        bool
	scaleOrgs, scaleBookingItems                 int
	twoAPIs                                      bool
	rateRules                                    int
	concurrency, serverConns, contentionItems    int
	rounds                                       int
	duration, warmup, timeout                    time.Duration
	api, out, databaseURL                        string
	scenarios                                    []string
	seed                                         uint64
	keep                                         bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.orgs, "orgs", 100, "organisations of the main dataset")
	fs.IntVar(&c.items, "items", 1000, "items per organisation (one unit each), main dataset and scale point")
	fs.IntVar(&c.bookingItems, "booking-items", 1_000_000, "booking items of the main dataset, spread over two years")
	fs.IntVar(&c.smallBookingItems, "small-booking-items", 10_000, "booking items of the small dataset availability is compared on (0 skips it)")
	fs.IntVar(&c.poolOrgs, "pool-orgs", 8, "organisations of the pool dataset")
	fs.IntVar(&c.poolItems, "pool-items", 20, "pooled items per organisation of the pool dataset")
	fs.IntVar(&c.poolUnits, "pool-units", 20, "units per pooled item; each unit has stays over the last 3 months and the coming year, at 30-95 % occupancy per item")
	fs.BoolVar(&c.scale, "scale", false, "also run availability and booking on the scale point (-scale-orgs × -items, -scale-booking-items): long")
	fs.IntVar(&c.scaleOrgs, "scale-orgs", 1000, "organisations of the scale point")
	fs.IntVar(&c.scaleBookingItems, "scale-booking-items", 10_000_000, "booking items of the scale point")
	fs.BoolVar(&c.twoAPIs, "two-apis", false, "also compare two api serve processes against one, on the main dataset (availability and booking)")
	fs.IntVar(&c.concurrency, "concurrency", 8, "concurrent clients, for the API and the floors alike")
	fs.IntVar(&c.serverConns, "server-conns", 20, "the server's database pool size (VACANCY_DB_MAX_CONNS)")
	fs.IntVar(&c.contentionItems, "contention-items", 4, "items the contention scenario fights over")
	fs.IntVar(&c.rateRules, "rate-rules", 50, "rate rules per item on every dataset (and two taxes per organisation when more than 0)")
	fs.DurationVar(&c.duration, "duration", 15*time.Second, "measured time of each scenario's API load, and of each of its floors")
	fs.IntVar(&c.rounds, "rounds", 3, "API and floors take turns this many times, duration/rounds each")
	fs.DurationVar(&c.warmup, "warmup", 3*time.Second, "unmeasured warm-up before each side's first round")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Minute, "give up after this long")
	fs.StringVar(&c.api, "api", "bin/api", "the api binary (built when missing)")
	fs.StringVar(&c.out, "out", "bench/results", "where latest.md and latest.json go")
	fs.StringVar(&c.databaseURL, "database-url", getenv("BENCH_DATABASE_URL"), "superuser URL of a PostgreSQL server to use instead of a container (default $BENCH_DATABASE_URL); the bench creates and drops its own databases there")
	scen := fs.String("scenarios", strings.Join(allScenarios, ","), "scenarios to run")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed of the dataset")
	fs.BoolVar(&c.keep, "keep", false, "keep the bench databases (BENCH_DATABASE_URL only)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.scenarios = strings.Split(*scen, ",")
	for _, s := range c.scenarios {
		if !slices.Contains(allScenarios, s) {
			return c, fmt.Errorf("unknown scenario %q: choose from %s", s, strings.Join(allScenarios, ","))
		}
	}
	switch {
	case c.orgs < 1 || c.items < 1 || c.bookingItems < 0 || c.smallBookingItems < 0 || c.rateRules < 0:
		return c, errors.New("-orgs and -items must be positive, booking items and rate rules not negative")
	case c.poolOrgs < 1 || c.poolItems < 1 || c.poolUnits < 2 || c.poolUnits > 1000:
		return c, errors.New("-pool-orgs and -pool-items must be positive, -pool-units between 2 and 1000")
	case c.scaleOrgs < 1 || c.scaleBookingItems < 0:
		return c, errors.New("-scale-orgs must be positive, -scale-booking-items not negative")
	case c.concurrency < 1 || c.serverConns < 1 || c.contentionItems < 1 || c.rounds < 1:
		return c, errors.New("-concurrency, -server-conns, -contention-items and -rounds must be positive")
	case c.duration <= 0 || c.warmup < 0:
		return c, errors.New("-duration must be positive and -warmup not negative")
	case c.orgs*c.items < c.concurrency || c.poolOrgs*c.poolItems < c.concurrency:
		// Uncontended bookings would otherwise race for the same item and stay
		// (see freeSlot), and the minimal floor, which takes no lock, would fail.
		return c, errors.New("each dataset needs at least -concurrency items in all")
	}
	return c, nil
}

// job is one dataset to load and the scenarios to run on it.
type job struct {
	role          string // small, main, pool, scale
	dbname, label string
	sizes         sizes
	scenarios     []string
	floors        bool // measure the floors beside the API where a scenario has them
	twoAPIs       bool
}

// jobs lists the datasets of the run in the order they are loaded.
func (c config) jobs() []job {
	pick := func(from []string) []string {
		var out []string
		for _, s := range from {
			if slices.Contains(c.scenarios, s) {
				out = append(out, s)
			}
		}
		return out
	}
	var js []job
	main := job{role: "main", dbname: "vacancy_bench", label: label(c.bookingItems), sizes: sizes{Orgs: c.orgs, ItemsPerOrg: c.items,
		BookingItems: c.bookingItems, SlugPrefix: "bench", RateRules: c.rateRules}, scenarios: pick(mainScenarios), floors: true, twoAPIs: c.twoAPIs}
	if c.smallBookingItems > 0 && slices.Contains(main.scenarios, "availability") {
		// How availability grows with data needs the API's latency only.
		js = append(js, job{role: "small", dbname: "vacancy_bench_small", label: label(c.smallBookingItems), sizes: sizes{Orgs: c.orgs,
			ItemsPerOrg: c.items, BookingItems: c.smallBookingItems, SlugPrefix: "bench", RateRules: c.rateRules}, scenarios: []string{"availability"}})
	}
	if len(main.scenarios) > 0 || main.twoAPIs {
		js = append(js, main)
	}
	if p := pick(poolScenarios); len(p) > 0 {
		js = append(js, job{role: "pool", dbname: "vacancy_bench_pool", label: "pool", sizes: sizes{Orgs: c.poolOrgs, ItemsPerOrg: c.poolItems,
			UnitsPerItem: c.poolUnits, SlugPrefix: "pool", RateRules: c.rateRules}, scenarios: p, floors: true})
	}
	if c.scale {
		l := label(c.scaleBookingItems)
		if l == main.label {
			l += " scale"
		}
		js = append(js, job{role: "scale", dbname: "vacancy_bench_scale", label: l, sizes: sizes{Orgs: c.scaleOrgs, ItemsPerOrg: c.items,
			BookingItems: c.scaleBookingItems, SlugPrefix: "bench", RateRules: c.rateRules}, scenarios: scaleScenarios, floors: true})
	}
	return js
}

// hasFloors says which scenarios have a same-SQL and a minimal floor.
func hasFloors(scenario string) bool {
	switch scenario {
	case "availability", "booking", "pool-availability", "pool-availability-2", "pool-booking":
		return true
	}
	return false
}

// loadPhases is how long the load phases of the run take: each side of a
// scenario (API, same-SQL floor, minimal floor) is measured for -duration
// after a warm-up.
func (c config) loadPhases() time.Duration {
	sides := 0
	for _, j := range c.jobs() {
		for _, s := range j.scenarios {
			sides++
			if j.floors && hasFloors(s) {
				sides += 2
			}
		}
		if j.twoAPIs {
			sides += 4 // availability and booking, one API and two
		}
	}
	return time.Duration(sides) * (c.duration + c.warmup)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	cfg, err := parseFlags(args, getenv, os.Stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	started := time.Now()
	logf := func(format string, a ...any) {
		fmt.Fprintf(stdout, "[%6s] %s\n", time.Since(started).Round(time.Second), fmt.Sprintf(format, a...))
	}
	rep := &Report{Started: started, Machine: machine(), Settings: Settings{Concurrency: cfg.concurrency,
		Duration: cfg.duration.String(), Warmup: cfg.warmup.String(), Rounds: cfg.rounds, ServerConns: cfg.serverConns,
		ContentionItems: cfg.contentionItems}}
	defer func() {
		rep.Duration = time.Since(started).Round(time.Second).String()
		rep.computeTargets()
		if err != nil {
			rep.Interrupted = err.Error()
		}
		if len(rep.Scenarios) == 0 {
			return
		}
		if werr := rep.write(cfg.out); werr != nil {
			err = errors.Join(err, werr)
			return
		}
		out := rep.Table() + "\n"
		if len(rep.ScaleOut) > 0 {
			out += rep.ScaleOutTable() + "\n"
		}
		fmt.Fprintf(stdout, "\n%s%s\nwritten to %s\n", out, rep.TargetTable(), filepath.Join(cfg.out, "latest.md"))
	}()

	adminURL := cfg.databaseURL
	rep.Machine.Database = "BENCH_DATABASE_URL"
	if adminURL == "" {
		logf("starting PostgreSQL in a container")
		u, stop, err := pgtest.StartContainer(ctx)
		if err != nil {
			return err
		}
		defer stop()
		adminURL = u
		rep.Machine.Database = "container from internal/pgtest: data on tmpfs, fsync=off, synchronous_commit=off, full_page_writes=off"
	}
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if err := admin.QueryRow(ctx, "SHOW server_version").Scan(&rep.Machine.PostgreSQL); err != nil {
		return fmt.Errorf("server version: %w", err)
	}
	serverURL := func(db string) string {
		u, _ := url.Parse(adminURL)
		u.Path, u.RawPath = "/"+db, ""
		return u.String()
	}

	logf("building %s", cfg.api)
	if err := buildAPI(ctx, cfg.api); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}

	logf("load phases: %s (%d rounds of %s per side, %s warm-up), plus loading the data", cfg.loadPhases(), cfg.rounds,
		cfg.duration/time.Duration(cfg.rounds), cfg.warmup)
	for _, j := range cfg.jobs() {
		what := fmt.Sprintf("%d organisations × %d items", j.sizes.Orgs, j.sizes.ItemsPerOrg)
		if j.sizes.UnitsPerItem > 1 {
			what += fmt.Sprintf(" × %d units", j.sizes.UnitsPerItem)
		} else {
			what += fmt.Sprintf(", %d booking items", j.sizes.BookingItems)
		}
		what += fmt.Sprintf(", %d rate rules per item", j.sizes.RateRules)
		logf("loading %s (%s): %s", j.dbname, j.label, what)
		ds, err := load(ctx, admin, serverURL, j.dbname, j.sizes, cfg.seed, logf)
		if err != nil {
			return err
		}
		info := DSInfo{Name: j.label, Role: j.role, Organisations: j.sizes.Orgs, Items: j.sizes.Orgs * j.sizes.ItemsPerOrg,
			UnitsPerItem: ds.Units, BookingItems: ds.BookingItems,
			RateRules: j.sizes.Orgs * j.sizes.ItemsPerOrg * j.sizes.RateRules, Load: ds.LoadTime.Round(time.Second).String()}
		_ = admin.QueryRow(ctx, "SELECT pg_size_pretty(pg_database_size($1))", j.dbname).Scan(&info.Size)
		rep.Datasets = append(rep.Datasets, info)
		logf("loaded %s in %s: %d booking items, %s on disk", j.dbname, info.Load, info.BookingItems, info.Size)
		if err := runScenarios(ctx, cfg, rep, ds, j, logf); err != nil {
			return err
		}
		if cfg.databaseURL == "" || !cfg.keep {
			if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{j.dbname}.Sanitize()+" WITH (FORCE)"); err != nil {
				return fmt.Errorf("drop %s: %w", j.dbname, err)
			}
		}
	}
	return nil
}

// label names a dataset by its booking items: 10k, 1M.
func label(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// side is one way of serving a scenario's requests, measured into its own
// collector: the API over HTTP, or a floor driven straight at PostgreSQL.
type side struct {
	name           string
	stats          **Stats
	col            *collector
	api            vegeta.Targeter                         // the API's requests, or
	op             func(context.Context, *rand.Rand) error // a floor's
	counted, trips *int64                                  // statements and round trips per request, for a floor
}

// runScenarios starts the server on ds and runs j's scenarios. A scenario with
// floors measures the API, the same-SQL floor and the minimal floor in turns.
func runScenarios(ctx context.Context, cfg config, rep *Report, ds *dataset, j job, logf func(string, ...any)) error {
	name := j.label
	logPath := filepath.Join(cfg.out, "server-"+strings.ReplaceAll(name, " ", "-")+".log")
	srv, err := startAPI(ctx, cfg.api, ds.URL, cfg.serverConns, logPath)
	if err != nil {
		return err
	}
	defer srv.Stop()
	rep.ServerLogs = append(rep.ServerLogs, logPath)
	tr := &tracer{}
	fdb, err := scope.Open(ctx, ds.URL, scope.Config{MaxConns: int32(cfg.concurrency), Tracer: tr})
	if err != nil {
		return err
	}
	defer fdb.Close()
	mdb, err := openMinimal(ctx, ds.URL, cfg.concurrency, &tracer{})
	if err != nil {
		return err
	}
	defer mdb.Close()
	w := newWorkload(ds, cfg.contentionItems, cfg.concurrency)
	c, warm, d := cfg.concurrency, cfg.warmup, cfg.duration
	meter, err := newCPUMeter(srv.cmd.Process.Pid) // nil, and no CPU table, off Linux
	if err != nil {
		logf("no CPU table: %v", err)
	}

	for _, sc := range j.scenarios {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopped before %s: %w", sc, err)
		}
		s := Scenario{Name: sc, Dataset: name}
		api := side{name: "API", stats: &s.API, col: newCollector(expect{success: 200})}
		var same, minimal func(context.Context, *rand.Rand) error
		switch sc {
		case "availability":
			api.api, same, minimal = w.availabilityTargeter(srv.Base, 0), w.availabilityFloor(fdb, 0), w.availabilityMinimal(mdb, 0)
		case "pool-availability":
			api.api, same, minimal = w.availabilityTargeter(srv.Base, 1), w.availabilityFloor(fdb, 1), w.availabilityMinimal(mdb, 1)
		case "pool-availability-2":
			api.api, same, minimal = w.availabilityTargeter(srv.Base, 2), w.availabilityFloor(fdb, 2), w.availabilityMinimal(mdb, 2)
		case "quote":
			api.api = w.quoteTargeter(srv.Base)
		case "booking", "pool-booking":
			api.api, same, minimal = w.bookingTargeter(srv.Base), w.bookingFloor(fdb), w.bookingMinimal(mdb)
			api.col = newCollector(expect{success: 201})
		case "contention":
			api.api = w.contendedTargeter(srv.Base, c)
			api.col = newCollector(expect{success: 201, conflicts: true})
		case "reads":
			api.api = w.readTargeter(srv.Base)
		}
		sides := []side{api}
		if j.floors && same != nil {
			sides = append(sides,
				side{name: "same-SQL floor", stats: &s.Same, col: newCollector(expect{success: 200}), op: same, counted: &s.SameStatements, trips: &s.SameRoundTrips},
				side{name: "minimal floor", stats: &s.Minimal, col: newCollector(expect{success: 200}), op: minimal, counted: &s.MinimalStatements, trips: &s.MinimalRoundTrips})
		}
		for _, x := range sides {
			x.col.meter = meter
		}
		for _, x := range sides[1:] {
			rng := rand.New(rand.NewPCG(cfg.seed, 99))
			n, trips, err := statementsPerRequest(ctx, func(ctx context.Context) error { return x.op(ctx, rng) })
			if err != nil {
				return fmt.Errorf("%s %s: %w", sc, x.name, err)
			}
			*x.counted, *x.trips = n, trips
		}
		// With floors, the sides take turns in rounds, so that a change in the
		// machine's load during the run affects them alike.
		rounds := 1
		if len(sides) > 1 {
			rounds = cfg.rounds
		}
		for r := range rounds {
			warmup := warm
			if r > 0 {
				warmup = 0
			}
			for _, x := range sides {
				logf("%s on %s: %s (round %d/%d)", sc, name, x.name, r+1, rounds)
				if x.api != nil {
					attack(ctx, x.col, c, warmup, d/time.Duration(rounds), x.api)
					if m, err := srv.Memory(); err == nil {
						s.Server = &m
					}
				} else {
					drive(ctx, x.col, c, warmup, d/time.Duration(rounds), x.op)
				}
			}
		}
		for _, x := range sides {
			*x.stats = ptr(x.col.stats())
			st := *x.stats
			logf("  %s: %.0f req/s, p50 %.1f / p95 %.1f / p99 %.1f ms, %d errors, %d conflicts", x.name, st.Throughput,
				st.P50Ms, st.P95Ms, st.P99Ms, st.Errors, st.Conflicts)
		}
		if s.Same != nil && s.Same.Throughput > 0 {
			s.SameRatio = s.API.Throughput / s.Same.Throughput
		}
		if s.Minimal != nil && s.Minimal.Throughput > 0 {
			s.MinimalRatio = s.API.Throughput / s.Minimal.Throughput
		}
		if len(sides) > 1 {
			logf("  API ÷ same-SQL %.2f, API ÷ minimal %.2f", s.SameRatio, s.MinimalRatio)
		}
		rep.Scenarios = append(rep.Scenarios, s)
	}

	if j.twoAPIs {
		if err := compareInstances(ctx, cfg, rep, w, srv, name, logf); err != nil {
			return err
		}
	}

	for _, q := range []string{"AvailableItems", "FreeUnits"} {
		c, ok := tr.get(q)
		if !ok || len(ds.Orgs) == 0 {
			continue
		}
		org := ds.Orgs[0].ID
		if id, ok := c.args[0].(interface{ String() string }); ok {
			for _, o := range ds.Orgs {
				if o.ID.String() == id.String() {
					org = o.ID
				}
			}
		}
		p, err := explain(ctx, ds.URL, name, q, c, org)
		if err != nil {
			logf("explain %s: %v", q, err)
			continue
		}
		rep.Plans = append(rep.Plans, p)
	}
	if j.floors {
		for _, sc := range j.scenarios {
			quantity, ok := map[string]int{"availability": 1, "pool-availability": 1, "pool-availability-2": 2}[sc]
			if !ok {
				continue
			}
			p, err := explainMinimal(ctx, ds, name, quantity)
			if err != nil {
				logf("explain minimal availability: %v", err)
				continue
			}
			rep.Plans = append(rep.Plans, p)
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// computeTargets checks the targets of issues 15 and 10 against what was
// measured. A target whose scenario did not run is left out; one that was
// measured and missed says so.
func (r *Report) computeTargets() {
	r.Targets = nil
	find := func(name, ds string) *Scenario {
		for i := range r.Scenarios {
			if r.Scenarios[i].Name == name && r.Scenarios[i].Dataset == ds {
				return &r.Scenarios[i]
			}
		}
		return nil
	}
	main, small, scale := r.datasetOf("main"), r.datasetOf("small"), r.datasetOf("scale")
	if s := find("availability", main); s != nil && s.Same != nil {
		r.Targets = append(r.Targets, Target{"availability search vs same-SQL floor (" + main + ")", "≥ 0.8", s.SameRatio, "×", s.SameRatio >= 0.8})
	}
	if s := find("booking", main); s != nil && s.Same != nil {
		r.Targets = append(r.Targets, Target{"booking creation vs same-SQL floor (" + main + ")", "≥ 0.6", s.SameRatio, "×", s.SameRatio >= 0.6})
	}
	for _, s := range r.Scenarios {
		if s.Minimal == nil {
			continue
		}
		goal := 0.8
		if strings.HasSuffix(s.Name, "booking") {
			goal = 0.5
		}
		r.Targets = append(r.Targets, Target{fmt.Sprintf("%s vs minimal floor (%s)", s.Name, s.Dataset), fmt.Sprintf("≥ %.1f", goal),
			s.MinimalRatio, "×", s.MinimalRatio >= goal})
	}
	for _, s := range r.Scenarios {
		if s.API == nil || s.API.P50Ms <= 0 {
			continue
		}
		ratio := s.API.P99Ms / s.API.P50Ms
		r.Targets = append(r.Targets, Target{fmt.Sprintf("%s (%s): API p99 ÷ p50 (%.1f ms ÷ %.1f ms)", s.Name, s.Dataset, s.API.P99Ms, s.API.P50Ms),
			"≤ 3", ratio, "×", ratio <= 3})
	}
	var errs, peak float64
	for _, s := range r.Scenarios {
		if s.API != nil {
			errs += float64(s.API.Errors)
		}
		if s.Server != nil {
			peak = max(peak, s.Server.PeakMiB)
		}
	}
	for _, x := range r.ScaleOut {
		errs += float64(x.One.Errors + x.Two.Errors)
		for _, m := range append([]Memory{x.OneServer}, x.TwoServers...) {
			peak = max(peak, m.PeakMiB)
		}
	}
	if len(r.Scenarios) > 0 {
		r.Targets = append(r.Targets, Target{"API errors other than expected 409s", "0", errs, "", errs == 0})
		r.Targets = append(r.Targets, Target{"peak RSS (VmHWM) of api serve", "≤ 100 MiB", peak, "MiB", peak > 0 && peak <= 100})
	}
	growth := func(from, to, goal string, limit float64) {
		a, b := find("availability", from), find("availability", to)
		if from == "" || to == "" || a == nil || b == nil || a.API.P50Ms <= 0 {
			return
		}
		ratio := b.API.P50Ms / a.API.P50Ms
		r.Targets = append(r.Targets, Target{fmt.Sprintf("availability p50 at %s ÷ at %s (%.1f ms ÷ %.1f ms)", to, from,
			b.API.P50Ms, a.API.P50Ms), goal, ratio, "×", ratio <= limit})
	}
	growth(small, main, "≤ 2", 2)
	growth(main, scale, "≤ 1.5", 1.5)
}
