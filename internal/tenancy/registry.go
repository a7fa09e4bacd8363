// Package tenancy owns the tenants: organisations, their API keys, and
// authentication of a key into a scope. It must not hold catalogue or booking
// rules; every other domain package works inside the scope it hands out.
package tenancy

import (
	"log/slog"
	"sync"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Registry handles organisations and API keys.
type Registry struct {
	db   *scope.DB
	exec *command.Executor
	log  *slog.Logger

	touched sync.Map // api key id -> time.Time of the last recorded use
}

// NewRegistry returns a Registry running its commands with exec.
func NewRegistry(d *scope.DB, exec *command.Executor) *Registry {
	return &Registry{db: d, exec: exec, log: exec.Logger()}
}
