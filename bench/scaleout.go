package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// compareInstances answers what a second `api serve` buys on the same
// PostgreSQL: for availability and booking, the same number of clients in all
// (twice -concurrency) against one server, then half against each of two,
// taking turns in rounds like the floors.
func compareInstances(ctx context.Context, cfg config, rep *Report, w *workload, first *apiServer, name string,
	logf func(string, ...any)) error {
	logPath := filepath.Join(cfg.out, "server-"+strings.ReplaceAll(name, " ", "-")+"-second.log")
	second, err := startAPI(ctx, cfg.api, w.ds.URL, cfg.serverConns, logPath)
	if err != nil {
		return err
	}
	defer second.Stop()
	rep.ServerLogs = append(rep.ServerLogs, logPath)
	c, d := cfg.concurrency, cfg.duration/time.Duration(cfg.rounds)
	for _, sc := range []struct {
		name    string
		exp     expect
		targets func(base string) vegeta.Targeter
	}{
		{"availability", expect{success: 200}, func(base string) vegeta.Targeter { return w.availabilityTargeter(base, 0) }},
		{"booking", expect{success: 201}, w.bookingTargeter},
	} {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopped before two APIs, %s: %w", sc.name, err)
		}
		one, two := newCollector(sc.exp), newCollector(sc.exp)
		for r := range cfg.rounds {
			warmup := cfg.warmup
			if r > 0 {
				warmup = 0
			}
			logf("%s on %s: one API, %d clients (round %d/%d)", sc.name, name, 2*c, r+1, cfg.rounds)
			attack(ctx, one, 2*c, warmup, d, sc.targets(first.Base))
			logf("%s on %s: two APIs, %d clients each (round %d/%d)", sc.name, name, c, r+1, cfg.rounds)
			attack(ctx, two, c, warmup, d, sc.targets(first.Base), sc.targets(second.Base))
		}
		x := ScaleOut{Name: sc.name, Dataset: name, Clients: 2 * c, One: one.stats(), Two: two.stats()}
		if x.One.Throughput > 0 {
			x.Ratio = x.Two.Throughput / x.One.Throughput
		}
		x.OneServer, _ = first.Memory()
		m, _ := second.Memory()
		x.TwoServers = []Memory{x.OneServer, m}
		logf("  one API %.0f req/s (p99 %.1f ms), two APIs %.0f req/s (p99 %.1f ms): × %.2f", x.One.Throughput, x.One.P99Ms,
			x.Two.Throughput, x.Two.P99Ms, x.Ratio)
		rep.ScaleOut = append(rep.ScaleOut, x)
	}
	return nil
}
