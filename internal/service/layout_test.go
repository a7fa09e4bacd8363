package service_test

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The domain packages' dependencies point one way:
//
//	domain ← command ← {tenancy, catalogue, outbox} ; catalogue ← rates ← booking ← {calendar, testmode} ; all ← service
//
// and none of them speaks HTTP. This test reads the real import graph with
// go list, so a new import that breaks the direction fails here.
func TestDomainPackagesDependOneWay(t *testing.T) {
	const mod = "github.com/vacancy-dev/vacancy/internal/"
	forbidden := map[string][]string{
		"domain":    {"testmode", "command", "tenancy", "catalogue", "rates", "booking", "outbox", "service", "httpapi", "app", "jobs", "calendar"},
		"command":   {"testmode", "tenancy", "catalogue", "rates", "booking", "outbox", "service", "httpapi", "app", "jobs", "calendar"},
		"tenancy":   {"testmode", "catalogue", "rates", "booking", "outbox", "service", "httpapi", "app", "jobs", "calendar"},
		"catalogue": {"testmode", "tenancy", "rates", "booking", "outbox", "service", "httpapi", "app", "jobs", "calendar"},
		"rates":     {"testmode", "tenancy", "booking", "outbox", "service", "httpapi", "app", "jobs", "calendar"},
		"booking":   {"testmode", "tenancy", "outbox", "service", "httpapi", "app", "jobs", "calendar"},
		"outbox":    {"testmode", "tenancy", "catalogue", "rates", "booking", "service", "httpapi", "app", "jobs", "calendar"},
		"testmode":  {"tenancy", "outbox", "service", "httpapi", "app", "jobs", "calendar"},
		"calendar":  {"testmode", "tenancy", "outbox", "service", "httpapi", "app", "jobs"},
	}
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := map[string]bool{}
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
			Deps       []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, mod)
		bans, ok := forbidden[name]
		if !ok {
			continue
		}
		seen[name] = true
		for _, b := range bans {
			if slices.Contains(p.Deps, mod+b) {
				t.Errorf("internal/%s depends on internal/%s: domain dependencies must point one way", name, b)
			}
		}
		if slices.Contains(p.Imports, "net/http") {
			t.Errorf("internal/%s imports net/http: domain packages know nothing of HTTP", name)
		}
	}
	for name := range forbidden {
		if !seen[name] {
			t.Errorf("go list did not show internal/%s: update this test with the layout", name)
		}
	}
}
