package pgtest

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Literal renders a query argument as SQL, for EXPLAIN of a captured query with
// its arguments inlined (the bench's and internal/scale's plans). It knows the
// types Vacancy's queries take.
func Literal(a any) (string, error) {
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	switch v := a.(type) {
	case nil:
		return "NULL", nil
	case *uuid.UUID:
		if v == nil {
			return "NULL", nil
		}
		return quote(v.String()), nil
	case uuid.UUID:
		return quote(v.String()), nil
	case []uuid.UUID:
		s := make([]string, len(v))
		for i, id := range v {
			s[i] = id.String()
		}
		return quote("{"+strings.Join(s, ",")+"}") + "::uuid[]", nil
	case int32, int64, int, float64, bool:
		return fmt.Sprint(v), nil
	case string:
		return quote(v), nil
	case time.Time:
		return quote(v.Format(time.RFC3339Nano)), nil
	}
	return "", fmt.Errorf("no SQL literal for %T", a)
}
