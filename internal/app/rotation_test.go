package app_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vacancy-dev/vacancy/internal/testenv"
	"github.com/vacancy-dev/vacancy/webhook"
)

// TestWebhookRotationSignsWithBothSecrets: during a rotation's overlap a delivery
// carries two v1 signatures, the first verifying with the new secret and the
// second with the secret it replaced, so a receiver holding either accepts it;
// once the overlap has ended, one signature, with the new secret only. It
// verifies with the public package, as receivers do.
func TestWebhookRotationSignsWithBothSecrets(t *testing.T) {
	t.Parallel()
	overlapping, ended := newReceiver(t, 200), newReceiver(t, 200)
	in := serve(t, testenv.DatabaseURL(t), webhooksAllowedLocally)
	org := newOrganisation(t, in, "rotation")
	during := org.createEndpoint(overlapping.srv.URL+"/hooks", "booking.created")
	after := org.createEndpoint(ended.srv.URL+"/hooks", "booking.created")

	var rotDuring, rotAfter endpointOut
	org.do("POST", "/webhook-endpoints/"+during.ID+"/rotate-secret", nil).Expect(200).JSON(&rotDuring)
	org.do("POST", "/webhook-endpoints/"+after.ID+"/rotate-secret", map[string]any{"overlap_seconds": 1}).Expect(200).JSON(&rotAfter)
	if rotDuring.Secret == "" || rotDuring.Secret == during.Secret || rotAfter.PreviousExpiresAt == nil {
		t.Fatalf("rotations must answer new secrets and the overlap's end: %+v, %+v", rotDuring, rotAfter)
	}
	// Wait out the second endpoint's one-second overlap; the first's lasts a day.
	time.Sleep(time.Until(*rotAfter.PreviousExpiresAt) + 100*time.Millisecond)

	item := org.createItem("Sea room")
	org.book(item.ID, 3, 5)
	testenv.Eventually(t, 10*time.Second, "both receivers get the booking", func() bool {
		return len(overlapping.requests()) == 1 && len(ended.requests()) == 1
	})

	got := overlapping.requests()[0]
	header := got.header.Get(webhook.SignatureHeader)
	parts := strings.Split(header, ",")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "t=") {
		t.Fatalf("during the overlap the header must be t=..,v1=..,v1=.., got %q", header)
	}
	for i, secret := range map[int]string{1: rotDuring.Secret, 2: during.Secret} {
		one := parts[0] + "," + parts[i]
		if err := webhook.Verify(got.body, one, secret, 5*time.Minute); err != nil {
			t.Errorf("v1 entry %d must verify with its secret (1: new, 2: replaced): %v (header %q)", i, err, header)
		}
	}
	for _, secret := range []string{rotDuring.Secret, during.Secret} {
		if err := webhook.Verify(got.body, header, secret, 5*time.Minute); err != nil {
			t.Errorf("a receiver holding either secret must accept the delivery: %v", err)
		}
	}

	got = ended.requests()[0]
	header = got.header.Get(webhook.SignatureHeader)
	if n := strings.Count(header, "v1="); n != 1 {
		t.Fatalf("after the overlap the header must carry one signature, got %q", header)
	}
	if err := webhook.Verify(got.body, header, rotAfter.Secret, 5*time.Minute); err != nil {
		t.Errorf("after the overlap the new secret must verify: %v", err)
	}
	if err := webhook.Verify(got.body, header, after.Secret, 5*time.Minute); !errors.Is(err, webhook.ErrSignatureMismatch) {
		t.Errorf("after the overlap the replaced secret must no longer verify, got %v", err)
	}
}
