package webhook_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/webhook"
)

func TestSignAndVerify(t *testing.T) {
	t.Parallel()
	const secret = "whsec_test-secret"
	body := []byte(`{"id":"1","type":"booking.created"}`)
	now := time.Unix(1_800_000_000, 0)
	header := webhook.Sign(body, secret, now)
	if !strings.HasPrefix(header, "t=1800000000,v1=") || len(header) != len("t=1800000000,v1=")+64 {
		t.Fatalf("header must be t=<unix>,v1=<64 hex digits>, got %q", header)
	}
	if err := webhook.VerifyAt(body, header, secret, 5*time.Minute, now.Add(time.Minute)); err != nil {
		t.Fatalf("a fresh signature over the same body must verify: %v", err)
	}
	cases := []struct {
		name   string
		secret string
		header string
		body   []byte
		at     time.Time
		want   error
	}{
		{"tampered body", secret, header, []byte(`{"id":"2","type":"booking.created"}`), now, webhook.ErrSignatureMismatch},
		{"other secret", "whsec_other", header, body, now, webhook.ErrSignatureMismatch},
		{"replayed later", secret, header, body, now.Add(6 * time.Minute), webhook.ErrTimestampOutsideTolerance},
		{"from the future", secret, header, body, now.Add(-6 * time.Minute), webhook.ErrTimestampOutsideTolerance},
		{"timestamp moved", secret, strings.Replace(header, "t=1800000000", "t=1800000001", 1), body, now, webhook.ErrSignatureMismatch},
		{"no v1", secret, "t=1800000000", body, now, webhook.ErrMalformedSignature},
		{"no t", secret, strings.TrimPrefix(header, "t=1800000000,"), body, now, webhook.ErrMalformedSignature},
		{"not hex", secret, "t=1800000000,v1=zz", body, now, webhook.ErrMalformedSignature},
		{"garbage", secret, "sha256=abc", body, now, webhook.ErrMalformedSignature},
		{"empty", secret, "", body, now, webhook.ErrMalformedSignature},
	}
	for _, c := range cases {
		if err := webhook.VerifyAt(c.body, c.header, c.secret, 5*time.Minute, c.at); !errors.Is(err, c.want) {
			t.Errorf("%s: want %v, got %v", c.name, c.want, err)
		}
	}
	// Several v1 entries: any one matching is enough (a receiver rotating secrets).
	two := "t=1800000000,v1=" + strings.Repeat("ab", 32) + "," + strings.TrimPrefix(header, "t=1800000000,")
	if err := webhook.VerifyAt(body, two, secret, 0, now.Add(24*time.Hour)); err != nil {
		t.Fatalf("one matching v1 among several must verify, and tolerance 0 skips the age check: %v", err)
	}
	// Spaces after the commas and unknown keys (a future v2) are tolerated.
	spaced := strings.Replace(header, ",", ", v0=x, ", 1)
	if err := webhook.VerifyAt(body, spaced, secret, time.Minute, now); err != nil {
		t.Fatalf("spaces and unknown keys must be ignored: %v", err)
	}
}

// TestKnownSignature pins the scheme to a value computed independently
// (printf '1800000000.{}' | openssl dgst -sha256 -hmac whsec_known), so a
// change of the wire format cannot pass unnoticed.
func TestKnownSignature(t *testing.T) {
	t.Parallel()
	got := webhook.Sign([]byte("{}"), "whsec_known", time.Unix(1_800_000_000, 0))
	const want = "t=1800000000,v1=ac36663f8bf9a10f316636bfa693d5551672865950de38e57eddb750ec0f0fd0"
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestVerifyUsesTheClock(t *testing.T) {
	t.Parallel()
	body := []byte(`{}`)
	if err := webhook.Verify(body, webhook.Sign(body, "s", time.Now()), "s", time.Minute); err != nil {
		t.Fatalf("a signature made now must verify: %v", err)
	}
	err := webhook.Verify(body, webhook.Sign(body, "s", time.Now().Add(-time.Hour)), "s", time.Minute)
	if !errors.Is(err, webhook.ErrTimestampOutsideTolerance) {
		t.Fatalf("a signature made an hour ago must be refused as a replay, got %v", err)
	}
}

// TestSignAllDuringRotation: a delivery signed with the new and the previous
// secret, as the server signs during a rotation's overlap, verifies with either
// one (so receivers may switch at any moment), and with no other.
func TestSignAllDuringRotation(t *testing.T) {
	t.Parallel()
	const newSecret, oldSecret = "whsec_new", "whsec_old"
	body := []byte(`{"id":"1","type":"booking.created"}`)
	now := time.Unix(1_800_000_000, 0)
	header := webhook.SignAll(body, now, newSecret, oldSecret)
	parts := strings.Split(header, ",")
	if len(parts) != 3 || parts[0] != "t=1800000000" || !strings.HasPrefix(parts[1], "v1=") || !strings.HasPrefix(parts[2], "v1=") {
		t.Fatalf("header must be t=<unix>,v1=<new>,v1=<old>, got %q", header)
	}
	if want := webhook.Sign(body, newSecret, now); "t=1800000000,"+parts[1] != want {
		t.Fatalf("the first v1 must be the new secret's signature: %q, Sign gives %q", header, want)
	}
	for _, secret := range []string{newSecret, oldSecret} {
		if err := webhook.VerifyAt(body, header, secret, 5*time.Minute, now); err != nil {
			t.Errorf("a receiver holding %s must accept a delivery signed during the rotation: %v", secret, err)
		}
	}
	if err := webhook.VerifyAt(body, header, "whsec_other", 5*time.Minute, now); !errors.Is(err, webhook.ErrSignatureMismatch) {
		t.Errorf("a third secret must not verify, got %v", err)
	}
	if got := webhook.SignAll(body, now, newSecret); got != webhook.Sign(body, newSecret, now) {
		t.Errorf("SignAll with one secret must equal Sign: %q", got)
	}
}
