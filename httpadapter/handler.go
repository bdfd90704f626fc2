package httpadapter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/attachkit/attachkit/attach"
)

// Options configure a Handler. The zero value of every field but
// Authenticate is its default.
type Options struct {
	// Authenticate returns the caller's scope, or an error for missing or
	// bad credentials (answered 401). Required. It is not called for the
	// anonymous routes (signed blob URLs, health, OpenAPI).
	Authenticate func(r *http.Request) (attach.Scope, error)

	// Prefix is the path the routes are mounted under, e.g. "/v1". Default
	// "" (the routes start at /files).
	Prefix string

	// MaxJSONBody bounds JSON request bodies. Default 64 KiB.
	MaxJSONBody int64

	// MaxRanges bounds the ranges of one Range header; a request with more
	// is answered with the whole content, as if it had no Range. Default 16.
	MaxRanges int

	// Logger receives errors worth an operator's attention. Default: discard.
	Logger *slog.Logger

	// Importer runs POST /files/import. Default: attach.NewImporter(svc,
	// nil), whose imports finish on their own (each within its timeout).
	// Pass one to configure it (allowed ports or internal origins, limits)
	// and to Close it when the server shuts down.
	Importer *attach.Importer

	// Sharing and rate limits.

	// RateLimit tunes the rate limits of presign, import, thumbnail,
	// public upload and public-link misses (see RateClass), answered 429
	// rate_limited with Retry-After. Default nil: on, at DefaultRates,
	// with no trusted proxy.
	RateLimit *RateLimitOptions

	// Processing: thumbnails.
}

// Handler serves the REST routes of API.md for one attach.Service.
type Handler struct {
	svc    *attach.Service
	opts   Options
	log    *slog.Logger
	mux    *http.ServeMux
	routes []Route
	lim    *limiter // nil: no rate limits (ratelimit.go)
}

// Route is one registered route, relative to the prefix.
type Route struct {
	Method    string
	Path      string // with {name} wildcards, e.g. "/files/{id}"
	Anonymous bool   // no credentials needed (signed URLs, health, documents)
}

// Routes lists the routes the Handler serves, in registration order.
func (h *Handler) Routes() []Route { return append([]Route(nil), h.routes...) }

// New returns a Handler for svc. Mount it at its prefix:
//
//	mux.Handle("/v1/", h) // with Options.Prefix "/v1"
func New(svc *attach.Service, opts *Options) (*Handler, error) {
	if svc == nil {
		return nil, errors.New("httpadapter: New needs a Service")
	}
	h := &Handler{svc: svc}
	if opts != nil {
		h.opts = *opts
	}
	o := &h.opts
	if o.Authenticate == nil {
		return nil, errors.New("httpadapter: Options.Authenticate is required")
	}
	if o.Prefix != "" && (!strings.HasPrefix(o.Prefix, "/") || strings.HasSuffix(o.Prefix, "/")) {
		return nil, fmt.Errorf("httpadapter: Prefix %q must start and not end with /", o.Prefix)
	}
	if o.MaxJSONBody <= 0 {
		o.MaxJSONBody = 64 << 10
	}
	if o.MaxRanges <= 0 {
		o.MaxRanges = 16
	}
	h.log = o.Logger
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if h.lim, err = newLimiter(o.RateLimit); err != nil {
		return nil, err
	}
	h.register()
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// authed registers a route that runs with the caller's scope; anon one
// that needs no credentials (signed URLs, health, documents).
type (
	authed func(pattern string, fn func(http.ResponseWriter, *http.Request, attach.Scope) error)
	anon   func(pattern string, fn func(http.ResponseWriter, *http.Request) error)
)

func (h *Handler) register() {
	p := h.opts.Prefix
	m := http.NewServeMux()
	auth := func(pattern string, fn func(http.ResponseWriter, *http.Request, attach.Scope) error) {
		method, path, _ := strings.Cut(pattern, " ")
		h.routes = append(h.routes, Route{Method: method, Path: strings.ReplaceAll(path, "...}", "}")})
		m.HandleFunc(method+" "+p+path, func(w http.ResponseWriter, r *http.Request) {
			scope, err := h.opts.Authenticate(r)
			if err != nil {
				var e *attach.Error
				if !errors.As(err, &e) || e.Code != attach.CodeUnauthorized {
					err = &attach.Error{Code: attach.CodeUnauthorized, Message: "missing or invalid credentials", Err: err}
				}
				h.writeError(w, r, err)
				return
			}
			if err := h.limitRoute(w, r, pattern, scope); err != nil {
				h.writeError(w, r, err)
				return
			}
			if err := fn(w, r, scope); err != nil {
				h.writeError(w, r, err)
			}
		})
	}
	public := func(pattern string, fn func(http.ResponseWriter, *http.Request) error) {
		method, path, _ := strings.Cut(pattern, " ")
		h.routes = append(h.routes, Route{Method: method, Path: strings.ReplaceAll(path, "...}", "}"), Anonymous: true})
		m.HandleFunc(method+" "+p+path, func(w http.ResponseWriter, r *http.Request) {
			if err := fn(w, r); err != nil {
				h.writeError(w, r, err)
			}
		})
	}
	h.lifecycleRoutes(auth, public)
	h.documentRoutes(auth, public)
	h.directRoutes(auth, public)
	h.webRoutes(auth, public)
	h.organizeRoutes(auth, public)
	h.shareRoutes(auth, public)
	h.processRoutes(auth, public)
	h.previewRoutes(auth, public)
	m.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, apiError(attach.CodeNotFound, "no such route"))
	})
	h.mux = m
}

