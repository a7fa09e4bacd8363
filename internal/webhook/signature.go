// Package webhook is the server's side of Vacancy's webhooks: signing secrets,
// the guard against server-side request forgery (which addresses a webhook may
// reach, checked when an endpoint is registered and again on every connection),
// the Sender that posts and signs one delivery, and the retry schedule. The
// signature scheme itself lives in the public package
// github.com/vacancy-dev/vacancy/webhook, which receivers import; this package
// only calls it. It knows nothing of the database or the domain.
package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"time"

	public "github.com/vacancy-dev/vacancy/webhook"
)

// Headers of a delivery (the public package's, for the sender).
const (
	SignatureHeader  = public.SignatureHeader
	EventIDHeader    = public.EventIDHeader
	EventTypeHeader  = public.EventTypeHeader
	DeliveryIDHeader = public.DeliveryIDHeader
)

// secretPrefix marks a webhook signing secret, so a leaked one is recognisable.
const secretPrefix = "whsec_"

// NewSecret returns a new signing secret: whsec_ and 32 random bytes, base64url.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Sign returns the Vacancy-Signature header value for body sent at t, with the
// public package's scheme.
func Sign(secret string, t time.Time, body []byte) string {
	return public.Sign(body, secret, t)
}

// SignAll is Sign with one v1 entry per secret, in the order given (a
// rotation's overlap: the new secret, then the one it replaced).
func SignAll(t time.Time, body []byte, secrets ...string) string {
	return public.SignAll(body, t, secrets...)
}

// Verify is the public package's Verify in this package's argument order, for
// the server's own end-to-end tests. Receivers import
// github.com/vacancy-dev/vacancy/webhook instead.
func Verify(secret, header string, body []byte, tolerance time.Duration) error {
	return public.Verify(body, header, secret, tolerance)
}
