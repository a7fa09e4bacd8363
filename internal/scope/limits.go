package scope

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// defaultConnectTimeout bounds establishing a connection when DATABASE_URL
	// sets no connect_timeout. Requests stop waiting at their own deadline
	// anyway; this frees the pool slot a hung connection attempt holds.
	defaultConnectTimeout = 5 * time.Second

	// cancelGrace is how long a query whose context ended may wait for the
	// server to confirm the cancellation before the connection is dropped.
	cancelGrace = 250 * time.Millisecond

	// cleanupTimeout bounds work done after a request's context ended
	// (rolling back, releasing an idempotency claim).
	cleanupTimeout = 2 * time.Second
)

// CleanupContext is for database work that must run after ctx ended (roll back,
// release a claim): it keeps ctx's values but not its deadline, and has a short
// one of its own so a hung server cannot hang the caller.
func CleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// bound makes every query end soon after its context does, and keeps the
// connection when it can. pgx's default drops the connection at once (and
// cancels the statement in the background), so each timed-out request costs a
// reconnect, on a database that is already slow. Here PostgreSQL is first
// asked to cancel the statement (a cancel request on a side connection); the
// connection is dropped only if it does not confirm within cancelGrace (a
// hung or paused server).
func bound(pc *pgxpool.Config) {
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pc.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelGrace}
	}
}

// roleTimeouts applies the timeouts set on the current role (ALTER ROLE
// vacancy_app [IN DATABASE d] SET ...; the 0009 migration sets statement_timeout)
// to the session. PostgreSQL applies a role's settings only to a session that
// logs in as that role, not to one that switches to it with SET ROLE, as every
// pooled connection here does. The settings live on the server: a runaway
// statement is cancelled there even when the client's own cancel request never
// arrives. A database-specific setting wins over the role's own.
const roleTimeouts = `
SELECT set_config(name, value, false) FROM (
    SELECT DISTINCT ON (split_part(s, '=', 1)) split_part(s, '=', 1) AS name, substr(s, strpos(s, '=') + 1) AS value
    FROM pg_db_role_setting d CROSS JOIN unnest(d.setconfig) s
    WHERE d.setrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)
      AND d.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
      AND split_part(s, '=', 1) IN ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout')
    ORDER BY split_part(s, '=', 1), d.setdatabase DESC
) r`

func applyRoleTimeouts(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, roleTimeouts); err != nil {
		return fmt.Errorf("apply %s's timeouts: %w", AppRole, err)
	}
	return nil
}
