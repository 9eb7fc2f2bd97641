// Package errs holds the domain error type every service returns: a kind that decides the transport
// status, a stable machine code clients can branch on, and a message safe to show them.
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error once; ports map it to a gRPC code and the gateway to an HTTP status.
type Kind int

const (
	KindInternal Kind = iota
	KindInvalid
	KindNotFound
	KindConflict
	KindUnauthenticated
	KindPermissionDenied
	KindPrecondition
	KindTooMany
	KindUnavailable
	// KindTooLarge and KindUnsupportedMedia are edge errors about the request as a whole.
	KindTooLarge
	KindUnsupportedMedia
	// KindPreconditionRequired: a conditional write came without its condition (If-Match).
	KindPreconditionRequired
	// KindPaymentRequired: the account's plan does not allow it (HTTP 402).
	KindPaymentRequired
	// KindUnprocessable: well-formed, but refused for what it is (HTTP 422), such as an infected file.
	KindUnprocessable
)

// Error is a domain error with a stable code such as "user.email_taken".
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// Field names the offending input field for KindInvalid, when there is one.
	Field string
	// RetryAfter says when a KindTooMany or KindUnavailable error may be retried.
	RetryAfter time.Duration
	cause      error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.cause }

// Invalid reports bad input in one field.
func Invalid(code, field, message string) *Error {
	return &Error{Kind: KindInvalid, Code: code, Field: field, Message: message}
}

// NotFound reports a missing resource.
func NotFound(code, message string) *Error {
	return &Error{Kind: KindNotFound, Code: code, Message: message}
}

// Conflict reports a clash with existing state.
func Conflict(code, message string) *Error {
	return &Error{Kind: KindConflict, Code: code, Message: message}
}

// Unauthenticated reports missing or bad credentials.
func Unauthenticated(code, message string) *Error {
	return &Error{Kind: KindUnauthenticated, Code: code, Message: message}
}

// PermissionDenied reports a caller who may not do this.
func PermissionDenied(code, message string) *Error {
	return &Error{Kind: KindPermissionDenied, Code: code, Message: message}
}

// Unavailable reports a dependency that cannot be reached; the caller may retry.
func Unavailable(code, message string, cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: code, Message: message, cause: cause}
}

// Internal wraps an unexpected failure; its cause is logged, never shown.
func Internal(cause error) *Error {
	return &Error{Kind: KindInternal, Code: "internal", Message: "internal error", cause: cause}
}

// As returns err as an *Error, wrapping anything else as internal.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}
