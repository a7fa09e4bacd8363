// Package catalogue owns what an organisation sells: properties, their items,
// the items' units and add-ons.
// It must not hold booking rules (availability, prices of stays, the lifecycle):
// internal/booking reads the catalogue, never the other way round.
package catalogue

import (
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Catalogue handles the catalogue's commands and queries.
type Catalogue struct {
	db   *scope.DB
	exec *command.Executor
}

// NewCatalogue returns a Catalogue running its commands with exec.
func NewCatalogue(d *scope.DB, exec *command.Executor) *Catalogue {
	return &Catalogue{db: d, exec: exec}
}
