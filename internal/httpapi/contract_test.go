package httpapi_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/httpapi"
)

// TestRoutesContractAndTestsListTheSameOperations holds three lists to one set:
// the routes the server answers (routes.go), the operations openapi.yaml
// describes, and the operations the role and tenant-isolation matrices exercise.
// A route added without its contract, or without end-to-end coverage, fails here.
func TestRoutesContractAndTestsListTheSameOperations(t *testing.T) {
	t.Parallel()
	routes, err := httpapi.RouteList()
	if err != nil {
		t.Fatal(err)
	}
	contract, err := apitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	tested := []string{"GET /healthz", "GET /readyz", "POST /api/v3/organisations", "GET /ical/{token}.ics", // covered by their own tests
		// Test mode only (live keys get 404): TestTestClockExpiresHolds, TestTestDataReset.
		"GET /api/v3/organisations/{org}/test-clock", "POST /api/v3/organisations/{org}/test-clock/advance",
		"POST /api/v3/organisations/{org}/test-data/reset"}
	for _, e := range endpoints() {
		tested = append(tested, e.op)
	}
	slices.Sort(routes)
	slices.Sort(tested)
	ops := contract.Operations()
	if d := diff(routes, ops); d != "" {
		t.Errorf("routes.go and openapi.yaml must list the same operations:\n%s", d)
	}
	if d := diff(ops, tested); d != "" {
		t.Errorf("every operation in openapi.yaml must be in the endpoint matrix (endpoints_test.go):\n%s", d)
	}
}

func diff(a, b []string) string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, "  only in the first: "+x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			out = append(out, "  only in the second: "+x)
		}
	}
	return strings.Join(out, "\n")
}

// TestEndToEndTestsUseOnlyTheValidatingClient keeps the contract impossible to
// bypass: this package's tests may not build their own HTTP client, server or
// recorder, or call a handler directly; every request goes through apitest.
func TestEndToEndTestsUseOnlyTheValidatingClient(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	forbiddenImports := []string{"net/http/httptest", "net/http/httputil"}
	forbiddenHTTP := []string{"Get", "Head", "Post", "PostForm", "NewRequest", "NewRequestWithContext",
		"DefaultClient", "DefaultTransport", "Client", "Transport", "Server", "ListenAndServe", "Serve"}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name.Name != "httpapi_test" {
			continue // white-box helpers (export_test.go) send no requests
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); slices.Contains(forbiddenImports, p) {
				t.Errorf("%s imports %s: end-to-end tests must reach the server through apitest", fset.Position(imp.Pos()), p)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "http" && slices.Contains(forbiddenHTTP, sel.Sel.Name) {
				t.Errorf("%s uses http.%s: end-to-end tests must send requests with apitest's client", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			if sel.Sel.Name == "ServeHTTP" || sel.Sel.Name == "NewServer" && fmtIdent(sel.X) == "httpapi" {
				t.Errorf("%s calls %s.%s: start the server with apitest.Start", fset.Position(sel.Pos()), fmtIdent(sel.X), sel.Sel.Name)
			}
			return true
		})
	}
}

func fmtIdent(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return "?"
}
