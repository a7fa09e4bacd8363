package booking_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fixture struct {
	env  *testenv.Env
	sc   scope.Scope
	item catalogue.Item
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	env := testenv.New(t)
	sc, _ := env.Organisation(t, "acme")
	return fixture{env: env, sc: sc, item: createItem(t, env, sc, "Sea room", 12000)}
}

func createItem(t *testing.T, env *testenv.Env, sc scope.Scope, name string, price int64) catalogue.Item {
	t.Helper()
	capacity := int32(2)
	cmd, err := catalogue.NewCreateItem(meta(t), catalogue.ItemInput{Name: &name, Capacity: &capacity, NightlyPrice: &price})
	if err != nil {
		t.Fatal(err)
	}
	cmd.Actor = sc.ActorID
	it, _, err := env.Service.CreateItem(context.Background(), sc, cmd)
	if err != nil {
		t.Fatalf("create item: %v", err)
	}
	return it
}

// book creates a booking of f's item. It reports every failure, building the
// command included, as its error and never fails the test itself, so it may be
// called from any goroutine.
func (f fixture) book(key, checkIn, checkOut string) (booking.Booking, command.Receipt, error) {
	m, err := command.NewMeta(key, f.sc.ActorID, nil, time.Now())
	if err != nil {
		return booking.Booking{}, command.Receipt{}, fmt.Errorf("command meta: %w", err)
	}
	cmd, err := booking.NewCreateBooking(m, booking.CreateBookingInput{
		Guest: booking.GuestInput{Name: "Ann", Email: "ann@example.com"},
		Items: []booking.LineInput{{ItemID: f.item.ID.String(), CheckIn: checkIn, CheckOut: checkOut}},
	})
	if err != nil {
		return booking.Booking{}, command.Receipt{}, fmt.Errorf("create booking command: %w", err)
	}
	return f.env.Service.CreateBooking(context.Background(), f.sc, cmd)
}

func future(days int) string { return time.Now().UTC().AddDate(0, 0, days).Format("2006-01-02") }

func TestCreateBookingPricesAndHolds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b, rc, err := f.book("", future(10), future(13))
	if err != nil {
		t.Fatal(err)
	}
	if rc.Replayed {
		t.Error("a first execution is not a replay")
	}
	if b.Status != booking.StatusUnpaid || b.Total != 3*12000 || len(b.Items) != 1 || b.Items[0].Nights != 3 || b.Currency != "EUR" {
		t.Fatalf("want an unpaid 3-night hold for 36000 EUR, got %+v", b)
	}
	if d := time.Until(b.ExpiresAt); d < 29*time.Minute || d > 31*time.Minute {
		t.Fatalf("the hold must expire after the organisation's 30 minutes, expires in %v", d)
	}
	if n := f.env.Superuser.Int(t, "SELECT count(*) FROM events WHERE type = 'booking.created'"); n != 1 {
		t.Fatalf("one booking.created event must be in the outbox, found %d", n)
	}
	if n := f.env.Superuser.Int(t, "SELECT count(*) FROM commands WHERE type = 'booking.create' AND state = 'done' AND outcome = 'ok'"); n != 1 {
		t.Fatalf("the command must be recorded as done/ok, found %d", n)
	}
}

