package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
)

func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic", "panic", v, "stack", string(debug.Stack()))
				writeProblem(w, r, newProblem(http.StatusInternalServerError, "internal_error", "an unexpected error occurred"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// wellFormedQuery answers 400 malformed_query for a query string that does not
// parse: r.URL.Query() silently drops a pair with a malformed percent-escape, so
// GET /bookings?cursor=%%% would answer the first page as if no cursor was sent.
func wellFormedQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			writeProblem(w, r, newProblem(http.StatusBadRequest, "malformed_query",
				"the query string is malformed: percent-encode '%' as %25 and every other reserved character"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// strictTransportSecurity sends Strict-Transport-Security with every response.
// The server speaks plain HTTP behind a TLS-terminating proxy, so it is sent
// only when configured (the proxy may set it instead).
func strictTransportSecurity(value string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", value)
		next.ServeHTTP(w, r)
	})
}

// ParseHSTS checks a Strict-Transport-Security value: max-age=<seconds>,
// optionally includeSubDomains and preload, separated by semicolons.
func ParseHSTS(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	bad := fmt.Errorf(`must be a Strict-Transport-Security value such as "max-age=31536000; includeSubDomains", not %q`, s)
	parts := strings.Split(s, ";")
	age, ok := strings.CutPrefix(strings.TrimSpace(parts[0]), "max-age=")
	if n, err := strconv.Atoi(age); !ok || err != nil || n < 0 {
		return "", bad
	}
	for _, p := range parts[1:] {
		if d := strings.TrimSpace(p); d != "includeSubDomains" && d != "preload" {
			return "", bad
		}
	}
	return s, nil
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

func unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="vacancy"`)
	writeProblem(w, r, newProblem(http.StatusUnauthorized, "unauthorized", "send a valid API key as Authorization: Bearer <key>"))
}

// authenticate turns the bearer key into a Principal (and so a Scope).
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := bearer(r)
		if !ok {
			unauthorized(w, r)
			return
		}
		p, err := s.svc.Authenticate(r.Context(), key)
		if errors.Is(err, tenancy.ErrUnauthenticated) {
			unauthorized(w, r)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), principalKey, p)
		if info := requestInfoFrom(ctx); info != nil {
			info.organisationID, info.apiKeyID = p.Scope.OrganisationID.String(), p.Scope.ActorID.String()
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// matchOrganisation answers 404, exactly as for a missing organisation, when the
// path's organisation (id or slug) is not the key's own.
func (s *server) matchOrganisation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r.Context())
		org := chi.URLParam(r, "org")
		if org != p.OrganisationSlug && org != p.Scope.OrganisationID.String() {
			writeProblem(w, r, newProblem(http.StatusNotFound, "not_found", "organisation not found"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allow answers 403 unless the key's role may run op. The role comes from the
// domain's access table, the one the services check too, so a route and the
// service behind it cannot disagree about who may call it.
func (s *server) allow(op domain.Operation) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := domain.Authorize(scopeFrom(r), op); err != nil {
				s.fail(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// pathID parses a path id; a malformed id is a resource that does not exist.
func pathID(w http.ResponseWriter, r *http.Request, name, what string) (uuid.UUID, bool) {
	id, err := uuid.Parse(chi.URLParam(r, name))
	if err != nil {
		writeProblem(w, r, newProblem(http.StatusNotFound, "not_found", what+" not found"))
		return uuid.Nil, false
	}
	return id, true
}

// requestInfo is filled in as a request is handled, for the access log.
type requestInfo struct {
	organisationID string
	apiKeyID       string
	// untimed is the request's context without the per-request deadline: long-lived
	// responses (the event stream) end when the client goes away or the server
	// shuts down instead.
	untimed context.Context
}

const requestInfoKey ctxKey = 100

func requestInfoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(requestInfoKey).(*requestInfo)
	return i
}
