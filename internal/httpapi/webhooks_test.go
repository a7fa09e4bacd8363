package httpapi_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vacancy-dev/vacancy/internal/apitest"
)

// The test server is an API-only instance: deliveries are recorded and their jobs
// enqueued, but nothing is sent. internal/app's tests cover sending, retries,
// signatures and disabling.

func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "webhooks")
	admin := o.as(t, "admin")
	endpoints := o.path("/webhook-endpoints")

	res := admin.Post(endpoints, map[string]any{"url": publicHook}, apitest.IdempotencyKey("ep-1")).Expect(http.StatusCreated)
	var ep webhookEndpoint
	res.JSON(&ep)
	if !regexp.MustCompile(`^whsec_[A-Za-z0-9_-]{43}$`).MatchString(ep.Secret) {
		t.Errorf("the creation must show the signing secret, got %q", ep.Secret)
	}
	if res.ETag() != `"1"` || res.Header.Get("Location") != o.path("/webhook-endpoints/%s", ep.ID) {
		t.Errorf("a new endpoint carries ETag \"1\" and its Location; got %q, %q", res.ETag(), res.Header.Get("Location"))
	}
	if !slices.Equal(ep.EventTypes, []string{"*"}) || !ep.Enabled || ep.Version != 1 || ep.DisabledReason != nil || ep.FailingSince != nil {
		t.Errorf("defaults: every event type, enabled: %+v", ep)
	}
	path := o.path("/webhook-endpoints/%s", ep.ID)

	t.Run("a replay answers the same endpoint without its secret", func(t *testing.T) {
		admin := o.as(t, "admin")
		again := admin.Post(endpoints, map[string]any{"url": publicHook}, apitest.IdempotencyKey("ep-1")).Expect(http.StatusCreated)
		var replay webhookEndpoint
		again.JSON(&replay)
		if !again.Replayed() || replay.ID != ep.ID || replay.Secret != "" {
			t.Errorf("the replay must be the same endpoint, marked replayed, without its secret: %s", again.Body)
		}
		admin.Post(endpoints, map[string]any{"url": publicHook + "/other"}, apitest.IdempotencyKey("ep-1")).
			Problem(http.StatusUnprocessableEntity, "idempotency_key_reused")
		if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM webhook_endpoints WHERE organisation_id = $1", o.ID); n != 1 {
			t.Errorf("a replay and a reused key register nothing; %d endpoints", n)
		}
		var got webhookEndpoint
		admin.Get(path).Expect(http.StatusOK).JSON(&got)
		if got.Secret != "" || got.ID != ep.ID {
			t.Errorf("GET never shows the secret: %+v", got)
		}
	})

	t.Run("registration refuses what it cannot deliver to", func(t *testing.T) {
		admin := o.as(t, "admin")
		for _, c := range []struct{ url, code string }{
			{"http://93.184.215.14/hooks", "scheme_not_allowed"},
			{"ftp://93.184.215.14/hooks", "scheme_not_allowed"},
			{"https://127.0.0.1/hooks", "forbidden_address"},
			{"https://localhost/hooks", "forbidden_address"},
			{"https://169.254.169.254/latest/meta-data/", "forbidden_address"},
			{"https://10.0.0.5/hooks", "forbidden_address"},
			{"https://[::1]/hooks", "forbidden_address"},
			{"https://[::ffff:127.0.0.1]/hooks", "forbidden_address"},
			{"not a url", "invalid"},
			{"https://user:pass@93.184.215.14/hooks", "invalid"},
		} {
			p := admin.Post(endpoints, map[string]any{"url": c.url}).Problem(http.StatusUnprocessableEntity, "validation_failed")
			if !p.HasField("url", c.code) {
				t.Errorf("%s must be refused as url/%s: %+v", c.url, c.code, p.Errors)
			}
		}
		admin.Post(endpoints, map[string]any{"description": "no url"}, apitest.BreaksContract("url is required")).
			Problem(http.StatusUnprocessableEntity, "validation_failed")
		admin.Post(endpoints, map[string]any{"url": publicHook, "secret": "mine"}, apitest.BreaksContract("secret is not an input")).
			Problem(http.StatusBadRequest, "malformed_json")
		if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM webhook_endpoints WHERE organisation_id = $1", o.ID); n != 1 {
			t.Errorf("refused registrations must register nothing; %d endpoints", n)
		}
	})

	t.Run("PATCH needs the current version and changes only what it names", func(t *testing.T) {
		admin := o.as(t, "admin")
		admin.Patch(path, map[string]any{"enabled": false}, apitest.BreaksContract("PATCH without If-Match")).
			Problem(http.StatusPreconditionRequired, "if_match_required")
		admin.Patch(path, map[string]any{"enabled": false}, apitest.IfMatch(`"7"`)).Problem(http.StatusPreconditionFailed, "stale_version")
		for _, bad := range []struct {
			body   map[string]any
			field  string
			breach string
		}{
			{map[string]any{"event_types": []string{"booking.exploded"}}, "event_types[0]", "unknown event type"},
			{map[string]any{"event_types": []string{}}, "event_types", "no event type"},
			{map[string]any{"description": strings.Repeat("x", 501)}, "description", "description too long"},
			{map[string]any{}, "", "nothing to change"},
			{map[string]any{"url": "https://127.0.0.1/hooks"}, "url", ""},
		} {
			opts := []apitest.Option{apitest.IfMatch(`"1"`)}
			if bad.breach != "" {
				opts = append(opts, apitest.BreaksContract(bad.breach))
			}
			p := admin.Patch(path, bad.body, opts...).Problem(http.StatusUnprocessableEntity, "validation_failed")
			if len(p.Errors) != 1 || p.Errors[0].Field != bad.field {
				t.Errorf("PATCH %v must name %q: %+v", bad.body, bad.field, p.Errors)
			}
		}
		var now webhookEndpoint
		admin.Get(path).Expect(http.StatusOK).JSON(&now)
		if now.Version != 1 || now.URL != publicHook || !now.Enabled {
			t.Fatalf("refused PATCHes must change nothing: %+v", now)
		}

		res := admin.Patch(path, map[string]any{"event_types": []string{"booking.created", "booking.created", "item.archived"},
			"description": "  bookings  "}, apitest.IfMatch(`"1"`)).Expect(http.StatusOK)
		var upd webhookEndpoint
		res.JSON(&upd)
		if upd.Version != 2 || res.ETag() != `"2"` || upd.URL != publicHook || upd.Description != "bookings" ||
			!slices.Equal(upd.EventTypes, []string{"booking.created", "item.archived"}) {
			t.Errorf("PATCH changes what it names (duplicates folded, text trimmed): %+v, ETag %s", upd, res.ETag())
		}
		admin.Patch(path, map[string]any{"event_types": []string{"item.created", "*"}}, apitest.IfMatch(`"2"`)).Expect(http.StatusOK).JSON(&upd)
		if !slices.Equal(upd.EventTypes, []string{"*"}) || upd.Version != 3 {
			t.Errorf("\"*\" among the types means every type: %+v", upd)
		}
	})

	t.Run("the list pages through endpoints without their secrets", func(t *testing.T) {
		admin := o.as(t, "admin")
		second := o.newEndpoint(t, "item.created")
		var page list[webhookEndpoint]
		admin.Get(endpoints + "?limit=1").Expect(http.StatusOK).JSON(&page)
		if len(page.Data) != 1 || page.Data[0].ID != ep.ID || page.NextCursor == nil {
			t.Fatalf("first page: the oldest endpoint and a cursor: %+v", page)
		}
		admin.Get(endpoints + "?limit=1&cursor=" + *page.NextCursor).Expect(http.StatusOK).JSON(&page)
		if len(page.Data) != 1 || page.Data[0].ID != second.ID || page.Data[0].Secret != "" || page.NextCursor != nil {
			t.Fatalf("last page: the second endpoint, no secret, no cursor: %+v", page)
		}
	})
}

