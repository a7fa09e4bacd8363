package httpapi_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
)

// TestWebhookSecretRotation: an admin rotates an endpoint's signing secret; the
// answer shows the new secret once, the version goes up, and the replaced secret
// is kept, with its end, for the delivery pipeline to sign with during the
// overlap (internal/app's tests check the signatures a receiver gets).
func TestWebhookSecretRotation(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "rotation")
	other := newOrg(t, srv, "rotation-other")
	admin := o.as(t, "admin")
	ep := o.newEndpoint(t)
	path := o.path("/webhook-endpoints/%s", ep.ID)
	rotate := path + "/rotate-secret"
	secrets := func() (secret, previous string) {
		return pgtest.Scalar[string](t, srv.Env.Superuser, "SELECT secret FROM webhook_endpoints WHERE id::text = $1", ep.ID),
			pgtest.Scalar[string](t, srv.Env.Superuser, "SELECT coalesce(previous_secret, '') FROM webhook_endpoints WHERE id::text = $1", ep.ID)
	}

	o.as(t, "read").Post(rotate, nil).Problem(http.StatusForbidden, "forbidden")
	o.as(t, "write").Post(rotate, nil).Problem(http.StatusForbidden, "forbidden")
	other.as(t, "admin").Post(other.path("/webhook-endpoints/%s/rotate-secret", ep.ID), nil).Problem(http.StatusNotFound, "not_found")
	admin.Post(o.path("/webhook-endpoints/%s/rotate-secret", randomID()), nil).Problem(http.StatusNotFound, "not_found")
	admin.Post(rotate, nil, apitest.IfMatch(`"7"`)).Problem(http.StatusPreconditionFailed, "stale_version")
	for _, n := range []int{-1, 604801} {
		p := admin.Post(rotate, map[string]any{"overlap_seconds": n}, apitest.BreaksContract("overlap out of range")).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		if !p.HasField("overlap_seconds", "out_of_range") {
			t.Errorf("overlap_seconds %d must be refused as overlap_seconds/out_of_range: %+v", n, p.Errors)
		}
	}
	admin.Post(rotate, map[string]any{"overlap": 60}, apitest.BreaksContract("unknown field")).Problem(http.StatusBadRequest, "malformed_json")
	if cur, prev := secrets(); cur != ep.Secret || prev != "" {
		t.Fatalf("refused rotations must change nothing: secret changed %v, previous %q", cur != ep.Secret, prev)
	}

	before := time.Now()
	res := admin.Post(rotate, map[string]any{"overlap_seconds": 3600}, apitest.IfMatch(`"1"`), apitest.IdempotencyKey("rotate-1")).
		Expect(http.StatusOK)
	var rotated webhookEndpoint
	res.JSON(&rotated)
	if !regexp.MustCompile(`^whsec_[A-Za-z0-9_-]{43}$`).MatchString(rotated.Secret) || rotated.Secret == ep.Secret {
		t.Fatalf("the rotation must show a new secret: %q", rotated.Secret)
	}
	if rotated.ID != ep.ID || rotated.Version != 2 || res.ETag() != `"2"` {
		t.Errorf("the rotation bumps the version and the ETag: %+v, ETag %s", rotated, res.ETag())
	}
	if e := rotated.PreviousExpiresAt; e == nil || e.Before(before.Add(time.Hour-time.Second)) || e.After(time.Now().Add(time.Hour+time.Second)) {
		t.Errorf("the replaced secret signs for overlap_seconds: previous_secret_expires_at %v", e)
	}
	if cur, prev := secrets(); cur != rotated.Secret || prev != ep.Secret {
		t.Errorf("the new secret signs, the replaced one is kept for the overlap")
	}

	again := admin.Post(rotate, map[string]any{"overlap_seconds": 3600}, apitest.IfMatch(`"1"`), apitest.IdempotencyKey("rotate-1")).
		Expect(http.StatusOK)
	var replay webhookEndpoint
	again.JSON(&replay)
	if !again.Replayed() || replay.Secret != "" || replay.Version != 2 {
		t.Errorf("a replay answers the same rotation without the secret: %s", again.Body)
	}
	if cur, _ := secrets(); cur != rotated.Secret {
		t.Error("a replay must not rotate again")
	}
	var got webhookEndpoint
	admin.Get(path).Expect(http.StatusOK).JSON(&got)
	if got.Secret != "" || got.Version != 2 || got.PreviousExpiresAt == nil {
		t.Errorf("GET shows the overlap's end, never a secret: %+v", got)
	}

	// Without a body: a day's overlap, and only the secret just replaced is kept.
	var second webhookEndpoint
	admin.Post(rotate, nil).Expect(http.StatusOK).JSON(&second)
	if e := second.PreviousExpiresAt; e == nil || e.Before(before.Add(24*time.Hour-time.Second)) {
		t.Errorf("the default overlap is a day: %v", e)
	}
	if cur, prev := secrets(); cur != second.Secret || prev != rotated.Secret {
		t.Error("a second rotation keeps only the secret it replaced")
	}
	// overlap_seconds 0: the replaced secret stops signing at once.
	var third webhookEndpoint
	admin.Post(rotate, map[string]any{"overlap_seconds": 0}, apitest.IfMatch(`"3"`)).Expect(http.StatusOK).JSON(&third)
	if cur, prev := secrets(); third.PreviousExpiresAt != nil || third.Version != 4 || cur != third.Secret || prev != "" {
		t.Errorf("no overlap keeps no previous secret: %+v", third)
	}
}
