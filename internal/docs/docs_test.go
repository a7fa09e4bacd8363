package docs_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vacancy-dev/vacancy/internal/telemetry"
)

// maxREADME is the README's budget: a newcomer's five minutes.
const maxREADME = 12_000

// root is the repository root: the nearest directory above this one with go.mod.
func root(t *testing.T) string {
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
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// pages are README.md and docs/*.md, relative to the root.
func pages(t *testing.T, root string) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, d := range docs {
		out = append(out, filepath.ToSlash(must(filepath.Rel(root, d))))
	}
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	fence      = regexp.MustCompile("^\\s*(```|~~~)")
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
	inlineLink = regexp.MustCompile(`\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$`)
	heading    = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	scheme     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// prose is a Markdown page's lines outside fenced code blocks, with their
// 1-based line numbers.
func prose(doc string) (lines []string, numbers []int) {
	in := false
	for i, l := range strings.Split(doc, "\n") {
		if fence.MatchString(l) {
			in = !in
			continue
		}
		if !in {
			lines, numbers = append(lines, l), append(numbers, i+1)
		}
	}
	return lines, numbers
}

// link is one link target written in a page.
type link struct {
	line   int
	target string
}

// links are a page's link targets, code spans and code blocks left out.
func links(doc string) []link {
	var out []link
	lines, numbers := prose(doc)
	for i, l := range lines {
		text := codeSpan.ReplaceAllString(l, "code")
		for _, m := range inlineLink.FindAllStringSubmatch(text, -1) {
			out = append(out, link{numbers[i], m[1]})
		}
		if m := refLink.FindStringSubmatch(text); m != nil {
			out = append(out, link{numbers[i], m[1]})
		}
	}
	return out
}

// anchors are the ids GitHub gives a page's headings: lower case, punctuation
// dropped, spaces as hyphens, and -1, -2... for repeats.
func anchors(doc string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	lines, _ := prose(doc)
	for _, l := range lines {
		m := heading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		title := inlineLink.ReplaceAllStringFunc(m[1], func(s string) string { return s[1:strings.Index(s, "](")] })
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteRune('-')
			}
		}
		id := b.String()
		if n := seen[id]; n > 0 {
			out[id+"-"+strconv.Itoa(n)] = true
		} else {
			out[id] = true
		}
		seen[id]++
	}
	return out
}

// TestLinks: every relative link in README.md and docs/*.md names a file or
// directory of the repository, and every #anchor a heading of the page it
// points into. Links to other sites are not fetched.
func TestLinks(t *testing.T) {
	t.Parallel()
	root := root(t)
	for _, page := range pages(t, root) {
		doc := read(t, filepath.Join(root, page))
		for _, l := range links(doc) {
			if scheme.MatchString(l.target) {
				continue
			}
			where := page + ":" + strconv.Itoa(l.line)
			path, frag, _ := strings.Cut(l.target, "#")
			path, err := url.PathUnescape(path)
			if err != nil {
				t.Errorf("%s: link %q: %v", where, l.target, err)
				continue
			}
			target := filepath.Join(root, filepath.Dir(page), filepath.FromSlash(path))
			if path == "" {
				target = filepath.Join(root, page)
			}
			if rel, err := filepath.Rel(root, target); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s: link %q leaves the repository", where, l.target)
				continue
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: link %q: no such file", where, l.target)
				continue
			}
			if frag == "" {
				continue
			}
			if !strings.HasSuffix(target, ".md") {
				t.Errorf("%s: link %q: anchors are checked only in Markdown pages; link to the file", where, l.target)
				continue
			}
			if !anchors(read(t, target))[frag] {
				t.Errorf("%s: link %q: %s has no heading with the anchor #%s", where, l.target, filepath.Base(target), frag)
			}
		}
	}
}

// TestREADMEIsAnEntryPoint: the README stays short and links every page of docs/.
func TestREADMEIsAnEntryPoint(t *testing.T) {
	t.Parallel()
	root := root(t)
	readme := read(t, filepath.Join(root, "README.md"))
	if len(readme) > maxREADME {
		t.Errorf("README.md is %d bytes, over its %d-byte budget: move detail into docs/", len(readme), maxREADME)
	}
	var linked []string
	for _, l := range links(readme) {
		path, _, _ := strings.Cut(l.target, "#")
		linked = append(linked, filepath.Clean(path))
	}
	for _, page := range pages(t, root)[1:] {
		if !slices.Contains(linked, filepath.FromSlash(page)) {
			t.Errorf("README.md must link %s", page)
		}
	}
}

