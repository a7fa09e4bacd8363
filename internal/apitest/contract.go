// Package apitest is the test side of Vacancy's HTTP contract. It loads openapi.yaml
// (the repository's OpenAPI 3.1 document), and hands out the only HTTP client the
// end-to-end tests use: its transport validates every request it sends and every
// response it receives against the document and fails the test on any mismatch, so
// the server and its contract cannot drift apart unnoticed. It also starts the API
// on a fresh test database (Start). Test code only; it must not hold API behaviour
// or assertions about it beyond the contract itself.
package apitest

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
)

// SpecFile is the contract's path relative to the repository root.
const SpecFile = "openapi.yaml"

// Headers the server sends on every response that the contract describes in
// prose (info.description) rather than on each of its ~200 responses.
var everyResponseHeaders = []string{
	"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy",
}

// Contract is the parsed openapi.yaml with a validator over it. It is safe for
// concurrent use.
type Contract struct {
	path       string
	doc        libopenapi.Document
	validator  validator.Validator
	operations []string // "METHOD /path/template", sorted
}

var (
	loadOnce sync.Once
	loaded   *Contract
	loadErr  error
)

// Load parses the repository's openapi.yaml once per test binary.
func Load() (*Contract, error) {
	loadOnce.Do(func() {
		path, err := findSpec()
		if err != nil {
			loadErr = err
			return
		}
		loaded, loadErr = Parse(path)
	})
	return loaded, loadErr
}

// Parse builds a Contract from an OpenAPI document on disk.
//
// The validator runs with format assertions (uuid, date, date-time, email are
// checked, not just annotations) and in strict mode: a response property, query
// parameter or request header the document does not declare is a mismatch even
// where a schema leaves additionalProperties open, so a field added to the server
// without the contract fails the tests.
func Parse(path string) (*Contract, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read contract: %w", err)
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		return nil, fmt.Errorf("%s is OpenAPI %s; the contract is OpenAPI 3.1", path, v)
	}
	v, errs := validator.NewValidator(doc,
		config.WithFormatAssertions(),
		config.WithStrictMode(),
		config.WithStrictIgnoredHeadersExtra(everyResponseHeaders...),
	)
	if len(errs) > 0 {
		return nil, fmt.Errorf("build validator for %s: %w", path, errors.Join(errs...))
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("%s is not a valid OpenAPI document:\n%s", path, describe(verrs))
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build model of %s: %w", path, err)
	}
	c := &Contract{path: path, doc: doc, validator: v}
	for p := model.Model.Paths.PathItems.First(); p != nil; p = p.Next() {
		for op := p.Value().GetOperations().First(); op != nil; op = op.Next() {
			c.operations = append(c.operations, strings.ToUpper(op.Key())+" "+p.Key())
		}
	}
	slices.Sort(c.operations)
	return c, nil
}

// Operations lists the document's operations as "METHOD /path/template", sorted.
func (c *Contract) Operations() []string { return slices.Clone(c.operations) }

// ValidateRequest returns the ways r does not conform to the contract (none when
// it does). It reads r.Body: pass a request whose body may be consumed.
func (c *Contract) ValidateRequest(r *http.Request) []string {
	_, errs := c.validator.ValidateHttpRequestSync(r)
	return describe(errs)
}

// ValidateResponse returns the ways resp, the answer to r, does not conform to the
// contract: an undocumented status, content type or header, or a body that does
// not match its schema. It reads resp.Body.
func (c *Contract) ValidateResponse(r *http.Request, resp *http.Response) []string {
	_, errs := c.validator.ValidateHttpResponse(r, resp)
	return describe(errs)
}

func describe(errs []*verrors.ValidationError) []string {
	var out []string
	for _, e := range errs {
		if e == nil {
			continue
		}
		var b strings.Builder
		b.WriteString(e.Message)
		if e.Reason != "" && e.Reason != e.Message {
			b.WriteString(": " + e.Reason)
		}
		for _, s := range e.SchemaValidationErrors {
			where := s.FieldPath
			if where == "" {
				where = s.KeywordLocation
			}
			fmt.Fprintf(&b, "\n      at %s: %s", where, s.Reason)
		}
		if e.SpecLine > 0 {
			fmt.Fprintf(&b, " (openapi.yaml line %d)", e.SpecLine)
		}
		out = append(out, b.String())
	}
	return out
}

// findSpec walks up from the working directory (a package directory under go
// test) to the module root, where the contract lives.
func findSpec() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", SpecFile, err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, SpecFile)
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("find %s at the module root: %w", SpecFile, err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find %s: no go.mod above the working directory", SpecFile)
		}
		dir = parent
	}
}
