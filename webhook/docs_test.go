package webhook_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsShowExampleVerify keeps the receiver's snippet in
// docs/events-and-webhooks.md identical to ExampleVerify, which go test runs:
// the docs can only show code that compiles and works.
func TestDocsShowExampleVerify(t *testing.T) {
	t.Parallel()
	want := exampleBody(t, "example_test.go", "ExampleVerify")
	doc, err := os.ReadFile(filepath.Join("..", "docs", "events-and-webhooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- ExampleVerify: begin -->\n", "<!-- ExampleVerify: end -->"
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("docs/events-and-webhooks.md must hold the snippet between %q and %q", begin, end)
	}
	got := s[i+len(begin) : j]
	if fenced := "```go\n" + want + "```\n"; got != fenced {
		t.Fatalf("docs/events-and-webhooks.md's snippet differs from ExampleVerify; put this between the markers:\n%s", fenced)
	}
}

// exampleBody is the body of the named function in file as the docs show it:
// one tab of indentation less, without the // Output: comment and what follows.
func exampleBody(t *testing.T, file, name string) string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != name {
			continue
		}
		body := string(src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset])
		if k := strings.Index(body, "\t// Output:"); k >= 0 {
			body = body[:k]
		}
		var b strings.Builder
		for line := range strings.Lines(strings.TrimLeft(body, "\n")) {
			b.WriteString(strings.TrimPrefix(line, "\t"))
		}
		return b.String()
	}
	t.Fatalf("%s has no func %s", file, name)
	return ""
}
