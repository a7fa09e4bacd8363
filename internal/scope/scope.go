// Package scope owns the tenant boundary. A Scope names the organisation, the actor
// (API key) and its role; DB.Tx is the only way to reach the generated sqlc queries
// for tenant data, and it binds every transaction to the Scope's organisation for
// PostgreSQL row level security. It must not hold domain rules: those live in
// internal/booking.
package scope

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxuuid "github.com/vgarvardt/pgx-google-uuid/v5"

	"github.com/vacancy-dev/vacancy/internal/db"
)

// AppRole is the PostgreSQL role every pooled connection takes on. It owns no
// table and does not bypass row level security, so a query that forgets its
// organisation filter still sees only the Scope's organisation.
const AppRole = "vacancy_app"

// Role is what an API key may do within its organisation.
type Role string

const (
	RoleAdmin Role = "admin" // everything
	RoleWrite Role = "write" // bookings, quotes and reads
	RoleRead  Role = "read"  // reads only
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleWrite, RoleRead:
		return true
	}
	return false
}

// Allows reports whether a key of role r may act with the needed role.
func (r Role) Allows(needed Role) bool {
	return needed.rank() > 0 && r.rank() >= needed.rank()
}

func (r Role) rank() int {
	switch r {
	case RoleRead:
		return 1
	case RoleWrite:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Scope is who is acting, for which organisation.
type Scope struct {
	OrganisationID uuid.UUID
	ActorID        uuid.UUID // the API key; uuid.Nil for the platform operator and the CLI
	Role           Role
}

// Platform is the scope the platform operator (or the CLI) acts in when it creates
// a new organisation: admin of that organisation, with no API key behind it.
func Platform(organisationID uuid.UUID) Scope {
	return Scope{OrganisationID: organisationID, Role: RoleAdmin}
}

// DB is Vacancy's connection pool, handing out tenant transactions.
type DB struct {
	pool *pgxpool.Pool
}

// Config tunes the pool.
type Config struct {
	MaxConns int32 // 0 keeps pgxpool's default
	// Tracer sees every statement the pool runs: OpenTelemetry in the server, the
	// benchmark's statement capture in bench; nil traces nothing.
	Tracer pgx.QueryTracer
}

// Open connects to databaseURL. Every connection of the pool switches to AppRole as
// soon as it is established, so even a superuser URL runs queries under RLS.
func Open(ctx context.Context, databaseURL string, cfg Config) (*DB, error) {
	pc, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	bound(pc)
	pc.ConnConfig.Tracer = cfg.Tracer
	pc.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		// The pool builds connections on a context of its own, not the request's:
		// bound the setup so a hung server cannot hold a pool slot forever.
		ctx, cancel := context.WithTimeout(ctx, pc.ConnConfig.ConnectTimeout)
		defer cancel()
		// Without this, pgx scans uuid.UUID through database/sql's Scanner: the
		// 16 bytes become a 36-character string, which uuid then parses back.
		pgxuuid.Register(conn.TypeMap())
		if _, err := conn.Exec(ctx, "SET ROLE "+AppRole); err != nil {
			return fmt.Errorf("set role %s: %w", AppRole, err)
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return &DB{pool: pool}, nil
}

// Close closes the pool.
func (d *DB) Close() { d.pool.Close() }

// Pool exposes the pool for infrastructure that is not tenant data: health checks,
// pool statistics, the job queue. Tenant queries never go through it.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Tx runs fn in one transaction bound to sc's organisation: the transaction's first
// statement sets app.organisation_id (transaction-local, so it cannot leak to the
// next user of the pooled connection), which the RLS policies read. fn's error rolls
// the transaction back and is returned as is.
func (d *DB) Tx(ctx context.Context, sc Scope, fn func(q *db.Queries) error) error {
	return d.TxJobs(ctx, sc, nil, func(q *db.Queries, _ Enqueue) error { return fn(q) })
}

func (d *DB) begin(ctx context.Context, sc Scope) (pgx.Tx, error) {
	if sc.OrganisationID == uuid.Nil {
		return nil, errors.New("scoped transaction without an organisation")
	}
	// BEGIN and set_config travel in one round trip (simple protocol). The id is a
	// formatted uuid.UUID, so it cannot carry SQL.
	begin := fmt.Sprintf("BEGIN; SELECT set_config('app.organisation_id', '%s', true)", sc.OrganisationID)
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: begin})
	if err != nil {
		return nil, fmt.Errorf("begin scoped transaction: %w", err)
	}
	return tx, nil
}

// Credential is what authentication needs to know about an API key.
type Credential = db.APIKeyCredentialsByPrefixRow

// CredentialByPrefix finds an API key by its public prefix. It is one of the named
// pre-tenant queries (see sqlc.yaml): it runs before any organisation is known and
// reads through a view that exposes only what authentication needs.
func (d *DB) CredentialByPrefix(ctx context.Context, prefix string) (Credential, error) {
	c, err := db.New(d.pool).APIKeyCredentialsByPrefix(ctx, prefix)
	if err != nil {
		return Credential{}, fmt.Errorf("look up api key: %w", err)
	}
	return c, nil
}

// PlatformCommand is a recorded command of the platform operator.
type PlatformCommand = db.PlatformCommandByIDRow

// PlatformCommandByID finds a platform command (creating an organisation) by its
// idempotency key: a named pre-tenant query, since the organisation it created is
// what the caller does not know yet.
func (d *DB) PlatformCommandByID(ctx context.Context, id string) (PlatformCommand, error) {
	c, err := db.New(d.pool).PlatformCommandByID(ctx, id)
	if err != nil {
		return PlatformCommand{}, fmt.Errorf("look up platform command: %w", err)
	}
	return c, nil
}

// SandboxOf is the id of an organisation's test-mode twin: a UUIDv8 derived from
// the live organisation's id, so either can be found from the other without a
// query, and the twin is an organisation like any other (its own rows, its own
// row level security, the same distribution key).
func SandboxOf(live uuid.UUID) uuid.UUID {
	sum := sha256.Sum256(append([]byte("vacancy-sandbox:"), live[:]...))
	var id uuid.UUID
	copy(id[:], sum[:16])
	id[6] = (id[6] & 0x0f) | 0x80 // version 8
	id[8] = (id[8] & 0x3f) | 0x80 // RFC 9562 variant
	return id
}

// Livemode reports whether an organisation id is a live one: sandboxes, and only
// they, have UUIDv8 ids (live ones are UUIDv7).
func Livemode(organisationID uuid.UUID) bool { return organisationID.Version() != 8 }

// Livemode reports whether the scope acts on live data.
func (s Scope) Livemode() bool { return Livemode(s.OrganisationID) }
