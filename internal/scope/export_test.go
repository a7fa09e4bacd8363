package scope

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// BeginRaw opens a scoped transaction exactly as Tx does, but hands out the raw
// transaction, so tests can run SQL that the sqlc queries would never contain
// (a query that forgets its organisation filter).
func (d *DB) BeginRaw(ctx context.Context, sc Scope) (pgx.Tx, error) { return d.begin(ctx, sc) }

// TakeRole is what every new pooled connection runs, for a role of the test's
// choosing.
func TakeRole(ctx context.Context, conn *pgx.Conn, role string) error {
	return takeRole(ctx, conn, role)
}

// BeginQuery is the statement that opens a transaction bound to an organisation.
func BeginQuery(organisationID uuid.UUID) string { return beginQuery(organisationID) }