// envName is what an environment variable's name looks like in Go source.
var envName = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// envLiterals are the string literals shaped like environment variable names in
// the non-test Go files under dir (recursively when deep), by name, with one
// file each for messages.
func envLiterals(t *testing.T, dir string, deep bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != dir && (!deep || strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && envName.MatchString(s) {
					out[s] = path
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// section is the part of a page under the "## title" heading, up to the next
// heading of that level or above.
func section(t *testing.T, doc, title string) string {
	t.Helper()
	start := strings.Index(doc, "\n## "+title+"\n")
	if start < 0 {
		t.Fatalf("no ## %s section", title)
	}
	rest := doc[start+len(title)+5:]
	if end := regexp.MustCompile(`\n#{1,2} `).FindStringIndex(rest); end != nil {
		rest = rest[:end[0]]
	}
	return rest
}

var (
	tableRow   = regexp.MustCompile("(?m)^\\| `([^`]+)` \\|")
	backticked = regexp.MustCompile("`([^`]+)`")
)

// TestConfigurationTable: the README's configuration table lists every
// variable internal/app reads (and mentions every OpenTelemetry variable
// internal/telemetry reads through it), and every variable in the table is
// read by some non-test code in the module.
func TestConfigurationTable(t *testing.T) {
	t.Parallel()
	root := root(t)
	conf := section(t, read(t, filepath.Join(root, "README.md")), "Configuration")
	rows := map[string]bool{}
	for _, m := range tableRow.FindAllStringSubmatch(conf, -1) {
		rows[m[1]] = true
	}
	mentioned := map[string]bool{}
	for _, m := range backticked.FindAllStringSubmatch(conf, -1) {
		mentioned[strings.SplitN(m[1], "=", 2)[0]] = true
	}
	if len(rows) == 0 {
		t.Fatal("README.md's configuration section has no table of variables")
	}
	for name, file := range envLiterals(t, filepath.Join(root, "internal", "app"), false) {
		if !rows[name] {
			t.Errorf("%s reads %s: add it to README.md's configuration table", must(filepath.Rel(root, file)), name)
		}
	}
	for name, file := range envLiterals(t, filepath.Join(root, "internal", "telemetry"), false) {
		if !mentioned[name] {
			t.Errorf("%s reads %s: mention it in README.md's configuration table", must(filepath.Rel(root, file)), name)
		}
	}
	read := envLiterals(t, root, true)
	for name := range rows {
		if _, ok := read[name]; !ok {
			t.Errorf("README.md's configuration table lists %s, which no code reads: remove it, or read it", name)
		}
	}
}

var (
	typeLine   = regexp.MustCompile(`(?m)^# TYPE (\S+) `)
	seriesName = regexp.MustCompile("`(vacancy_[a-z0-9_]+)`")
)

// TestMetricsTable: docs/operations.md's metrics table names every series
// Vacancy exports, and nothing it does not.
func TestMetricsTable(t *testing.T) {
	t.Parallel()
	root := root(t)
	m := telemetry.NewMetrics()
	// Give every series a sample, or the exposition leaves it out.
	m.ObserveRequest("/r", "GET", 200, time.Millisecond)
	m.RateLimited("key")
	m.IdempotentReplay("/r")
	m.ObserveCommand(context.Background(), "booking.create", "id", "ok", time.Millisecond)
	m.WebhookDelivery("delivered", time.Millisecond)
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none") // never connects
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := m.RegisterPool(pool); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterJobCounts(func(context.Context) ([]telemetry.JobCount, error) {
		return []telemetry.JobCount{{Queue: "default", State: "available", Count: 1}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	exported := map[string]bool{}
	for _, match := range typeLine.FindAllStringSubmatch(rec.Body.String(), -1) {
		if strings.HasPrefix(match[1], "vacancy_") {
			exported[match[1]] = true
		}
	}
	if len(exported) < 10 {
		t.Fatalf("too few vacancy_ series scraped (%d): the test no longer exercises telemetry", len(exported))
	}
	table := section(t, read(t, filepath.Join(root, "docs", "operations.md")), "Metrics")
	documented := map[string]bool{}
	for _, match := range seriesName.FindAllStringSubmatch(table, -1) {
		documented[match[1]] = true
	}
	for name := range exported {
		if !documented[name] {
			t.Errorf("%s is exported but missing from docs/operations.md's metrics table", name)
		}
	}
	for name := range documented {
		if !exported[name] {
			t.Errorf("docs/operations.md's metrics table lists %s, which is not exported", name)
		}
	}
}
