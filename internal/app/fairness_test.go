package app_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// blackHole accepts connections and never answers, counting how many are open
// at once: a webhook receiver that has stopped working.
type blackHole struct {
	ln        net.Listener
	open, max atomic.Int32
	mu        sync.Mutex
	conns     []net.Conn
}

func newBlackHole(t *testing.T) *blackHole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackHole{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := b.open.Add(1)
			for m := b.max.Load(); n > m && !b.max.CompareAndSwap(m, n); m = b.max.Load() {
			}
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			go func() {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						b.open.Add(-1)
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, c := range b.conns {
			c.Close()
		}
	})
	return b
}

func (b *blackHole) url() string { return "http://" + b.ln.Addr().String() + "/hook" }

// TestWebhookDeliveriesPerOrganisationAreCapped: an organisation whose
// endpoint hangs holds at most its quota of delivery workers
// (webhook_deliveries), and another organisation's deliveries go out at once.
func TestWebhookDeliveriesPerOrganisationAreCapped(t *testing.T) {
	t.Parallel()
	hole := newBlackHole(t)
	rcv := newReceiver(t, 200)
	in := serve(t, testenv.DatabaseURL(t), with(webhooksAllowedLocally, "VACANCY_QUOTAS", "webhook_deliveries=2",
		"VACANCY_WEBHOOK_TIMEOUT", "3s"))
	noisy := newOrganisation(t, in, "noisy")
	noisy.createEndpoint(hole.url())
	for i := range 6 {
		noisy.createItem("Room " + string(rune('a'+i)))
	}
	eventually(t, 10*time.Second, "the black hole holds the organisation's two delivery slots", func() bool { return hole.open.Load() == 2 })

	quiet := newOrganisation(t, in, "quiet")
	quiet.createEndpoint(rcv.srv.URL)
	start := time.Now()
	quiet.createItem("Sea room")
	eventually(t, 5*time.Second, "the other organisation's delivery arrives", func() bool { return len(rcv.requests()) == 1 })
	t.Logf("the other organisation's delivery arrived %v after its change", time.Since(start))
	time.Sleep(500 * time.Millisecond)
	if m := hole.max.Load(); m > 2 {
		t.Fatalf("the hanging endpoint got %d connections at once; its organisation may hold 2 delivery slots", m)
	}
}
