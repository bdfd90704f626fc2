package attach

import (
	"context"
	"errors"
	"time"
)

// MaxBulkDownloads bounds the items of one DownloadURLs call.
const MaxBulkDownloads = 100

// DownloadItem names a file, and optionally a version, for DownloadURLs.
type DownloadItem struct {
	ID      string `json:"id"`
	Version int    `json:"version,omitempty"` // 0: the current version
}

// DownloadResult is one item's answer: a signed URL, or why there is none.
type DownloadResult struct {
	ID        string       `json:"id"`
	URL       string       `json:"url,omitempty"`
	ExpiresAt *time.Time   `json:"expiresAt,omitempty"`
	Error     *StatusError `json:"error,omitempty"`
}

// DownloadURLs returns a signed download URL for each item, in order, or
// the item's own error (not found, forbidden, not downloadable yet, ...):
// one bad item does not fail the others. More than MaxBulkDownloads items
// are CodeInvalidRequest. Internal errors are logged and reported per item
// with a generic message.
func (s *Service) DownloadURLs(ctx context.Context, scope Scope, items []DownloadItem) ([]DownloadResult, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	if len(items) > MaxBulkDownloads {
		return nil, errorf(CodeInvalidRequest, "at most %d files per request, got %d", MaxBulkDownloads, len(items))
	}
	out := make([]DownloadResult, len(items))
	for i, it := range items {
		out[i].ID = it.ID
		u, err := s.DownloadURL(ctx, scope, it.ID, &DownloadOptions{Version: it.Version})
		if err == nil {
			exp := u.ExpiresAt
			out[i].URL, out[i].ExpiresAt = u.URL, &exp
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var e *Error
		if !errors.As(err, &e) || e.Code == CodeInternal {
			s.log.ErrorContext(ctx, "attach: bulk download url failed", "file", truncate(it.ID, 64), "err", err)
			e = &Error{Code: CodeInternal, Message: "internal error"}
		}
		out[i].Error = &StatusError{Code: e.Code, Message: e.Message}
	}
	return out, nil
}
