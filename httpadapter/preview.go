package httpadapter

import (
	"context"
	"net/http"
	"strconv"

	"github.com/attachkit/attachkit/attach"
)

// previewRoutes: thumbnails.
func (h *Handler) previewRoutes(auth authed, public anon) {
	auth("GET /files/{id}/thumbnail", h.thumbnail)
}

// thumbnail answers GET /files/{id}/thumbnail?w=&h=&fit=: 200 with a
// signed URL of the thumbnail, or 200 null when the file's type has no
// preview. The first request of a size renders it (see
// attach.Service.Thumbnail); later ones are served from storage.
func (h *Handler) thumbnail(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	q := r.URL.Query()
	width, err := sizeParam(q.Get("w"), "w")
	if err != nil {
		return err
	}
	height, err := sizeParam(q.Get("h"), "h")
	if err != nil {
		return err
	}
	opts := &attach.ThumbnailOptions{Width: width, Height: height, Fit: attach.Fit(q.Get("fit")),
		BeforeRender: func(context.Context) error { return h.allow(w, r, RateThumbnail, scopeKey(scope)) }}
	u, err := h.svc.Thumbnail(r.Context(), scope, r.PathValue("id"), opts)
	return reply(w, http.StatusOK, u, err)
}

// maxSizeDigits bounds the text of a thumbnail size before it is parsed.
const maxSizeDigits = 5

// sizeParam parses a thumbnail width or height: empty is 0 (the service
// then makes the box square), else a decimal number without sign or
// leading zeros. Whether the size is allowed is the service's decision.
func sizeParam(s, name string) (int, error) {
	if s == "" {
		return 0, nil
	}
	ok := len(s) <= maxSizeDigits && s[0] != '0'
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= '0' && s[i] <= '9'
	}
	if !ok {
		return 0, apiError(attach.CodeInvalidRequest, name+" must be one of the allowed thumbnail sizes")
	}
	n, _ := strconv.Atoi(s)
	return n, nil
}
