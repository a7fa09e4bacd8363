package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vacancy-dev/vacancy/internal/domain"
)

// Problem is an RFC 9457 problem details body, with Vacancy's machine code.
type Problem struct {
	Type       string              `json:"type"`
	Title      string              `json:"title"`
	Status     int                 `json:"status"`
	Detail     string              `json:"detail,omitempty"`
	Code       string              `json:"code"`
	Errors     []domain.FieldError `json:"errors,omitempty"`
	ItemIDs    []uuid.UUID         `json:"item_ids,omitempty"`
	BookingIDs []uuid.UUID         `json:"booking_ids,omitempty"`
	Instance   string              `json:"instance,omitempty"`
	// retryAfter is sent as Retry-After, in whole seconds (at least 1).
	retryAfter time.Duration
}

// unavailableRetry is the Retry-After of a 503: the database did not answer in
// time, and a retry with the same Idempotency-Key is safe.
const unavailableRetry = 2 * time.Second

const problemBase = "https://vacancy.dev/problems/"

func newProblem(status int, code, detail string) Problem {
	return Problem{Type: problemBase + code, Title: http.StatusText(status), Status: status, Detail: detail, Code: code}
}

func writeProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	p.Instance = r.URL.Path
	if p.Status == http.StatusServiceUnavailable && p.retryAfter == 0 {
		p.retryAfter = unavailableRetry
	}
	if p.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(max(time.Second, p.retryAfter+time.Second-1)/time.Second)))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("ETag")
	w.WriteHeader(p.Status)
	_ = jsonEncode(w, p)
}

// fail writes err as its problem.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	writeProblem(w, r, problemFor(r.Context(), s.log, err))
}

// problemFor maps an error to its problem: the one place where domain error kinds
// and codes become HTTP statuses.
func problemFor(ctx context.Context, log *slog.Logger, err error) Problem {
	if de, ok := domain.AsError(err); ok {
		status := http.StatusInternalServerError
		switch de.Kind {
		case domain.KindInvalid:
			status = http.StatusUnprocessableEntity
		case domain.KindNotFound:
			status = http.StatusNotFound
		case domain.KindForbidden:
			status = http.StatusForbidden
		case domain.KindConflict:
			status = http.StatusConflict
			if de.Code == domain.CodeStaleVersion {
				status = http.StatusPreconditionFailed
			}
		}
		p := newProblem(status, de.Code, de.Message)
		p.Errors = de.Fields
		p.ItemIDs = de.ItemIDs
		p.BookingIDs = de.BookingIDs
		if de.Code == domain.CodeKeyInUse {
			p.retryAfter = max(de.RetryAfter, time.Second)
		}
		return p
	}
	// The client went away; whatever the database said after that is moot. Checked
	// before the database errors: pgx reports a query cut off that way as a
	// timeout wrapping context.Canceled.
	if errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled) {
		return newProblem(499, "client_closed_request", "the client went away")
	}
	if errors.Is(err, context.DeadlineExceeded) || isUnavailable(err) {
		log.WarnContext(ctx, "database unavailable", "err", err)
		return newProblem(http.StatusServiceUnavailable, "database_unavailable", "the database did not answer in time; retry with the same Idempotency-Key")
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	return newProblem(http.StatusInternalServerError, "internal_error", "an unexpected error occurred")
}

// isUnavailable reports errors that mean the database cannot be reached or did
// not answer: the client should retry, with the same Idempotency-Key.
func isUnavailable(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &ce), pgconn.Timeout(err), errors.As(err, &ne), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &pe):
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57014" || pe.Code == "53300"
	}
	return false
}
