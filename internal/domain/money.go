package domain

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Money is an integer number of minor units of the organisation's currency
// (cents for EUR). Every price, discount, fee, tax and total is Money; there are
// no fractions of a minor unit anywhere but inside one percentage calculation.
//
// The rounding rule, the one place it lives: an amount taken as a percentage
// (a discount, a percent fee, a percent tax, the tax contained in an inclusive
// price) is computed exactly and rounded once, per stay line, to a whole minor
// unit, halves rounded up (away from zero: every amount is positive): 10 % of 5
// is 0.5 and becomes 1, 10 % of 15 is 1.5 and becomes 2, 10 % of 14 is 1.4 and
// becomes 1. Totals are sums of such rounded amounts, so a total always equals
// the sum of the parts shown.
type Money = int64

// Percent is a percentage with at most two decimals, held exactly in hundredths
// of a percent: 13.5 % is Percent(1350). It marshals as a JSON number (13.5).
type Percent int64

// PercentScale is 100 % in hundredths of a percent.
const PercentScale = 10000

// ParsePercent reads a decimal such as "10", "13.5" or "7.25" exactly. It
// refuses more than two decimals, exponents and signs other than a leading minus.
func ParsePercent(s string) (Percent, error) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	neg := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	if whole == "" || len(whole) > 6 || strings.Trim(whole, "0123456789") != "" ||
		(hasFrac && (frac == "" || len(frac) > 2 || strings.Trim(frac, "0123456789") != "")) {
		return 0, fmt.Errorf("%q is not a percentage with at most two decimals", s)
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f := int64(0)
	if hasFrac {
		f, _ = strconv.ParseInt((frac + "0")[:2], 10, 64)
	}
	p := Percent(w*100 + f)
	if neg {
		p = -p
	}
	return p, nil
}

// String is the percentage as a decimal without trailing zeros: "13.5".
func (p Percent) String() string {
	sign := ""
	if p < 0 {
		sign, p = "-", -p
	}
	s := fmt.Sprintf("%s%d.%02d", sign, p/100, p%100)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

func (p Percent) MarshalJSON() ([]byte, error) { return []byte(p.String()), nil }

func (p *Percent) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	v, err := ParsePercent(n.String())
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// CheckPercent validates a required percentage of more than 0 and at most 100,
// with at most two decimals, read exactly from the JSON number n.
func CheckPercent(p *Problems, field string, n *json.Number) Percent {
	if n == nil {
		p.Add(field, "required", "%s is required", field)
		return 0
	}
	v, err := ParsePercent(n.String())
	switch {
	case err != nil:
		p.Add(field, "invalid", "%s must be a number with at most two decimals", field)
	case v <= 0 || v > PercentScale:
		p.Add(field, "out_of_range", "%s must be more than 0 and at most 100", field)
	}
	return v
}

// PercentOf is p of amount, rounded half up to a whole minor unit.
func PercentOf(amount Money, p Percent) Money {
	return ratio(amount, int64(p), PercentScale)
}

// IncludedIn is the part of amount that a p tax already inside it makes up:
// amount × p / (100 % + p), rounded half up. 20 % VAT included in 120.00 is 20.00.
func IncludedIn(amount Money, p Percent) Money {
	return ratio(amount, int64(p), PercentScale+int64(p))
}

// ratio is amount × num / den rounded half up, for amount ≥ 0 and 0 < den,
// computed without overflow.
func ratio(amount Money, num, den int64) Money {
	n := new(big.Int).Mul(big.NewInt(amount), big.NewInt(num))
	n.Mul(n, big.NewInt(2))
	n.Add(n, big.NewInt(den))
	n.Quo(n, big.NewInt(2*den)) // floor((2an + d) / 2d) = round half up of an/d, for an ≥ 0
	return n.Int64()
}
