package command

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/vacancy-dev/vacancy/internal/domain"
)

// The fuzz targets below feed the validating constructors whatever a client
// could send. None may panic; what they accept must satisfy the invariants the
// handlers and the database rely on; what they refuse must be a field error
// (the HTTP layer maps it to 422), never anything else. Seed corpora live in
// testdata/fuzz; `make fuzz` runs each target for a bounded time.

// mustBeInvalid fails unless err is a validation error naming fields.
func mustBeInvalid(t *testing.T, err error) {
	t.Helper()
	if err := domain.CheckValidation(err); err != nil {
		t.Fatal(err)
	}
}

func FuzzMeta(f *testing.F) {
	for _, k := range []string{"", "0f8fad5b-d9cb-469f-a165-70867728950e", "k' OR '1'='1", "clé", "a b", strings.Repeat("k", 255), strings.Repeat("k", 256), "\x00", "\x7f"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		m, err := NewMeta(key, uuid.Nil, nil, time.Now())
		if err != nil {
			mustBeInvalid(t, err)
			return
		}
		if key != "" && m.ID != key {
			t.Fatalf("NewMeta(%q) changed the key to %q", key, m.ID)
		}
		if len(m.ID) < 1 || len(m.ID) > 255 {
			t.Fatalf("NewMeta(%q) accepted a key of %d bytes: the database allows 1 to 255", key, len(m.ID))
		}
		for _, r := range m.ID {
			if r < 0x21 || r > 0x7e {
				t.Fatalf("NewMeta(%q) accepted %q", key, r)
			}
		}
	})
}
