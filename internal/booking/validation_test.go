package booking_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/booking"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
)

func meta(t *testing.T) command.Meta {
	t.Helper()
	m, err := command.NewMeta("", uuid.Nil, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fieldsOf(err error) map[string]string {
	out := map[string]string{}
	if de, ok := domain.AsError(err); ok {
		for _, f := range de.Fields {
			out[f.Field] = f.Code
		}
	}
	return out
}

func TestNewCreateBookingReportsFieldPaths(t *testing.T) {
	t.Parallel()
	item := uuid.Must(uuid.NewV7()).String()
	cases := []struct {
		name  string
		in    booking.CreateBookingInput
		field string
		code  string
	}{
		{"no items", booking.CreateBookingInput{Guest: booking.GuestInput{Name: "A", Email: "a@example.com"}}, "items", "required"},
		{"bad email", booking.CreateBookingInput{Guest: booking.GuestInput{Name: "A", Email: "not-an-email"},
			Items: []booking.LineInput{{ItemID: item, CheckIn: "2030-01-01", CheckOut: "2030-01-02"}}}, "guest.email", "invalid"},
		{"check_out before check_in", booking.CreateBookingInput{Guest: booking.GuestInput{Name: "A", Email: "a@example.com"},
			Items: []booking.LineInput{{ItemID: item, CheckIn: "2030-01-05", CheckOut: "2030-01-02"}}}, "items[0].check_out", "before_check_in"},
		{"same day", booking.CreateBookingInput{Guest: booking.GuestInput{Name: "A", Email: "a@example.com"},
			Items: []booking.LineInput{{ItemID: item, CheckIn: "2030-01-05", CheckOut: "2030-01-05"}}}, "items[0].check_out", "before_check_in"},
		{"too long", booking.CreateBookingInput{Guest: booking.GuestInput{Name: "A", Email: "a@example.com"},
			Items: []booking.LineInput{{ItemID: item, CheckIn: "2030-01-01", CheckOut: "2031-01-02"}}}, "items[0].check_out", "too_long"},
		{"malformed date", booking.CreateBookingInput{Guest: booking.GuestInput{Name: "A", Email: "a@example.com"},
			Items: []booking.LineInput{{ItemID: item, CheckIn: "2030-02-30", CheckOut: "2030-03-02"}}}, "items[0].check_in", "invalid"},
		{"year 0000", booking.CreateBookingInput{Guest: booking.GuestInput{Name: "A", Email: "a@example.com"},
			Items: []booking.LineInput{{ItemID: item, CheckIn: "0000-01-01", CheckOut: "2030-03-02"}}}, "items[0].check_in", "invalid"},
		{"bad item id", booking.CreateBookingInput{Guest: booking.GuestInput{Name: "A", Email: "a@example.com"},
			Items: []booking.LineInput{{ItemID: "1; DROP TABLE items", CheckIn: "2030-01-01", CheckOut: "2030-01-02"}}}, "items[0].item_id", "invalid"},
		{"negative addon quantity", booking.CreateBookingInput{Guest: booking.GuestInput{Name: "A", Email: "a@example.com"},
			Items: []booking.LineInput{{ItemID: item, CheckIn: "2030-01-01", CheckOut: "2030-01-02",
				Addons: []booking.AddonLineInput{{AddonID: item, Quantity: ptr(int32(-1))}}}}}, "items[0].addons[0].quantity", "out_of_range"},
		{"self overlap", booking.CreateBookingInput{Guest: booking.GuestInput{Name: "A", Email: "a@example.com"},
			Items: []booking.LineInput{{ItemID: item, CheckIn: "2030-01-01", CheckOut: "2030-01-05"},
				{ItemID: item, CheckIn: "2030-01-04", CheckOut: "2030-01-06"}}}, "items[1]", "overlap"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := booking.NewCreateBooking(meta(t), tc.in)
			if !domain.IsKind(err, domain.KindInvalid) {
				t.Fatalf("want a validation error, got %v", err)
			}
			if got := fieldsOf(err)[tc.field]; got != tc.code {
				t.Fatalf("want %s=%s among the field errors, got %v", tc.field, tc.code, fieldsOf(err))
			}
		})
	}
}

func TestBackToBackLinesAreValid(t *testing.T) {
	t.Parallel()
	item := uuid.Must(uuid.NewV7()).String()
	_, err := booking.NewCreateBooking(meta(t), booking.CreateBookingInput{Guest: booking.GuestInput{Name: "A", Email: "a@example.com"},
		Items: []booking.LineInput{{ItemID: item, CheckIn: "2030-01-01", CheckOut: "2030-01-03"}, {ItemID: item, CheckIn: "2030-01-03", CheckOut: "2030-01-04"}}})
	if err != nil {
		t.Fatalf("a stay starting on the previous one's check-out day must be valid: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	all := []string{booking.StatusUnpaid, booking.StatusPaid, booking.StatusCancelled, booking.StatusExpired, booking.StatusComplete}
	allowed := map[[2]string]bool{
		{booking.StatusUnpaid, booking.StatusPaid}: true, {booking.StatusUnpaid, booking.StatusCancelled}: true,
		{booking.StatusUnpaid, booking.StatusExpired}: true, {booking.StatusPaid, booking.StatusComplete}: true,
		{booking.StatusPaid, booking.StatusCancelled}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := booking.CanTransition(from, to); got != allowed[[2]string{from, to}] {
				t.Errorf("%s → %s: allowed=%v, want %v", from, to, got, allowed[[2]string{from, to}])
			}
		}
	}
}

func TestNewMetaRejectsUnprintableKeys(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"has space", "tab\there", strings.Repeat("k", 256), "ünïcode"} {
		if _, err := command.NewMeta(key, uuid.Nil, nil, time.Now()); !domain.IsKind(err, domain.KindInvalid) {
			t.Errorf("key %q must be rejected, got %v", key, err)
		}
	}
	m, err := command.NewMeta("", uuid.Nil, nil, time.Now())
	if err != nil || m.ID == "" {
		t.Fatalf("an absent key must be generated, got %q, %v", m.ID, err)
	}
}

func TestNewPage(t *testing.T) {
	t.Parallel()
	if p, err := domain.NewPage(0, ""); err != nil || p.Limit != domain.DefaultLimit {
		t.Fatalf("default page: %+v, %v", p, err)
	}
	for _, l := range []int{-1, 101} {
		if _, err := domain.NewPage(l, ""); !domain.IsKind(err, domain.KindInvalid) {
			t.Errorf("limit %d must be rejected", l)
		}
	}
	for _, c := range []string{"x", "!!!!", "AAAA"} {
		if _, err := domain.NewPage(10, c); !domain.IsKind(err, domain.KindInvalid) {
			t.Errorf("tampered cursor %q must be rejected", c)
		}
	}
}

func TestNewCreateOrganisationDefaultsAndChecks(t *testing.T) {
	t.Parallel()
	cmd, err := tenancy.NewCreateOrganisation(meta(t), tenancy.CreateOrganisationInput{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Currency != "EUR" || cmd.Timezone != "UTC" || cmd.HoldMinutes != 30 {
		t.Fatalf("defaults must be EUR, UTC, 30 minutes: %+v", cmd)
	}
	bad := tenancy.CreateOrganisationInput{Slug: "Not A Slug", Name: "", Currency: ptr("eur"), Timezone: ptr("Mars/Olympus"), HoldMinutes: ptr(int32(0))}
	_, err = tenancy.NewCreateOrganisation(meta(t), bad)
	got := fieldsOf(err)
	for _, f := range []string{"slug", "name", "currency", "timezone", "hold_minutes"} {
		if got[f] == "" {
			t.Errorf("%s must be reported, got %v", f, got)
		}
	}
	if _, err := tenancy.NewCreateOrganisation(meta(t), tenancy.CreateOrganisationInput{Slug: "acme", Name: "A", Currency: ptr("XXY")}); err == nil {
		t.Error("XXY is not an ISO 4217 currency")
	}
}

func ptr[T any](v T) *T { return &v }
