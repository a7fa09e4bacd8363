// Package stream wakes live event streams. Each server instance holds one
// PostgreSQL connection that LISTENs on the channel that every command writing
// events notifies in its transaction (outbox.Publish; delivered at commit, on
// Citus by the coordinator), and fans the wake-up out to the instance's streams
// of that organisation; and on the channel API key revocations notify, waking
// the streams of the revoked key so they end at once, on every instance.
// Notifications carry only ids: streams read the events themselves from the feed
// and re-check their key, so a lost or folded notification costs latency, never
// an event. Revocations also reach the instance's credential cache (FollowKeys),
// and the hub's own heartbeats on the keys channel say how far behind that feed
// may be (CaughtUp). It knows nothing of HTTP.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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
	// beatEvery is how often the listener notifies itself on KeysChannel while it
	// listens: each beat it receives proves every notification committed before
	// the beat was sent has arrived (PostgreSQL delivers them in commit order).
	beatEvery = 250 * time.Millisecond
	// beatPrefix starts a heartbeat's payload; revocations carry a bare uuid.
	beatPrefix = "beat "
)

// Hub fans notifications out to subscribers. The zero Hub is not usable; use New.
type Hub struct {
	pool *pgxpool.Pool
	log  *slog.Logger

	mu     sync.Mutex
	orgs   map[uuid.UUID]map[chan struct{}]struct{} // event wake-ups by organisation
	keys   map[uuid.UUID]map[chan struct{}]struct{} // revocations by API key
	closed bool

	instance  string    // names this hub's heartbeats
	start     time.Time // heartbeats carry their time as an offset from it
	caughtUp  time.Time // send time of the newest own heartbeat received; zero while not listening
	onRevoked func(uuid.UUID)
	onListen  func()

	// wait is how Run waits before reconnecting (tests replace it).
	wait func(ctx context.Context, d time.Duration) bool
}

// New returns a Hub that listens through a connection taken from pool.
func New(pool *pgxpool.Pool, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{pool: pool, log: log, orgs: map[uuid.UUID]map[chan struct{}]struct{}{},
		keys: map[uuid.UUID]map[chan struct{}]struct{}{}, wait: sleep, instance: uuid.NewString(), start: time.Now()}
}

// FollowKeys hands revocations to revoked (each revoked key's id, as it
// arrives) and calls reset whenever the listener (re)connects, since
// revocations may have been missed while it was away. Call it before Run.
func (h *Hub) FollowKeys(revoked func(uuid.UUID), reset func()) {
	h.onRevoked, h.onListen = revoked, reset
}

// CaughtUp returns a time T such that every revocation committed before T has
// been handed to FollowKeys' revoked: the send time of the newest heartbeat the
// listener received, or the zero time while it does not listen.
func (h *Hub) CaughtUp() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.caughtUp
}

func (h *Hub) setCaughtUp(t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t.IsZero() || t.After(h.caughtUp) {
		h.caughtUp = t
	}
}

// beat notifies the keys channel, through conn, with this hub's name and the
// time.
func (h *Hub) beat(ctx context.Context, conn *pgx.Conn) error {
	payload := fmt.Sprintf("%s%s %d", beatPrefix, h.instance, time.Since(h.start).Nanoseconds())
	if _, err := conn.Exec(ctx, "SELECT pg_notify($1, $2)", KeysChannel, payload); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// heard records one of this hub's heartbeats arriving; others' are ignored.
func (h *Hub) heard(payload string) {
	var instance string
	var offset int64
	if _, err := fmt.Sscanf(payload, beatPrefix+"%s %d", &instance, &offset); err != nil || instance != h.instance {
		return
	}
	h.setCaughtUp(h.start.Add(time.Duration(offset)))
}

// beats sends heartbeats through conn every beatEvery until ctx ends or one
// fails; it returns the failure.
func (h *Hub) beats(ctx context.Context, conn *pgx.Conn) error {
	t := time.NewTicker(beatEvery)
	defer t.Stop()
	for {
		if err := h.beat(ctx, conn); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
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
	if channel == KeysChannel && h.onRevoked != nil {
		h.onRevoked(id)
	}
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

// hijack takes a connection out of the pool for good.
func (h *Hub) hijack(ctx context.Context) (*pgx.Conn, error) {
	pc, err := h.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return pc.Hijack(), nil
}

// close closes a hijacked connection within closeTimeout: a hung server must
// not hold up a reconnect or the shutdown.
func (h *Hub) close(ctx context.Context, conn *pgx.Conn) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	_ = conn.Close(cctx)
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

// listen holds one connection LISTENing, and one sending its heartbeats,
// until either fails or ctx ends; listened reports whether it got as far as
// LISTEN.
func (h *Hub) listen(ctx context.Context) (listened bool, err error) {
	defer h.setCaughtUp(time.Time{}) // no longer listening: not caught up
	// Two connections leave the pool for good: a LISTENing session must not
	// serve other work, and the heartbeats have one of their own, so that they
	// neither wait for a busy pool nor make it open connections. Both are closed
	// rather than returned.
	conn, err := h.hijack(ctx)
	if err != nil {
		return false, fmt.Errorf("acquire listener connection: %w", err)
	}
	defer h.close(ctx, conn)
	bconn, err := h.hijack(ctx)
	if err != nil {
		return false, fmt.Errorf("acquire heartbeat connection: %w", err)
	}
	defer h.close(ctx, bconn)
	for _, ch := range []string{Channel, KeysChannel} {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return false, fmt.Errorf("listen %s: %w", ch, err)
		}
	}
	// Anything committed (or revoked) while no listener was in place is read now.
	if h.onListen != nil {
		h.onListen()
	}
	h.wakeAll()
	// The session ends with ctx, or with a failed heartbeat (its cause); the
	// listener then reconnects both connections.
	session, end := context.WithCancelCause(ctx)
	var beating sync.WaitGroup
	beating.Go(func() {
		if err := h.beats(session, bconn); err != nil {
			end(err) // no effect when the session has ended already
		}
	})
	defer beating.Wait()
	defer end(nil)
	for {
		n, err := conn.WaitForNotification(session)
		if err != nil {
			if cause := context.Cause(session); ctx.Err() == nil && cause != nil {
				return true, cause
			}
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return true, ctx.Err()
			}
			return true, fmt.Errorf("wait for notification: %w", err)
		}
		if n.Channel == KeysChannel && strings.HasPrefix(n.Payload, beatPrefix) {
			h.heard(n.Payload)
			continue
		}
		id, err := uuid.Parse(n.Payload)
		if err != nil {
			continue
		}
		h.notify(n.Channel, id)
	}
}