func TestIdempotentReplayAndReuse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	first, _, err := f.book("key-1", future(10), future(12))
	if err != nil {
		t.Fatal(err)
	}
	again, rc, err := f.book("key-1", future(10), future(12))
	if err != nil {
		t.Fatal(err)
	}
	if !rc.Replayed || again.ID != first.ID {
		t.Fatalf("a retry must replay the first booking, got replayed=%v id=%s want %s", rc.Replayed, again.ID, first.ID)
	}
	_, _, err = f.book("key-1", future(20), future(22))
	if de, ok := domain.AsError(err); !ok || de.Code != domain.CodeKeyReused {
		t.Fatalf("the same key for a different request must fail with idempotency_key_reused, got %v", err)
	}
	if n := f.env.Superuser.Int(t, "SELECT count(*) FROM bookings"); n != 1 {
		t.Fatalf("exactly one booking must exist, found %d", n)
	}
	// A stored failure replays as the same failure.
	_, _, err = f.book("key-2", future(11), future(12))
	if de, ok := domain.AsError(err); !ok || de.Code != domain.CodeBookingConflict {
		t.Fatalf("want booking_conflict, got %v", err)
	}
	_, rc, err = f.book("key-2", future(11), future(12))
	if de, ok := domain.AsError(err); !ok || de.Code != domain.CodeBookingConflict || !rc.Replayed {
		t.Fatalf("the conflict must replay, got %v replayed=%v", err, rc.Replayed)
	}
}

func TestConcurrentOverlappingBookingsOneWins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const n = 30
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Overlapping windows shifted by a day, all covering future(21).
			_, _, errs[i] = f.book("", future(20+i%2), future(22+i%3))
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch de, isDomain := domain.AsError(err); {
		case err == nil:
			ok++
		case isDomain && de.Code == domain.CodeBookingConflict && len(de.ItemIDs) == 1 && de.ItemIDs[0] == f.item.ID:
		default:
			t.Errorf("every loser must get booking_conflict naming the item, got %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("exactly one overlapping booking must win, %d did", ok)
	}
	if got := f.env.Superuser.Int(t, "SELECT count(*) FROM booking_items WHERE status IN ('unpaid','paid','complete')"); got != 1 {
		t.Fatalf("one active booking item must exist, found %d", got)
	}
}

func TestExpiredHoldNeverBlocks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	old, _, err := f.book("", future(5), future(7))
	if err != nil {
		t.Fatal(err)
	}
	f.env.Superuser.Exec(t, "UPDATE bookings SET expires_at = now() - interval '1 minute' WHERE id = $1", old.ID)
	f.env.Superuser.Exec(t, "UPDATE booking_items SET hold_expires_at = now() - interval '1 minute' WHERE booking_id = $1", old.ID)
	f.env.Superuser.Exec(t, "UPDATE occupancies SET hold_expires_at = now() - interval '1 minute' WHERE booking_id = $1", old.ID)

	got, err := f.env.Service.GetBooking(context.Background(), f.sc, old.ID)
	if err != nil || got.Status != booking.StatusExpired {
		t.Fatalf("a hold past its deadline must read as expired, got %q, %v", got.Status, err)
	}
	aq, err := booking.NewAvailabilityQuery(booking.AvailabilityParams{CheckIn: future(5), CheckOut: future(7), Guests: "1"}, domain.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	avail, err := f.env.Service.Availability(context.Background(), f.sc, aq)
	if err != nil || len(avail.Data) != 1 {
		t.Fatalf("the item must be available again, got %+v, %v", avail.Data, err)
	}
	if _, _, err := f.book("", future(6), future(8)); err != nil {
		t.Fatalf("an expired hold must not block a new booking, got %v", err)
	}
	if n := f.env.Superuser.Int(t, "SELECT count(*) FROM bookings WHERE id = $1 AND status = 'expired'", old.ID); n != 1 {
		t.Fatal("the stale hold must be recorded as expired by the booking that took its dates")
	}
	if n := f.env.Superuser.Int(t, "SELECT count(*) FROM events WHERE type = 'booking.expired'"); n != 1 {
		t.Fatalf("one booking.expired event must be written, found %d", n)
	}
	m, _ := command.NewMeta("", f.sc.ActorID, nil, time.Now())
	cmd, _ := booking.NewConfirmBooking(m, old.ID, booking.TransitionInput{})
	_, _, err = f.env.Service.TransitionBooking(context.Background(), f.sc, cmd)
	if de, ok := domain.AsError(err); !ok || de.Code != domain.CodeInvalidTransition {
		t.Fatalf("confirming an expired hold must fail with invalid_transition, got %v", err)
	}
}

