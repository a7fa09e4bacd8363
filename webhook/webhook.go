// Package webhook is for the receiving end of Vacancy's webhooks: it checks the
// Vacancy-Signature header of a delivery (Verify), and makes such headers for a
// receiver's own tests (Sign). It imports only the standard library and knows
// nothing of the server; the server signs its deliveries with this same code.
//
// A delivery is a POST of the event's JSON with these headers:
//
//	Vacancy-Event-Id:    the event's id (deliveries are at least once: deduplicate on it)
//	Vacancy-Event-Type:  e.g. booking.created
//	Vacancy-Delivery-Id: this delivery (one event to one endpoint)
//	Vacancy-Signature:   t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//
// The HMAC key is the endpoint's signing secret exactly as shown when the
// endpoint was created or its secret last rotated (the whole string, "whsec_"
// included). Verify the raw body bytes before decoding any JSON. For a while
// after a rotation the header carries two v1 entries, one for the new secret and
// one for the secret it replaced; Verify accepts a delivery when any one matches.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
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

// Errors of Verify, for errors.Is. A receiver should answer every one of them
// with a 4xx and not act on the delivery.
var (
	// ErrMalformedSignature: the header is not t=<unix seconds>,v1=<hex>[,v1=<hex>...].
	ErrMalformedSignature = errors.New("webhook: malformed Vacancy-Signature header")
	// ErrSignatureMismatch: no v1 signature matches the body and the secret (a
	// changed body, another endpoint's secret, or a forged header).
	ErrSignatureMismatch = errors.New("webhook: no v1 signature matches the body")
	// ErrTimestampOutsideTolerance: the signature was made longer ago (or further
	// ahead, by this machine's clock) than the tolerance: a replay, or a clock
	// that is badly off.
	ErrTimestampOutsideTolerance = errors.New("webhook: signature timestamp outside the tolerance")
)

// Sign returns the Vacancy-Signature header value for payload sent at the
// given time, signed with secret: "t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
// "<t>.<payload>")>". The server signs every delivery with it; receivers use it
// to make signed requests in their own tests.
func Sign(payload []byte, secret string, at time.Time) string {
	return SignAll(payload, at, secret)
}

// SignAll is Sign with several secrets: one v1 entry each, in the order given,
// "t=<unix seconds>,v1=<hex>,v1=<hex>". While an endpoint's secret is being
// rotated the server signs every delivery with the new secret and the one it
// replaced, so a receiver holding either accepts it (Verify needs one match);
// receivers use it to test that they keep working through a rotation.
func SignAll(payload []byte, at time.Time, secrets ...string) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, secret := range secrets {
		b.WriteString(",v1=" + hex.EncodeToString(mac(secret, ts, payload)))
	}
	return b.String()
}

func mac(secret, ts string, payload []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(payload)
	return h.Sum(nil)
}

// Verify checks a delivery's Vacancy-Signature header against its raw body
// (payload: exactly the bytes received, before any JSON decoding) and the
// endpoint's signing secret. A signature made more than tolerance before or
// after now, by this machine's clock, is refused, so a captured delivery cannot
// be replayed later (5 minutes suits most receivers); tolerance <= 0 skips
// that check (only for re-checking stored deliveries). The header may carry
// several v1 signatures (during a secret rotation, one per secret); one
// matching is enough. Signatures are compared in constant time.
func Verify(payload []byte, header string, secret string, tolerance time.Duration) error {
	return VerifyAt(payload, header, secret, tolerance, time.Now())
}

// VerifyAt is Verify with the clock given: now is the time the delivery is
// checked at.
func VerifyAt(payload []byte, header string, secret string, tolerance time.Duration, now time.Time) error {
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
			return fmt.Errorf("%w: signed %s ago", ErrTimestampOutsideTolerance, age.Round(time.Second))
		}
	}
	want := mac(secret, ts, payload)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}
