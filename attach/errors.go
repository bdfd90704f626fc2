package attach

import (
	"context"
	"errors"
	"fmt"

	"github.com/attachkit/attachkit/driver"
)

// Code classifies an error. The values are the error codes of the HTTP
// contract, so an adapter maps each to exactly one status.
type Code string

// Error codes.
const (
	CodeInvalidRequest      Code = "invalid_request"
	CodeInvalidFileType     Code = "invalid_file_type"
	CodeFileTooLarge        Code = "file_too_large"
	CodeUnauthorized        Code = "unauthorized"
	CodeForbidden           Code = "forbidden"
	CodeNotFound            Code = "not_found"
	CodeUploadIncomplete    Code = "upload_incomplete"
	CodeVersionConflict     Code = "version_conflict"
	CodeConflict            Code = "conflict"
	CodeExpired             Code = "upload_url_expired"
	CodePayloadTooLarge     Code = "payload_too_large"
	CodeRangeNotSatisfiable Code = "range_not_satisfiable"
	CodeContentMismatch     Code = "content_mismatch"
	CodeRateLimited         Code = "rate_limited"
	CodeInternal            Code = "internal"
)

// Sentinels for errors.Is. Every *Error matches the sentinel of its code:
//
//	if errors.Is(err, attach.ErrNotFound) { ... }
var (
	ErrInvalidRequest      error = sentinel(CodeInvalidRequest)
	ErrInvalidFileType     error = sentinel(CodeInvalidFileType)
	ErrFileTooLarge        error = sentinel(CodeFileTooLarge)
	ErrUnauthorized        error = sentinel(CodeUnauthorized)
	ErrForbidden           error = sentinel(CodeForbidden)
	ErrNotFound            error = sentinel(CodeNotFound)
	ErrUploadIncomplete    error = sentinel(CodeUploadIncomplete)
	ErrVersionConflict     error = sentinel(CodeVersionConflict)
	ErrConflict            error = sentinel(CodeConflict)
	ErrExpired             error = sentinel(CodeExpired)
	ErrPayloadTooLarge     error = sentinel(CodePayloadTooLarge)
	ErrRangeNotSatisfiable error = sentinel(CodeRangeNotSatisfiable)
	ErrContentMismatch     error = sentinel(CodeContentMismatch)
	ErrRateLimited         error = sentinel(CodeRateLimited)
	ErrInternal            error = sentinel(CodeInternal)
)

type sentinel Code

func (s sentinel) Error() string { return "attach: " + string(s) }

// Error is the error type returned by Service methods. Message is safe to
// show to the caller; Err, the cause, is for logs only.
type Error struct {
	Code    Code
	Message string
	// MaxSize and ActualSize are set for CodeFileTooLarge (and, where
	// known, CodePayloadTooLarge and CodeContentMismatch).
	MaxSize    int64
	ActualSize int64
	// Details carries other structured fields for the client.
	Details map[string]any
	// Err is the underlying cause, never sent to clients.
	Err error
}

func (e *Error) Error() string {
	msg := "attach: " + string(e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	s, ok := target.(sentinel)
	return ok && Code(s) == e.Code
}

// ClientDetails returns the structured details an API response carries.
func (e *Error) ClientDetails() map[string]any {
	d := map[string]any{}
	for k, v := range e.Details {
		d[k] = v
	}
	if e.Code == CodeFileTooLarge || e.MaxSize > 0 {
		if e.MaxSize > 0 {
			d["maxSize"] = e.MaxSize
		}
		if e.ActualSize > 0 {
			d["actualSize"] = e.ActualSize
		}
	}
	return d
}

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func tooLarge(max, actual int64) *Error {
	return &Error{Code: CodeFileTooLarge, MaxSize: max, ActualSize: actual,
		Message: fmt.Sprintf("file is %d bytes; the limit is %d bytes", actual, max)}
}

// CodeOf returns the code of err: the code of an *Error in its chain, the
// code a classified driver error maps to, or CodeInternal. Context errors
// and nil have no code ("").
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ""
	case errors.Is(err, driver.ErrNotFound):
		return CodeNotFound
	case errors.Is(err, driver.ErrPrecondition):
		return CodeConflict
	case errors.Is(err, driver.ErrInvalidArgument):
		return CodeInvalidRequest
	}
	return CodeInternal
}

// wrap is the one place driver and store errors become *Error values. It
// keeps context errors and *Error values as they are, maps classified
// driver errors to their codes and everything else to CodeInternal with a
// generic message (the cause stays in Err for logs).
func wrap(err error, op string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	code := CodeOf(err)
	msg := "internal error"
	switch code {
	case CodeNotFound:
		msg = "not found"
	case CodeConflict:
		msg = "the resource changed; retry"
	case CodeInvalidRequest:
		msg = "invalid argument"
	}
	return &Error{Code: code, Message: msg, Err: fmt.Errorf("%s: %w", op, err)}
}
