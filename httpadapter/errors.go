package httpadapter

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/attachkit/attachkit/attach"
)

// statusOf is the one table of HTTP statuses: one status per error code.
var statusOf = map[attach.Code]int{
	attach.CodeInvalidRequest:      http.StatusBadRequest,
	attach.CodeInvalidFileType:     http.StatusBadRequest,
	attach.CodeFileTooLarge:        http.StatusBadRequest,
	attach.CodeUnauthorized:        http.StatusUnauthorized,
	attach.CodeForbidden:           http.StatusForbidden,
	attach.CodeNotFound:            http.StatusNotFound,
	attach.CodeUploadIncomplete:    http.StatusConflict,
	attach.CodeVersionConflict:     http.StatusConflict,
	attach.CodeConflict:            http.StatusConflict,
	attach.CodeExpired:             http.StatusGone,
	attach.CodePayloadTooLarge:     http.StatusRequestEntityTooLarge,
	attach.CodeRangeNotSatisfiable: http.StatusRequestedRangeNotSatisfiable,
	attach.CodeContentMismatch:     http.StatusUnprocessableEntity,
	attach.CodeRateLimited:         http.StatusTooManyRequests,
	attach.CodeInternal:            http.StatusInternalServerError,
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    attach.Code    `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

// writeError answers with the API's error shape. Internal errors are
// logged with their cause and the route pattern (never the path: a link's
// path holds its secret token) and answered with a generic message.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *attach.Error
	if !errors.As(err, &e) {
		code := attach.CodeOf(err)
		if code == "" { // context errors: the client went away or timed out
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				return
			}
			code = attach.CodeInternal
		}
		e = &attach.Error{Code: code, Message: http.StatusText(statusOf[code]), Err: err}
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status, e = http.StatusInternalServerError, &attach.Error{Code: attach.CodeInternal, Err: err}
	}
	msg := e.Message
	if e.Code == attach.CodeInternal {
		h.log.ErrorContext(r.Context(), "httpadapter: internal error", "method", r.Method, "route", r.Pattern, "err", err)
		msg = "internal error"
	}
	if e.Code == attach.CodeUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="attachkit"`)
	}
	details := e.ClientDetails()
	if e.Code == attach.CodeInternal {
		details = map[string]any{}
	}
	writeJSON(w, status, errorBody{errorDetail{Code: e.Code, Message: msg, Details: details}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // signed URLs keep their &
	_ = enc.Encode(v)
}

func apiError(code attach.Code, msg string) error {
	return &attach.Error{Code: code, Message: msg}
}
