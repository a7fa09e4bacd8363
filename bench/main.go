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

var allScenarios = []string{"availability", "quote", "booking", "contention", "reads"}

type config struct {
	orgs, items, bookingItems, smallBookingItems int
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
	fs.IntVar(&c.orgs, "orgs", 100, "organisations")
	fs.IntVar(&c.items, "items", 1000, "items per organisation")
	fs.IntVar(&c.bookingItems, "booking-items", 1_000_000, "booking items of the main dataset, spread over two years")
	fs.IntVar(&c.smallBookingItems, "small-booking-items", 10_000, "booking items of the small dataset availability is compared on (0 skips it)")
	fs.IntVar(&c.concurrency, "concurrency", 8, "concurrent clients, for the API and the floor alike")
	fs.IntVar(&c.serverConns, "server-conns", 20, "the server's database pool size (VACANCY_DB_MAX_CONNS)")
	fs.IntVar(&c.contentionItems, "contention-items", 4, "items the contention scenario fights over")
	fs.IntVar(&c.rateRules, "rate-rules", 50, "rate rules per item (and two taxes per organisation when more than 0)")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "measured time of each scenario's API load, and of its floor")
	fs.IntVar(&c.rounds, "rounds", 2, "API and floor take turns this many times, duration/rounds each")
	fs.DurationVar(&c.warmup, "warmup", 5*time.Second, "unmeasured warm-up before each phase")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Minute, "give up after this long")
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
	case c.concurrency < 1 || c.serverConns < 1 || c.contentionItems < 1 || c.rounds < 1:
		return c, errors.New("-concurrency, -server-conns, -contention-items and -rounds must be positive")
	case c.duration <= 0 || c.warmup < 0:
		return c, errors.New("-duration must be positive and -warmup not negative")
	}
	return c, nil
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
		fmt.Fprintf(stdout, "\n%s\nwritten to %s\n", rep.Table(), filepath.Join(cfg.out, "latest.md"))
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

	type job struct {
		dbname       string
		bookingItems int
		scenarios    []string
	}
	var jobs []job
	if cfg.smallBookingItems > 0 && slices.Contains(cfg.scenarios, "availability") {
		jobs = append(jobs, job{"vacancy_bench_small", cfg.smallBookingItems, []string{"availability"}})
	}
	jobs = append(jobs, job{"vacancy_bench", cfg.bookingItems, cfg.scenarios})
	for _, j := range jobs {
		logf("loading %s: %d organisations × %d items, %d booking items, %d rate rules per item", j.dbname, cfg.orgs, cfg.items,
			j.bookingItems, cfg.rateRules)
		ds, err := load(ctx, admin, serverURL, j.dbname, sizes{Orgs: cfg.orgs, ItemsPerOrg: cfg.items, BookingItems: j.bookingItems,
			RateRules: cfg.rateRules}, cfg.seed, logf)
		if err != nil {
			return err
		}
		info := DSInfo{Name: label(j.bookingItems), Organisations: cfg.orgs, Items: cfg.orgs * cfg.items,
			BookingItems: j.bookingItems, RateRules: cfg.orgs * cfg.items * cfg.rateRules, Load: ds.LoadTime.Round(time.Second).String()}
		_ = admin.QueryRow(ctx, "SELECT pg_size_pretty(pg_database_size($1))", j.dbname).Scan(&info.Size)
		rep.Datasets = append(rep.Datasets, info)
		logf("loaded %s in %s (%s)", j.dbname, info.Load, info.Size)
		if err := runScenarios(ctx, cfg, rep, ds, info.Name, j.scenarios, logf); err != nil {
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

// runScenarios starts the server on ds and runs the scenarios, each API phase
// followed by its floor phase where it has one.
func runScenarios(ctx context.Context, cfg config, rep *Report, ds *dataset, name string, scenarios []string, logf func(string, ...any)) error {
	logPath := filepath.Join(cfg.out, "server-"+name+".log")
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
	w := &workload{ds: ds, base: srv.Base, contentionItems: cfg.contentionItems}
	c, warm, d := cfg.concurrency, cfg.warmup, cfg.duration

	for _, sc := range scenarios {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopped before %s: %w", sc, err)
		}
		s := Scenario{Name: sc, Dataset: name}
		var (
			tr    vegeta.Targeter
			exp   = expect{success: 200}
			floor func(context.Context, *rand.Rand) error
		)
		switch sc {
		case "availability":
			tr, floor = w.availabilityTargeter(), w.availabilityFloor(fdb)
		case "quote":
			tr = w.quoteTargeter()
		case "booking":
			tr, exp, floor = w.bookingTargeter(), expect{success: 201}, w.bookingFloor(fdb)
		case "contention":
			tr, exp = w.contendedTargeter(c), expect{success: 201, conflicts: true}
		case "reads":
			tr = w.readTargeter()
		}
		if floor != nil {
			rng := rand.New(rand.NewPCG(cfg.seed, 99))
			n, err := statementsPerRequest(ctx, func(ctx context.Context) error { return floor(ctx, rng) })
			if err != nil {
				return fmt.Errorf("%s floor: %w", sc, err)
			}
			s.Statements = n
		}
		// With a floor, API and floor take turns in rounds, so that a change in
		// the machine's load during the run affects both alike.
		rounds := 1
		if floor != nil {
			rounds = cfg.rounds
		}
		api, fl := newCollector(exp), newCollector(expect{success: 200})
		for r := range rounds {
			warmup := warm
			if r > 0 {
				warmup = 0
			}
			logf("%s on %s: API (round %d/%d)", sc, name, r+1, rounds)
			attack(ctx, api, c, warmup, d/time.Duration(rounds), tr)
			if m, err := srv.Memory(); err == nil {
				s.Server = &m
			}
			if floor != nil {
				logf("%s on %s: floor (round %d/%d)", sc, name, r+1, rounds)
				drive(ctx, fl, c, warmup, d/time.Duration(rounds), floor)
			}
		}
		s.API = ptr(api.stats())
		logf("  API %.0f req/s, p50 %.1f ms, p99 %.1f ms, %d errors, %d conflicts", s.API.Throughput, s.API.P50Ms, s.API.P99Ms, s.API.Errors, s.API.Conflicts)
		if floor != nil {
			s.Floor = ptr(fl.stats())
			if s.Floor.Throughput > 0 {
				s.Ratio = s.API.Throughput / s.Floor.Throughput
			}
			logf("  floor %.0f req/s, p50 %.1f ms, p99 %.1f ms, %d errors; API ÷ floor %.2f", s.Floor.Throughput, s.Floor.P50Ms, s.Floor.P99Ms, s.Floor.Errors, s.Ratio)
		}
		rep.Scenarios = append(rep.Scenarios, s)
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
	return nil
}

func ptr[T any](v T) *T { return &v }

// computeTargets checks the targets against what was measured.
func (r *Report) computeTargets() {
	r.Targets = nil
	find := func(name, ds string) *Scenario {
		for i := range r.Scenarios {
			if r.Scenarios[i].Name == name && (ds == "" || r.Scenarios[i].Dataset == ds) {
				return &r.Scenarios[i]
			}
		}
		return nil
	}
	main := ""
	if n := len(r.Datasets); n > 0 {
		main = r.Datasets[n-1].Name
	}
	if s := find("availability", main); s != nil && s.Floor != nil {
		r.Targets = append(r.Targets, Target{"availability search vs floor", "≥ 0.8", s.Ratio, "×", s.Ratio >= 0.8})
	}
	if s := find("booking", main); s != nil && s.Floor != nil {
		r.Targets = append(r.Targets, Target{"booking creation vs floor", "≥ 0.6", s.Ratio, "×", s.Ratio >= 0.6})
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
	if len(r.Scenarios) > 0 {
		r.Targets = append(r.Targets, Target{"API errors other than expected 409s", "0", errs, "", errs == 0})
		r.Targets = append(r.Targets, Target{"server peak RSS", "≤ 100 MiB", peak, "MiB", peak > 0 && peak <= 100})
	}
	if len(r.Datasets) == 2 {
		small, large := find("availability", r.Datasets[0].Name), find("availability", main)
		if small != nil && large != nil && small.API.P50Ms > 0 {
			ratio := large.API.P50Ms / small.API.P50Ms
			r.Targets = append(r.Targets, Target{fmt.Sprintf("availability p50 at %s ÷ at %s (%.1f ms ÷ %.1f ms)", main, r.Datasets[0].Name,
				large.API.P50Ms, small.API.P50Ms), "≤ 2", ratio, "×", ratio <= 2})
		}
	}
}
