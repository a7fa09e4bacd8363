package webhook_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/webhook"
	public "github.com/vacancy-dev/vacancy/webhook"
)

// TestSecretAndSignature: secrets are recognisable, and what the server signs
// is what the public package verifies (the scheme's own tests live there).
func TestSecretAndSignature(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
		t.Fatalf("a secret must be whsec_ and 32 random bytes, got %q", secret)
	}
	if secret == webhook.NewSecret() {
		t.Fatal("every secret must be new")
	}
	body := []byte(`{"id":"1","type":"booking.created"}`)
	now := time.Unix(1_800_000_000, 0)
	header := webhook.Sign(secret, now, body)
	if header != public.Sign(body, secret, now) {
		t.Fatalf("the server must sign with the public scheme, got %q", header)
	}
	if err := public.VerifyAt(body, header, secret, 5*time.Minute, now.Add(time.Minute)); err != nil {
		t.Fatalf("a receiver must be able to verify what the server signs: %v", err)
	}
	err := webhook.Verify(secret, webhook.Sign(secret, time.Now().Add(-time.Hour), body), body, 5*time.Minute)
	if !errors.Is(err, public.ErrTimestampOutsideTolerance) {
		t.Fatalf("Verify must be the public check (an old signature refused), got %v", err)
	}
}