func TestWebhookDeliveries(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "deliveries")
	admin := o.as(t, "admin")
	ep := o.newEndpoint(t, "item.created", "item.archived")
	other := o.newEndpoint(t, "booking.created")
	deliveries := o.path("/webhook-endpoints/%s/deliveries", ep.ID)

	first := o.newItem(t, "Room one", 2, 10000)
	o.newItem(t, "Room two", 2, 10000)
	o.newBooking(t, first.ID, day(3), day(5))

	var all list[delivery]
	admin.Get(deliveries).Expect(http.StatusOK).JSON(&all)
	if len(all.Data) != 2 {
		t.Fatalf("two item.created events must make two deliveries to the endpoint, got %+v", all.Data)
	}
	for _, d := range all.Data {
		if d.EventType != "item.created" || d.Status != "pending" || d.Attempts != 0 || len(d.AttemptLog) != 0 || d.EndpointID != ep.ID {
			t.Errorf("a new delivery is pending, unattempted: %+v", d)
		}
	}
	events := feedOf(t, admin, o, "types=item.created", 2)
	if len(events.Data) != 2 || all.Data[0].EventID != events.Data[1].ID || all.Data[1].EventID != events.Data[0].ID {
		t.Errorf("deliveries are listed newest first and name their events: %+v, feed %+v", all.Data, events.Data)
	}
	if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1", other.ID); n != 1 {
		t.Errorf("the booking endpoint gets the booking's event only; %d deliveries", n)
	}
	if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery'"); n != 3 {
		t.Errorf("every delivery has its job, enqueued with the command; %d jobs", n)
	}

	// The older delivery failed for good; the newer one is still pending.
	failed := all.Data[1]
	srv.Env.Superuser.Exec(t, "UPDATE webhook_deliveries SET status = 'failed', attempts = 1, last_status_code = 500, last_error = 'the receiver answered 500', "+
		"last_latency_ms = 7, last_attempt_at = now() WHERE id = $1", failed.ID)
	srv.Env.Superuser.Exec(t, "INSERT INTO webhook_attempts (organisation_id, delivery_id, attempt, attempted_at, status_code, error, latency_ms) "+
		"VALUES ($1, $2, 1, now(), 500, 'the receiver answered 500', 7)", o.ID, failed.ID)

	t.Run("the log filters by status", func(t *testing.T) {
		admin := o.as(t, "admin")
		var page list[delivery]
		admin.Get(deliveries + "?status=failed").Expect(http.StatusOK).JSON(&page)
		if len(page.Data) != 1 || page.Data[0].ID != failed.ID || len(page.Data[0].AttemptLog) != 1 ||
			*page.Data[0].AttemptLog[0].StatusCode != 500 {
			t.Errorf("status=failed lists the failed delivery with its attempt: %+v", page.Data)
		}
		admin.Get(deliveries + "?status=pending&limit=1").Expect(http.StatusOK).JSON(&page)
		if len(page.Data) != 1 || page.Data[0].ID != all.Data[0].ID || page.NextCursor != nil {
			t.Errorf("status=pending lists the pending one: %+v", page)
		}
		admin.Get(deliveries+"?status=bogus", apitest.BreaksContract("unknown status")).Problem(http.StatusUnprocessableEntity, "validation_failed")
		admin.Get(o.path("/webhook-endpoints/%s/deliveries", randomID())).Problem(http.StatusNotFound, "not_found")
	})

	t.Run("a retry requeues a finished delivery, not a pending one", func(t *testing.T) {
		admin := o.as(t, "admin")
		retry := func(id string) string { return o.path("/webhook-endpoints/%s/deliveries/%s/retry", ep.ID, id) }
		admin.Post(retry(all.Data[0].ID), nil).Problem(http.StatusConflict, "delivery_pending")
		admin.Post(retry(randomID()), nil).Problem(http.StatusNotFound, "not_found")
		admin.Post(o.path("/webhook-endpoints/%s/deliveries/%s/retry", other.ID, failed.ID), nil).Problem(http.StatusNotFound, "not_found")

		res := admin.Post(retry(failed.ID), nil, apitest.IdempotencyKey("retry-1")).Expect(http.StatusAccepted)
		var d delivery
		res.JSON(&d)
		if d.ID != failed.ID || d.Status != "pending" || d.Attempts != 1 || len(d.AttemptLog) != 1 {
			t.Errorf("the retried delivery is pending and keeps its log: %+v", d)
		}
		if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM river_job WHERE kind = 'webhook_delivery' AND args->>'delivery_id' = $1", failed.ID); n != 2 {
			t.Errorf("a retry enqueues the delivery's job again; %d jobs", n)
		}
		again := admin.Post(retry(failed.ID), nil, apitest.IdempotencyKey("retry-1")).Expect(http.StatusAccepted)
		if !again.Replayed() || srv.Env.Superuser.Int(t, "SELECT count(*) FROM river_job WHERE args->>'delivery_id' = $1", failed.ID) != 2 {
			t.Error("a retried retry replays and enqueues nothing")
		}
		admin.Post(retry(failed.ID), nil).Problem(http.StatusConflict, "delivery_pending")
		admin.Post(retry(failed.ID), map[string]any{"now": true}, apitest.BreaksContract("the retry takes no fields")).
			Problem(http.StatusBadRequest, "malformed_json")
	})

	t.Run("a disabled endpoint gets no deliveries and no retries", func(t *testing.T) {
		admin := o.as(t, "admin")
		srv.Env.Superuser.Exec(t, "UPDATE webhook_deliveries SET status = 'failed' WHERE endpoint_id = $1", ep.ID)
		var cur webhookEndpoint
		admin.Get(o.path("/webhook-endpoints/%s", ep.ID)).Expect(http.StatusOK).JSON(&cur)
		admin.Patch(o.path("/webhook-endpoints/%s", ep.ID), map[string]any{"enabled": false}, apitest.IfMatch(etag(cur.Version))).
			Expect(http.StatusOK)
		admin.Post(o.path("/webhook-endpoints/%s/deliveries/%s/retry", ep.ID, failed.ID), nil).
			Problem(http.StatusConflict, "endpoint_disabled")
		o.newItem(t, "Room three", 2, 10000)
		if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1", ep.ID); n != 2 {
			t.Errorf("a disabled endpoint must get no new deliveries; %d", n)
		}
	})

	t.Run("deleting an endpoint takes its deliveries", func(t *testing.T) {
		admin := o.as(t, "admin")
		path := o.path("/webhook-endpoints/%s", ep.ID)
		var cur webhookEndpoint
		admin.Get(path).Expect(http.StatusOK).JSON(&cur)
		admin.Delete(path, apitest.IfMatch(etag(cur.Version-1))).Problem(http.StatusPreconditionFailed, "stale_version")
		admin.Get(path).Expect(http.StatusOK)
		var gone webhookEndpoint
		admin.Delete(path, apitest.IfMatch(etag(cur.Version))).Expect(http.StatusOK).JSON(&gone)
		if gone.ID != ep.ID || gone.Secret != "" {
			t.Errorf("DELETE answers the deleted endpoint: %+v", gone)
		}
		admin.Get(path).Problem(http.StatusNotFound, "not_found")
		admin.Get(path+"/deliveries").Problem(http.StatusNotFound, "not_found")
		admin.Delete(path).Problem(http.StatusNotFound, "not_found")
		if n := srv.Env.Superuser.Int(t, "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1", ep.ID); n != 0 {
			t.Errorf("the delivery log goes with the endpoint; %d deliveries left", n)
		}
	})
}
