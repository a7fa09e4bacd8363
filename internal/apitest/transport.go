package apitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Reporter is where contract mismatches go; *testing.T satisfies it. Errorf must
// be safe to call from several goroutines, as testing.T's is.
type Reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// Transport is an http.RoundTripper that checks every exchange against the
// contract: the request before it is sent and the response after it arrives.
// A mismatch is reported to Report (failing the test) and the exchange goes on, so
// the test's own assertions still run and say what the server did.
//
// An event stream (text/event-stream) is passed through as it arrives: its status
// and headers are checked at once, and each event as the caller reads it.
//
// A test that sends a request which deliberately breaks the contract (malformed
// JSON, a missing If-Match, an unknown field...) marks it with WithContractBreach;
// such a request must then fail validation, and its response must still conform.
type Transport struct {
	Base     http.RoundTripper
	Contract *Contract
	Report   Reporter
}

type breachKey struct{}

// WithContractBreach marks ctx's request as deliberately not conforming to the
// contract, for the reason given.
func WithContractBreach(ctx context.Context, why string) context.Context {
	return context.WithValue(ctx, breachKey{}, why)
}

// RoundTrip validates the request, sends it with Base, and validates the response.
func (tr *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("apitest: read request body: %w", err)
		}
	}
	withBody := func() *http.Request {
		r := req.Clone(req.Context())
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		return r
	}
	what := req.Method + " " + req.URL.RequestURI()

	problems := tr.Contract.ValidateRequest(withBody())
	why, breach := req.Context().Value(breachKey{}).(string)
	switch {
	case breach && len(problems) == 0:
		tr.Report.Errorf("apitest: request %s was marked as breaking the contract (%s), but it conforms to %s: "+
			"the contract is looser than the test expects", what, why, SpecFile)
	case !breach && len(problems) > 0:
		tr.Report.Errorf("apitest: request %s does not conform to %s:\n  - %s\n  body: %s",
			what, SpecFile, strings.Join(problems, "\n  - "), excerpt(body))
	}

	resp, err := tr.Base.RoundTrip(withBody())
	if err != nil {
		return nil, err
	}
	if isEventStream(resp.Header) {
		// The body never ends: check the status and headers now (with an empty body
		// for the text/event-stream string), and each event as the caller reads it.
		check := *resp
		check.Header = resp.Header.Clone()
		check.Body = io.NopCloser(strings.NewReader(""))
		if problems := tr.Contract.ValidateResponse(withBody(), &check); len(problems) > 0 {
			tr.Report.Errorf("apitest: response %d to %s does not conform to %s:\n  - %s",
				resp.StatusCode, what, SpecFile, strings.Join(problems, "\n  - "))
		}
		resp.Body = &eventStreamChecker{body: resp.Body, contract: tr.Contract, report: tr.Report, what: what}
		return resp, nil
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("apitest: read response to %s: %w", what, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))

	check := *resp
	check.Header = resp.Header.Clone()
	check.Body = io.NopCloser(bytes.NewReader(respBody))
	if problems := tr.Contract.ValidateResponse(withBody(), &check); len(problems) > 0 {
		tr.Report.Errorf("apitest: response %d to %s does not conform to %s:\n  - %s\n  body: %s",
			resp.StatusCode, what, SpecFile, strings.Join(problems, "\n  - "), excerpt(respBody))
	}
	return resp, nil
}

func excerpt(b []byte) string {
	const max = 2000
	if len(b) > max {
		return string(b[:max]) + fmt.Sprintf("... (%d bytes)", len(b))
	}
	return string(b)
}
