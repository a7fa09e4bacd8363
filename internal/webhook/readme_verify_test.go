package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The receiver-side verifier printed in README.md, verbatim (TestREADMEVerifier
// keeps the two identical and checks it against Sign).

// verify reports whether body carries a valid signature made in the last 5 minutes.
func verify(secret, header string, body []byte) bool {
	var ts string
	var sigs []string
	for _, kv := range strings.Split(header, ",") {
		if k, v, _ := strings.Cut(kv, "="); k == "t" {
			ts = v
		} else if k == "v1" {
			sigs = append(sigs, v)
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(t, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%s.%s", ts, body)
	want := hex.EncodeToString(mac.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}
