package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout bounds one delivery attempt: connection, request and response
// headers. A receiver that takes longer has failed the attempt.
const DefaultTimeout = 10 * time.Second

// Sender posts deliveries. It never follows redirects (a 3xx is a failed attempt),
// ignores proxy settings from the environment, and checks every connection's
// address against its Policy.
type Sender struct {
	policy  Policy
	timeout time.Duration
	client  *http.Client
}

// NewSender returns a Sender; timeout <= 0 means DefaultTimeout.
func NewSender(p Policy, timeout time.Duration) *Sender {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.control}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Sender{policy: p, timeout: timeout, client: &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Delivery is one POST to make.
type Delivery struct {
	URL        string
	Secret     string
	EventID    string
	EventType  string
	DeliveryID string
	Body       []byte
	// PreviousSecret, when set, is the secret a rotation replaced: it signs
	// too, beside Secret, while the attempt is made before PreviousUntil.
	PreviousSecret string
	PreviousUntil  time.Time
}

// Signature is the Vacancy-Signature header of d sent at t: signed with the
// endpoint's secret and, while a rotation's overlap lasts (t before
// PreviousUntil), with the secret it replaced as well.
func (d Delivery) Signature(t time.Time) string {
	if d.PreviousSecret != "" && t.Before(d.PreviousUntil) {
		return SignAll(t, d.Body, d.Secret, d.PreviousSecret)
	}
	return Sign(d.Secret, t, d.Body)
}

// Result is how an attempt went. It succeeded when Err is empty and StatusCode is
// 2xx.
type Result struct {
	StatusCode int // 0 when no response arrived
	Latency    time.Duration
	Err        string // why no response arrived, or why the response is a failure
}

// OK reports a 2xx response.
func (r Result) OK() bool { return r.Err == "" && r.StatusCode >= 200 && r.StatusCode < 300 }

// maxErrLen bounds the error text kept in the delivery log.
const maxErrLen = 300

// Send posts d's body, signed at the current time, and reports the outcome. It
// reads at most 64 KiB of the response body, and only to reuse the connection.
func (s *Sender) Send(ctx context.Context, d Delivery) Result {
	start := time.Now()
	if _, err := s.policy.CheckSyntax(d.URL); err != nil {
		return Result{Err: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return Result{Err: "the url cannot be requested"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Vacancy-Webhooks/1")
	req.Header.Set(EventIDHeader, d.EventID)
	req.Header.Set(EventTypeHeader, d.EventType)
	req.Header.Set(DeliveryIDHeader, d.DeliveryID)
	req.Header.Set(SignatureHeader, d.Signature(time.Now()))
	resp, err := s.client.Do(req)
	if err != nil {
		return Result{Latency: time.Since(start), Err: describe(err, s.timeout)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	r := Result{StatusCode: resp.StatusCode, Latency: time.Since(start)}
	if !r.OK() {
		r.Err = fmt.Sprintf("the receiver answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return r
}

// describe says why no response arrived, in words fit for the delivery log
// (which admins read) and the job log: never the URL (it may carry a token) nor
// the addresses the host resolved to or the server's own network details.
func describe(err error, timeout time.Duration) string {
	var ne net.Error
	var dns *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return fmt.Sprintf("no response within %s", timeout)
	case errors.Is(err, errRefusedAddress):
		return errRefusedAddress.Error()
	case errors.As(err, &dns):
		return "the host does not resolve"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the connection was refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed before a response"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "the host cannot be reached"
	case errors.As(err, &certErr):
		return truncate("the TLS certificate was not accepted: " + certErr.Err.Error())
	case errors.As(err, &recErr):
		return "the receiver does not speak TLS"
	}
	return "no response: the connection failed"
}

func truncate(s string) string {
	if len(s) > maxErrLen {
		s = s[:maxErrLen]
	}
	return strings.ToValidUTF8(s, "")
}

// NewTransport returns an HTTP transport for other URLs a tenant registers under
// the same policy (calendar feeds): like the Sender's, it ignores proxy settings
// and checks every connection's address against p when it dials.
func NewTransport(p Policy, timeout time.Duration) *http.Transport {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.control}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
	}
}

// Describe says in a sentence why a request got no response: a timeout, the
// address guard's refusal, or the transport's own words.
func Describe(err error, timeout time.Duration) string { return describe(err, timeout) }
