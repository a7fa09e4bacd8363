// Package tenancy owns the tenants: organisations, their API keys, and
// authentication of a key into a scope. It must not hold catalogue or booking
// rules; every other domain package works inside the scope it hands out.
package tenancy

import (
	"log/slog"
	"sync"
	"time"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Registry handles organisations and API keys.
type Registry struct {
	db       *scope.DB
	exec     *command.Executor
	log      *slog.Logger
	keyQuota int // most API keys, not revoked, an organisation may hold

	touched sync.Map    // api key id -> time.Time of the last recorded use
	creds   credentials // keys that authenticated, for Recheck

	// caughtUp, once FollowRevocations set it, reports a time before which every
	// revocation committed anywhere has reached ForgetKey on this instance.
	caughtUp func() time.Time
}

// DefaultKeyQuota is how many API keys, not revoked, an organisation may hold
// unless configured otherwise.
const DefaultKeyQuota = 100

// NewRegistry returns a Registry running its commands with exec; an
// organisation may hold keyQuota keys that are not revoked (DefaultKeyQuota
// when keyQuota <= 0).
func NewRegistry(d *scope.DB, exec *command.Executor, keyQuota int) *Registry {
	if keyQuota <= 0 {
		keyQuota = DefaultKeyQuota
	}
	return &Registry{db: d, exec: exec, log: exec.Logger(), keyQuota: keyQuota}
}
