package stream

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vacancy-dev/vacancy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestReconnectBackoffResetsAfterListening: failures to connect back off,
// doubling up to the maximum; a connection that got to LISTEN starts the
// backoff over, so a listener that lost a healthy connection reconnects
// within minBackoff, not after the longest wait of an old outage.
func TestReconnectBackoffResetsAfterListening(t *testing.T) {
	t.Parallel()
	h := New(nil, nil)
	var waits []time.Duration
	h.wait = func(_ context.Context, d time.Duration) bool { waits = append(waits, d); return true }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Six failed connections (an outage), then one that listened and dropped,
	// then one more failure.
	script := []bool{false, false, false, false, false, false, true, false}
	n := 0
	_ = h.run(ctx, func(context.Context) (bool, error) {
		listened := script[n]
		n++
		if n == len(script) {
			cancel()
		}
		return listened, errors.New("connection lost")
	})
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, minBackoff}
	if !slices.Equal(waits, want) {
		t.Fatalf("waits %v, want %v (reset to %s after a connection that listened)", waits, want, minBackoff)
	}
}

// stallConn is a connection whose writes block, as against a server that
// stopped reading, until a deadline passes.
type stallConn struct {
	net.Conn
	stalled  *atomic.Bool
	mu       sync.Mutex
	deadline time.Time
}

func (c *stallConn) Write(b []byte) (int, error) {
	if !c.stalled.Load() {
		return c.Conn.Write(b)
	}
	for {
		c.mu.Lock()
		d := c.deadline
		c.mu.Unlock()
		if !d.IsZero() && time.Now().After(d) {
			return 0, errors.New("write deadline passed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *stallConn) SetDeadline(t time.Time) error { c.setDeadline(t); return c.Conn.SetDeadline(t) }
func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.setDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) setDeadline(t time.Time) {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
}

// TestCloseHasADeadline: when the listener stops (the server shuts down) and
// its connection cannot even take the goodbye message, closing it gives up
// after closeTimeout instead of holding the shutdown up forever.
func TestCloseHasADeadline(t *testing.T) {
	t.Parallel()
	cfg, err := pgxpool.ParseConfig(testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	var stalled atomic.Bool
	dial := cfg.ConnConfig.DialFunc
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallConn{Conn: c, stalled: &stalled}, nil
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	h := New(pool, nil)
	wake, unsubscribe := h.Subscribe(uuid.New())
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.Run(ctx); close(done) }()
	select {
	case <-wake: // listening
	case <-time.After(10 * time.Second):
		t.Fatal("the hub did not listen within 10s")
	}
	stalled.Store(true)
	cancel()
	select {
	case <-done:
	case <-time.After(closeTimeout + 5*time.Second):
		t.Fatalf("Run did not return within %s of its context ending: closing a stalled connection has no deadline", closeTimeout+5*time.Second)
	}
}
