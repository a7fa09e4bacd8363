package dbmigrate

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// checkRoles refuses to migrate when a role the schema relies on exists with
// attributes that would switch row level security off for it: vacancy_app (the
// server's queries; NOLOGIN or LOGIN are both fine) or vacancy_pretenant (the
// pre-tenant functions) as SUPERUSER or BYPASSRLS, or vacancy_app holding
// vacancy_pretenant's rights. Migration 0011 checks the same once; this runs
// before every `migrate up`, so it also fails before a migration starts (and
// leaves no half-applied, dirty version behind).
func checkRoles(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, `SELECT r.rolname, r.rolsuper, r.rolbypassrls,
		       r.rolname = 'vacancy_app' AND EXISTS (SELECT FROM pg_roles p
		           WHERE p.rolname = 'vacancy_pretenant' AND pg_has_role(r.oid, p.oid, 'USAGE'))
		FROM pg_roles r WHERE r.rolname IN ('vacancy_app', 'vacancy_pretenant') ORDER BY r.rolname`)
	if err != nil {
		return fmt.Errorf("check database roles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var super, bypass, pretenant bool
		if err := rows.Scan(&name, &super, &bypass, &pretenant); err != nil {
			return fmt.Errorf("check database roles: %w", err)
		}
		switch {
		case super:
			return fmt.Errorf("role %s is a superuser, so row level security would not apply to it: ALTER ROLE %s NOSUPERUSER, then migrate again", name, name)
		case bypass:
			return fmt.Errorf("role %s has BYPASSRLS, so row level security would not apply to it: ALTER ROLE %s NOBYPASSRLS, then migrate again", name, name)
		case pretenant:
			return fmt.Errorf("role %s holds the rights of vacancy_pretenant and would read every organisation's keys: REVOKE vacancy_pretenant FROM %s, then migrate again", name, name)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check database roles: %w", err)
	}
	return nil
}
