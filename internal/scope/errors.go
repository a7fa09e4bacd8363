package scope

import (
	"errors"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

var (
	// shardSuffix is what Citus appends to the names of a shard's constraints
	// (units_name_unique_102008).
	shardSuffix = regexp.MustCompile(`^_[0-9]+$`)
	// quotedConstraint finds the constraint in a violation's message.
	quotedConstraint = regexp.MustCompile(`constraint "([^"]+)"`)
)

// Violates reports whether err is a database error with the given SQLSTATE code
// raised by the named constraint, on PostgreSQL or on a Citus shard. Citus
// passes a worker's error on with its message but without the constraint field,
// and the name it gives is the shard's (units_name_unique_102008).
func Violates(err error, code, constraint string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != code {
		return false
	}
	name := pgErr.ConstraintName
	if name == "" {
		if m := quotedConstraint.FindStringSubmatch(pgErr.Message); m != nil {
			name = m[1]
		}
	}
	rest, ok := strings.CutPrefix(name, constraint)
	return ok && (rest == "" || shardSuffix.MatchString(rest))
}
