package pgtest

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestLiteral(t *testing.T) {
	id := uuid.MustParse("01900000-0000-7000-8000-000000000001")
	for _, tc := range []struct {
		in   any
		want string
	}{
		{nil, "NULL"},
		{(*uuid.UUID)(nil), "NULL"},
		{id, "'01900000-0000-7000-8000-000000000001'"},
		{[]uuid.UUID{id, id}, "'{01900000-0000-7000-8000-000000000001,01900000-0000-7000-8000-000000000001}'::uuid[]"},
		{int32(7), "7"},
		{"O'Hara", "'O''Hara'"},
		{time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), "'2026-12-01T00:00:00Z'"},
	} {
		if got, err := Literal(tc.in); err != nil || got != tc.want {
			t.Errorf("Literal(%#v) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := Literal(struct{}{}); err == nil {
		t.Error("a type without a literal must be refused")
	}
}
