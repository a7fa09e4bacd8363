package booking_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/domain"
)

// TestListFiltersAgreeWithTheBookings: each list filter, and each pair of them,
// runs its own query (booking.listBookings picks the index); whichever it is,
// paging through it yields exactly the bookings that a filter over every
// booking, as GetBooking shows them, selects, newest first.
func TestListFiltersAgreeWithTheBookings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	name := "Garden house"
	pcmd, err := catalogue.NewCreateProperty(meta(t), catalogue.PropertyInput{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	pcmd.Actor = f.sc.ActorID
	prop, _, err := f.env.Service.CreateProperty(ctx, f.sc, pcmd)
	if err != nil {
		t.Fatalf("create property: %v", err)
	}
	inProperty := createItem(t, f.env, f.sc, "Garden room", 9000)
	f.env.Superuser.Exec(t, "UPDATE items SET property_id = $1 WHERE id = $2", prop.ID, inProperty.ID) // the trigger moves its stays
	items := []catalogue.Item{f.item, inProperty}

	// Stays of every length class up to 200 nights, two-item bookings, and every status.
	type stay struct{ item, in, out int }
	plans := [][]stay{
		{{0, 10, 11}}, {{1, 10, 12}}, {{0, 12, 16}}, {{1, 13, 21}}, {{0, 30, 60}},
		{{1, 40, 240}}, {{0, 300, 301}, {1, 300, 302}}, {{0, 400, 402}}, {{1, 500, 505}},
		{{0, 600, 601}, {1, 610, 611}}, {{0, 700, 703}}, {{1, 800, 801}},
	}
	var ids []uuid.UUID
	for i, p := range plans {
		var lines []booking.LineInput
		for _, s := range p {
			lines = append(lines, booking.LineInput{ItemID: items[s.item].ID.String(), CheckIn: future(s.in), CheckOut: future(s.out)})
		}
		cmd, err := booking.NewCreateBooking(meta(t), booking.CreateBookingInput{
			Guest: booking.GuestInput{Name: "Ann", Email: "ann@example.com"}, Items: lines})
		if err != nil {
			t.Fatal(err)
		}
		cmd.Actor = f.sc.ActorID
		b, _, err := f.env.Service.CreateBooking(ctx, f.sc, cmd)
		if err != nil {
			t.Fatalf("booking %d: %v", i, err)
		}
		ids = append(ids, b.ID)
	}
	transition := func(id uuid.UUID, newCmd func(command.Meta, uuid.UUID, booking.TransitionInput) (booking.TransitionBooking, error)) {
		cmd, err := newCmd(meta(t), id, booking.TransitionInput{})
		if err != nil {
			t.Fatal(err)
		}
		cmd.Actor = f.sc.ActorID
		if _, _, err := f.env.Service.TransitionBooking(ctx, f.sc, cmd); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{0, 3, 5, 7, 9} {
		transition(ids[i], booking.NewConfirmBooking)
	}
	transition(ids[1], booking.NewCancelBooking)
	transition(ids[9], booking.NewCancelBooking)
	// Two holds past their deadline: one the sweep has recorded, one it has not yet.
	for _, i := range []int{2, 4} {
		f.env.Superuser.Exec(t, "UPDATE bookings SET expires_at = now() - interval '1 minute' WHERE id = $1", ids[i])
		f.env.Superuser.Exec(t, "UPDATE booking_items SET hold_expires_at = now() - interval '1 minute' WHERE booking_id = $1", ids[i])
	}
	f.env.Superuser.Exec(t, "UPDATE bookings SET status = 'expired' WHERE id = $1", ids[2])
	f.env.Superuser.Exec(t, "UPDATE booking_items SET status = 'expired' WHERE booking_id = $1", ids[2])

	var all []booking.Booking
	for _, id := range slices.Backward(ids) {
		b, err := f.env.Service.GetBooking(ctx, f.sc, id)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b)
	}
	propertyItems := map[uuid.UUID]bool{inProperty.ID: true}

	statuses := []string{"", "unpaid", "paid", "cancelled", "expired"}
	itemFilters := []string{"", f.item.ID.String(), inProperty.ID.String()}
	properties := []string{"", prop.ID.String()}
	ranges := [][2]int{{0, 0}, {11, 12}, {20, 35}, {100, 101}, {299, 302}, {900, 950}}
	for _, st := range statuses {
		for _, it := range itemFilters {
			for _, pr := range properties {
				for _, rg := range ranges {
					var from, to string
					if rg != [2]int{} {
						from, to = future(rg[0]), future(rg[1])
					}
					name := fmt.Sprintf("status=%s item=%s property=%s from=%s to=%s", st, it, pr, from, to)
					filter, err := booking.NewBookingFilter(st, it, pr, from, to)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					var want []uuid.UUID
					for _, b := range all {
						if st != "" && b.Status != st {
							continue
						}
						match := false
						for _, l := range b.Items {
							if (it == "" || l.ItemID.String() == it) && (pr == "" || propertyItems[l.ItemID]) &&
								(from == "" || (l.CheckIn.String() < to && l.CheckOut.String() > from)) {
								match = true
							}
						}
						if match {
							want = append(want, b.ID)
						}
					}
					var got []uuid.UUID
					page, _ := domain.NewPage(2, "")
					for {
						l, err := f.env.Service.ListBookings(ctx, f.sc, filter, page)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						for _, b := range l.Data {
							got = append(got, b.ID)
						}
						if l.NextCursor == nil {
							break
						}
						if page, err = domain.NewPage(2, *l.NextCursor); err != nil {
							t.Fatal(err)
						}
					}
					if !slices.Equal(got, want) {
						t.Errorf("%s: listed %v, want %v", name, got, want)
					}
				}
			}
		}
	}
}
