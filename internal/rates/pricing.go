package rates

import (
	"math/bits"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/catalogue"
	"github.com/vacancy-dev/vacancy/internal/domain"
)

// Night is one night of a stay at its effective price per unit, and the rule
// that set that price (nil: the item's own nightly_price).
type Night struct {
	Date   domain.Date `json:"date"`
	Price  int64       `json:"price"`
	RuleID *uuid.UUID  `json:"rule_id"`
}

// ChargeLine is a tax or a fee as one stay pays it. An inclusive one is already
// in the stay's other amounts and is not added to its total.
type ChargeLine struct {
	ChargeID  uuid.UUID `json:"charge_id"`
	Name      string    `json:"name"`
	Amount    int64     `json:"amount"`
	Inclusive bool      `json:"inclusive"`
}

// Stay is what a stay's price depends on, once its nights are priced.
type Stay struct {
	ItemID uuid.UUID
	Nights int32
	// NightsTotal is the sum of the nights' prices, for one unit.
	NightsTotal int64
	Quantity    int32
	// Guests per unit.
	Guests      int32
	Settings    catalogue.PriceSettings
	AddonsTotal int64
	// Charges are the organisation's charges; those that apply to ItemID count,
	// fees before taxes whatever their order here.
	Charges []Charge
}

// Price is a stay's price breakdown. Total is RoomTotal + ExtraGuestsTotal -
// Discount + AddonsTotal + every exclusive fee and tax, exactly.
type Price struct {
	RoomTotal        int64
	ExtraGuestsTotal int64
	Discount         int64
	AddonsTotal      int64
	Fees             []ChargeLine
	Taxes            []ChargeLine
	Total            int64
}

// MaxAmount bounds every amount of a price (a thousand units at the highest
// nightly price for 365 nights stay well below it); a stay priced above it is
// refused rather than overflowing.
const MaxAmount = 100_000_000_000_000_000

// PriceStay prices a stay, line by line, in this order:
//
//  1. RoomTotal: the nights' prices × quantity;
//  2. ExtraGuestsTotal: extra_guest_price × (guests - base_guests) × nights × quantity;
//  3. Discount: the length-of-stay discount's percent of 1 + 2;
//  4. the goods: 1 + 2 - 3 + the add-ons;
//  5. each fee: a percent of the goods, or an amount × quantity (× nights for
//     per night, × guests × nights for per guest_night);
//  6. each tax: likewise, a percent being taken of the goods plus the exclusive
//     taxable fees.
//
// An inclusive percent charge is the part of its base it already makes up
// (base × p / (100 + p)); an inclusive amount is shown as it is. Every percent
// is rounded once, per line, halves up (domain.PercentOf). ok is false when an
// amount would exceed MaxAmount.
func PriceStay(s Stay) (p Price, ok bool) {
	var a checked
	q, n := int64(s.Quantity), int64(s.Nights)
	p = Price{RoomTotal: a.mul(s.NightsTotal, q), AddonsTotal: s.AddonsTotal, Fees: []ChargeLine{}, Taxes: []ChargeLine{}}
	if extra := int64(s.Guests - s.Settings.BaseGuests); extra > 0 {
		p.ExtraGuestsTotal = a.mul(s.Settings.ExtraGuestPrice, extra, n, q)
	}
	p.Discount = domain.PercentOf(a.add(p.RoomTotal, p.ExtraGuestsTotal), DiscountFor(s.Settings, s.Nights))
	goods := a.add(p.RoomTotal, p.ExtraGuestsTotal, -p.Discount, p.AddonsTotal)
	taxBase, added := goods, int64(0)
	amount := func(c Charge, base int64) int64 {
		switch {
		case c.Percent != nil && c.Inclusive:
			return domain.IncludedIn(base, *c.Percent)
		case c.Percent != nil:
			return domain.PercentOf(base, *c.Percent)
		case c.Per == PerNight:
			return a.mul(*c.Amount, n, q)
		case c.Per == PerGuestNight:
			return a.mul(*c.Amount, int64(s.Guests), n, q)
		}
		return a.mul(*c.Amount, q)
	}
	for _, kind := range []string{KindFee, KindTax} {
		for _, c := range s.Charges {
			if c.Kind != kind || !c.AppliesTo(s.ItemID) {
				continue
			}
			base := goods
			if kind == KindTax {
				base = taxBase
			}
			amt := amount(c, base)
			line := ChargeLine{ChargeID: c.ID, Name: c.Name, Amount: amt, Inclusive: c.Inclusive}
			if kind == KindFee {
				p.Fees = append(p.Fees, line)
			} else {
				p.Taxes = append(p.Taxes, line)
			}
			if !c.Inclusive {
				added = a.add(added, amt)
				if c.Taxable {
					taxBase = a.add(taxBase, amt)
				}
			}
		}
	}
	p.Total = a.add(goods, added)
	return p, !a.over
}

// DiscountFor is the length-of-stay discount of a stay of nights: the highest
// percent whose min_nights it reaches (0 when none does).
func DiscountFor(s catalogue.PriceSettings, nights int32) domain.Percent {
	var best domain.Percent
	for _, d := range s.Discounts {
		if nights >= d.MinNights && d.Percent > best {
			best = d.Percent
		}
	}
	return best
}

// checked is arithmetic on amounts in [0, MaxAmount] that notes when a result
// leaves that range instead of wrapping.
type checked struct{ over bool }

func (c *checked) mul(xs ...int64) int64 {
	r := uint64(1)
	for _, x := range xs {
		hi, lo := bits.Mul64(r, uint64(max(x, 0)))
		if hi != 0 || lo > MaxAmount {
			c.over = true
			return 0
		}
		r = lo
	}
	return int64(r)
}

func (c *checked) add(xs ...int64) int64 {
	var r int64
	for _, x := range xs {
		r += x // each term is at most MaxAmount, far from overflowing int64
		if r > MaxAmount {
			c.over = true
			return 0
		}
	}
	return r
}
