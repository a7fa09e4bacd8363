package vacancytest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	vacancy "github.com/vacancy-dev/vacancy/client"
	"github.com/vacancy-dev/vacancy/client/api"
	"github.com/vacancy-dev/vacancy/vacancytest"
	"github.com/vacancy-dev/vacancy/webhook"
)

// TestIntegratorExample is what an integration's own CI can do in one file:
// start Vacancy, create an item and a hold with the typed client, move the
// test clock past the hold, and receive the signed booking.expired webhook,
// verified with the public verifier. No real time passes.
func TestIntegratorExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	v, err := vacancytest.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := v.Terminate(context.Background()); err != nil {
			t.Errorf("terminate: %v", err)
		}
	})
	c, err := vacancy.New(vacancy.Config{BaseURL: v.URL, Key: v.TestAdminKey})
	if err != nil {
		t.Fatal(err)
	}
	org := v.Organisation

	// A receiver for webhooks, as the integration has one.
	type delivery struct {
		payload []byte
		header  string
	}
	received := make(chan delivery, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		received <- delivery{body, r.Header.Get(webhook.SignatureHeader)}
	}))
	defer hook.Close()
	types := api.WebhookEventTypes{api.WebhookEventTypeBookingExpired}
	ep, err := c.CreateWebhookEndpointWithResponse(ctx, org, &api.CreateWebhookEndpointParams{},
		api.CreateWebhookEndpointRequest{Url: hook.URL, EventTypes: &types})
	if err != nil {
		t.Fatal(err)
	}
	secret := *ep.JSON201.Secret

	item, err := c.CreateItemWithResponse(ctx, org, &api.CreateItemParams{},
		api.CreateItemRequest{Name: "Garden Suite", Capacity: 2, NightlyPrice: 15900})
	if err != nil {
		t.Fatal(err)
	}
	day := func(n int) openapi_types.Date { return openapi_types.Date{Time: time.Now().UTC().AddDate(0, 0, n)} }
	hold, err := c.CreateBookingWithResponse(ctx, org, &api.CreateBookingParams{}, api.CreateBookingRequest{
		Guest: api.GuestRequest{Name: "Ada", Email: "ada@example.com"},
		Items: api.Stays{{ItemId: item.JSON201.Id, CheckIn: day(10), CheckOut: day(12)}}})
	if err != nil {
		t.Fatal(err)
	}

	// Thirty minutes pass in no time.
	if _, err := c.AdvanceTestClockWithResponse(ctx, org, &api.AdvanceTestClockParams{},
		api.AdvanceTestClockRequest{To: hold.JSON201.ExpiresAt.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}

	select {
	case d := <-received:
		if err := webhook.Verify(d.payload, d.header, secret, 5*time.Minute); err != nil {
			t.Fatalf("the delivery's signature must verify: %v", err)
		}
		var event struct {
			Type     string `json:"type"`
			Livemode bool   `json:"livemode"`
			Data     struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"data"`
		}
		if err := json.Unmarshal(d.payload, &event); err != nil {
			t.Fatal(err)
		}
		if event.Type != "booking.expired" || event.Livemode || event.Data.ID != hold.JSON201.Id.String() || event.Data.Status != "expired" {
			t.Errorf("want the test-mode booking.expired of the hold, got %+v", event)
		}
	case <-ctx.Done():
		t.Fatal("no booking.expired webhook arrived")
	}
}
