package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Stats summarise one measured phase.
type Stats struct {
	Requests   uint64         `json:"requests"`
	Seconds    float64        `json:"seconds"`
	Throughput float64        `json:"throughput"` // requests with an expected outcome per second
	Successes  uint64         `json:"successes"`  // 2xx
	Conflicts  uint64         `json:"conflicts"`  // expected 409s (contention only)
	Errors     uint64         `json:"errors"`     // anything else
	MeanMs     float64        `json:"mean_ms"`
	P50Ms      float64        `json:"p50_ms"`
	P95Ms      float64        `json:"p95_ms"`
	P99Ms      float64        `json:"p99_ms"`
	Statuses   map[string]int `json:"statuses,omitempty"`
	Samples    []string       `json:"error_samples,omitempty"`
	CPU        *CPU           `json:"cpu,omitempty"` // over the measured rounds, when read
}

// expect says which status codes are the normal outcome of a scenario.
type expect struct {
	success   uint16
	conflicts bool // 409 is expected (booking under contention)
}

// collector accumulates the results of one side (API or floor) over its
// rounds; vegeta's Metrics computes the quantiles, for the API and the floor
// alike. Throughput is over the measured time of the rounds only.
type collector struct {
	mu         sync.Mutex
	m          vegeta.Metrics
	s          Stats
	exp        expect
	begin, end time.Time // of the current round: first request sent, last answer received
	seconds    float64   // of the finished rounds
	meter      *cpuMeter // nil: no CPU accounting
	cpu        cpuSpent
}

func newCollector(exp expect) *collector {
	return &collector{exp: exp, s: Stats{Statuses: map[string]int{}}}
}

func (c *collector) add(r *vegeta.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m.Add(r)
	if c.begin.IsZero() || r.Timestamp.Before(c.begin) {
		c.begin = r.Timestamp
	}
	if e := r.End(); e.After(c.end) {
		c.end = e
	}
	c.s.Requests++
	c.s.Statuses[strconv.Itoa(int(r.Code))]++
	switch {
	case r.Code == c.exp.success:
		c.s.Successes++
	case r.Code == 409 && c.exp.conflicts:
		c.s.Conflicts++
	default:
		c.s.Errors++
		if len(c.s.Samples) < 5 {
			msg := r.Error
			if len(r.Body) > 0 {
				msg += " " + string(r.Body)
			}
			c.s.Samples = append(c.s.Samples, fmt.Sprintf("%d %s", r.Code, msg))
		}
	}
}

// endRound adds the round's measured time.
func (c *collector) endRound() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.begin.IsZero() {
		c.seconds += c.end.Sub(c.begin).Seconds()
	}
	c.begin, c.end = time.Time{}, time.Time{}
}

func (c *collector) stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m.Close()
	s := c.s
	s.Seconds = c.seconds
	if s.Seconds > 0 {
		s.Throughput = float64(s.Successes+s.Conflicts) / s.Seconds
	}
	s.CPU = c.cpu.perRequest(s.Requests)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	s.MeanMs, s.P50Ms, s.P95Ms, s.P99Ms = ms(c.m.Latencies.Mean), ms(c.m.Latencies.P50), ms(c.m.Latencies.P95), ms(c.m.Latencies.P99)
	return s
}

// measured runs one measured round, reading the CPU time it used when c has a
// meter (a failed reading leaves the round out of the CPU table).
func (c *collector) measured(round func()) {
	if c.meter == nil {
		round()
		return
	}
	from, err := c.meter.read()
	start := time.Now()
	round()
	if err != nil {
		return
	}
	if to, err := c.meter.read(); err == nil {
		c.cpu.add(from, to, time.Since(start).Seconds())
	}
}

// attack drives the API with vegeta at a fixed concurrency for one round of d
// into c: exactly workers clients per targeter, each sending its next request
// as soon as the previous one is answered (rate 0, as many workers as
// allowed). Several targeters (one per server) are attacked at once. The
// warm-up is not measured.
func attack(ctx context.Context, c *collector, workers int, warmup, d time.Duration, trs ...vegeta.Targeter) {
	one := func(d time.Duration, c *collector, tr vegeta.Targeter) {
		atk := vegeta.NewAttacker(
			vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers)),
			vegeta.Connections(workers), vegeta.KeepAlive(true), vegeta.HTTP2(false),
			vegeta.Timeout(30*time.Second), vegeta.Redirects(vegeta.NoFollow),
			// Keep only the start of a body: error samples need no more.
			vegeta.MaxBody(300),
		)
		stop := context.AfterFunc(ctx, func() { atk.Stop() })
		defer stop()
		for r := range atk.Attack(tr, vegeta.ConstantPacer{}, d, "") {
			if c != nil {
				c.add(r)
			}
		}
	}
	run := func(d time.Duration, c *collector) {
		var wg sync.WaitGroup
		for _, tr := range trs {
			wg.Go(func() { one(d, c, tr) })
		}
		wg.Wait()
	}
	if warmup > 0 {
		run(warmup, nil)
	}
	c.measured(func() { run(d, c) })
	c.endRound()
}

// drive runs op from workers goroutines in a closed loop for one round of d
// into c, after a warm-up: the floor's counterpart of attack. Like vegeta, it
// stops starting operations after d and lets those in flight finish: cutting
// them off with a context would send PostgreSQL cancel requests, and one that
// arrives late cancels the next statement of its connection instead, which
// would count as a floor error.
func drive(ctx context.Context, c *collector, workers int, warmup, d time.Duration, op func(ctx context.Context, rng *rand.Rand) error) {
	run := func(d time.Duration, c *collector) {
		until := time.Now().Add(d)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(w)))
				for ctx.Err() == nil && time.Now().Before(until) {
					start := time.Now()
					err := op(ctx, rng)
					if ctx.Err() != nil {
						return // the run was stopped: not a result
					}
					r := &vegeta.Result{Timestamp: start, Latency: time.Since(start), Code: 200}
					if err != nil {
						r.Code, r.Error = 0, err.Error()
					}
					if c != nil {
						c.add(r)
					}
				}
			})
		}
		wg.Wait()
	}
	if warmup > 0 {
		run(warmup, nil)
	}
	c.measured(func() { run(d, c) })
	c.endRound()
}
