package catalogue

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/vacancy-dev/vacancy/internal/domain"
)

// PriceSettings are the parts of an item's price list that do not depend on the
// date (rate rules, in internal/rates, set prices and stay rules by date): who
// the nightly price is for, what each further guest costs, length-of-stay
// discounts, and how early and how far ahead a stay may be booked.
type PriceSettings struct {
	// BaseGuests are the guests per unit the nightly price covers; each further
	// guest costs ExtraGuestPrice a night.
	BaseGuests      int32 `json:"base_guests"`
	ExtraGuestPrice int64 `json:"extra_guest_price"`
	// MinLeadHours: no arrival sooner than this many hours from now, the arrival
	// being 00:00 of check_in in the item's time zone (0: from today on).
	MinLeadHours int32 `json:"min_lead_hours"`
	// MaxAdvanceDays: no arrival later than this many days after today (nil: no limit).
	MaxAdvanceDays *int32 `json:"max_advance_days"`
	// Discounts by length of stay, by min_nights; the highest percent whose
	// min_nights the stay reaches applies to the room amount.
	Discounts []Discount `json:"discounts"`
}

// Discount takes Percent off the room amount of stays of MinNights or more.
type Discount struct {
	MinNights int32          `json:"min_nights"`
	Percent   domain.Percent `json:"percent"`
}

// Bounds of the price settings.
const (
	MaxLeadHours   = 8784 // 366 days
	MaxAdvanceDays = 1096 // three years
	maxDiscounts   = 10
)

// PriceSettingsInput is the price settings part of an item's create or PATCH
// body; absent fields stay as they are (and are left out of the command's
// record), max_advance_days: null removes the limit.
type PriceSettingsInput struct {
	BaseGuests      *int32           `json:"base_guests,omitempty"`
	ExtraGuestPrice *int64           `json:"extra_guest_price,omitempty"`
	MinLeadHours    *int32           `json:"min_lead_hours,omitempty"`
	MaxAdvanceDays  NullableInt      `json:"max_advance_days,omitzero"`
	Discounts       *[]DiscountInput `json:"discounts,omitempty"`
}

// DiscountInput is one discount as clients send it; percent is read exactly
// (at most two decimals).
type DiscountInput struct {
	MinNights *int32       `json:"min_nights"`
	Percent   *json.Number `json:"percent"`
}

// NullableInt is an integer field that a PATCH can also clear: absent (Set is
// false), null (Set, Value nil) or a number.
type NullableInt struct {
	Set   bool
	Value *int32
}

func (n *NullableInt) UnmarshalJSON(b []byte) error {
	n.Set, n.Value = true, nil
	if string(b) == "null" {
		return nil
	}
	var v int32
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n.Value = &v
	return nil
}

func (n NullableInt) MarshalJSON() ([]byte, error) { return json.Marshal(n.Value) }

// IsZero reports an absent field, which omitzero leaves out of the command's record.
func (n NullableInt) IsZero() bool { return !n.Set }

// check overlays in on s for an item of capacity guests, adding what is wrong to p.
func (s PriceSettings) check(p *domain.Problems, in PriceSettingsInput, capacity int32) PriceSettings {
	if in.BaseGuests != nil {
		s.BaseGuests = *in.BaseGuests
	}
	if s.BaseGuests < 1 || s.BaseGuests > capacity {
		p.Add("base_guests", "out_of_range", "base_guests must be between 1 and the capacity (%d)", capacity)
	}
	if in.ExtraGuestPrice != nil {
		if s.ExtraGuestPrice = *in.ExtraGuestPrice; s.ExtraGuestPrice < 0 || s.ExtraGuestPrice > MaxPrice {
			p.Add("extra_guest_price", "out_of_range", "extra_guest_price must be between 0 and %d minor units", int64(MaxPrice))
		}
	}
	if in.MinLeadHours != nil {
		if s.MinLeadHours = *in.MinLeadHours; s.MinLeadHours < 0 || s.MinLeadHours > MaxLeadHours {
			p.Add("min_lead_hours", "out_of_range", "min_lead_hours must be between 0 and %d", MaxLeadHours)
		}
	}
	if in.MaxAdvanceDays.Set {
		if s.MaxAdvanceDays = in.MaxAdvanceDays.Value; s.MaxAdvanceDays != nil && (*s.MaxAdvanceDays < 0 || *s.MaxAdvanceDays > MaxAdvanceDays) {
			p.Add("max_advance_days", "out_of_range", "max_advance_days must be between 0 and %d, or null for no limit", MaxAdvanceDays)
		}
	}
	if in.Discounts != nil {
		s.Discounts = parseDiscounts(p, *in.Discounts)
	}
	if s.Discounts == nil {
		s.Discounts = []Discount{}
	}
	return s
}

func parseDiscounts(p *domain.Problems, in []DiscountInput) []Discount {
	if len(in) > maxDiscounts {
		p.Add("discounts", "too_many", "at most %d discounts", maxDiscounts)
		return nil
	}
	out := make([]Discount, 0, len(in))
	for i, d := range in {
		f := fmt.Sprintf("discounts[%d]", i)
		var v Discount
		if d.MinNights == nil {
			p.Add(f+".min_nights", "required", "min_nights is required")
		} else if v.MinNights = *d.MinNights; v.MinNights < 1 || v.MinNights > MaxNights {
			p.Add(f+".min_nights", "out_of_range", "min_nights must be between 1 and %d", MaxNights)
		} else if slices.ContainsFunc(out, func(o Discount) bool { return o.MinNights == v.MinNights }) {
			p.Add(f+".min_nights", "duplicate", "one discount per min_nights")
		}
		v.Percent = domain.CheckPercent(p, f+".percent", d.Percent)
		out = append(out, v)
	}
	slices.SortStableFunc(out, func(a, b Discount) int { return int(a.MinNights - b.MinNights) })
	return out
}

func discountsJSON(ds []Discount) []byte {
	if ds == nil {
		ds = []Discount{}
	}
	b, _ := json.Marshal(ds) // plain structs of numbers: cannot fail
	return b
}

// settingsFromRow reads an item row's price settings. The discounts column is
// only ever written by discountsJSON.
func settingsFromRow(baseGuests int32, extraGuestPrice int64, minLeadHours int32, maxAdvanceDays *int32, discounts []byte) PriceSettings {
	s := PriceSettings{BaseGuests: baseGuests, ExtraGuestPrice: extraGuestPrice, MinLeadHours: minLeadHours,
		MaxAdvanceDays: maxAdvanceDays, Discounts: []Discount{}}
	_ = json.Unmarshal(discounts, &s.Discounts)
	return s
}
