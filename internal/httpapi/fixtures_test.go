package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

// End-to-end tests: every request goes through apitest's contract-validating
// client to httpapi.NewServer on an httptest server over a fresh database (one per
// top-level test).

func TestMain(m *testing.M) { testenv.Main(m) }

const v3 = "/api/v3"

// The API's resources as the tests read them (a subset of each JSON body; the
// contract checks the full shape).
type (
	organisation struct {
		ID          string `json:"id"`
		Slug        string `json:"slug"`
		Name        string `json:"name"`
		Currency    string `json:"currency"`
		Timezone    string `json:"timezone"`
		HoldMinutes int    `json:"hold_minutes"`
		APIKey      apiKey `json:"api_key"`
	}
	apiKey struct {
		ID        string     `json:"id"`
		Name      string     `json:"name"`
		Role      string     `json:"role"`
		Prefix    string     `json:"prefix"`
		Key       string     `json:"key"`
		RevokedAt *time.Time `json:"revoked_at"`
	}
	item struct {
		ID           string  `json:"id"`
		Name         string  `json:"name"`
		Capacity     int     `json:"capacity"`
		NightlyPrice int64   `json:"nightly_price"`
		MinNights    int     `json:"min_nights"`
		MaxNights    int     `json:"max_nights"`
		Status       string  `json:"status"`
		Version      int     `json:"version"`
		Currency     string  `json:"currency"`
		UnitCount    int     `json:"unit_count"`
		PropertyID   *string `json:"property_id"`
	}
	addon struct {
		ID          string `json:"id"`
		ItemID      string `json:"item_id"`
		Price       int64  `json:"price"`
		Per         string `json:"per"`
		MaxQuantity int    `json:"max_quantity"`
	}
	stay struct {
		ID          string `json:"id"`
		ItemID      string `json:"item_id"`
		CheckIn     string `json:"check_in"`
		CheckOut    string `json:"check_out"`
		Nights      int    `json:"nights"`
		RoomTotal   int64  `json:"room_total"`
		AddonsTotal int64  `json:"addons_total"`
		Total       int64  `json:"total"`
		Available   bool   `json:"available"`
		Addons      []struct {
			AddonID  string `json:"addon_id"`
			Quantity int    `json:"quantity"`
			Total    int64  `json:"total"`
		} `json:"addons"`
	}
	booking struct {
		ID               string    `json:"id"`
		Status           string    `json:"status"`
		Notes            string    `json:"notes"`
		Items            []stay    `json:"items"`
		Total            int64     `json:"total"`
		Currency         string    `json:"currency"`
		Version          int       `json:"version"`
		ExpiresAt        time.Time `json:"expires_at"`
		CreatedAt        time.Time `json:"created_at"`
		PaymentReference *string   `json:"payment_reference"`
		CancelReason     *string   `json:"cancel_reason"`
		Guest            struct {
			Name  string  `json:"name"`
			Email string  `json:"email"`
			Phone *string `json:"phone"`
		} `json:"guest"`
	}
	webhookEndpoint struct {
		ID             string     `json:"id"`
		URL            string     `json:"url"`
		Description    string     `json:"description"`
		EventTypes     []string   `json:"event_types"`
		Enabled        bool       `json:"enabled"`
		DisabledReason *string    `json:"disabled_reason"`
		FailingSince   *time.Time `json:"failing_since"`
		Secret         string     `json:"secret"`
		Version        int        `json:"version"`
		// PreviousExpiresAt: until when a rotation's replaced secret still signs.
		PreviousExpiresAt *time.Time `json:"previous_secret_expires_at"`
	}
	delivery struct {
		ID            string     `json:"id"`
		EndpointID    string     `json:"endpoint_id"`
		EventID       string     `json:"event_id"`
		EventType     string     `json:"event_type"`
		Status        string     `json:"status"`
		Attempts      int        `json:"attempts"`
		NextAttemptAt *time.Time `json:"next_attempt_at"`
		AttemptLog    []struct {
			Attempt    int  `json:"attempt"`
			StatusCode *int `json:"status_code"`
		} `json:"attempt_log"`
	}
	// event is an event as the feed lists it; Data is the resource.
	event struct {
		ID             string          `json:"id"`
		Type           string          `json:"type"`
		OccurredAt     time.Time       `json:"occurred_at"`
		OrganisationID string          `json:"organisation_id"`
		Data           json.RawMessage `json:"data"`
		CommandID      *string         `json:"command_id"`
	}
	feed struct {
		Data       []event `json:"data"`
		NextCursor string  `json:"next_cursor"`
		HasMore    bool    `json:"has_more"`
	}
	list[T any] struct {
		Data       []T     `json:"data"`
		NextCursor *string `json:"next_cursor"`
	}
)

// org is an organisation created through the API, with a key of each role.
type org struct {
	organisation
	srv                *apitest.Server
	Admin, Write, Read string
}

