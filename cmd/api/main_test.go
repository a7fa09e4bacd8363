package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/vacancy-dev/vacancy/internal/app"
	"github.com/vacancy-dev/vacancy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

func TestServeNamesMissingDatabaseURL(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := app.Run(context.Background(), []string{"api", "serve"}, env(nil), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("serve without DATABASE_URL must fail with one line naming the variable, got %v", err)
	}
}

func TestServeNamesUnreachableDatabase(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := app.Run(context.Background(), []string{"api", "serve"},
		env(map[string]string{"DATABASE_URL": "postgres://nobody:x@127.0.0.1:1/none?connect_timeout=2"}), &out, &errOut)
	if err == nil || !strings.HasPrefix(err.Error(), "DATABASE_URL") {
		t.Fatalf("serve with an unreachable database must fail naming DATABASE_URL, got %v", err)
	}
}

func TestHelpAndUnknownCommand(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if err := app.Run(context.Background(), []string{"api", "help"}, env(nil), &out, &errOut); err != nil || !strings.Contains(out.String(), "api migrate up") {
		t.Fatalf("help must print usage, got %v / %q", err, out.String())
	}
	if err := app.Run(context.Background(), []string{"api", "frobnicate"}, env(nil), &out, &errOut); err == nil {
		t.Fatal("an unknown command must fail")
	}
}

func TestMigrateAndCreateOrganisation(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t) // already migrated: up again is a no-op
	vars := env(map[string]string{"DATABASE_URL": url})
	var out, errOut bytes.Buffer
	if err := app.Run(context.Background(), []string{"api", "migrate", "up"}, vars, &out, &errOut); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	out.Reset()
	if err := app.Run(context.Background(), []string{"api", "migrate", "version"}, vars, &out, &errOut); err != nil || strings.TrimSpace(out.String()) == "0" {
		t.Fatalf("migrate version: %q, %v", out.String(), err)
	}
	out.Reset()
	err := app.Run(context.Background(), []string{"api", "orgs", "create", "--slug", "acme", "--name", "Acme Stays", "--timezone", "Europe/Amsterdam"}, vars, &out, &errOut)
	if err != nil {
		t.Fatalf("orgs create: %v", err)
	}
	var org struct {
		Slug     string `json:"slug"`
		Timezone string `json:"timezone"`
		APIKey   struct {
			Key  string `json:"key"`
			Role string `json:"role"`
		} `json:"api_key"`
	}
	if err := json.Unmarshal(out.Bytes(), &org); err != nil {
		t.Fatalf("orgs create must print JSON: %v\n%s", err, out.String())
	}
	if org.Slug != "acme" || org.Timezone != "Europe/Amsterdam" || org.APIKey.Role != "admin" || !strings.HasPrefix(org.APIKey.Key, "vac_live_") {
		t.Fatalf("unexpected organisation: %+v", org)
	}
	out.Reset()
	err = app.Run(context.Background(), []string{"api", "orgs", "create", "--slug", "acme", "--name", "Again"}, vars, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "slug") {
		t.Fatalf("a taken slug must be refused, got %v", err)
	}
}

// The production binary must not carry the test harness or the Docker SDK.
func TestBinaryLinksNoDocker(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "testcontainers") || strings.Contains(dep, "docker") || strings.HasSuffix(dep, "/internal/pgtest") {
			t.Errorf("cmd/api depends on %s", dep)
		}
	}
}
