// Package stream wakes live event streams. Each server instance holds one
// PostgreSQL connection that LISTENs on the channel that every command writing
// events notifies in its transaction (outbox.Publish; delivered at commit, on
// Citus by the coordinator), and fans the wake-up out to the instance's streams
// of that organisation; and on the channel API key revocations notify, waking
// the streams of the revoked key so they end at once, on every instance.
// Notifications carry only ids: streams read the events themselves from the feed
// and re-check their key, so a lost or folded notification costs latency, never
// an event. It knows nothing of HTTP.
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

// KeysChannel carries the id of each revoked API key: internal/tenancy notifies
// it in the revocation's transaction.
const KeysChannel = "vacancy_keys"

// Reconnect backoff of the listener: from minBackoff, doubling to maxBackoff
// while connecting fails, back to minBackoff once a LISTEN succeeded.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// closeTimeout bounds closing the listener's connection: a hung server must
	// not hold up a reconnect or the shutdown.
	closeTimeout = 2 * time.Second
)

// Hub fans notifications out to subscribers. The zero Hub is not usable; use New.
type Hub struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	mu     sync.Mutex
	orgs   map[uuid.UUID]map[chan struct{}]struct{} // event wake-ups by organisation
	keys   map[uuid.UUID]map[chan struct{}]struct{} // revocations by API key
	closed bool

	// wait is how Run waits before reconnecting (tests replace it).
	wait func(ctx context.Context, d time.Duration) bool
}

// New returns a Hub that listens through a connection taken from pool.
func New(pool *pgxpool.Pool, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{pool: pool, log: log, orgs: map[uuid.UUID]map[chan struct{}]struct{}{},
		keys: map[uuid.UUID]map[chan struct{}]struct{}{}, wait: sleep}
}

// Subscribe returns a channel that receives a value whenever events of the
// organisation may have been committed (and after the listener reconnects, when
// notifications may have been missed). Wake-ups coalesce: a slow reader gets one.
// The channel is closed when the hub closes. cancel must be called when the
// subscriber is done.
func (h *Hub) Subscribe(organisationID uuid.UUID) (wake <-chan struct{}, cancel func()) {
	return h.subscribe(func(h *Hub) map[uuid.UUID]map[chan struct{}]struct{} { return h.orgs }, organisationID)
}

// SubscribeKey returns a channel that receives a value when the API key may
// have been revoked: a revocation's notification, or the listener's reconnect.
// Like Subscribe's, it coalesces, closes with the hub, and cancel must be called.
func (h *Hub) SubscribeKey(keyID uuid.UUID) (check <-chan struct{}, cancel func()) {
	return h.subscribe(func(h *Hub) map[uuid.UUID]map[chan struct{}]struct{} { return h.keys }, keyID)
}

func (h *Hub) subscribe(set func(*Hub) map[uuid.UUID]map[chan struct{}]struct{}, id uuid.UUID) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(ch)
		return ch, func() {}
	}
	m := set(h)
	if m[id] == nil {
		m[id] = map[chan struct{}]struct{}{}
	}
	m[id][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.closed {
			return
		}
		m := set(h)
		delete(m[id], ch)
		if len(m[id]) == 0 {
			delete(m, id)
		}
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
	for _, m := range []map[uuid.UUID]map[chan struct{}]struct{}{h.orgs, h.keys} {
		for _, set := range m {
			for ch := range set {
				close(ch)
			}
		}
	}
	h.orgs, h.keys = nil, nil
}

func signal(set map[chan struct{}]struct{}) {
	for ch := range set {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

func (h *Hub) notify(channel string, id uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch channel {
	case Channel:
		signal(h.orgs[id])
	case KeysChannel:
		signal(h.keys[id])
	}
}

func (h *Hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range []map[uuid.UUID]map[chan struct{}]struct{}{h.orgs, h.keys} {
		for _, set := range m {
			signal(set)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Run listens until ctx is done, reconnecting when the connection fails: after
// minBackoff, doubling up to maxBackoff while connecting keeps failing, and
// after minBackoff again once a connection has listened. It returns nil when
// ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	return h.run(ctx, h.listen)
}

func (h *Hub) run(ctx context.Context, listen func(context.Context) (bool, error)) error {
	backoff := minBackoff
	for {
		listened, err := listen(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if listened {
			backoff = minBackoff
		}
		h.log.WarnContext(ctx, "event listener lost its connection; reconnecting", "err", err, "in", backoff.String())
		if !h.wait(ctx, backoff) {
			return nil
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// listen holds one connection LISTENing until it fails or ctx ends; listened
// reports whether it got as far as LISTEN.
func (h *Hub) listen(ctx context.Context) (listened bool, err error) {
	pc, err := h.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("acquire listener connection: %w", err)
	}
	// The connection leaves the pool for good: a LISTENing session must not serve
	// other work, and it is closed rather than returned.
	conn := pc.Hijack()
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	for _, ch := range []string{Channel, KeysChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return false, fmt.Errorf("listen %s: %w", ch, err)
		}
	}
	// Anything committed (or revoked) while no listener was in place is read now.
	h.wakeAll()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return true, ctx.Err()
			}
			return true, fmt.Errorf("wait for notification: %w", err)
		}
		id, err := uuid.Parse(n.Payload)
		if err != nil {
			continue
		}
		h.notify(n.Channel, id)
	}
}
