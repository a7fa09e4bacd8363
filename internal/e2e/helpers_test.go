package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// buildAPI compiles cmd/api as `make image` does: static, for goos ("" for
// this machine's).
func buildAPI(t *testing.T, dir, goos string) string {
	t.Helper()
	env := []string{"CGO_ENABLED=0"}
	if goos != "" {
		env = append(env, "GOOS="+goos)
	}
	bin, err := testenv.BuildAPI(dir, env, "-trimpath")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// fresh is the HTTP client of requests that must each open a new connection:
// a closed listener then shows at once.
var fresh = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

func item(name string) map[string]any {
	return map[string]any{"name": name, "capacity": 2, "nightly_price": 9900}
}

func stay(itemID string, inDays int) map[string]any {
	in := time.Now().UTC().AddDate(0, 0, inDays)
	return map[string]any{"item_id": itemID, "check_in": in.Format(time.DateOnly), "check_out": in.AddDate(0, 0, 3).Format(time.DateOnly)}
}
