package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/cors"
)

// ParseCORSOrigins reads a comma-separated list of browser origins such as
// "https://app.example.com, https://*.example.org"; "*" allows any origin.
func ParseCORSOrigins(s string) ([]string, error) {
	var out []string
	for o := range strings.SplitSeq(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(strings.Replace(o, "*.", "x.", 1))
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				return nil, fmt.Errorf("%q is not an origin such as https://app.example.com", o)
			}
			o = strings.TrimSuffix(o, "/")
		}
		out = append(out, o)
	}
	return out, nil
}

// corsFor answers CORS preflights and adds CORS headers for the listed origins.
// With no origins it does nothing: browsers then refuse cross-origin calls.
// Keys travel in the Authorization header, never in cookies, so credentials
// stay off.
func corsFor(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return cors.Handler(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Idempotency-Key", "If-Match", "X-Request-ID"},
		ExposedHeaders: []string{"ETag", "Location", "Idempotent-Replayed", "X-Request-ID",
			"RateLimit", "RateLimit-Policy", "Retry-After"},
		MaxAge: 600,
	})
}
