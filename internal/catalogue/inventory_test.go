package catalogue

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/domain"
)

func TestNewCreateItemUnits(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 101)
	for _, c := range []struct {
		name  string
		units string // the JSON of "units"; empty: absent
		want  []string
		field string // the field error expected instead
		code  string
	}{
		{name: "absent: one unit", want: []string{"1"}},
		{name: "null: one unit", units: `null`, want: []string{"1"}},
		{name: "a count", units: `3`, want: []string{"1", "2", "3"}},
		{name: "the most", units: `1000`},
		{name: "names, trimmed", units: `[{"name": "101"}, {"name": " Attic "}]`, want: []string{"101", "Attic"}},
		{name: "a 100-character name", units: `[{"name": "` + strings.Repeat("é", 100) + `"}]`, want: []string{strings.Repeat("é", 100)}},
		{name: "zero", units: `0`, field: "units", code: "out_of_range"},
		{name: "too many", units: `1001`, field: "units", code: "out_of_range"},
		{name: "beyond int64", units: `1e400`, field: "units", code: "invalid"},
		{name: "huge", units: `123456789012345678901234567890`, field: "units", code: "out_of_range"},
		{name: "a fraction", units: `2.5`, field: "units", code: "invalid"},
		{name: "a string", units: `"2"`, field: "units", code: "invalid"},
		{name: "a boolean", units: `true`, field: "units", code: "invalid"},
		{name: "an empty list", units: `[]`, field: "units", code: "out_of_range"},
		{name: "a list of numbers", units: `[1, 2]`, field: "units[0]", code: "invalid"},
		{name: "a null unit", units: `[null]`, field: "units[0]", code: "invalid"},
		{name: "an unknown field", units: `[{"name": "1", "floor": 2}]`, field: "units[0]", code: "invalid"},
		{name: "a name that is not text", units: `[{"name": 1}]`, field: "units[0]", code: "invalid"},
		{name: "no name", units: `[{}]`, field: "units[0].name", code: "required"},
		{name: "a blank name", units: `[{"name": "  "}]`, field: "units[0].name", code: "required"},
		{name: "a long name", units: `[{"name": "` + long + `"}]`, field: "units[0].name", code: "length"},
		{name: "a NUL", units: `[{"name": "a\u0000b"}]`, field: "units[0].name", code: "invalid"},
		{name: "duplicates after trimming", units: `[{"name": "1"}, {"name": "2"}, {"name": " 1"}]`, field: "units[2].name", code: "duplicate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := `{"name": "Room", "capacity": 2, "nightly_price": 100`
			if c.units != "" {
				body += `, "units": ` + c.units
			}
			var in ItemInput
			if err := json.Unmarshal([]byte(body+"}"), &in); err != nil {
				t.Fatalf("units must always decode (and fail validation instead): %v", err)
			}
			cmd, err := NewCreateItem(command.Meta{}, in)
			if c.field != "" {
				e, _ := domain.AsError(err)
				if domain.CheckValidation(err) != nil || !slices.ContainsFunc(e.Fields, func(f domain.FieldError) bool {
					return f.Field == c.field && f.Code == c.code
				}) {
					t.Fatalf("want field error %s %s, got %v", c.field, c.code, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("valid units refused: %v", err)
			}
			if c.want != nil && !slices.Equal(cmd.UnitNames, c.want) {
				t.Errorf("unit names %v, want %v", cmd.UnitNames, c.want)
			}
			if c.want == nil && len(cmd.UnitNames) != MaxUnits {
				t.Errorf("%d units, want %d", len(cmd.UnitNames), MaxUnits)
			}
		})
	}
}

func TestItemPropertyIDIsAbsentNullOrSet(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{}`:                    `{"name":null,"description":null,"capacity":null,"nightly_price":null,"min_nights":null,"max_nights":null,"status":null}`,
		`{"property_id": null}`: `{"name":null,"description":null,"capacity":null,"nightly_price":null,"min_nights":null,"max_nights":null,"status":null,"property_id":null}`,
		`{"property_id": "0193a2b4-0000-7000-8000-000000000001"}`: `{"name":null,"description":null,"capacity":null,"nightly_price":null,"min_nights":null,"max_nights":null,"status":null,"property_id":"0193a2b4-0000-7000-8000-000000000001"}`,
	} {
		var in ItemInput
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatal(err)
		}
		// The command record (its fingerprint) must tell the three apart.
		got, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s records as %s, want %s", body, got, want)
		}
	}
}

func TestPropertyValidation(t *testing.T) {
	t.Parallel()
	for code, ok := range map[string]bool{
		"FR": true, "IE": true, "US": true, "GB": true, "AQ": true, "XK": true,
		"fr": false, "F": false, "FRA": false, "250": false, "": false,
		"UK": false, "FX": false, "DD": false, "ZR": false, // replaced by GB, FR, DE, CD
		"EU": false, "ZZ": false, "XX": false, "AA": false, "QO": false,
	} {
		if got := isCountryCode(code); got != ok {
			t.Errorf("isCountryCode(%q) = %v, want %v", code, got, ok)
		}
	}
	name := "Hotel"
	lines := []string{"1", "2", "3", "4", "5"}
	if _, err := NewCreateProperty(command.Meta{}, PropertyInput{Name: &name, Address: &Address{Lines: lines}}); err != nil {
		t.Errorf("five lines are allowed: %v", err)
	}
	zone := "America/Argentina/Buenos_Aires"
	cmd, err := NewCreateProperty(command.Meta{}, PropertyInput{Name: &name, Timezone: &zone})
	if err != nil || cmd.Timezone != zone || cmd.Address.Lines == nil {
		t.Errorf("a property with a zone: %+v, %v", cmd, err)
	}
}
