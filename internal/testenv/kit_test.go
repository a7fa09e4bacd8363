package testenv_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOneTestSupportKit keeps the test-support kit the only way tests reach a
// database as its superuser (pgtest.Superuser, testenv.Env.Superuser) and send
// HTTP requests (apitest.Client): a test that opens its own connection or
// builds its own request is a second helper in the making. httptest's request
// recorders stay allowed: they call a handler, not a server.
func TestOneTestSupportKit(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	rules := []struct {
		pkg, owner string   // the package whose use is reserved, and its owner
		names      []string // its reserved identifiers
		instead    string
	}{
		{"pgx", "internal/pgtest", []string{"Connect", "ConnectConfig"}, "pgtest.Superuser (or testenv.Env.Superuser) and its Conn"},
		{"http", "internal/apitest", []string{"NewRequest", "NewRequestWithContext", "Get", "Head", "Post", "PostForm", "DefaultClient"},
			"apitest.Client (Send, Unchecked, Using)"},
	}
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "bin" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			id, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			for _, r := range rules {
				if id.Name == r.pkg && slices.Contains(r.names, sel.Sel.Name) && !strings.HasPrefix(filepath.ToSlash(rel), r.owner+"/") {
					t.Errorf("%s uses %s.%s: tests use %s", fset.Position(sel.Pos()), r.pkg, sel.Sel.Name, r.instead)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d test files found under %s: the walk is broken", checked, root)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
