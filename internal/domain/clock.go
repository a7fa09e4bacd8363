package domain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vacancy-dev/vacancy/internal/db"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Clock is an organisation's calendar settings read with the database's now, in
// the transaction of the command or query that uses it: every rule about "today"
// and every hold deadline comes from here, never from the server's clock.
type Clock struct {
	Currency string
	Location *time.Location
	Now      time.Time
	// Today is the organisation's calendar date at Now.
	Today Date
	// HoldTill is when a hold placed now expires.
	HoldTill time.Time
}

// LoadClock reads the scope's organisation clock.
func LoadClock(ctx context.Context, q *db.Queries, sc scope.Scope) (Clock, error) {
	var row db.OrganisationClockRow
	if err := ReadClock(ctx, sc, &row)(q); err != nil {
		return Clock{}, err
	}
	return ClockOf(row)
}

// ReadClock is LoadClock's statement as a call of a pipeline: it reads the
// organisation's clock into row, for ClockOf.
func ReadClock(ctx context.Context, sc scope.Scope, row *db.OrganisationClockRow) db.Call {
	return func(q *db.Queries) error {
		r, err := q.OrganisationClock(ctx, sc.OrganisationID)
		if errors.Is(err, pgx.ErrNoRows) {
			return NotFound("organisation")
		}
		if err != nil {
			return fmt.Errorf("load organisation: %w", err)
		}
		*row = r
		return nil
	}
}

// ClockOf is the clock of an organisation's row as ReadClock read it.
func ClockOf(row db.OrganisationClockRow) (Clock, error) {
	loc, err := LoadLocation(row.Timezone)
	if err != nil {
		return Clock{}, fmt.Errorf("organisation time zone %q: %w", row.Timezone, err)
	}
	return Clock{Currency: row.Currency, Location: loc, Now: row.Now, Today: DateOf(row.Now, loc),
		HoldTill: row.Now.Add(time.Duration(row.HoldMinutes) * time.Minute)}, nil
}

// LoadLocation loads an IANA time zone, refusing the empty name and "Local",
// which time.LoadLocation would accept as the server's own zone.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, errors.New("not an IANA time zone")
	}
	return time.LoadLocation(name)
}
