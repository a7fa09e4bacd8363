// Package stream wakes live event streams. Each server instance holds one
// PostgreSQL connection that LISTENs on the channel that every command writing
// events notifies in its transaction (outbox.Publish; delivered at commit, on
// Citus by the coordinator), and fans the wake-up out to the instance's streams
// of that organisation. Notifications carry only the organisation id: streams
// read the events themselves from the feed, so a lost or folded notification
// costs latency, never an event. It knows nothing of HTTP.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Channel is the notification channel outbox.Publish notifies (the NotifyEvents
// query names it too).
const Channel = "vacancy_events"

// Hub fans notifications out to subscribers. The zero Hub is not usable; use New.
type Hub struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	mu     sync.Mutex
	subs   map[uuid.UUID]map[chan struct{}]struct{}
	closed bool
}

// New returns a Hub that listens through a connection taken from pool.
func New(pool *pgxpool.Pool, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{pool: pool, log: log, subs: map[uuid.UUID]map[chan struct{}]struct{}{}}
}

// Subscribe returns a channel that receives a value whenever events of the
// organisation may have been committed (and after the listener reconnects, when
// notifications may have been missed). Wake-ups coalesce: a slow reader gets one.
// The channel is closed when the hub closes. cancel must be called when the
// subscriber is done.
func (h *Hub) Subscribe(organisationID uuid.UUID) (wake <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(ch)
		return ch, func() {}
	}
	if h.subs[organisationID] == nil {
		h.subs[organisationID] = map[chan struct{}]struct{}{}
	}
	h.subs[organisationID][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return
		}
		delete(h.subs[organisationID], ch)
		if len(h.subs[organisationID]) == 0 {
			delete(h.subs, organisationID)
		}
		h.mu.Unlock()
	}
}

// Close ends every subscription (its channel closes) and any later one at once:
// the server calls it when it shuts down, so open streams end rather than hold
// the shutdown up.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, set := range h.subs {
		for ch := range set {
			close(ch)
		}
	}
	h.subs = nil
}

func (h *Hub) wake(organisationID uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[organisationID] {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

func (h *Hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range h.subs {
		for ch := range set {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// Run listens until ctx is done, reconnecting (after at most 5 s) when the
// connection fails. It returns nil when ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		err := h.listen(ctx)
		if ctx.Err() != nil {
			return nil
		}
		h.log.WarnContext(ctx, "event listener lost its connection; reconnecting", "err", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (h *Hub) listen(ctx context.Context) error {
	pc, err := h.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire listener connection: %w", err)
	}
	// The connection leaves the pool for good: a LISTENing session must not serve
	// other work, and it is closed rather than returned.
	conn := pc.Hijack()
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen %s: %w", Channel, err)
	}
	// Anything committed while no listener was in place is read now.
	h.wakeAll()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return ctx.Err()
			}
			return fmt.Errorf("wait for notification: %w", err)
		}
		id, err := uuid.Parse(n.Payload)
		if err != nil {
			continue
		}
		h.wake(id)
	}
}
