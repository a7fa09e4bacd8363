package app_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
)

// The contract: every request these tests send to the paths openapi.yaml
// describes, and every response they get, is validated against it, so the spec
// cannot drift from the server. A request the server rejects (4xx) may be
// deliberately invalid, so only accepted requests are held to the spec; every
// response is.
var contract struct {
	once sync.Once
	mu   sync.Mutex // the validator's caches are not documented as safe for concurrent use
	v    validator.Validator
	err  string
}

func loadContract(t *testing.T) validator.Validator {
	t.Helper()
	contract.once.Do(func() {
		spec, err := os.ReadFile(filepath.Join("..", "..", "openapi.yaml"))
		if err != nil {
			contract.err = err.Error()
			return
		}
		doc, err := libopenapi.NewDocument(spec)
		if err != nil {
			contract.err = "parse openapi.yaml: " + err.Error()
			return
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			contract.err = "build validator: " + errs[0].Error()
			return
		}
		if ok, verrs := v.ValidateDocument(); !ok {
			var b strings.Builder
			for _, e := range verrs {
				b.WriteString(e.Error() + "\n")
			}
			contract.err = "openapi.yaml is not a valid OpenAPI 3.1 document:\n" + b.String()
			return
		}
		contract.v = v
	})
	if contract.err != "" {
		t.Fatal(contract.err)
	}
	return contract.v
}

// described reports whether openapi.yaml in this branch describes the path: the
// events and webhook paths. (The bookings API's paths join when its contract is merged.)
func described(path string) bool {
	return strings.Contains(path, "/events") || strings.Contains(path, "/webhook-endpoints")
}

// contractTransport validates requests and responses on the way through.
type contractTransport struct {
	t    *testing.T
	next http.RoundTripper
}

func (c contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !described(req.URL.Path) {
		return c.next.RoundTrip(req)
	}
	v := loadContract(c.t)
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	check := req.Clone(req.Context())
	check.Body = io.NopCloser(bytes.NewReader(reqBody))
	streaming := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	var respBody []byte
	if !streaming {
		if respBody, err = io.ReadAll(resp.Body); err != nil {
			return nil, err
		}
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(respBody))
	}
	contract.mu.Lock()
	defer contract.mu.Unlock()
	if resp.StatusCode < 400 {
		if ok, errs := v.ValidateHttpRequestSync(check); !ok {
			for _, e := range errs {
				c.t.Errorf("contract: %s %s: request the server accepted violates openapi.yaml: %s", req.Method, req.URL.Path, e.Error())
			}
		}
		check.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	if streaming {
		return resp, nil // the stream's body never ends; its frames are checked by the tests
	}
	if ok, errs := v.ValidateHttpResponse(check, resp); !ok {
		for _, e := range errs {
			c.t.Errorf("contract: %s %s -> %d: response violates openapi.yaml: %s\n%s", req.Method, req.URL.Path, resp.StatusCode, e.Error(), respBody)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	return resp, nil
}

func (a api) client() *http.Client {
	return &http.Client{Transport: contractTransport{t: a.t, next: http.DefaultTransport}}
}
