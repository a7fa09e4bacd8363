package scope

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/db"
)

// RetentionOrganisations lists up to limit organisation ids after after, in id
// order: retention's pre-tenant read (a named exception in sqlc.yaml), through a
// SECURITY DEFINER function that returns the ids and nothing else. Each
// organisation's rows are then deleted in its own scoped transactions.
func (d *DB) RetentionOrganisations(ctx context.Context, after uuid.UUID, limit int32) ([]uuid.UUID, error) {
	ids, err := db.New(d.pool).RetentionOrganisations(ctx, db.RetentionOrganisationsParams{After: after, RowLimit: limit})
	if err != nil {
		return nil, fmt.Errorf("list organisations for retention: %w", err)
	}
	return ids, nil
}

// PurgePlatformCommands deletes up to batch of the platform operator's
// idempotency records made before cutoff (not tenant data: a named exception in
// sqlc.yaml) and returns how many it deleted.
func (d *DB) PurgePlatformCommands(ctx context.Context, cutoff time.Time, batch int32) (int64, error) {
	n, err := db.New(d.pool).PurgePlatformCommands(ctx, db.PurgePlatformCommandsParams{Cutoff: cutoff, Batch: batch})
	if err != nil {
		return 0, fmt.Errorf("purge platform commands: %w", err)
	}
	return n, nil
}
