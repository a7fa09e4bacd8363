package scope_test

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vacancy-dev/vacancy/internal/scope"
)

func TestViolates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"PostgreSQL names the constraint", &pgconn.PgError{Code: "23505", ConstraintName: "units_name_unique"}, true},
		{"wrapped", fmt.Errorf("write unit: %w", &pgconn.PgError{Code: "23505", ConstraintName: "units_name_unique"}), true},
		{"a Citus shard's constraint, named in the message only", &pgconn.PgError{Code: "23505",
			Message: `duplicate key value violates unique constraint "units_name_unique_102376"`}, true},
		{"another constraint", &pgconn.PgError{Code: "23505", ConstraintName: "units_pkey"}, false},
		{"a longer name that starts alike", &pgconn.PgError{Code: "23505", ConstraintName: "units_name_unique_per_item"}, false},
		{"another code", &pgconn.PgError{Code: "23503", ConstraintName: "units_name_unique"}, false},
		{"not a database error", fmt.Errorf("units_name_unique"), false},
	} {
		if got := scope.Violates(c.err, "23505", "units_name_unique"); got != c.want {
			t.Errorf("%s: Violates = %t, want %t", c.name, got, c.want)
		}
	}
}