// lifecycleRoutes: presign, signed blob endpoints, confirm, reads, delete.
func (h *Handler) lifecycleRoutes(auth authed, public anon) {
	auth("POST /files/upload-url", h.uploadURL)
	auth("POST /files/{id}/confirm", h.confirm)
	auth("GET /files/{id}/status", h.status)
	auth("GET /files/{id}", h.file)
	auth("DELETE /files/{id}", h.deleteFile)
	auth("GET /files/{id}/download", h.download)
	auth("GET /files/{id}/content", h.content)
	public("PUT /blob/{key...}", h.putBlob)
	public("GET /blob/{key...}", h.getBlob)
	public("GET /healthz", h.healthz)
	public("GET /openapi.yaml", h.openapi)
}

// decodeJSON reads a bounded JSON body into v. The body must be exactly
// one JSON value (white space around it aside), and all of it counts
// against the bound.
func (h *Handler) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSONLimit(w, r, v, h.opts.MaxJSONBody)
}

// decodeJSONLimit is decodeJSON with its own bound, for routes whose
// bodies may be larger (a record field's set of file ids).
func decodeJSONLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	var tooBig *http.MaxBytesError
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return apiError(attach.CodePayloadTooLarge, fmt.Sprintf("request body over %d bytes", tooBig.Limit))
		case errors.As(err, &typ):
			return apiError(attach.CodeInvalidRequest, fmt.Sprintf("field %q must be %s", typ.Field, typ.Type))
		}
		return apiError(attach.CodeInvalidRequest, "request body is not valid JSON")
	}
	// Not dec.More: it reports false for a stray "}" or "]", and it stops
	// reading at the first byte, so trailing white space escaped the bound.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if errors.As(err, &tooBig) {
			return apiError(attach.CodePayloadTooLarge, fmt.Sprintf("request body over %d bytes", tooBig.Limit))
		}
		return apiError(attach.CodeInvalidRequest, "request body has data after the JSON value")
	}
	return nil
}

type uploadURLRequest struct {
	FileName     *string         `json:"fileName"`
	MIMEType     *string         `json:"mimeType"`
	FileSize     *int64          `json:"fileSize"`
	Title        string          `json:"title"`
	Persist      *bool           `json:"persist"`
	CollectionID string          `json:"collectionId"`
	Tags         []string        `json:"tags"`
	Metadata     json.RawMessage `json:"metadata"`
}

func (h *Handler) uploadURL(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	var req uploadURLRequest
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
	up, err := h.svc.RequestUpload(r.Context(), scope, attach.UploadRequest{
		FileName: *req.FileName, MIMEType: *req.MIMEType, Size: *req.FileSize, Title: req.Title,
		Persist: req.Persist, CollectionID: req.CollectionID, Tags: req.Tags, Metadata: req.Metadata,
	})
	return reply(w, http.StatusCreated, up, err)
}

func (h *Handler) confirm(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	if up := r.URL.Query().Get("uploadId"); up != "" { // one of several tickets in flight
		v, err := h.svc.ConfirmTicket(r.Context(), scope, r.PathValue("id"), up)
		return reply(w, http.StatusOK, v, err)
	}
	v, err := h.svc.Confirm(r.Context(), scope, r.PathValue("id"))
	return reply(w, http.StatusOK, v, err)
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	v, err := h.svc.Status(r.Context(), scope, r.PathValue("id"))
	return reply(w, http.StatusOK, v, err)
}

func (h *Handler) file(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	v, err := h.svc.File(r.Context(), scope, r.PathValue("id"))
	return reply(w, http.StatusOK, v, err)
}

func (h *Handler) deleteFile(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	purge, err := boolParam(r, "purge")
	if err != nil {
		return err
	}
	if err := h.svc.Delete(r.Context(), scope, r.PathValue("id"), &attach.DeleteOptions{Purge: purge}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) downloadOptions(r *http.Request) (*attach.DownloadOptions, error) {
	opts := &attach.DownloadOptions{}
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return nil, apiError(attach.CodeInvalidRequest, "version must be a positive integer")
		}
		opts.Version = n
	}
	switch d := r.URL.Query().Get("disposition"); d {
	case "", "attachment":
	case "inline":
		opts.Inline = true
	default:
		return nil, apiError(attach.CodeInvalidRequest, "disposition must be inline or attachment")
	}
	return opts, nil
}

func (h *Handler) download(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	opts, err := h.downloadOptions(r)
	if err != nil {
		return err
	}
	u, err := h.svc.DownloadURL(r.Context(), scope, r.PathValue("id"), opts)
	return reply(w, http.StatusOK, u, err)
}

func (h *Handler) content(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	opts, err := h.downloadOptions(r)
	if err != nil {
		return err
	}
	u, err := h.svc.DownloadURL(r.Context(), scope, r.PathValue("id"), opts)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.URL, http.StatusFound)
	return nil
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.Ping(r.Context()); err != nil {
		h.log.WarnContext(r.Context(), "httpadapter: health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// reply writes v as JSON with status, unless the call that made it failed.
func reply[T any](w http.ResponseWriter, status int, v T, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, status, v)
	return nil
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, apiError(attach.CodeInvalidRequest, name+" must be true or false")
	}
	return b, nil
}
