// Package webhook is the wire side of Vacancy's webhooks: the signature scheme
// (Sign for the server, Verify for receivers and tests), the guard against
// server-side request forgery (which addresses a webhook may reach, checked when an
// endpoint is registered and again on every connection), the Sender that posts one
// delivery, and the retry schedule. It knows nothing of the database or the domain.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	SignatureHeader  = "Vacancy-Signature"
	EventIDHeader    = "Vacancy-Event-Id"
	EventTypeHeader  = "Vacancy-Event-Type"
	DeliveryIDHeader = "Vacancy-Delivery-Id"
)

// secretPrefix marks a webhook signing secret, so a leaked one is recognisable.
const secretPrefix = "whsec_"

// NewSecret returns a new signing secret: whsec_ and 32 random bytes, base64url.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Sign returns the Vacancy-Signature header value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>". The key is the
// secret string exactly as shown at endpoint creation.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Errors of Verify.
var (
	ErrMalformedSignature = errors.New("webhook: malformed Vacancy-Signature header")
	ErrSignatureMismatch  = errors.New("webhook: no v1 signature matches the body")
	ErrTimestampTooOld    = errors.New("webhook: signature timestamp outside the tolerance")
)

// Verify checks a delivery's Vacancy-Signature header against the raw request body
// (exactly the bytes received, before any JSON decoding). A signature older or
// newer than tolerance (as measured by this machine's clock) is refused, so a
// captured delivery cannot be replayed later; tolerance <= 0 skips that check.
// Several v1 entries are accepted, any one of which may match.
func Verify(secret, header string, body []byte, tolerance time.Duration) error {
	return VerifyAt(secret, header, body, tolerance, time.Now())
}

// VerifyAt is Verify with the clock given.
func VerifyAt(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformedSignature
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil {
				return ErrMalformedSignature
			}
			sigs = append(sigs, sig)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformedSignature
	}
	if tolerance > 0 {
		if age := now.Sub(time.Unix(unix, 0)); age > tolerance || age < -tolerance {
			return fmt.Errorf("%w: signed %s ago", ErrTimestampTooOld, age.Round(time.Second))
		}
	}
	want := mac(secret, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}
