package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// Date is a calendar date in an organisation's local calendar, with no time zone
// attached. Stays are half-open ranges [CheckIn, CheckOut).
type Date struct{ t time.Time } // midnight UTC of the date

const dateLayout = "2006-01-02"

// Bounds of the dates Vacancy accepts; PostgreSQL's own range is wider.
var (
	minDate = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date of the form YYYY-MM-DD", s)
	}
	if t.Before(minDate) || !t.Before(maxDate) {
		return Date{}, fmt.Errorf("%s is outside the supported range %s to %s", s,
			minDate.Format(dateLayout), maxDate.Format(dateLayout))
	}
	return Date{t}, nil
}

// DateOf is the calendar date of instant t in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// DateFromTime takes the date part of a midnight-UTC time, as pgx returns dates.
func DateFromTime(t time.Time) Date {
	y, m, d := t.Date()
	return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

func (d Date) String() string     { return d.t.Format(dateLayout) }
func (d Date) Time() time.Time    { return d.t }
func (d Date) IsZero() bool       { return d.t.IsZero() }
func (d Date) Before(o Date) bool { return d.t.Before(o.t) }
func (d Date) AddDays(n int) Date { return Date{d.t.AddDate(0, 0, n)} }

// DaysUntil is the number of nights from d to o.
func (d Date) DaysUntil(o Date) int { return int(o.t.Sub(d.t).Hours() / 24) }

func (d Date) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a date must be a string of the form YYYY-MM-DD")
	}
	p, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = p
	return nil
}
