// Package vacancy is the Go client of Vacancy's API. The typed requests and
// responses are generated from openapi.yaml (package api, by oapi-codegen);
// this package puts a transport under them that does what every integration
// would otherwise write by hand:
//
//   - it sends the API key, and an Idempotency-Key on every POST, PATCH and
//     DELETE (a generated one when the caller sets none), kept across retries;
//   - it retries, with the same key, on network errors, 409
//     idempotency_key_in_use, 429 and 503, honouring Retry-After, within a
//     bounded budget;
//   - it remembers the ETag of every resource it reads or writes and sends it
//     as If-Match when it changes that resource (or one of its actions);
//   - it turns every problem response into a Problem error:
//     errors.As(err, &vacancy.Problem{}).
//
// List endpoints page with All.
package vacancy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vacancy-dev/vacancy/client/api"
)

// Client is the typed API (every operation of openapi.yaml, as
// <Operation>WithResponse methods) over the transport described above.
type Client struct {
	*api.ClientWithResponses
	t *transport
}

// Config says where and as whom to call, and how patiently.
type Config struct {
	// BaseURL is the server's root, e.g. http://127.0.0.1:8080 (paths carry /api/v3).
	BaseURL string
	// Key is an API key, or the platform token for creating organisations.
	Key string
	// HTTPClient sends the requests; http.DefaultClient when nil.
	HTTPClient *http.Client
	// MaxAttempts bounds the attempts of one request (default 5).
	MaxAttempts int
	// MaxWait bounds the total time spent waiting between attempts (default 30s).
	MaxWait time.Duration
}

// New returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 30 * time.Second
	}
	t := &transport{cfg: cfg, etags: map[string]string{}}
	c, err := api.NewClientWithResponses(strings.TrimRight(cfg.BaseURL, "/"), api.WithHTTPClient(t))
	if err != nil {
		return nil, fmt.Errorf("vacancy client: %w", err)
	}
	return &Client{ClientWithResponses: c, t: t}, nil
}

// ETag is the entity tag last seen for a resource path (e.g.
// /api/v3/organisations/acme/bookings/<id>), "" when none was seen.
func (c *Client) ETag(path string) string {
	c.t.mu.Lock()
	defer c.t.mu.Unlock()
	return c.t.etags[path]
}

// Problem is an RFC 9457 problem response of the API, as an error.
type Problem struct {
	Type       string       `json:"type"`
	Title      string       `json:"title"`
	Status     int          `json:"status"`
	Detail     string       `json:"detail"`
	Code       string       `json:"code"`
	Errors     []FieldError `json:"errors"`
	ItemIDs    []string     `json:"item_ids"`
	BookingIDs []string     `json:"booking_ids"`
	Instance   string       `json:"instance"`
}

// FieldError is one wrong field of a 422 validation_failed problem.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (p Problem) Error() string {
	if p.Detail != "" {
		return fmt.Sprintf("vacancy: %d %s: %s", p.Status, p.Code, p.Detail)
	}
	return fmt.Sprintf("vacancy: %d %s", p.Status, p.Code)
}

// All pages through a list: fetch is called with nil, then with each page's
// next cursor, until a page has none. It stops at the first error, which it yields.
func All[T any](ctx context.Context, fetch func(ctx context.Context, cursor *string) (items []T, next *string, err error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var cursor *string
		for {
			items, next, err := fetch(ctx, cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == nil || *next == "" {
				return
			}
			cursor = next
		}
	}
}

// transport is the api.HttpRequestDoer under the generated client.
type transport struct {
	cfg   Config
	mu    sync.Mutex
	etags map[string]string // resource path -> last ETag
}

// actions are the path segments that act on the resource before them.
var actions = map[string]bool{"confirm": true, "cancel": true, "complete": true, "retry": true, "sync": true}

// resourceOf is the resource a request reads or changes: its path, without a
// trailing action segment.
func resourceOf(path string) string {
	path = strings.TrimRight(path, "/")
	if i := strings.LastIndexByte(path, '/'); i > 0 && actions[path[i+1:]] {
		return path[:i]
	}
	return path
}

func (t *transport) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("vacancy: read request body: %w", err)
		}
		body = b
	}
	req.Header.Set("Authorization", "Bearer "+t.cfg.Key)
	mutating := req.Method == http.MethodPost || req.Method == http.MethodPatch || req.Method == http.MethodDelete
	resource := resourceOf(req.URL.Path)
	if mutating {
		if req.Header.Get("Idempotency-Key") == "" {
			req.Header.Set("Idempotency-Key", newKey())
		}
		if req.Header.Get("If-Match") == "" {
			t.mu.Lock()
			etag := t.etags[resource]
			t.mu.Unlock()
			if etag != "" {
				req.Header.Set("If-Match", etag)
			}
		}
	}
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		if body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		resp, err := t.cfg.HTTPClient.Do(req)
		wait, retry := t.retryable(resp, err, attempt)
		if retry && attempt < t.cfg.MaxAttempts && waited+wait <= t.cfg.MaxWait {
			if resp != nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				_ = resp.Body.Close()
			}
			select {
			case <-req.Context().Done():
				return nil, req.Context().Err()
			case <-time.After(wait):
			}
			waited += wait
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("vacancy: %s %s: %w", req.Method, req.URL.Path, err)
		}
		return t.finish(req, resource, resp)
	}
}

// retryable says whether an attempt's outcome is worth retrying with the same
// Idempotency-Key, and after how long.
func (t *transport) retryable(resp *http.Response, err error, attempt int) (time.Duration, bool) {
	backoff := time.Duration(math.Min(float64(100*time.Millisecond)*math.Pow(2, float64(attempt-1)), float64(5*time.Second)))
	if err != nil {
		return backoff, !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
	case http.StatusConflict:
		// Only the key's first request still running: anything else is final.
		if resp.Header.Get("Retry-After") == "" {
			return 0, false
		}
	default:
		return 0, false
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			return time.Duration(n) * time.Second, true
		}
		if at, err := http.ParseTime(s); err == nil {
			return max(time.Until(at), 0), true
		}
	}
	return backoff, true
}

// finish remembers the answer's ETag and turns a problem into an error.
func (t *transport) finish(req *http.Request, resource string, resp *http.Response) (*http.Response, error) {
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		p := Problem{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode)}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			if err := json.Unmarshal(b, &p); err != nil {
				return nil, fmt.Errorf("vacancy: %s %s: %d with an unreadable problem: %w", req.Method, req.URL.Path, resp.StatusCode, err)
			}
		}
		return nil, p
	}
	if etag := resp.Header.Get("ETag"); etag != "" {
		key := resource
		if loc := resp.Header.Get("Location"); req.Method == http.MethodPost && resp.StatusCode == http.StatusCreated && loc != "" {
			key = loc
		}
		t.mu.Lock()
		t.etags[key] = etag
		t.mu.Unlock()
	}
	return resp, nil
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
