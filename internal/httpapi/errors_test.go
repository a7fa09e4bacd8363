package httpapi_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

// TestErrorResponses covers the protocol-level errors every endpoint shares: each
// is an RFC 9457 problem with its code, and changes nothing.
func TestErrorResponses(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "errors")
	room := o.newItem(t, "Room", 2, 10000)
	bookings := o.path("/bookings")
	valid := bookingBody(room.ID, day(3), day(5))

	t.Run("400 for a body that is not one JSON value of the right shape", func(t *testing.T) {
		write := o.as(t, "write")
		for _, tc := range []struct{ name, body, detail string }{
			{"malformed", `{"guest": {"name": "A"`, "ends too early"},
			{"syntax error", `{"guest": }`, "malformed JSON"},
			{"unknown field", `{"guest": {"name": "A", "email": "a@example.com"}, "items": [], "colour": "red"}`, `unknown field "colour"`},
			{"unknown nested field", `{"guest": {"name": "A", "email": "a@example.com", "age": 3}, "items": []}`, `unknown field "age"`},
			{"wrong type", `{"guest": "Ada", "items": []}`, "field guest must be a JSON object, not string"},
			{"fraction for an integer", `{"items": [{"addons": [{"quantity": 1.5}]}]}`, "must be a JSON integer in range, not number 1.5"},
			{"two values", `{} {}`, "more than one JSON value"},
			{"not an object", `[1, 2]`, "the body must be a JSON object, not array"},
		} {
			p := write.Post(bookings, nil, apitest.RawBody("application/json", []byte(tc.body)), apitest.BreaksContract(tc.name)).
				Problem(http.StatusBadRequest, "malformed_json")
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("%s: detail %q must mention %q", tc.name, p.Detail, tc.detail)
			}
		}
	})

	t.Run("401 for a missing, unknown, malformed or revoked key", func(t *testing.T) {
		c := srv.Client(t)
		revoked := newKey(t, o.as(t, "admin"), o, "write")
		o.as(t, "admin").Delete(o.path("/api-keys/%s", revoked.ID)).Expect(http.StatusOK)
		for _, tc := range []struct {
			name   string
			client *apitest.Client
			opts   []apitest.Option
		}{
			{"no Authorization", c, []apitest.Option{apitest.BreaksContract("no Authorization")}},
			{"not a bearer token", c, []apitest.Option{apitest.Header("Authorization", "Basic "+o.Admin), apitest.BreaksContract("Basic auth")}},
			{"unknown key", c.As("vac_live_" + strings.Repeat("a", 48)), nil},
			{"malformed key", c.As("letmein"), nil},
			{"another key's prefix", c.As(o.Admin[:len(o.Admin)-4] + "aaaa"), nil},
			{"revoked key", c.As(revoked.Key), nil},
			{"platform token", c.As(srv.PlatformToken), nil},
		} {
			res := tc.client.Post(bookings, valid, tc.opts...)
			res.Problem(http.StatusUnauthorized, "unauthorized")
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: 401 must carry WWW-Authenticate", tc.name)
			}
		}
		if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM bookings"); n != 0 {
			t.Errorf("unauthenticated requests must book nothing, found %d bookings", n)
		}
	})

	t.Run("404 for an unknown organisation, resource or malformed id", func(t *testing.T) {
		admin := o.as(t, "admin")
		admin.Get(v3+"/organisations/no-such-org/items").Problem(http.StatusNotFound, "not_found")
		admin.Get(o.path("/items/%s", randomID())).Problem(http.StatusNotFound, "not_found")
		admin.Get(o.path("/bookings/%s", randomID())).Problem(http.StatusNotFound, "not_found")
		admin.Get(o.path("/items/12345"), apitest.BreaksContract("itemID is not a uuid")).Problem(http.StatusNotFound, "not_found")
	})

	t.Run("413 for a body over 1 MiB", func(t *testing.T) {
		big := bookingBody(room.ID, day(3), day(5))
		big["notes"] = strings.Repeat("n", 1<<20)
		o.as(t, "write").Post(bookings, big, apitest.BreaksContract("notes over 5000 characters")).
			Problem(http.StatusRequestEntityTooLarge, "body_too_large")
		if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM bookings"); n != 0 {
			t.Errorf("a refused body must book nothing, found %d bookings", n)
		}
	})

	t.Run("415 for a body that is not JSON", func(t *testing.T) {
		write := o.as(t, "write")
		write.Post(bookings, nil, apitest.RawBody("text/plain", []byte(`{"guest": {}}`)), apitest.BreaksContract("text/plain")).
			Problem(http.StatusUnsupportedMediaType, "unsupported_media_type")
		write.Post(bookings, nil, apitest.RawBody("", []byte(`{"guest": {}}`)), apitest.BreaksContract("no Content-Type")).
			Problem(http.StatusUnsupportedMediaType, "unsupported_media_type")
		form := bytes.NewBufferString("guest=ada").Bytes()
		write.Post(bookings, nil, apitest.RawBody("application/x-www-form-urlencoded", form), apitest.BreaksContract("form body")).
			Problem(http.StatusUnsupportedMediaType, "unsupported_media_type")
	})

	t.Run("422 for an invalid Idempotency-Key or list parameters", func(t *testing.T) {
		write := o.as(t, "write")
		p := write.Post(bookings, valid, apitest.IdempotencyKey(strings.Repeat("k", 256)), apitest.BreaksContract("key over 255")).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("Idempotency-Key", "too_long") {
			t.Errorf("an overlong Idempotency-Key must be named: %+v", p.Errors)
		}
		for _, q := range []string{"limit=0", "limit=101", "limit=ten"} {
			p := write.Get(o.path("/bookings?%s", q), apitest.BreaksContract(q)).Problem(http.StatusUnprocessableEntity, "validation_failed")
			if len(p.Errors) != 1 || p.Errors[0].Field != "limit" {
				t.Errorf("%s must name limit: %+v", q, p.Errors)
			}
		}
		p = write.Get(o.path("/bookings?cursor=not-a-cursor")).Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("cursor", "invalid") {
			t.Errorf("a foreign cursor must be named: %+v", p.Errors)
		}
	})

	t.Run("every problem names its type and the request path", func(t *testing.T) {
		p := o.as(t, "read").Get(o.path("/items/%s", randomID())).Problem(http.StatusNotFound, "not_found")
		if p.Type != "https://vacancy.dev/problems/not_found" || p.Title != "Not Found" || p.Status != 404 || !strings.HasPrefix(p.Instance, o.path("/items/")) {
			t.Errorf("problem: %+v", p)
		}
	})
}
