// Package retention deletes what Vacancy no longer needs to keep: idempotency
// records (commands, platform_commands), events, and webhook deliveries with their
// attempts, once older than their windows. It works organisation by organisation,
// each statement deleting at most a batch in a short scoped transaction of its
// own, so writers never wait long behind it. It owns no data and must not decide
// what a record means: only how old it is.
package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Windows are how long each kind of record is kept. Zero keeps it forever.
type Windows struct {
	Commands   time.Duration // idempotency records: a key is honoured this long
	Events     time.Duration // the event feed
	Deliveries time.Duration // webhook deliveries and their attempts
}

// Default is the windows' defaults: 7, 90 and 30 days.
var Default = Windows{Commands: 7 * 24 * time.Hour, Events: 90 * 24 * time.Hour, Deliveries: 30 * 24 * time.Hour}

// Batch is how many rows one statement deletes at most.
const Batch = 1000

// orgPage is how many organisations one pre-tenant read lists.
const orgPage = 500

// Purger deletes expired records.
type Purger struct {
	db    *scope.DB
	w     Windows
	batch int32
}

// New returns a Purger over d with windows w, deleting Batch rows per statement.
func New(d *scope.DB, w Windows) *Purger { return &Purger{db: d, w: w, batch: Batch} }

// WithBatch returns a copy of p that deletes at most n rows per statement.
func (p *Purger) WithBatch(n int32) *Purger {
	c := *p
	c.batch = n
	return &c
}

// Report counts what one run deleted.
type Report struct {
	Organisations    int
	Commands         int64
	PlatformCommands int64
	Events           int64
	Deliveries       int64 // their attempts went with them
}

// Run deletes every record older than its window as of now. An organisation that
// fails is reported in err and the others are still visited.
func (p *Purger) Run(ctx context.Context, now time.Time) (Report, error) {
	var r Report
	var errs []error
	if p.w.Commands > 0 {
		n, err := p.drain(func() (int64, error) { return p.db.PurgePlatformCommands(ctx, now.Add(-p.w.Commands), p.batch) })
		r.PlatformCommands += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	after := uuid.Nil
	for {
		ids, err := p.db.RetentionOrganisations(ctx, after, orgPage)
		if err != nil {
			return r, errors.Join(append(errs, err)...)
		}
		for _, id := range ids {
			r.Organisations++
			if err := p.organisation(ctx, scope.Platform(id), now, &r); err != nil {
				errs = append(errs, fmt.Errorf("retention of organisation %s: %w", id, err))
			}
		}
		if len(ids) < orgPage {
			return r, errors.Join(errs...)
		}
		after = ids[len(ids)-1]
	}
}

// organisation deletes one organisation's expired records: deliveries before
// events, since a delivery refers to its event.
func (p *Purger) organisation(ctx context.Context, sc scope.Scope, now time.Time, r *Report) error {
	org := sc.OrganisationID
	steps := []struct {
		window time.Duration
		count  *int64
		purge  func(q *db.Queries, cutoff time.Time) (int64, error)
	}{
		{p.w.Deliveries, &r.Deliveries, func(q *db.Queries, cutoff time.Time) (int64, error) {
			return q.PurgeDeliveries(ctx, db.PurgeDeliveriesParams{OrganisationID: org, Cutoff: cutoff, Batch: p.batch})
		}},
		{p.w.Events, &r.Events, func(q *db.Queries, cutoff time.Time) (int64, error) {
			return q.PurgeEvents(ctx, db.PurgeEventsParams{OrganisationID: org, Cutoff: cutoff, Batch: p.batch})
		}},
		{p.w.Commands, &r.Commands, func(q *db.Queries, cutoff time.Time) (int64, error) {
			return q.PurgeCommands(ctx, db.PurgeCommandsParams{OrganisationID: org, Cutoff: cutoff, Batch: p.batch})
		}},
	}
	for _, s := range steps {
		if s.window <= 0 {
			continue
		}
		cutoff := now.Add(-s.window)
		n, err := p.drain(func() (int64, error) {
			var n int64
			err := p.db.Tx(ctx, sc, func(q *db.Queries) error {
				var err error
				n, err = s.purge(q, cutoff)
				return err
			})
			return n, err
		})
		*s.count += n
		if err != nil {
			return err
		}
	}
	return nil
}

// drain repeats one batch until a batch comes back short.
func (p *Purger) drain(batch func() (int64, error)) (int64, error) {
	var total int64
	for {
		n, err := batch()
		total += n
		if err != nil || n < int64(p.batch) {
			return total, err
		}
	}
}
