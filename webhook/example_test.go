package webhook_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/vacancy-dev/vacancy/webhook"
)

// A receiver's handler reads the raw body, verifies it, then acts on the event;
// its test signs a delivery with Sign.
func ExampleVerify() {
	secret := "whsec_..." // the endpoint's signing secret, shown once when it was created

	receive := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(body, r.Header.Get(webhook.SignatureHeader), secret, 5*time.Minute); err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		// Genuine: act on the event. Deliveries are at least once, so deduplicate
		// on the event id.
		fmt.Println("verified", r.Header.Get(webhook.EventIDHeader), r.Header.Get(webhook.EventTypeHeader))
		w.WriteHeader(http.StatusNoContent)
	}

	// In a test of the receiver, Sign makes the header Vacancy would send.
	body := []byte(`{"id":"ev_1","type":"booking.created","data":{}}`)
	req := httptest.NewRequest(http.MethodPost, "/hooks/vacancy", bytes.NewReader(body))
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(body, secret, time.Now()))
	req.Header.Set(webhook.EventIDHeader, "ev_1")
	req.Header.Set(webhook.EventTypeHeader, "booking.created")
	rec := httptest.NewRecorder()
	receive(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// verified ev_1 booking.created
	// 204
}

// Each way a delivery can fail verification is a sentinel error.
func ExampleVerify_errors() {
	secret, body := "whsec_...", []byte(`{"id":"ev_1"}`)
	old := webhook.Sign(body, secret, time.Now().Add(-time.Hour))
	for _, c := range []struct {
		body   []byte
		header string
	}{
		{body, old},
		{[]byte(`{"id":"ev_2"}`), webhook.Sign(body, secret, time.Now())},
		{body, "sha256=abc"},
	} {
		err := webhook.Verify(c.body, c.header, secret, 5*time.Minute)
		switch {
		case errors.Is(err, webhook.ErrTimestampOutsideTolerance):
			fmt.Println("replayed, or a clock far off")
		case errors.Is(err, webhook.ErrSignatureMismatch):
			fmt.Println("changed body or wrong secret")
		case errors.Is(err, webhook.ErrMalformedSignature):
			fmt.Println("not a Vacancy signature")
		}
	}
	// Output:
	// replayed, or a clock far off
	// changed body or wrong secret
	// not a Vacancy signature
}

func ExampleSign() {
	at := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	fmt.Println(webhook.Sign([]byte(`{}`), "whsec_known", at))
	// Output:
	// t=1798859045,v1=68713aee4890005407829169a4ebbd58e8a894f9a4af51f1d910f1379ed59ddd
}
