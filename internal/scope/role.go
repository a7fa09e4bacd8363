package scope

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// beginQuery opens a transaction bound to an organisation, in one round trip
// (simple protocol, several statements). SET LOCAL ends with the transaction, so
// the setting cannot leak to the next user of the pooled connection. On Citus,
// SET LOCAL of a custom setting reaches the workers' side of the transaction only
// when citus.propagate_set_commands is 'local' (set_config never does); plain
// PostgreSQL takes citus.propagate_set_commands as an unknown custom setting and
// ignores it, so both run the same statements. SET takes no bind parameters: the
// id is a formatted uuid.UUID, so it cannot carry SQL.
func beginQuery(organisationID uuid.UUID) string {
	return fmt.Sprintf("BEGIN; SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL app.organisation_id = '%s'",
		organisationID)
}

// roleCheck runs right after SET ROLE, in the same round trip: who the session
// now acts as, and whether row level security applies to that role.
const roleCheck = `SELECT current_user, r.rolsuper, r.rolbypassrls,
       EXISTS (SELECT FROM pg_roles p WHERE p.rolname = '` + PretenantRole + `' AND pg_has_role(current_user, p.oid, 'USAGE'))
FROM pg_roles r WHERE r.rolname = current_user`

// ErrUnsafeRole is why a connection was refused: the role it acts as after SET
// ROLE would not be subject to row level security.
var ErrUnsafeRole = errors.New("the database role bypasses row level security")

// takeRole switches a new connection to role (AppRole, but for tests) and
// checks the outcome in the same round trip: the effective role must be role,
// and neither a superuser nor BYPASSRLS nor a holder of PretenantRole's rights
// (any of which would make every organisation's rows visible). Otherwise the
// connection is refused, so the pool serves nothing.
func takeRole(ctx context.Context, conn *pgx.Conn, role string) error {
	ident := pgx.Identifier{role}.Sanitize()
	results, err := conn.PgConn().Exec(ctx, "SET ROLE "+ident+"; "+roleCheck).ReadAll()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == pgerrcode.InsufficientPrivilege {
		return fmt.Errorf("set role %s: %w (the login role must be %s or a member of it: GRANT %s TO <login role>)",
			role, err, role, role)
	}
	if err != nil {
		return fmt.Errorf("set role %s: %w", role, err)
	}
	if len(results) != 2 || len(results[1].Rows) != 1 || len(results[1].Rows[0]) != 4 {
		return fmt.Errorf("set role %s: unexpected answer to the role check", role)
	}
	row := results[1].Rows[0]
	current, super, bypass, pretenant := string(row[0]), string(row[1]) == "t", string(row[2]) == "t", string(row[3]) == "t"
	switch {
	case current != role:
		return fmt.Errorf("%w: after SET ROLE %s the session acts as %q", ErrUnsafeRole, role, current)
	case super:
		return fmt.Errorf("%w: role %s is a superuser; ALTER ROLE %s NOSUPERUSER", ErrUnsafeRole, role, ident)
	case bypass:
		return fmt.Errorf("%w: role %s has BYPASSRLS; ALTER ROLE %s NOBYPASSRLS", ErrUnsafeRole, role, ident)
	case pretenant:
		return fmt.Errorf("%w: role %s has the rights of %s; REVOKE %s FROM %s", ErrUnsafeRole, role, PretenantRole, PretenantRole, ident)
	}
	return nil
}