func TestForbiddenAddresses(t *testing.T) {
	t.Parallel()
	forbidden := []string{"127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "fd00::1",
		"169.254.169.254", "fe80::1", "0.0.0.0", "::", "100.100.100.200", "fd00:ec2::254", "224.0.0.1",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a00:1::", "255.255.255.255", "198.18.0.1",
		// IPv6 outside global unicast, and special ranges inside it, which passed before:
		"::a00:1", "::8.8.8.8", "fec0::1", "64:ff9b:1::a00:1", "64:ff9b:1::808:808", "2001::1", "2001:0:4136:e378::1",
		"2001:db8::1", "3fff::1", "100::1", "5f00::1", "4000::1",
		// IPv4 documentation ranges:
		"192.0.2.10", "198.51.100.7", "203.0.113.99"}
	for _, s := range forbidden {
		if _, bad := webhook.Forbidden(netip.MustParseAddr(s)); !bad {
			t.Errorf("%s must be forbidden", s)
		}
	}
	for _, s := range []string{"93.184.215.14", "8.8.8.8", "2606:4700::6810:84e5", "64:ff9b::808:808", "2a00:1450:4001:80e::200e", "2002:808:808::1"} {
		if reason, bad := webhook.Forbidden(netip.MustParseAddr(s)); bad {
			t.Errorf("%s is public, refused as %s", s, reason)
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	strict := webhook.Policy{}
	cases := []struct {
		policy webhook.Policy
		url    string
		code   string // "" when accepted
	}{
		{strict, "https://127.0.0.1/hook", "forbidden_address"},
		{strict, "https://[::1]/hook", "forbidden_address"},
		{strict, "https://[::1]:8443/hook", "forbidden_address"}, // the address is named before the port
		{strict, "https://169.254.169.254/latest/meta-data", "forbidden_address"},
		{strict, "https://localhost/hook", "forbidden_address"}, // resolves to loopback
		{strict, "https://10.0.0.7/hook", "forbidden_address"},
		{strict, "http://93.184.215.14/hook", "scheme_not_allowed"},
		{strict, "ftp://93.184.215.14/hook", "scheme_not_allowed"},
		{strict, "https://user:pw@93.184.215.14/hook", "invalid"},
		{strict, "https://93.184.215.14/hook#frag", "invalid"},
		{strict, "/relative", "invalid"},
		{strict, "https://no-such-host.invalid/hook", "unresolvable_host"},
		{strict, "https://93.184.215.14/hook", ""},
		{webhook.Policy{AllowHTTP: true}, "http://93.184.215.14/hook", ""},
		{webhook.Policy{AllowHTTP: true}, "http://127.0.0.1/hook", "forbidden_address"},
		{webhook.Policy{AllowHTTP: true, AllowPrivate: true}, "http://127.0.0.1:9/hook", ""},
		{strict, "https://93.184.215.14:8443/hook", "port_not_allowed"},
		{strict, "https://93.184.215.14:22/hook", "port_not_allowed"},
		{strict, "https://93.184.215.14:443/hook", ""},
		{webhook.Policy{AllowHTTP: true}, "http://93.184.215.14:80/hook", ""},
		{webhook.Policy{Ports: []int{443, 8443}}, "https://93.184.215.14:8443/hook", ""},
		{webhook.Policy{Ports: []int{webhook.AnyPort}}, "https://93.184.215.14:2222/hook", ""},
		{strict, "https://[2001:db8::1]/hook", "forbidden_address"},
		{strict, "https://[fec0::1]/hook", "forbidden_address"},
	}
	for _, c := range cases {
		_, err := c.policy.CheckURL(context.Background(), c.url)
		var ue *webhook.URLError
		switch {
		case c.code == "" && err != nil:
			t.Errorf("%s must be accepted, got %v", c.url, err)
		case c.code != "" && (!errors.As(err, &ue) || ue.Code != c.code):
			t.Errorf("%s must be refused with %s, got %v", c.url, c.code, err)
		}
	}
}

// TestSenderRefusesPrivateAddressAtDial: the check that stops DNS rebinding runs
// on the address being connected to, whatever the URL passed at registration.
func TestSenderRefusesPrivateAddressAtDial(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	// A name, not a literal, so the refusal comes from the dialer's resolved address.
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	res := webhook.NewSender(webhook.Policy{AllowHTTP: true, Ports: []int{webhook.AnyPort}}, 2*time.Second).
		Send(context.Background(), webhook.Delivery{URL: url, Secret: "s", Body: []byte("{}")})
	if res.OK() || !strings.Contains(res.Err, "refused") {
		t.Fatalf("the sender must refuse to connect to a loopback address, got %+v", res)
	}
	// The delivery log is shown to the organisation's admins: it names neither the
	// address the host resolved to nor what kind it is.
	for _, leak := range []string{"127.0.0.1", "::1", "loopback"} {
		if strings.Contains(res.Err, leak) {
			t.Errorf("the refusal must not reveal %q: %q", leak, res.Err)
		}
	}
	if hits.Load() != 0 {
		t.Fatal("the receiver must not have been reached")
	}
}

// TestCheckURLDoesNotRevealWhatAHostResolvedTo: a registration refused for
// resolving to an internal address says so, but not which address or kind.
func TestCheckURLDoesNotRevealWhatAHostResolvedTo(t *testing.T) {
	t.Parallel()
	_, err := webhook.Policy{}.CheckURL(context.Background(), "https://localhost/hook")
	var ue *webhook.URLError
	if !errors.As(err, &ue) || ue.Code != "forbidden_address" {
		t.Fatalf("localhost must be refused: %v", err)
	}
	for _, leak := range []string{"127.0.0.1", "::1", "loopback"} {
		if strings.Contains(ue.Message, leak) {
			t.Errorf("the refusal must not reveal %q: %q", leak, ue.Message)
		}
	}
}

// TestSenderErrorsCarryNoURLOrAddress: why an attempt failed is recorded for
// the organisation's admins and logged by the job queue; it must not carry the
// URL (which may hold a token) or the addresses the host resolved to.
func TestSenderErrorsCarryNoURLOrAddress(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: the connection is refused
	s := webhook.NewSender(webhook.Policy{AllowHTTP: true, AllowPrivate: true}, 2*time.Second)
	for _, url := range []string{"http://" + addr + "/hooks?token=s3cr3t-t0ken", "http://no-such-host.invalid/hooks?token=s3cr3t-t0ken"} {
		res := s.Send(context.Background(), webhook.Delivery{URL: url, Secret: "s", Body: []byte("{}")})
		if res.OK() || res.Err == "" {
			t.Fatalf("%s cannot be reached: %+v", url, res)
		}
		for _, leak := range []string{"s3cr3t-t0ken", "127.0.0.1", "/hooks", "no-such-host"} {
			if strings.Contains(res.Err, leak) {
				t.Errorf("the error for %s must not carry %q: %q", url, leak, res.Err)
			}
		}
	}
}

func TestSenderSignsAndReportsStatus(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	status := atomic.Int32{}
	status.Store(http.StatusNoContent)
	var verifyErr atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Minute); err != nil {
			verifyErr.Store(err.Error())
		}
		if r.Header.Get(webhook.EventIDHeader) != "ev-1" || r.Header.Get(webhook.EventTypeHeader) != "item.created" ||
			r.Header.Get("Content-Type") != "application/json" {
			verifyErr.Store("missing headers")
		}
		if status.Load() == 302 {
			w.Header().Set("Location", "http://169.254.169.254/")
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	s := webhook.NewSender(webhook.Policy{AllowHTTP: true, AllowPrivate: true}, 2*time.Second)
	d := webhook.Delivery{URL: srv.URL, Secret: secret, EventID: "ev-1", EventType: "item.created", DeliveryID: "d-1", Body: []byte(`{"a":1}`)}
	if res := s.Send(context.Background(), d); !res.OK() || res.StatusCode != 204 || res.Latency <= 0 {
		t.Fatalf("a 204 is a success with a latency, got %+v", res)
	}
	if v := verifyErr.Load(); v != nil {
		t.Fatalf("the receiver must be able to verify the delivery: %v", v)
	}
	for _, code := range []int32{500, 302, 404} {
		status.Store(code)
		if res := s.Send(context.Background(), d); res.OK() || res.StatusCode != int(code) || res.Err == "" {
			t.Fatalf("a %d is a failure (redirects are not followed), got %+v", code, res)
		}
	}
}

func TestSenderTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	res := webhook.NewSender(webhook.Policy{AllowHTTP: true, AllowPrivate: true}, 300*time.Millisecond).
		Send(context.Background(), webhook.Delivery{URL: srv.URL, Secret: "s", Body: []byte("{}")})
	if res.OK() || !strings.Contains(res.Err, "no response within") || time.Since(start) > 3*time.Second {
		t.Fatalf("a receiver slower than the timeout fails the attempt promptly, got %+v after %v", res, time.Since(start))
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	var total time.Duration
	for attempt := 1; attempt < webhook.DefaultMaxAttempts; attempt++ {
		full := webhook.DefaultBackoffBase << (attempt - 1)
		d := webhook.Backoff(webhook.DefaultBackoffBase, attempt, 42)
		if d < full/2 || d > full {
			t.Fatalf("attempt %d: backoff %v must be between half and all of %v", attempt, d, full)
		}
		if d != webhook.Backoff(webhook.DefaultBackoffBase, attempt, 42) {
			t.Fatal("backoff must be a pure function of (seed, attempt)")
		}
		total += d
	}
	if total < 12*time.Hour || total > 36*time.Hour {
		t.Fatalf("the default schedule must span about a day, spans %v", total)
	}
	if webhook.Backoff(webhook.DefaultBackoffBase, 3, 1) == webhook.Backoff(webhook.DefaultBackoffBase, 3, 2) &&
		webhook.Backoff(webhook.DefaultBackoffBase, 3, 3) == webhook.Backoff(webhook.DefaultBackoffBase, 3, 4) {
		t.Fatal("different jobs must get different jitter")
	}
	if d := webhook.Backoff(time.Minute, 40, 7); d > 24*time.Hour {
		t.Fatalf("a wait is capped at a day, got %v", d)
	}
}

// TestDeliverySignatureDuringRotation: before the previous secret's end a
// delivery carries two v1 signatures, the new secret's and the previous one's,
// each verifying with its own secret; from the end on, only the new secret's.
func TestDeliverySignatureDuringRotation(t *testing.T) {
	t.Parallel()
	newSecret, oldSecret := webhook.NewSecret(), webhook.NewSecret()
	until := time.Unix(1_800_000_000, 0)
	d := webhook.Delivery{Secret: newSecret, PreviousSecret: oldSecret, PreviousUntil: until, Body: []byte(`{"a":1}`)}
	cases := []struct {
		name    string
		at      time.Time
		entries int
	}{
		{"a second before the end", until.Add(-time.Second), 2},
		{"at the end", until, 1},
		{"after the end", until.Add(time.Hour), 1},
	}
	for _, c := range cases {
		header := d.Signature(c.at)
		if n := strings.Count(header, "v1="); n != c.entries {
			t.Errorf("%s: want %d v1 entries, got %q", c.name, c.entries, header)
			continue
		}
		if err := webhook.Verify(newSecret, header, d.Body, 0); err != nil {
			t.Errorf("%s: the new secret must verify: %v", c.name, err)
		}
		err := webhook.Verify(oldSecret, header, d.Body, 0)
		if c.entries == 2 && err != nil {
			t.Errorf("%s: the previous secret must verify during the overlap: %v", c.name, err)
		}
		if c.entries == 1 && err == nil {
			t.Errorf("%s: the previous secret must no longer verify", c.name)
		}
	}
	if got := (webhook.Delivery{Secret: newSecret, Body: d.Body}).Signature(until); strings.Count(got, "v1=") != 1 {
		t.Errorf("without a previous secret there is one signature, got %q", got)
	}
}
