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

// bound makes every query end soon after its context does. pgx's default
// only drops the connection, so PostgreSQL would keep running the statement;
// here the server is first asked to cancel it (a cancel request on a side
// connection), and the connection is dropped only if the server does not
// answer within cancelGrace (a hung or paused server).
func bound(pc *pgxpool.Config) {
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	pc.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelGrace}
	}
}