func TestTransitionsAndVersions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b, _, err := f.book("", future(3), future(4))
	if err != nil {
		t.Fatal(err)
	}
	transition := func(newCmd func(command.Meta, uuid.UUID, booking.TransitionInput) (booking.TransitionBooking, error), version *int32) (booking.Booking, error) {
		m, _ := command.NewMeta("", f.sc.ActorID, version, time.Now())
		cmd, err := newCmd(m, b.ID, booking.TransitionInput{})
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := f.env.Service.TransitionBooking(context.Background(), f.sc, cmd)
		return out, err
	}
	stale := int32(7)
	if _, err := transition(booking.NewConfirmBooking, &stale); !isCode(err, domain.CodeStaleVersion) {
		t.Fatalf("a stale expected version must fail with stale_version, got %v", err)
	}
	if _, err := transition(booking.NewCompleteBooking, nil); !isCode(err, domain.CodeInvalidTransition) {
		t.Fatalf("completing an unpaid booking must fail with invalid_transition, got %v", err)
	}
	v := b.Version
	paid, err := transition(booking.NewConfirmBooking, &v)
	if err != nil || paid.Status != booking.StatusPaid || paid.Version != v+1 {
		t.Fatalf("confirm: %+v, %v", paid, err)
	}
	done, err := transition(booking.NewCompleteBooking, nil)
	if err != nil || done.Status != booking.StatusComplete {
		t.Fatalf("complete: %+v, %v", done, err)
	}
	if _, err := transition(booking.NewCancelBooking, nil); !isCode(err, domain.CodeInvalidTransition) {
		t.Fatalf("a complete booking is final, got %v", err)
	}
}

func TestCancelFreesDates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	b, _, err := f.book("", future(3), future(6))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := command.NewMeta("", f.sc.ActorID, nil, time.Now())
	cmd, _ := booking.NewCancelBooking(m, b.ID, booking.TransitionInput{Reason: ptr("guest changed plans")})
	if _, _, err := f.env.Service.TransitionBooking(context.Background(), f.sc, cmd); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.book("", future(4), future(5)); err != nil {
		t.Fatalf("cancelled dates must be bookable again: %v", err)
	}
}

func TestFailedCommandEmitsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, _, err := f.book("", future(3), future(6)); err != nil {
		t.Fatal(err)
	}
	before := f.env.Superuser.Int(t, "SELECT count(*) FROM events")
	if _, _, err := f.book("", future(4), future(5)); !isCode(err, domain.CodeBookingConflict) {
		t.Fatalf("want a conflict, got %v", err)
	}
	if after := f.env.Superuser.Int(t, "SELECT count(*) FROM events"); after != before {
		t.Fatalf("a rejected command must write no event: %d before, %d after", before, after)
	}
}

func isCode(err error, code string) bool {
	de, ok := domain.AsError(err)
	return ok && de.Code == code
}

func TestConcurrentOrganisationCreationWithOneKey(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	const n = 10
	ids := make([]uuid.UUID, n)
	replays := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := command.NewMeta("create-acme", uuid.Nil, nil, time.Now())
			if err != nil {
				errs[i] = err
				return
			}
			cmd, err := tenancy.NewCreateOrganisation(m, tenancy.CreateOrganisationInput{Slug: "acme", Name: "Acme"})
			if err != nil {
				errs[i] = err
				return
			}
			out, rc, err := env.Service.CreateOrganisation(context.Background(), cmd)
			ids[i], replays[i], errs[i] = out.ID, rc.Replayed, err
		}()
	}
	wg.Wait()
	firsts := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("every request with the key must get the organisation, got %v", errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("every answer must name the same organisation: %v", ids)
		}
		if !replays[i] {
			firsts++
		}
	}
	if firsts != 1 {
		t.Fatalf("exactly one request must create the organisation, %d did", firsts)
	}
}