// newOrg creates an organisation through POST /organisations with the platform
// token, and a write and a read key through the API.
func newOrg(t *testing.T, srv *apitest.Server, slug string) *org {
	t.Helper()
	c := srv.Client(t).As(srv.PlatformToken)
	var o org
	c.Post(v3+"/organisations", map[string]any{"slug": slug, "name": "Organisation " + slug}).Expect(http.StatusCreated).JSON(&o.organisation)
	o.srv, o.Admin = srv, o.APIKey.Key
	admin := c.As(o.Admin)
	o.Write = newKey(t, admin, &o, "write").Key
	o.Read = newKey(t, admin, &o, "read").Key
	return &o
}

func newKey(t *testing.T, admin *apitest.Client, o *org, role string) apiKey {
	t.Helper()
	var k apiKey
	admin.Post(o.path("/api-keys"), map[string]any{"name": role + " key", "role": role}).Expect(http.StatusCreated).JSON(&k)
	return k
}

// path is an API path under the organisation (by slug).
func (o *org) path(format string, args ...any) string {
	return v3 + "/organisations/" + o.Slug + fmt.Sprintf(format, args...)
}

// as is a client for test t with the organisation's key of role.
func (o *org) as(t *testing.T, role string) *apitest.Client {
	c := o.srv.Client(t)
	switch role {
	case "admin":
		return c.As(o.Admin)
	case "write":
		return c.As(o.Write)
	case "read":
		return c.As(o.Read)
	}
	t.Fatalf("no role %q", role)
	return nil
}

func (o *org) newItem(t *testing.T, name string, capacity int, price int64) item {
	t.Helper()
	var it item
	o.as(t, "admin").Post(o.path("/items"), map[string]any{"name": name, "capacity": capacity, "nightly_price": price}).
		Expect(http.StatusCreated).JSON(&it)
	return it
}

func (o *org) newAddon(t *testing.T, itemID, name string, price int64, per string, maxQuantity int) addon {
	t.Helper()
	var a addon
	o.as(t, "admin").Post(o.path("/items/%s/addons", itemID),
		map[string]any{"name": name, "price": price, "per": per, "max_quantity": maxQuantity}).
		Expect(http.StatusCreated).JSON(&a)
	return a
}

// bookingBody is a booking request for one stay.
func bookingBody(itemID, checkIn, checkOut string) map[string]any {
	return map[string]any{
		"guest": map[string]any{"name": "Ada Guest", "email": "ada@example.com"},
		"items": []any{map[string]any{"item_id": itemID, "check_in": checkIn, "check_out": checkOut}},
	}
}

func (o *org) newBooking(t *testing.T, itemID, checkIn, checkOut string) booking {
	t.Helper()
	var b booking
	o.as(t, "write").Post(o.path("/bookings"), bookingBody(itemID, checkIn, checkOut)).Expect(http.StatusCreated).JSON(&b)
	return b
}

// publicHook is a webhook URL the server's default policy accepts: https, and a
// public address given literally (no DNS). The API-only test server sends nothing.
const publicHook = "https://93.184.215.14/hooks/vacancy"

// newEndpoint registers a webhook endpoint for the event types (all when none).
func (o *org) newEndpoint(t *testing.T, types ...string) webhookEndpoint {
	t.Helper()
	body := map[string]any{"url": publicHook, "description": "test endpoint " + uniq()}
	if len(types) > 0 {
		body["event_types"] = types
	}
	var ep webhookEndpoint
	o.as(t, "admin").Post(o.path("/webhook-endpoints"), body).Expect(http.StatusCreated).JSON(&ep)
	return ep
}

// failDeliveries records one failed attempt (a 500) on each of the endpoint's
// pending deliveries and marks them failed for good, as the delivery job does
// after its last attempt (the test server runs no jobs). It returns their ids.
func (o *org) failDeliveries(t *testing.T, endpointID string) []string {
	t.Helper()
	ids := strings.Fields(pgtest.Scalar[string](t, o.srv.Env.Superuser, `
		WITH failed AS (
			UPDATE webhook_deliveries SET status = 'failed', attempts = 1, last_status_code = 500,
				last_error = 'the receiver answered 500 Internal Server Error', last_latency_ms = 12,
				last_attempt_at = now()
			WHERE endpoint_id = $1 AND status = 'pending'
			RETURNING organisation_id, id),
		logged AS (
			INSERT INTO webhook_attempts (organisation_id, delivery_id, attempt, attempted_at, status_code, error, latency_ms)
			SELECT organisation_id, id, 1, now(), 500, 'the receiver answered 500 Internal Server Error', 12 FROM failed)
		SELECT coalesce(string_agg(id::text, ' '), '') FROM failed`, endpointID))
	if len(ids) == 0 {
		t.Fatalf("endpoint %s has no pending delivery to fail", endpointID)
	}
	return ids
}

// day is the date n days from today (UTC, the test organisations' time zone).
func day(n int) string { return time.Now().UTC().AddDate(0, 0, n).Format("2006-01-02") }

func etag(version int) string { return fmt.Sprintf("%q", fmt.Sprint(version)) }

func randomID() string { return uuid.Must(uuid.NewV7()).String() }

// uniq is a unique name suffix that does not look like an id.
func uniq() string { return strings.ReplaceAll(uuid.NewString(), "-", "") }
