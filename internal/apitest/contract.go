// Package apitest is the test side of Vacancy's HTTP contract. It loads openapi.yaml
// (the repository's OpenAPI 3.1 document), and hands out the only HTTP client the
// tests use (Client): its transport validates every request it sends and every
// response it receives against the document and fails the test on any mismatch, so
// the server and its contract cannot drift apart unnoticed. A test opts out only
// by saying why (BreaksContract for one malformed request, Client.Unchecked for
// traffic the contract does not describe). It also starts the API on a fresh test
// database (Start). Test code only; it must not hold API behaviour or assertions
// about it beyond the contract itself.
package apitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/cache"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/responses"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// SpecFile is the contract's path relative to the repository root.
const SpecFile = "openapi.yaml"

// Headers the server sends on every response that the contract describes in
// prose (info.description) rather than on each of its ~200 responses.
var everyResponseHeaders = []string{
	"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy",
	"Strict-Transport-Security", // only when configured (VACANCY_HSTS)
}

// Contract is the parsed openapi.yaml with a validator over it. It is safe for
// concurrent use.
type Contract struct {
	path       string
	doc        libopenapi.Document
	validator  validator.Validator
	operations []string // "METHOD /path/template", sorted
	// webhooks are the requests the server sends to receivers, by event type
	// (the document's webhooks section).
	webhooks map[string]*v3.PathItem
	// standaloneMu serialises ValidateWebhook and ValidateEvent: libopenapi
	// renders a path item or schema handed to it (rather than one of the
	// document's paths) without a lock of its own, and two webhook receivers
	// validating at once raced in it.
	standaloneMu sync.Mutex
	// event is the schema of one event (components/schemas/Event), which the
	// event stream's frames carry; eventOpts validate it as strictly as a response.
	event     *base.Schema
	eventOpts []config.Option
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
	opts := []config.Option{
		config.WithFormatAssertions(),
		config.WithStrictMode(),
		config.WithStrictIgnoredHeadersExtra(everyResponseHeaders...),
	}
	v, errs := validator.NewValidator(doc, opts...)
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
	c := &Contract{path: path, doc: doc, validator: v, webhooks: map[string]*v3.PathItem{},
		eventOpts: append(slices.Clone(opts), config.WithSchemaCache(cache.NewDefaultCache()))}
	for p := model.Model.Paths.PathItems.First(); p != nil; p = p.Next() {
		for op := p.Value().GetOperations().First(); op != nil; op = op.Next() {
			c.operations = append(c.operations, strings.ToUpper(op.Key())+" "+p.Key())
		}
	}
	slices.Sort(c.operations)
	for w := model.Model.Webhooks.First(); w != nil; w = w.Next() {
		c.webhooks[w.Key()] = w.Value()
	}
	if model.Model.Components != nil {
		if s := model.Model.Components.Schemas.GetOrZero("Event"); s != nil {
			c.event = s.Schema()
		}
	}
	if c.event == nil {
		return nil, fmt.Errorf("%s has no components/schemas/Event, which the event stream's frames carry", path)
	}
	// Compile the event schema now (the answer does not matter), as the validator
	// does the others: on a stream's first event it would add a noticeable delay
	// (~0.2 s under the race detector) to the delivery a test may be timing.
	_ = c.ValidateEvent([]byte("{}"))
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

// Webhooks lists the event types the document's webhooks section describes, sorted.
func (c *Contract) Webhooks() []string {
	out := make([]string, 0, len(c.webhooks))
	for k := range c.webhooks {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ValidateWebhook returns the ways r, a webhook delivery as a receiver got it, does
// not conform to the document's webhooks section: the entry named by its
// Vacancy-Event-Type header describes its headers and body, and the body's type
// must be that event type. It reads r.Body and leaves it readable again.
func (c *Contract) ValidateWebhook(r *http.Request) []string {
	typ := r.Header.Get("Vacancy-Event-Type")
	item, ok := c.webhooks[typ]
	if !ok {
		return []string{fmt.Sprintf("Vacancy-Event-Type %q names no entry of the webhooks section", typ)}
	}
	body, err := readAll(r)
	if err != nil {
		return []string{err.Error()}
	}
	c.standaloneMu.Lock()
	_, errs := c.validator.ValidateHttpRequestSyncWithPathItem(r, item, r.URL.Path)
	c.standaloneMu.Unlock()
	out := describe(errs)
	var ev struct{ Type string }
	if json.Unmarshal(body, &ev) == nil && ev.Type != typ {
		out = append(out, fmt.Sprintf("the body's type %q is not the Vacancy-Event-Type %q", ev.Type, typ))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return out
}

// ValidateEvent returns the ways data, one event as the event stream sends it,
// does not conform to components/schemas/Event (strictly: no undeclared fields).
func (c *Contract) ValidateEvent(data []byte) []string {
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/event-stream-frame"}, Header: http.Header{}}
	resp := &http.Response{StatusCode: http.StatusOK, Request: req,
		Header: http.Header{"Content-Type": []string{"application/json"}},
		Body:   io.NopCloser(bytes.NewReader(data))}
	c.standaloneMu.Lock()
	defer c.standaloneMu.Unlock()
	_, errs := responses.ValidateResponseSchema(&responses.ValidateResponseSchemaInput{
		Request: req, Response: resp, Schema: c.event, Version: 3.1, Options: c.eventOpts})
	return describe(errs)
}

func readAll(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("read the webhook's body: %w", err)
	}
	return b, nil
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
