package rates

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/domain"
)

// FuzzRuleAndCharge feeds the rule and charge constructors whatever a client
// could send. None may panic; what they refuse must be a field error (422);
// what they accept must hold the invariants the database's checks hold.
func FuzzRuleAndCharge(f *testing.F) {
	for _, s := range []string{
		`{"start":"2030-01-01","end":"2030-01-10","days":["fri","sat"],"nightly_price":15000}`,
		`{"start":"2030-01-01","end":"2030-01-02","closed":true,"min_nights":2,"max_nights":1}`,
		`{"start":"2030-01-01","end":"2030-01-10","days":["sat","sat"],"closed_to_arrival":true}`,
		`{"name":"VAT","kind":"tax","percent":13.5,"inclusive":true}`,
		`{"name":"City tax","kind":"tax","amount":250,"per":"guest_night","item_ids":["0193a2b4-0000-7000-8000-000000000001"]}`,
		`{"name":"Cleaning","kind":"fee","amount":4000,"taxable":true,"percent":null}`,
		`{"name":"x","kind":"fee","percent":1e400}`, `{}`, `[]`, `null`,
	} {
		f.Add(s)
	}
	meta := commandMeta()
	f.Fuzz(func(t *testing.T, body string) {
		var rin RuleInput
		if json.Unmarshal([]byte(body), &rin) == nil {
			cmd, err := NewCreateRule(meta, uuid.New(), rin)
			if err != nil {
				if err := domain.CheckValidation(err); err != nil {
					t.Fatal(err)
				}
			} else {
				r := cmd.Rule
				set := r.NightlyPrice != nil || r.MinNights != nil || r.MaxNights != nil || r.ClosedToArrival != nil ||
					r.ClosedToDeparture != nil || r.Closed != nil
				if !r.Start.Before(r.End) || !set || (r.NightlyPrice != nil && (*r.NightlyPrice < 0 || *r.NightlyPrice > catalogue.MaxPrice)) ||
					(r.MinNights != nil && r.MaxNights != nil && *r.MinNights > *r.MaxNights) ||
					(r.Days != nil && (len(r.Days) == 0 || !slices.IsSorted(r.Days) || r.Days[0] < 1 || r.Days[len(r.Days)-1] > 7)) {
					t.Fatalf("accepted a rule the database would refuse: %+v", r)
				}
			}
		}
		var cin ChargeInput
		if json.Unmarshal([]byte(body), &cin) == nil {
			cmd, err := NewCreateCharge(meta, cin)
			if err != nil {
				if err := domain.CheckValidation(err); err != nil {
					t.Fatal(err)
				}
				return
			}
			c := cmd.ChargeFields
			if (c.Percent == nil) == (c.Amount == nil) || (c.Percent != nil && (*c.Percent <= 0 || *c.Percent > domain.PercentScale || c.Per != PerStay)) ||
				(c.Amount != nil && *c.Amount < 0) || (c.Taxable && c.Kind != KindFee) || (c.ItemIDs != nil && len(c.ItemIDs) == 0) {
				t.Fatalf("accepted a charge the database would refuse: %+v", c)
			}
		}
	})
}
