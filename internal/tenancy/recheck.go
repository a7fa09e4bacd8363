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

// AuthCacheTTL is the longest a key revoked through another instance may still
// work here (one revoked through this instance is forgotten at once).
// Authenticate answers from this instance's last successful check of the same
// key, without asking the database, while that check is younger than
// AuthCacheTTL; or, while the revocation feed (FollowRevocations) has caught
// up to less than AuthCacheTTL ago, younger than RecheckInterval.
const AuthCacheTTL = time.Second

// maxCredentials bounds the cache; past it, the oldest checks are dropped (the
// next Recheck of such a key asks the database).
const maxCredentials = 10_000

// credentials remembers keys that authenticated, by their public prefix, so that
// thousands of streams re-checking their keys cost one lookup per key and
// RecheckInterval, not one per stream and heartbeat.
type credentials struct {
	mu    sync.Mutex
	m     map[string]credential
	epoch uint64 // counts forgets: a check that began before one is not remembered
}

type credential struct {
	sum       [sha256.Size]byte // of the whole key: the cache proves nothing a caller did not send
	principal Principal
	checked   time.Time
}

func (c *credentials) remember(prefix string, sum [sha256.Size]byte, p Principal, now time.Time, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if epoch != c.epoch {
		return // forgotten while the check ran: it may predate a missed revocation
	}
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

func (c *credentials) currentEpoch() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

func (c *credentials) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.epoch++
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
	s.creds.epoch++ // a check running now may have read the key before its revocation
	for k, v := range s.creds.m {
		if v.principal.Scope.ActorID == id {
			delete(s.creds.m, k)
		}
	}
}

// ForgetAllKeys drops everything this instance remembers of keys, and the
// answer of any check still running: the revocation feed calls it when it
// (re)connects, since revocations may have been missed while it was away.
func (s *Registry) ForgetAllKeys() { s.creds.forgetAll() }

// FollowRevocations makes Authenticate trust a remembered check for up to
// RecheckInterval while caughtUp() is less than AuthCacheTTL ago. caughtUp
// must return a time T such that every revocation committed anywhere before T
// has reached ForgetKey here (the zero time while unknown); and whoever
// delivers them must call ForgetAllKeys when it may have missed some. Then a
// revoked key works here at most AuthCacheTTL after its revocation committed.
// Call it before serving.
func (s *Registry) FollowRevocations(caughtUp func() time.Time) { s.caughtUp = caughtUp }

// authTTL is how old a remembered check Authenticate may answer from now.
func (s *Registry) authTTL(now time.Time) time.Duration {
	if s.caughtUp != nil && now.Sub(s.caughtUp()) < AuthCacheTTL {
		return RecheckInterval
	}
	return AuthCacheTTL
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
