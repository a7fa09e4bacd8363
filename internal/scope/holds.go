package scope

import (
	"context"
	"fmt"

	"github.com/vacancy-dev/vacancy/internal/db"
)

// DueHold names an unpaid hold past its deadline.
type DueHold = db.DueHoldsRow

// DueHolds lists up to limit unpaid holds past their deadline, across
// organisations, oldest deadline first. It is the hold-expiry sweep's pre-tenant
// read (a named exception in sqlc.yaml): it runs before any organisation is known,
// through a view that exposes only organisation and booking ids. Each hold is then
// expired in its organisation's scoped transaction.
func (d *DB) DueHolds(ctx context.Context, limit int32) ([]DueHold, error) {
	rows, err := db.New(d.pool).DueHolds(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("list due holds: %w", err)
	}
	return rows, nil
}
