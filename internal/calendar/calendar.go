// Package calendar is calendar sync over iCalendar (RFC 5545), the one format
// every channel (Airbnb, Booking.com, Vrbo, Google Calendar) speaks: feeds that
// export an item's (or a unit's) bookings and blocks under a secret token, and
// imports that mirror another channel's feed as external blocks, reconciled by
// event UID in one transaction so the occupancy exclusion constraint sees every
// channel. It owns feeds, imports and sync conflicts; it places blocks with the
// booking package's unit choice and never decides availability itself. It knows
// nothing of HTTP: fetching a feed is a Fetcher's job (internal/calendar/fetch).
package calendar

import (
	"context"
	"time"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

// MaxFeedBytes bounds a fetched feed.
const MaxFeedBytes = 5 << 20

// FetchTimeout bounds one fetch of a feed: connection, request and body.
const FetchTimeout = 15 * time.Second

// Sync window: a feed lists, and an import mirrors, the events that overlap
// [today - PastDays, today + FutureDays).
const (
	PastDays   = 30
	FutureDays = 730
)

// Calendar handles calendar feeds and imports.
type Calendar struct {
	db       *scope.DB
	exec     *command.Executor
	bookings *booking.Bookings
	policy   webhook.Policy // which import URLs may be registered (as for webhooks)
	fetcher  Fetcher
}

// NewCalendar returns Calendar running its commands with exec. Import URLs obey
// policy, the webhook address guard, and are fetched with fetcher.
func NewCalendar(d *scope.DB, exec *command.Executor, bookings *booking.Bookings, policy webhook.Policy, fetcher Fetcher) *Calendar {
	return &Calendar{db: d, exec: exec, bookings: bookings, policy: policy, fetcher: fetcher}
}

// Fetcher gets a feed over the network.
type Fetcher interface {
	// Fetch gets url, conditionally when since holds validators of an earlier
	// answer. An error says, in a sentence, why there is no feed.
	Fetch(ctx context.Context, url string, since Validators) (Fetched, error)
}

// Validators are what a conditional GET sends back: an ETag and a Last-Modified.
type Validators struct {
	ETag         string
	LastModified string
}

// Fetched is a fetched feed, or the news that it has not changed.
type Fetched struct {
	NotModified bool
	Body        []byte
	Validators  Validators
}
