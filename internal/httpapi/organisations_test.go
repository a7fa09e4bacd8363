package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	res := srv.Client(t).Get("/healthz", apitest.Header("X-Request-ID", "probe-1")).Expect(http.StatusOK)
	if got := res.Header.Get("X-Request-ID"); got != "probe-1" {
		t.Errorf("a valid X-Request-ID must be echoed back, got %q", got)
	}
	res = srv.Client(t).Get("/healthz", apitest.Header("X-Request-ID", "has spaces"), apitest.BreaksContract("X-Request-ID with spaces"))
	if got := res.Header.Get("X-Request-ID"); got == "" || got == "has spaces" {
		t.Errorf("an invalid X-Request-ID must be replaced by a generated one, got %q", got)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	res := srv.Client(t).Get("/readyz").Expect(http.StatusOK)
	if !strings.Contains(string(res.Body), `"ready"`) {
		t.Errorf("a migrated, reachable database must be ready, got %s", res.Body)
	}
}

func TestOrganisations(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	platform := srv.Client(t).As(srv.PlatformToken)

	t.Run("create applies the defaults and returns the first admin key once", func(t *testing.T) {
		res := platform.Post(v3+"/organisations", map[string]any{"slug": "acme", "name": "Acme Stays"}).Expect(http.StatusCreated)
		if loc := res.Header.Get("Location"); loc != v3+"/organisations/acme" {
			t.Errorf("Location %q, want %s/organisations/acme", loc, v3)
		}
		var o organisation
		res.JSON(&o)
		if o.Currency != "EUR" || o.Timezone != "UTC" || o.HoldMinutes != 30 {
			t.Errorf("defaults must be EUR, UTC, 30 minutes; got %s, %s, %d", o.Currency, o.Timezone, o.HoldMinutes)
		}
		if o.APIKey.Role != "admin" || !strings.HasPrefix(o.APIKey.Key, "vac_live_") {
			t.Errorf("the answer must carry an admin key with its secret, got %+v", o.APIKey)
		}
		admin := srv.Client(t).As(o.APIKey.Key)
		var byID, bySlug organisation
		admin.Get(v3 + "/organisations/" + o.ID).Expect(http.StatusOK).JSON(&byID)
		admin.Get(v3 + "/organisations/acme").Expect(http.StatusOK).JSON(&bySlug)
		if byID.ID != o.ID || bySlug.ID != o.ID || bySlug.Name != "Acme Stays" {
			t.Errorf("GET by id and by slug must return the organisation, got %+v and %+v", byID, bySlug)
		}
		if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM api_keys WHERE secret_hash = convert_to($1, 'UTF8')", o.APIKey.Key); n != 0 {
			t.Error("the key's secret must not be stored in plain text")
		}
		// The secret is shown once: the key list never carries it.
		var keys list[apiKey]
		admin.Get(v3 + "/organisations/acme/api-keys").Expect(http.StatusOK).JSON(&keys)
		if len(keys.Data) != 1 || keys.Data[0].Key != "" || keys.Data[0].Prefix == "" || !strings.HasPrefix(o.APIKey.Key, keys.Data[0].Prefix) {
			t.Errorf("the key list must show the key by its prefix, without the secret: %+v", keys.Data)
		}
	})

	t.Run("create honours currency, time zone and hold minutes", func(t *testing.T) {
		var o organisation
		platform.Post(v3+"/organisations", map[string]any{"slug": "alpine", "name": "Alpine", "currency": "CHF",
			"timezone": "Europe/Zurich", "hold_minutes": 90}).Expect(http.StatusCreated).JSON(&o)
		if o.Currency != "CHF" || o.Timezone != "Europe/Zurich" || o.HoldMinutes != 90 {
			t.Errorf("got %s, %s, %d", o.Currency, o.Timezone, o.HoldMinutes)
		}
	})

	t.Run("a taken slug is 409 slug_taken", func(t *testing.T) {
		platform.Post(v3+"/organisations", map[string]any{"slug": "taken", "name": "First"}).Expect(http.StatusCreated)
		platform.Post(v3+"/organisations", map[string]any{"slug": "taken", "name": "Second"}).Problem(http.StatusConflict, "slug_taken")
	})

	t.Run("a retry with the same Idempotency-Key replays the creation without the secret", func(t *testing.T) {
		body := map[string]any{"slug": "retried", "name": "Retried"}
		var first, again organisation
		res := platform.Post(v3+"/organisations", body, apitest.IdempotencyKey("org-key-1")).Expect(http.StatusCreated)
		res.JSON(&first)
		if res.Replayed() || first.APIKey.Key == "" {
			t.Fatalf("the first answer is not a replay and shows the secret once: %+v", first)
		}
		res = platform.Post(v3+"/organisations", body, apitest.IdempotencyKey("org-key-1")).Expect(http.StatusCreated)
		res.JSON(&again)
		if !res.Replayed() || again.ID != first.ID || again.APIKey.ID != first.APIKey.ID || again.APIKey.Key != "" {
			t.Fatalf("a retry must replay the same organisation and key, without the secret: %+v", again)
		}
		platform.Post(v3+"/organisations", map[string]any{"slug": "other", "name": "Other"}, apitest.IdempotencyKey("org-key-1")).
			Problem(http.StatusUnprocessableEntity, "idempotency_key_reused")
		platform.Post(v3+"/organisations", map[string]any{"slug": "other", "name": "Other"}).Expect(http.StatusCreated)
	})

	t.Run("invalid fields are 422 with every field named", func(t *testing.T) {
		p := platform.Post(v3+"/organisations", map[string]any{"slug": "Not A Slug", "name": "", "currency": "euro",
			"timezone": "Mars/Olympus", "hold_minutes": 0}, apitest.BreaksContract("every field wrong")).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		for _, f := range []string{"slug", "name", "currency", "timezone", "hold_minutes"} {
			found := false
			for _, e := range p.Errors {
				found = found || e.Field == f
			}
			if !found {
				t.Errorf("the problem must name %s; errors: %+v", f, p.Errors)
			}
		}
		// A slug that looks like an id would make {org} ambiguous.
		p = platform.Post(v3+"/organisations", map[string]any{"slug": randomID(), "name": "Ids"}).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("slug", "invalid") {
			t.Errorf("a slug that looks like an id must be refused: %+v", p.Errors)
		}
	})

	t.Run("only the platform token creates organisations", func(t *testing.T) {
		body := map[string]any{"slug": "sneaky", "name": "Sneaky"}
		res := srv.Client(t).Post(v3+"/organisations", body, apitest.BreaksContract("no Authorization"))
		res.Problem(http.StatusUnauthorized, "unauthorized")
		if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 must carry WWW-Authenticate: Bearer, got %q", res.Header.Get("WWW-Authenticate"))
		}
		srv.Client(t).As("vac_platform_wrong").Post(v3+"/organisations", body).Problem(http.StatusUnauthorized, "unauthorized")
		o := newOrg(t, srv, "keyholder")
		srv.Client(t).As(o.Admin).Post(v3+"/organisations", body).Problem(http.StatusUnauthorized, "unauthorized")
		if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM organisations WHERE slug = 'sneaky'"); n != 0 {
			t.Errorf("refused requests must create nothing, found %d", n)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "keys")
	admin := o.as(t, "admin")

	var k apiKey
	res := admin.Post(o.path("/api-keys"), map[string]any{"name": "integration", "role": "write"}, apitest.IdempotencyKey("key-1")).
		Expect(http.StatusCreated)
	res.JSON(&k)
	if k.Role != "write" || k.Key == "" || !strings.HasPrefix(k.Key, k.Prefix) {
		t.Fatalf("a new key must come with its secret: %+v", k)
	}
	srv.Client(t).As(k.Key).Get(o.path("")).Expect(http.StatusOK)
	if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM api_keys WHERE id = $1 AND last_used_at IS NOT NULL", k.ID); n != 1 {
		t.Error("a key's use must be recorded in last_used_at")
	}

	// A replay answers the same key, but never its secret again.
	var again apiKey
	replay := admin.Post(o.path("/api-keys"), map[string]any{"name": "integration", "role": "write"}, apitest.IdempotencyKey("key-1")).
		Expect(http.StatusCreated)
	replay.JSON(&again)
	if !replay.Replayed() || again.ID != k.ID || again.Key != "" {
		t.Errorf("a replayed key creation must be marked, name the same key and omit the secret: replayed=%v %+v", replay.Replayed(), again)
	}

	// Keys list oldest first, one page at a time.
	var ids []string
	cursor := ""
	for range 10 {
		q := "?limit=1"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		var page list[apiKey]
		admin.Get(o.path("/api-keys%s", q)).Expect(http.StatusOK).JSON(&page)
		for _, key := range page.Data {
			ids = append(ids, key.ID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if len(ids) != 4 || ids[3] != k.ID { // admin, write, read (newOrg), integration
		t.Errorf("paging by one must list the 4 keys oldest first, got %v", ids)
	}

	var revoked apiKey
	admin.Delete(o.path("/api-keys/%s", k.ID)).Expect(http.StatusOK).JSON(&revoked)
	if revoked.RevokedAt == nil {
		t.Errorf("the revoked key must carry revoked_at: %+v", revoked)
	}
	srv.Client(t).As(k.Key).Get(o.path("")).Problem(http.StatusUnauthorized, "unauthorized")

	admin.Delete(o.path("/api-keys/%s", randomID())).Problem(http.StatusNotFound, "not_found")
	admin.Delete(o.path("/api-keys/not-an-id"), apitest.BreaksContract("keyID is not a uuid")).Problem(http.StatusNotFound, "not_found")
	p := admin.Post(o.path("/api-keys"), map[string]any{"name": " ", "role": "owner"}, apitest.BreaksContract("role owner")).
		Problem(http.StatusUnprocessableEntity, "validation_failed")
	if !p.HasField("name", "required") || !p.HasField("role", "invalid") {
		t.Errorf("a blank name and an unknown role must both be named: %+v", p.Errors)
	}
}
