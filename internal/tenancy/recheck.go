package tenancy

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/google/uuid"
)

// RecheckInterval is how long a long-lived request (an event stream) may go on
// trusting its API key's last successful check before Recheck asks the database
// again. Revocations do not wait for it: RevokeAPIKey forgets the key on this
// instance at once and notifies the others (stream.KeysChannel), which Forget it.
const RecheckInterval = time.Minute

// AuthCacheTTL is how long Authenticate answers a request from this instance's
// last successful check of the same key instead of asking the database: the
// longest a key revoked through another instance may still work here (one
// revoked through this instance is forgotten at once).
const AuthCacheTTL = time.Second

// maxCredentials bounds the cache; past it, the oldest checks are dropped (the
// next Recheck of such a key asks the database).
const maxCredentials = 10_000

// credentials remembers keys that authenticated, by their public prefix, so that
// thousands of streams re-checking their keys cost one lookup per key and
// RecheckInterval, not one per stream and heartbeat.
type credentials struct {
	mu sync.Mutex
	m  map[string]credential
}

type credential struct {
	sum       [sha256.Size]byte // of the whole key: the cache proves nothing a caller did not send
	principal Principal
	checked   time.Time
}

func (c *credentials) remember(prefix string, sum [sha256.Size]byte, p Principal, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]credential{}
	}
	if len(c.m) >= maxCredentials {
		for k, v := range c.m {
			if now.Sub(v.checked) >= RecheckInterval || len(c.m) >= maxCredentials {
				delete(c.m, k)
			}
		}
	}
	c.m[prefix] = credential{sum: sum, principal: p, checked: now}
}

// lookup answers from a check of the same key younger than ttl.
func (c *credentials) lookup(prefix string, sum [sha256.Size]byte, now time.Time, ttl time.Duration) (Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[prefix]
	if !ok || now.Sub(e.checked) >= ttl || subtle.ConstantTimeCompare(e.sum[:], sum[:]) != 1 {
		return Principal{}, false
	}
	return e.principal, true
}

func (c *credentials) forgetPrefix(prefix string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, prefix)
}

// ForgetKey drops what this instance remembers of the key, so the next
// Recheck asks the database: a revocation (here or, through the stream hub,
// on another instance) or a listener that missed notifications.
func (s *Registry) ForgetKey(id uuid.UUID) {
	s.creds.mu.Lock()
	defer s.creds.mu.Unlock()
	for k, v := range s.creds.m {
		if v.principal.Scope.ActorID == id {
			delete(s.creds.m, k)
		}
	}
}

// Recheck is Authenticate for a request that has already authenticated once
// and goes on for long (an event stream): it answers from the last successful
// check of this instance while that is younger than RecheckInterval and the key
// has not been forgotten, and asks the database otherwise.
func (s *Registry) Recheck(ctx context.Context, key string) (Principal, error) {
	prefix, ok := KeyPrefix(key)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	if p, ok := s.creds.lookup(prefix, sha256.Sum256([]byte(key)), time.Now(), RecheckInterval); ok {
		return p, nil
	}
	return s.check(ctx, key)
}
