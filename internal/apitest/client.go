package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Client sends requests to the API under test, by default through a
// contract-validating Transport. A Client belongs to one test (or subtest):
// contract mismatches fail that test, and so do transport failures in Do and its
// shorthands (Send returns them instead). Its methods may be called from several
// goroutines. As, Unchecked and Using return adjusted copies.
type Client struct {
	t        testing.TB
	base     string
	key      string
	contract *Contract
	// report is where contract mismatches go: t, or a recorder in this
	// package's own tests.
	report Reporter
	// send carries requests under the contract checks; nil means
	// http.DefaultTransport.
	send    http.RoundTripper
	timeout time.Duration
	// unchecked says why this client's exchanges are not checked against the
	// contract; empty when they are.
	unchecked string
}

// defaultTimeout bounds a request of a client that was not given a timeout.
const defaultTimeout = 2 * time.Minute

func newClient(t testing.TB, base string, contract *Contract, send http.RoundTripper) *Client {
	return &Client{t: t, base: base, contract: contract, report: t, send: send, timeout: defaultTimeout}
}

// As returns a copy of c that authenticates with key (Authorization: Bearer key);
// an empty key sends no Authorization header.
func (c *Client) As(key string) *Client {
	cc := *c
	cc.key = key
	return &cc
}

// Unchecked returns a copy of c whose exchanges are not checked against the
// contract, for the reason given: traffic the contract does not describe (a
// metrics listener, a CORS preflight, an undeclared header sent on purpose, a
// bucketful of hostile input whose answers the test checks itself), or load
// whose timing the test measures. Prefer BreaksContract for one deliberately
// malformed request: it still checks that the contract rejects the request and
// describes the answer.
func (c *Client) Unchecked(why string) *Client {
	if why == "" {
		why = "unchecked"
	}
	cc := *c
	cc.unchecked = why
	return &cc
}

// Using returns a copy of c that sends its requests through hc's Transport
// (http.DefaultTransport when nil) and with hc's Timeout (none when zero): a
// client that opens a connection per request, one that gives up early. The
// contract checks still wrap the transport, and redirects are still not
// followed.
func (c *Client) Using(hc *http.Client) *Client {
	cc := *c
	cc.send, cc.timeout = hc.Transport, hc.Timeout
	return &cc
}

// httpClient is the client a request goes through.
func (c *Client) httpClient() *http.Client {
	rt := c.send
	if rt == nil {
		rt = http.DefaultTransport
	}
	if c.unchecked == "" {
		rt = &Transport{Base: rt, Contract: c.contract, Report: c.report}
	}
	return &http.Client{Transport: rt, Timeout: c.timeout,
		// Redirects are never part of this API; surface them instead of following.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Option adjusts one request.
type Option func(*request)

type request struct {
	header      http.Header
	body        []byte
	contentType string
	breach      string
}

// Header sets a request header. A Content-Type set this way wins over the body's
// (application/json, or RawBody's).
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

// Do sends one request (see Send). A failure to send it or to read the answer is
// reported as a test error and answered with Status 0.
func (c *Client) Do(method, path string, body any, opts ...Option) *Response {
	c.t.Helper()
	r, err := c.Send(context.Background(), method, path, body, opts...)
	if err != nil {
		c.t.Errorf("%v", err)
	}
	return r
}

// Send sends one request and returns the answer, or the error that kept it from
// arriving whole (a refused connection, a timeout, ctx ending): for tests that
// observe transport failures. The Response is never nil; after an error it holds
// what did arrive (Status 0 when nothing did). path is relative to the client's
// base (e.g. /api/v3/...); body, unless nil, is encoded as JSON (RawBody sends
// bytes as they are). Contract mismatches are reported to the test, not returned.
func (c *Client) Send(ctx context.Context, method, path string, body any, opts ...Option) (*Response, error) {
	res := &Response{t: c.t, Method: method, Path: path}
	r := request{header: http.Header{}}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return res, fmt.Errorf("apitest: encode %s %s body: %w", method, path, err)
		}
		r.body, r.contentType = b, "application/json"
	}
	for _, o := range opts {
		o(&r)
	}
	if r.breach != "" {
		ctx = WithContractBreach(ctx, r.breach)
	}
	var rd io.Reader
	if r.body != nil {
		rd = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return res, fmt.Errorf("apitest: build %s %s: %w", method, path, err)
	}
	req.Header = r.header
	if r.contentType != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return res, fmt.Errorf("apitest: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	res.Status, res.Header = resp.StatusCode, resp.Header
	if isEventStream(resp.Header) {
		return res, fmt.Errorf("apitest: %s %s answered an event stream, which never ends: open it with Client.Stream", method, path)
	}
	res.Body, err = io.ReadAll(resp.Body)
	if err != nil {
		return res, fmt.Errorf("apitest: read response to %s %s: %w", method, path, err)
	}
	return res, nil
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

// Field is the top-level string field name of the JSON object body ("" when it
// is absent or not a string), failing the test at once if the body is not a JSON
// object.
func (r *Response) Field(name string) string {
	r.t.Helper()
	var m map[string]any
	r.JSON(&m)
	s, _ := m[name].(string)
	return s
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

// ProblemCode is the code of a problem body, "" when the body is not one. Unlike
// Problem it asserts nothing, so it may be called from any goroutine.
func (r *Response) ProblemCode() string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.Body, &p)
	return p.Code
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
