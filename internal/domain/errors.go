// Package domain is the vocabulary every domain package shares: the one error type
// and its kinds, field validation, dates, pages and lists, the organisation's
// clock, event types, and the access table that says which role may run each
// operation. It holds no command handlers and knows nothing of HTTP.
package domain

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Kind is the small set of ways a command or query can fail that a caller may act
// on. The HTTP layer maps each kind (and Code) to a status in exactly one place.
type Kind string

const (
	KindInvalid   Kind = "invalid"   // the input is wrong: see Fields
	KindNotFound  Kind = "not_found" // no such resource in this organisation
	KindConflict  Kind = "conflict"  // the current state forbids it: see Code
	KindForbidden Kind = "forbidden" // the actor's role does not allow it
)

// Conflict and validation codes that callers can rely on.
const (
	CodeValidation        = "validation_failed"
	CodeBookingConflict   = "booking_conflict"
	CodeInvalidTransition = "invalid_transition"
	CodeStaleVersion      = "stale_version"
	CodeKeyReused         = "idempotency_key_reused"
	CodeKeyInUse          = "idempotency_key_in_use"
	CodeSlugTaken         = "slug_taken"
	CodeNotFound          = "not_found"
	CodeForbidden         = "forbidden"
	CodeItemArchived      = "item_archived"
	CodeBlockConflict     = "block_conflict"
	CodeUnitNameTaken     = "unit_name_taken"
	CodeUnitHasBookings   = "unit_has_bookings"
	CodeUnitLimit         = "unit_limit_reached"
	CodePropertyHasItems  = "property_has_items"
	CodeRateRuleLimit     = "rate_rule_limit_reached"
	CodeChargeLimit       = "charge_limit_reached"
)

// FieldError is one wrong input field; Field is a path like items[0].check_out.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is the domain's only error type.
type Error struct {
	Kind    Kind         `json:"kind"`
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Fields  []FieldError `json:"fields,omitempty"`
	// ItemIDs names the items in conflict for booking_conflict, and a property's
	// active items for property_has_items.
	ItemIDs []uuid.UUID `json:"item_ids,omitempty"`
	// RetryAfter, when set, is how long until a retry can succeed (an idempotency
	// key in use until its claim ends). It is not stored with a command's outcome.
	RetryAfter time.Duration `json:"-"`
	// BookingIDs names the bookings in the way, for unit_has_bookings.
	BookingIDs []uuid.UUID `json:"booking_ids,omitempty"`
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Code, e.Message)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	return b.String()
}

// AsError returns the domain error inside err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsKind reports whether err is a domain error of kind k.
func IsKind(err error, k Kind) bool {
	e, ok := AsError(err)
	return ok && e.Kind == k
}

// NotFound is the error for a resource that does not exist in the organisation.
func NotFound(what string) *Error {
	return &Error{Kind: KindNotFound, Code: CodeNotFound, Message: what + " not found"}
}

// Conflict is the error for a change the current state forbids.
func Conflict(code, format string, args ...any) *Error {
	return &Error{Kind: KindConflict, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Forbidden is the error for an actor whose role does not allow the operation.
func Forbidden(format string, args ...any) *Error {
	return &Error{Kind: KindForbidden, Code: CodeForbidden, Message: fmt.Sprintf(format, args...)}
}

// Problems collects field errors while a constructor validates its input.
type Problems []FieldError

// Add records one wrong field.
func (p *Problems) Add(field, code, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

// Err returns nil when nothing was added, else one KindInvalid error.
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalid, Code: CodeValidation, Message: "the request has invalid fields", Fields: p}
}

// Invalid returns a validation error for one field. The HTTP layer uses it for
// query parameters and headers that feed a command or query.
func Invalid(field, code, message string) error {
	return &Error{Kind: KindInvalid, Code: CodeValidation, Message: "the request has invalid fields",
		Fields: []FieldError{{Field: field, Code: code, Message: message}}}
}

// CheckValidation says what keeps err from being a well-formed validation error:
// kind invalid, at least one field, each with a code and a message (what a client
// of a 422 relies on). It returns nil for such an error. Fuzz tests of every
// validating constructor hold refused inputs to it.
func CheckValidation(err error) error {
	e, ok := AsError(err)
	if !ok || e.Kind != KindInvalid || len(e.Fields) == 0 {
		return fmt.Errorf("a refused input must be a field error (422), got %#v", err)
	}
	for _, f := range e.Fields {
		if f.Code == "" || f.Message == "" {
			return fmt.Errorf("field error without code or message: %+v", f)
		}
	}
	return nil
}
