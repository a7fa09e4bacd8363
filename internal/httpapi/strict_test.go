package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

// TestAmbiguousInputIsRefused: a body whose meaning would be a guess (a key
// given twice, where the last used to win; a field name in another case, which
// used to match; anything after the value, even a lone ], which used to pass)
// and a query string with a malformed percent-escape (silently dropped: the
// first page answered as if no cursor was sent) are 400s, and change nothing.
func TestAmbiguousInputIsRefused(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "strict")
	admin := o.as(t, "admin")
	// (A JSON parser that lets the last key win, as the contract's validator does,
	// sees a key given twice as conforming.)
	for _, tc := range []struct {
		name, body, detail string
		conforms           bool
	}{
		{"a key twice", `{"name": "Room", "capacity": 2, "nightly_price": 100, "name": "Other"}`, `gives the key "name" twice`, true},
		{"a nested key twice", `{"name": "Room", "capacity": 2, "nightly_price": 100, "units": [{"name": "1", "name": "2"}]}`, `units[0] gives the key "name" twice`, true},
		{"a field name in another case", `{"Name": "Room", "capacity": 2, "nightly_price": 100}`, `unknown field "Name"`, false},
		{"a trailing ]", `{"name": "Room", "capacity": 2, "nightly_price": 100}]`, "more than one JSON value", false},
		{"a trailing value", `{"name": "Room", "capacity": 2, "nightly_price": 100} 7`, "more than one JSON value", false},
	} {
		opts := []apitest.Option{apitest.RawBody("application/json", []byte(tc.body))}
		if !tc.conforms {
			opts = append(opts, apitest.BreaksContract(tc.name))
		}
		p := admin.Post(o.path("/items"), nil, opts...).Problem(http.StatusBadRequest, "malformed_json")
		if !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("%s: detail %q must mention %q", tc.name, p.Detail, tc.detail)
		}
	}
	var items list[item]
	admin.Get(o.path("/items")).Expect(http.StatusOK).JSON(&items)
	if len(items.Data) != 0 {
		t.Fatalf("refused bodies must create nothing, found %d items", len(items.Data))
	}
	admin.Post(o.path("/items"), map[string]any{"name": "Room", "capacity": 2, "nightly_price": 100}).Expect(http.StatusCreated)

	for _, q := range []string{"cursor=%%%", "status=%zz", "limit=1&item_id=%"} {
		admin.Get(o.path("/bookings")+"?"+q).Problem(http.StatusBadRequest, "malformed_query")
	}
	admin.Get(o.path("/bookings") + "?status=%70aid").Expect(http.StatusOK) // a well-formed escape is fine
}

// TestMalformedJSONInsideAnArrayIsRefused: a value the decoder cannot read inside
// an array or an object is answered 400 malformed_json (the key check once
// looped on it forever, growing until the process was killed).
func TestMalformedJSONInsideAnArrayIsRefused(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "malformed")
	admin := o.as(t, "admin")
	for _, body := range []string{`{"items":[x]}`, `{"items":[{"item_id":x}]}`, `{"items":[1,,2]}`, `{"guest_name":}`, `[x`} {
		admin.Post(o.path("/bookings"), nil, apitest.RawBody("application/json", []byte(body)),
			apitest.IdempotencyKey(uuid.NewString()), apitest.BreaksContract("malformed JSON")).
			Problem(http.StatusBadRequest, "malformed_json")
	}
}
