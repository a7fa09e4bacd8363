package telemetry

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// poolCollector reads the connection pool's statistics at every scrape.
type poolCollector struct {
	stat func() *pgxpool.Stat

	acquired, idle, constructing, total, max                     *prometheus.Desc
	acquires, acquireSeconds, emptyAcquires, emptyAcquireSeconds *prometheus.Desc
	canceledAcquires, newConns, lifetimeDestroys, idleDestroys   *prometheus.Desc
}

func poolDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "db_pool", name), help, nil, nil)
}

// RegisterPool exports the pool's statistics as vacancy_db_pool_* series.
func (m *Metrics) RegisterPool(p *pgxpool.Pool) error {
	return m.Register(newPoolCollector(p.Stat))
}

func newPoolCollector(stat func() *pgxpool.Stat) *poolCollector {
	return &poolCollector{
		stat:                stat,
		acquired:            poolDesc("acquired_connections", "Connections in use by the application."),
		idle:                poolDesc("idle_connections", "Idle connections in the pool."),
		constructing:        poolDesc("constructing_connections", "Connections being established."),
		total:               poolDesc("total_connections", "All connections of the pool (acquired, idle, constructing)."),
		max:                 poolDesc("max_connections", "The pool's size limit (VACANCY_DB_MAX_CONNS)."),
		acquires:            poolDesc("acquires_total", "Successful connection acquisitions."),
		acquireSeconds:      poolDesc("acquire_seconds_total", "Time spent acquiring connections."),
		emptyAcquires:       poolDesc("empty_acquires_total", "Acquisitions that had to wait for a connection: the pool was exhausted."),
		emptyAcquireSeconds: poolDesc("empty_acquire_wait_seconds_total", "Time spent waiting for a connection in an exhausted pool."),
		canceledAcquires:    poolDesc("canceled_acquires_total", "Acquisitions abandoned because the request's context ended."),
		newConns:            poolDesc("new_connections_total", "Connections opened."),
		lifetimeDestroys:    poolDesc("max_lifetime_destroys_total", "Connections closed for reaching their maximum lifetime."),
		idleDestroys:        poolDesc("max_idle_destroys_total", "Connections closed for being idle too long."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.constructing, c.total, c.max, c.acquires, c.acquireSeconds,
		c.emptyAcquires, c.emptyAcquireSeconds, c.canceledAcquires, c.newConns, c.lifetimeDestroys, c.idleDestroys} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stat()
	gauge := func(d *prometheus.Desc, v int32) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.acquired, s.AcquiredConns())
	gauge(c.idle, s.IdleConns())
	gauge(c.constructing, s.ConstructingConns())
	gauge(c.total, s.TotalConns())
	gauge(c.max, s.MaxConns())
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.acquireSeconds, s.AcquireDuration().Seconds())
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.emptyAcquireSeconds, s.EmptyAcquireWaitTime().Seconds())
	counter(c.canceledAcquires, float64(s.CanceledAcquireCount()))
	counter(c.newConns, float64(s.NewConnsCount()))
	counter(c.lifetimeDestroys, float64(s.MaxLifetimeDestroyCount()))
	counter(c.idleDestroys, float64(s.MaxIdleDestroyCount()))
}

// JobCount is how many background jobs of one queue are in one state.
type JobCount struct {
	Queue string
	State string // River's job states: available, scheduled, running, retryable, completed, cancelled, discarded
	Count int64
}

// JobCounter reads the job counts at scrape time.
type JobCounter func(ctx context.Context) ([]JobCount, error)

// RegisterJobCounts is the registration point for the background job queue
// (River): it exports vacancy_jobs{queue,state} by calling count at every
// scrape (bounded to 5 s). Wire it where the River client is built, e.g. with
//
//	SELECT queue, state::text, count(*) FROM river_job GROUP BY queue, state
//
// run on DB.Pool(). A failed count is reported as a scrape error for this
// series only (vacancy_jobs_scrape_errors_total), never as zeros.
func (m *Metrics) RegisterJobCounts(count JobCounter) error {
	c := &jobCollector{
		count:  count,
		desc:   prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "jobs"), "Background jobs, by queue and state.", []string{"queue", "state"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "jobs_scrape_errors_total", Help: "Failed reads of the background job counts."}),
	}
	return m.Register(c)
}

type jobCollector struct {
	count  JobCounter
	desc   *prometheus.Desc
	errors prometheus.Counter
}

func (c *jobCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	c.errors.Describe(ch)
}

func (c *jobCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.count(ctx)
	if err != nil {
		c.errors.Inc()
	}
	c.errors.Collect(ch)
	for _, jc := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(jc.Count), jc.Queue, jc.State)
	}
}
