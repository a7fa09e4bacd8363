package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	vacancy "github.com/vacancy-dev/vacancy/client"
	"github.com/vacancy-dev/vacancy/client/api"
	"github.com/vacancy-dev/vacancy/internal/apitest"
)

// TestTypedClientBookingLifecycle runs the booking lifecycle through the public
// Go client (generated from openapi.yaml, over the contract-validating
// transport), so the client cannot drift from the server.
func TestTypedClientBookingLifecycle(t *testing.T) {
	t.Parallel()
	srv := apitest.Start(t)
	o := newOrg(t, srv, "typed")
	ctx := context.Background()
	c, err := vacancy.New(vacancy.Config{BaseURL: srv.URL(), Key: o.Admin, HTTPClient: srv.HTTPClient(t)})
	if err != nil {
		t.Fatal(err)
	}

	item, err := c.CreateItemWithResponse(ctx, o.Slug, &api.CreateItemParams{},
		api.CreateItemRequest{Name: "Garden Suite", Capacity: 2, NightlyPrice: 15900})
	if err != nil || item.JSON201 == nil {
		t.Fatalf("create item: %v", err)
	}
	date := func(days int) openapi_types.Date {
		return openapi_types.Date{Time: time.Now().UTC().AddDate(0, 0, days)}
	}
	body := api.CreateBookingRequest{Guest: api.GuestRequest{Name: "Ada", Email: "ada@example.com"},
		Items: api.Stays{{ItemId: item.JSON201.Id, CheckIn: date(30), CheckOut: date(33)}}}
	created, err := c.CreateBookingWithResponse(ctx, o.Slug, &api.CreateBookingParams{}, body)
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create booking: %v", err)
	}
	b := created.JSON201

	// The same nights again: a typed problem naming the item.
	_, err = c.CreateBookingWithResponse(ctx, o.Slug, &api.CreateBookingParams{}, body)
	var p vacancy.Problem
	if !errors.As(err, &p) || p.Status != http.StatusConflict || p.Code != "booking_conflict" ||
		len(p.ItemIDs) != 1 || p.ItemIDs[0] != item.JSON201.Id.String() {
		t.Fatalf("a second booking of the same nights must be a booking_conflict Problem naming the item, got %v", err)
	}

	// Confirm and cancel: the client sends the ETag it last saw as If-Match.
	ref := "pay_1"
	confirmed, err := c.ConfirmBookingWithResponse(ctx, o.Slug, b.Id, &api.ConfirmBookingParams{},
		api.ConfirmBookingRequest{PaymentReference: &ref})
	if err != nil || confirmed.JSON200 == nil || confirmed.JSON200.Status != api.BookingStatusPaid {
		t.Fatalf("confirm: %v", err)
	}
	if got := c.ETag(o.path("/bookings/%s", b.Id)); got != `"2"` {
		t.Errorf("the client must remember the confirmed booking's ETag, got %q", got)
	}
	cancelled, err := c.CancelBookingWithResponse(ctx, o.Slug, b.Id, &api.CancelBookingParams{}, api.CancelBookingRequest{})
	if err != nil || cancelled.JSON200 == nil || cancelled.JSON200.Status != api.BookingStatusCancelled {
		t.Fatalf("cancel: %v", err)
	}

	// Two more bookings, listed one per page with the iterator.
	for _, d := range []int{40, 50} {
		body.Items[0].CheckIn, body.Items[0].CheckOut = date(d), date(d+1)
		if _, err := c.CreateBookingWithResponse(ctx, o.Slug, &api.CreateBookingParams{}, body); err != nil {
			t.Fatal(err)
		}
	}
	one := 1
	var ids []string
	for bk, err := range vacancy.All(ctx, func(ctx context.Context, cursor *string) ([]api.Booking, *string, error) {
		r, err := c.ListBookingsWithResponse(ctx, o.Slug, &api.ListBookingsParams{Limit: &one, Cursor: cursor})
		if err != nil {
			return nil, nil, err
		}
		return r.JSON200.Data, r.JSON200.NextCursor, nil
	}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, bk.Id.String())
	}
	if len(ids) != 3 || ids[2] != b.Id.String() {
		t.Errorf("paging one by one must list the three bookings newest first, got %v", ids)
	}
}
