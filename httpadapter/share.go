package httpadapter

import (
	"net/http"
	"time"

	"github.com/attachkit/attachkit/attach"
)

// shareRoutes: public links, public-read files, public upload and URL
// verification. Creating, listing and revoking links need the edit right
// on the file.
func (h *Handler) shareRoutes(auth authed, public anon) {
	auth("POST /files/{id}/links", h.createLink)
	auth("GET /files/{id}/links", h.listLinks)
	auth("DELETE /links/{linkId}", h.revokeLink)
	public("GET /public/links/{linkId}/{fileName}", h.publicLink)
	public("GET /public/files/{id}/{fileName}", h.publicFile)
	public("POST /public/upload-url", h.publicUploadURL)
	public("POST /public/uploads/{uploadId}/confirm", h.confirmPublicUpload)
	auth("POST /urls/verify", h.verifyURL)
}

type createLinkRequest struct {
	ExpiresAt *time.Time `json:"expiresAt"`
}

func (h *Handler) createLink(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	var req createLinkRequest
	if r.ContentLength != 0 { // the body is optional
		if err := h.decodeJSON(w, r, &req); err != nil {
			return err
		}
	}
	opts := &attach.LinkOptions{}
	if req.ExpiresAt != nil {
		opts.ExpiresAt = *req.ExpiresAt
	}
	l, err := h.svc.CreateLink(r.Context(), scope, r.PathValue("id"), opts)
	return reply(w, http.StatusCreated, l, err)
}

func (h *Handler) listLinks(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	ls, err := h.svc.Links(r.Context(), scope, r.PathValue("id"))
	return reply(w, http.StatusOK, ls, err)
}

func (h *Handler) revokeLink(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	if err := h.svc.RevokeLink(r.Context(), scope, r.PathValue("linkId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// publicLink serves a public link's bytes. Every miss is the same 404;
// a client that misses too often is refused (429) before any lookup,
// while hits never count (each lookup takes a miss and a hit gives it
// back).
func (h *Handler) publicLink(w http.ResponseWriter, r *http.Request) error {
	return h.servePublic(w, r, func(opts *attach.DownloadOptions) (*attach.Content, error) {
		return h.svc.OpenLink(r.Context(), r.PathValue("linkId"), opts)
	})
}

// publicFile serves a public-read file's current version: the stable
// anonymous URL of attach.Service.PublicURL.
func (h *Handler) publicFile(w http.ResponseWriter, r *http.Request) error {
	return h.servePublic(w, r, func(opts *attach.DownloadOptions) (*attach.Content, error) {
		return h.svc.OpenPublic(r.Context(), r.PathValue("id"), opts)
	})
}

func (h *Handler) servePublic(w http.ResponseWriter, r *http.Request, open func(*attach.DownloadOptions) (*attach.Content, error)) error {
	refund, err := h.charge(w, r, RateLinkMiss)
	if err != nil {
		return err
	}
	// The file name segment is cosmetic (browsers save under it); any
	// disposition but inline is attachment, so a query cannot tell misses
	// apart.
	c, err := open(&attach.DownloadOptions{Inline: r.URL.Query().Get("disposition") == "inline"})
	if attach.CodeOf(err) != attach.CodeNotFound {
		refund() // only misses count
	}
	if err != nil {
		return err
	}
	defer c.Close()
	w.Header().Set("Referrer-Policy", "no-referrer") // the URL is the secret
	h.serveContent(w, r, c)
	return nil
}

type publicUploadRequest struct {
	FileName *string `json:"fileName"`
	MIMEType *string `json:"mimeType"`
	FileSize *int64  `json:"fileSize"`
}

// publicUploadURL issues an anonymous upload ticket; without
// attach.Options.PublicUpload it is an unknown route.
func (h *Handler) publicUploadURL(w http.ResponseWriter, r *http.Request) error {
	if !h.svc.PublicUploadEnabled() {
		return apiError(attach.CodeNotFound, "no such route")
	}
	if err := h.allow(w, r, RatePublicUpload, ""); err != nil {
		return err
	}
	var req publicUploadRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		return err
	}
	switch {
	case req.FileName == nil:
		return apiError(attach.CodeInvalidRequest, "fileName is required")
	case req.MIMEType == nil:
		return apiError(attach.CodeInvalidRequest, "mimeType is required")
	case req.FileSize == nil:
		return apiError(attach.CodeInvalidRequest, "fileSize is required")
	}
	up, err := h.svc.RequestPublicUpload(r.Context(), attach.PublicUploadRequest{
		FileName: *req.FileName, MIMEType: *req.MIMEType, Size: *req.FileSize})
	return reply(w, http.StatusCreated, up, err)
}

// confirmPublicUpload confirms an anonymous upload by its ticket id and
// answers only {id, status}. Unknown tickets count as misses.
func (h *Handler) confirmPublicUpload(w http.ResponseWriter, r *http.Request) error {
	if !h.svc.PublicUploadEnabled() {
		return apiError(attach.CodeNotFound, "no such route")
	}
	refund, err := h.charge(w, r, RateLinkMiss)
	if err != nil {
		return err
	}
	st, err := h.svc.ConfirmPublicUpload(r.Context(), r.PathValue("uploadId"))
	if c := attach.CodeOf(err); c != attach.CodeNotFound && c != attach.CodeInvalidRequest {
		refund() // only misses count
	}
	return reply(w, http.StatusOK, st, err)
}

type verifyRequest struct {
	URL *string `json:"url"`
}

func (h *Handler) verifyURL(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	var req verifyRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.URL == nil {
		return apiError(attach.CodeInvalidRequest, "url is required")
	}
	v, err := h.svc.VerifyURL(r.Context(), scope, *req.URL)
	return reply(w, http.StatusOK, v, err)
}
