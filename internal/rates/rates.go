// Package rates owns what a stay costs beyond the item's own fields: rate rules
// (prices and stay rules by date and day of the week, per item), charges (an
// organisation's taxes and fees), and the arithmetic that turns a stay's nights,
// guests, add-ons and charges into its price breakdown. It reads the catalogue;
// the effective price and rules of each night come from SQL (StayNights and
// AvailableItems) and are applied by internal/booking, which imports this
// package, never the other way round. It knows nothing of HTTP.
package rates

import (
	"encoding/json"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/scope"
)

// Rates handles the commands and queries of rate rules and charges.
type Rates struct {
	db   *scope.DB
	exec *command.Executor
}

// NewRates returns Rates running its commands with exec.
func NewRates(d *scope.DB, exec *command.Executor) *Rates {
	return &Rates{db: d, exec: exec}
}

// Field is an optional field of a request body that a PATCH can also clear:
// absent (Set is false), null (Set, Value nil) or a value.
type Field[T any] struct {
	Set   bool
	Value *T
}

// Of is a field set to v.
func Of[T any](v T) Field[T] { return Field[T]{Set: true, Value: &v} }

func (f *Field[T]) UnmarshalJSON(b []byte) error {
	f.Set, f.Value = true, nil
	if string(b) == "null" {
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	f.Value = &v
	return nil
}

func (f Field[T]) MarshalJSON() ([]byte, error) { return json.Marshal(f.Value) }

// IsZero reports an absent field, which omitzero leaves out of the command's record.
func (f Field[T]) IsZero() bool { return !f.Set }

// or is the field's value when it was sent (a PATCH), else cur.
func (f Field[T]) or(cur *T) *T {
	if f.Set {
		return f.Value
	}
	return cur
}
