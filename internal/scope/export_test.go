package scope

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// BeginRaw opens a scoped transaction exactly as Tx does, but hands out the raw
// transaction, so tests can run SQL that the sqlc queries would never contain
// (a query that forgets its organisation filter).
func (d *DB) BeginRaw(ctx context.Context, sc Scope) (pgx.Tx, error) { return d.begin(ctx, sc) }
