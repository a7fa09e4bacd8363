package scope

import (
	"context"
	"time"

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
