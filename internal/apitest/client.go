package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Client sends requests to the API under test through a contract-validating
// Transport. A Client belongs to one test (or subtest): mismatches and transport
// failures fail that test. Its methods may be called from several goroutines.
type Client struct {
	t    testing.TB
	base string
	http *http.Client
	key  string
}

// As returns a copy of c that authenticates with key (Authorization: Bearer key);
// an empty key sends no Authorization header.
func (c *Client) As(key string) *Client {
	cc := *c
	cc.key = key
	return &cc
}

// Option adjusts one request.
type Option func(*request)

type request struct {
	header      http.Header
	body        []byte
	contentType string
	breach      string
}

// Header sets a request header.
func Header(name, value string) Option {
	return func(r *request) { r.header.Set(name, value) }
}

// IdempotencyKey sets the Idempotency-Key header.
func IdempotencyKey(key string) Option { return Header("Idempotency-Key", key) }

// IfMatch sets the If-Match header.
func IfMatch(etag string) Option { return Header("If-Match", etag) }

// RawBody sends b as the body with the given Content-Type (none when empty),
// instead of the JSON encoding of the body argument.
func RawBody(contentType string, b []byte) Option {
	return func(r *request) { r.body, r.contentType = b, contentType }
}

// BreaksContract declares that the request deliberately does not conform to the
// contract, and why. The transport then requires request validation to fail (so
// the contract is as strict as the server), and still validates the response.
func BreaksContract(why string) Option {
	return func(r *request) { r.breach = why }
}

// Get sends GET path.
func (c *Client) Get(path string, opts ...Option) *Response {
	c.t.Helper()
	return c.Do(http.MethodGet, path, nil, opts...)
}

// Post sends POST path with body encoded as JSON (no body when nil).
func (c *Client) Post(path string, body any, opts ...Option) *Response {
	c.t.Helper()
	return c.Do(http.MethodPost, path, body, opts...)
}

// Patch sends PATCH path with body encoded as JSON.
func (c *Client) Patch(path string, body any, opts ...Option) *Response {
	c.t.Helper()
	return c.Do(http.MethodPatch, path, body, opts...)
}

// Delete sends DELETE path.
func (c *Client) Delete(path string, opts ...Option) *Response {
	c.t.Helper()
	return c.Do(http.MethodDelete, path, nil, opts...)
}

// Do sends one request. path is relative to the server (e.g. /api/v3/...). A
// transport failure is reported as a test error and answered with Status 0.
func (c *Client) Do(method, path string, body any, opts ...Option) *Response {
	c.t.Helper()
	r := request{header: http.Header{}}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Errorf("apitest: encode %s %s body: %v", method, path, err)
			return &Response{t: c.t, Method: method, Path: path}
		}
		r.body, r.contentType = b, "application/json"
	}
	for _, o := range opts {
		o(&r)
	}
	ctx := context.Background()
	if r.breach != "" {
		ctx = WithContractBreach(ctx, r.breach)
	}
	var rd io.Reader
	if r.body != nil {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		c.t.Errorf("apitest: build %s %s: %v", method, path, err)
		return &Response{t: c.t, Method: method, Path: path}
	}
	req.Header = r.header
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Errorf("apitest: %s %s: %v", method, path, err)
		return &Response{t: c.t, Method: method, Path: path}
	}
	defer resp.Body.Close()
	if isEventStream(resp.Header) {
		c.t.Errorf("apitest: %s %s answered an event stream, which never ends: open it with Client.Stream", method, path)
		return &Response{t: c.t, Method: method, Path: path, Status: resp.StatusCode, Header: resp.Header}
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Errorf("apitest: read response to %s %s: %v", method, path, err)
	}
	return &Response{t: c.t, Method: method, Path: path, Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Response is a received response, already validated against the contract.
type Response struct {
	t      testing.TB
	Method string
	Path   string
	Status int
	Header http.Header
	Body   []byte
}

// Expect fails the test at once unless the status is want. It must be called from
// the test's goroutine.
func (r *Response) Expect(want int) *Response {
	r.t.Helper()
	if r.Status != want {
		r.t.Fatalf("%s %s: status %d, want %d; body: %s", r.Method, r.Path, r.Status, want, excerpt(r.Body))
	}
	return r
}

// JSON decodes the body into v, failing the test at once if it cannot.
func (r *Response) JSON(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("%s %s: decode %d body: %v; body: %s", r.Method, r.Path, r.Status, err, excerpt(r.Body))
	}
}

// ETag is the response's ETag header.
func (r *Response) ETag() string { return r.Header.Get("ETag") }

// Replayed reports whether the response carries Idempotent-Replayed: true.
func (r *Response) Replayed() bool { return r.Header.Get("Idempotent-Replayed") == "true" }

// Problem is an RFC 9457 problem body as the API sends it.
type Problem struct {
	Type    string       `json:"type"`
	Title   string       `json:"title"`
	Status  int          `json:"status"`
	Detail  string       `json:"detail"`
	Code    string       `json:"code"`
	Errors  []FieldError `json:"errors"`
	ItemIDs []string     `json:"item_ids"`
	// BookingIDs names the bookings in the way (unit_has_bookings).
	BookingIDs []string `json:"booking_ids"`
	Instance   string   `json:"instance"`
}

// FieldError is one entry of a 422 problem's errors.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Problem expects a problem with the given status and code and returns it.
func (r *Response) Problem(status int, code string) Problem {
	r.t.Helper()
	r.Expect(status)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		r.t.Fatalf("%s %s: %d answered with Content-Type %q, want application/problem+json", r.Method, r.Path, r.Status, ct)
	}
	var p Problem
	r.JSON(&p)
	if p.Code != code {
		r.t.Fatalf("%s %s: problem code %q, want %q; body: %s", r.Method, r.Path, p.Code, code, excerpt(r.Body))
	}
	return p
}

// HasField reports whether the problem names field with the given code.
func (p Problem) HasField(field, code string) bool {
	for _, e := range p.Errors {
		if e.Field == field && e.Code == code {
			return true
		}
	}
	return false
}
