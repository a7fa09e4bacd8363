package rates

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/domain"
)

func pct(p domain.Percent) *domain.Percent { return &p }
func amt(a int64) *int64                   { return &a }

// TestPriceStay pins the order of a line's arithmetic on hand-computed cases
// (the HTTP tests in internal/httpapi price the same through the database).
func TestPriceStay(t *testing.T) {
	item, other := uuid.New(), uuid.New()
	base := Stay{ItemID: item, Nights: 3, NightsTotal: 30000, Quantity: 1, Guests: 1,
		Settings: catalogue.PriceSettings{BaseGuests: 1}}
	with := func(f func(*Stay)) Stay { s := base; f(&s); return s }
	cases := []struct {
		name  string
		stay  Stay
		fees  []int64
		taxes []int64
		want  Price
	}{
		{name: "nights only", stay: base, want: Price{RoomTotal: 30000, Total: 30000}},
		{name: "two units, two extra guests each", stay: with(func(s *Stay) {
			s.Quantity, s.Guests, s.Settings.ExtraGuestPrice = 2, 3, 1000
		}), want: Price{RoomTotal: 60000, ExtraGuestsTotal: 12000, Total: 72000}}, // 1000 × 2 × 3 nights × 2 units
		{name: "the highest discount that applies", stay: with(func(s *Stay) {
			s.Settings.Discounts = []catalogue.Discount{{MinNights: 2, Percent: 500}, {MinNights: 3, Percent: 1000}, {MinNights: 7, Percent: 2000}}
		}), want: Price{RoomTotal: 30000, Discount: 3000, Total: 27000}},
		{name: "a charge of another item does not apply", stay: with(func(s *Stay) {
			s.Charges = []Charge{{ID: uuid.New(), Kind: KindFee, Amount: amt(500), Per: PerStay, ItemIDs: []uuid.UUID{other}}}
		}), want: Price{RoomTotal: 30000, Total: 30000}},
		{name: "fees before taxes whatever the order; a taxable fee is taxed", stay: with(func(s *Stay) {
			s.AddonsTotal = 2000
			s.Charges = []Charge{
				{ID: uuid.New(), Kind: KindTax, Percent: pct(1000), Per: PerStay},
				{ID: uuid.New(), Kind: KindFee, Amount: amt(4000), Per: PerStay, Taxable: true},
				{ID: uuid.New(), Kind: KindFee, Amount: amt(100), Per: PerNight},
			}
		}), fees: []int64{4000, 300}, taxes: []int64{3600}, // 10 % of 30000 + 2000 + 4000
			want: Price{RoomTotal: 30000, AddonsTotal: 2000, Total: 30000 + 2000 + 4000 + 300 + 3600}},
		{name: "inclusive charges are shown, not added", stay: with(func(s *Stay) {
			s.Guests = 2
			s.Charges = []Charge{
				{ID: uuid.New(), Kind: KindTax, Percent: pct(2000), Per: PerStay, Inclusive: true},
				{ID: uuid.New(), Kind: KindTax, Amount: amt(150), Per: PerGuestNight, Inclusive: true},
			}
		}), taxes: []int64{5000, 900}, // 30000 × 20 / 120; 150 × 2 × 3
			want: Price{RoomTotal: 30000, Total: 30000}},
		{name: "a percent fee is taken of the goods after the discount", stay: with(func(s *Stay) {
			s.Settings.Discounts = []catalogue.Discount{{MinNights: 1, Percent: 5000}}
			s.Charges = []Charge{{ID: uuid.New(), Kind: KindFee, Percent: pct(1000), Per: PerStay}}
		}), fees: []int64{1500}, want: Price{RoomTotal: 30000, Discount: 15000, Total: 16500}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := PriceStay(tc.stay)
			if !ok {
				t.Fatal("must not overflow")
			}
			var fees, taxes []int64
			for _, f := range got.Fees {
				fees = append(fees, f.Amount)
			}
			for _, x := range got.Taxes {
				taxes = append(taxes, x.Amount)
			}
			got.Fees, got.Taxes = nil, nil
			if fmt.Sprint(got, fees, taxes) != fmt.Sprint(tc.want, tc.fees, tc.taxes) {
				t.Errorf("got %+v fees %v taxes %v, want %+v fees %v taxes %v", got, fees, taxes, tc.want, tc.fees, tc.taxes)
			}
		})
	}
	t.Run("an absurd stay is refused, not wrapped", func(t *testing.T) {
		s := with(func(s *Stay) {
			s.Nights, s.Quantity, s.Guests = 365, 1000, 10000
			s.Settings.ExtraGuestPrice = catalogue.MaxPrice
		})
		if _, ok := PriceStay(s); ok {
			t.Fatal("an extra-guest amount beyond MaxAmount must be refused")
		}
	})
}

// TestRuleValidation covers what a rule's constructor refuses without the database.
func TestRuleValidation(t *testing.T) {
	price := int64(100)
	for _, tc := range []struct {
		body  string
		field string
		code  string
	}{
		{`{"start":"2030-01-01","end":"2030-01-10","days":["sat","sat"],"nightly_price":1}`, "days[1]", "duplicate"},
		{`{"start":"2030-01-01","end":"2030-01-10","days":["Sat"],"nightly_price":1}`, "days[0]", "invalid"},
		{`{"start":"2030-01-01","end":"2030-01-10","days":[],"nightly_price":1}`, "days", "empty"},
		{`{"start":"2030-01-07","end":"2030-01-09","days":["sat"],"nightly_price":1}`, "days", "no_nights"}, // Monday, Tuesday
		{`{"start":"2030-01-01","end":"2030-01-10"}`, "nightly_price", "sets_nothing"},
		{`{"start":"2030-01-10","end":"2030-01-01","closed":true}`, "end", "before_start"},
		{`{"end":"2030-01-01","closed":true}`, "start", "required"},
		{`{"start":"2030-01-01","end":"2030-01-10","min_nights":4,"max_nights":3}`, "max_nights", "out_of_range"},
		{`{"start":"2030-01-01","end":"2030-01-10","nightly_price":-1}`, "nightly_price", "out_of_range"},
	} {
		var in RuleInput
		if err := json.Unmarshal([]byte(tc.body), &in); err != nil {
			t.Fatal(err)
		}
		_, err := NewCreateRule(commandMeta(), uuid.New(), in)
		e, ok := domain.AsError(err)
		found := false
		for _, f := range func() []domain.FieldError {
			if ok {
				return e.Fields
			}
			return nil
		}() {
			found = found || (f.Field == tc.field && f.Code == tc.code)
		}
		if !found {
			t.Errorf("%s: want %s %s, got %v", tc.body, tc.field, tc.code, err)
		}
	}
	var in RuleInput
	_ = json.Unmarshal([]byte(`{"start":"2030-01-01","end":"2030-01-10","days":["sun","fri"],"nightly_price":100}`), &in)
	cmd, err := NewCreateRule(commandMeta(), uuid.New(), in)
	if err != nil || fmt.Sprint(cmd.Rule.Days) != "[5 7]" || *cmd.Rule.NightlyPrice != price {
		t.Fatalf("a good rule: %+v, %v", cmd.Rule, err)
	}
}

func commandMeta() command.Meta { return command.Meta{ID: "test"} }
