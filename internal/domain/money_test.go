package domain

import (
	"encoding/json"
	"testing"
)

func TestPercentParsesExactly(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Percent
		ok   bool
	}{
		{"10", 1000, true}, {"13.5", 1350, true}, {"7.25", 725, true}, {"0.01", 1, true}, {"100", 10000, true},
		{"-5", -500, true}, {"12.345", 0, false}, {"1e2", 0, false}, {"", 0, false}, {".5", 0, false}, {"5.", 0, false},
		{"+5", 0, false}, {"1234567", 0, false},
	} {
		got, err := ParsePercent(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParsePercent(%q) = %d, %v; want %d (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, p := range []Percent{1000, 1350, 725, 1, 10000, 0} {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back Percent
		if err := json.Unmarshal(b, &back); err != nil || back != p {
			t.Errorf("%d does not survive JSON (%s): %d, %v", p, b, back, err)
		}
	}
	if b, _ := json.Marshal(Percent(1350)); string(b) != "13.5" {
		t.Errorf("13.5 %% must marshal as 13.5, got %s", b)
	}
}

// TestRoundingRule pins the documented rule: exact, then halves up, once.
func TestRoundingRule(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want Money
	}{
		{"10 % of 5 is 0.5: rounds up to 1", PercentOf(5, 1000), 1},
		{"10 % of 15 is 1.5: rounds up to 2", PercentOf(15, 1000), 2},
		{"10 % of 14 is 1.4: rounds down to 1", PercentOf(14, 1000), 1},
		{"10 % of 16 is 1.6: rounds up to 2", PercentOf(16, 1000), 2},
		{"100 % is the whole amount", PercentOf(12345, 10000), 12345},
		{"any percent of 0 is 0", PercentOf(0, 2000), 0},
		{"13.5 % of 10000 is 1350", PercentOf(10000, 1350), 1350},
		{"20 % VAT inside 12000 is 2000", IncludedIn(12000, 2000), 2000},
		{"20 % VAT inside 3 is 0.5: rounds up to 1", IncludedIn(3, 2000), 1},
		{"no overflow near the largest stay", PercentOf(365*1000*1_000_000_000_00, 10000), 365 * 1000 * 1_000_000_000_00},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}
