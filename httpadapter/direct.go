package httpadapter

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/attachkit/attachkit/attach"
)

// directRoutes: uploads whose bytes flow through the application
// (multipart, data URIs) and imports from a URL.
func (h *Handler) directRoutes(auth authed, public anon) {
	imp := h.opts.Importer
	if imp == nil {
		imp, _ = attach.NewImporter(h.svc, nil) // nil options cannot fail
	}
	auth("POST /files", h.createFile)
	auth("POST /files/import", func(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
		return h.importFile(w, r, scope, imp)
	})
}

// Bounds of a multipart/form-data upload besides the file itself.
const (
	maxFormParts       = 32
	maxPartHeaderBytes = 8 << 10
	maxFormFieldBytes  = 16 << 10
	// multipartSlack is what the body may hold besides the file: every
	// part's headers and fields at their bounds, rounded up.
	multipartSlack = 1 << 20
)

// createFile is POST /files: a multipart/form-data or a JSON data-URI
// upload, streamed through Service.Put.
func (h *Handler) createFile(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err == nil && mt == "multipart/form-data":
		return h.createMultipart(w, r, scope)
	case err == nil && mt == "application/json":
		return h.createDataURI(w, r, scope)
	}
	return apiError(attach.CodeInvalidRequest, "Content-Type must be multipart/form-data or application/json")
}

// created answers a new file with its Location.
func (h *Handler) created(w http.ResponseWriter, status int, f *attach.File) error {
	w.Header().Set("Location", h.opts.Prefix+"/files/"+f.ID)
	writeJSON(w, status, f)
	return nil
}

// declaredType is the type a client declared for the bytes, as Put takes
// it: application/octet-stream (what browsers send for an unknown type)
// declares nothing, so the type is detected.
func declaredType(ct string) string {
	if t, _, err := mime.ParseMediaType(ct); err == nil && t == "application/octet-stream" {
		return ""
	}
	return ct
}

// createMultipart streams the part named file (or content) to storage
// without holding it in memory or on disk. The text fields fileName,
// title, collectionId and tags (comma separated) must come before the
// file part: the file is created with them as it streams. A field after
// the file part, or a second file part, is refused (400) and nothing is
// stored. Other parts are ignored, within the bounds: at most 32 parts,
// 8 KiB of headers per part, 16 KiB per text part, and a body of at most
// the policy's largest size plus 1 MiB.
func (h *Handler) createMultipart(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	body := r.Body
	if limit := h.svc.Policy().Limits().MaxSize; limit > 0 {
		bodyCap := limit + multipartSlack
		if r.ContentLength > bodyCap {
			w.Header().Set("Connection", "close")
			return apiError(attach.CodePayloadTooLarge, fmt.Sprintf("request body over %d bytes", bodyCap))
		}
		body = http.MaxBytesReader(w, r.Body, bodyCap)
	}
	// mime/multipart allows 10 MiB of headers per part; metering what it
	// reads while it looks for the next part bounds them much lower.
	m := &meteredReader{r: body, budget: -1}
	r.Body = readCloser{m, body}
	mr, err := r.MultipartReader()
	if err != nil {
		return apiError(attach.CodeInvalidRequest, "the multipart/form-data body has no boundary")
	}
	fr := &formReader{mr: mr, m: m}
	var req attach.PutRequest
	for {
		p, err := fr.next()
		if errors.Is(err, io.EOF) {
			return apiError(attach.CodeInvalidRequest, "a part named file (or content) with the file's bytes is required")
		}
		if err != nil {
			return h.bodyError(w, err)
		}
		name := p.FormName()
		if name == "file" || name == "content" {
			return h.putPart(w, r, scope, fr, p, req)
		}
		v, err := fr.field(p)
		if err != nil {
			return h.bodyError(w, err)
		}
		switch name {
		case "fileName":
			req.FileName = v
		case "title":
			req.Title = v
		case "collectionId":
			req.CollectionID = v
		case "tags":
			req.Tags = splitTags(v)
		}
	}
}

// putPart stores the file part through Service.Put; the parts after it
// are checked before Put sees the end of the file, so a refusal stores
// nothing.
func (h *Handler) putPart(w http.ResponseWriter, r *http.Request, scope attach.Scope, fr *formReader, p *multipart.Part, req attach.PutRequest) error {
	if req.FileName == "" {
		req.FileName = p.FileName()
	}
	if req.FileName == "" {
		return apiError(attach.CodeInvalidRequest,
			"fileName is required: send a fileName field before the file part, or a filename in its Content-Disposition")
	}
	req.MIMEType = declaredType(p.Header.Get("Content-Type"))
	req.Size = -1
	body, err := nonEmpty(&filePart{p: p, fr: fr}, "the file part is empty")
	if err != nil {
		return h.bodyError(w, err)
	}
	f, err := h.svc.Put(r.Context(), scope, req, body)
	if err != nil {
		return h.bodyError(w, err)
	}
	return h.created(w, http.StatusCreated, f)
}

// bodyError answers a refused upload; when the body was not read to its
// end, the connection is closed rather than drained.
func (h *Handler) bodyError(w http.ResponseWriter, err error) error {
	w.Header().Set("Connection", "close")
	return err
}

// nonEmpty refuses a body without a single byte, which no type check
// could make sense of, with msg.
func nonEmpty(r io.Reader, msg string) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 16)
	if _, err := br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, apiError(attach.CodeInvalidRequest, msg)
		}
		return nil, err
	}
	return br, nil
}

// splitTags splits the tags field; Put trims the tags and drops empty ones.
func splitTags(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// formReader walks a multipart body within the bounds.
type formReader struct {
	mr    *multipart.Reader
	m     *meteredReader
	parts int
}

// next returns the next part, or io.EOF after the last one.
func (fr *formReader) next() (*multipart.Part, error) {
	fr.m.budget, fr.m.over = maxPartHeaderBytes, false
	p, err := fr.mr.NextPart()
	fr.m.budget = -1
	var tooBig *http.MaxBytesError
	switch {
	case fr.m.over:
		return nil, apiError(attach.CodeInvalidRequest, fmt.Sprintf("a part's headers are longer than %d bytes", maxPartHeaderBytes))
	case errors.As(err, &tooBig):
		return nil, apiError(attach.CodePayloadTooLarge, fmt.Sprintf("request body over %d bytes", tooBig.Limit))
	case errors.Is(err, io.EOF):
		return nil, io.EOF
	case err != nil:
		return nil, apiError(attach.CodeInvalidRequest, "the multipart/form-data body is malformed")
	}
	if fr.parts++; fr.parts > maxFormParts {
		return nil, apiError(attach.CodeInvalidRequest, fmt.Sprintf("the form has more than %d parts", maxFormParts))
	}
	return p, nil
}

// field reads a text part of at most maxFormFieldBytes.
func (fr *formReader) field(p *multipart.Part) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, maxFormFieldBytes+1))
	if err != nil {
		return "", partError(err)
	}
	if len(b) > maxFormFieldBytes {
		return "", apiError(attach.CodeInvalidRequest, fmt.Sprintf("part %.64q is longer than %d bytes", p.FormName(), maxFormFieldBytes))
	}
	return string(b), nil
}

// rest checks the parts after the file part: other parts are ignored,
// form fields and a second file are refused.
func (fr *formReader) rest() error {
	for {
		p, err := fr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch name := p.FormName(); name {
		case "file", "content":
			return apiError(attach.CodeInvalidRequest, "only one file part (file or content) is allowed")
		case "fileName", "title", "collectionId", "tags":
			return apiError(attach.CodeInvalidRequest, fmt.Sprintf("field %q must come before the file part", name))
		}
		if _, err := fr.field(p); err != nil {
			return err
		}
	}
}

// partError classifies an error reading a part's body.
func partError(err error) error {
	var tooBig *http.MaxBytesError
	var e *attach.Error
	switch {
	case errors.As(err, &e):
		return err
	case errors.As(err, &tooBig):
		return apiError(attach.CodePayloadTooLarge, fmt.Sprintf("request body over %d bytes", tooBig.Limit))
	}
	return apiError(attach.CodeInvalidRequest, "the multipart/form-data body is malformed or ends early")
}

// filePart is the file part as Put reads it. At the part's end it checks
// the rest of the form first, so a refusal aborts the write.
type filePart struct {
	p    *multipart.Part
	fr   *formReader
	done bool
}

func (f *filePart) Read(b []byte) (int, error) {
	n, err := f.p.Read(b)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF) && !f.done:
		f.done = true
		if rerr := f.fr.rest(); rerr != nil {
			return n, rerr
		}
	case !errors.Is(err, io.EOF):
		err = partError(err)
	}
	return n, err
}

// meteredReader bounds the bytes read from the body while budget is not
// negative; past it, reads fail and over is set.
type meteredReader struct {
	r      io.Reader
	budget int64
	over   bool
}

var errPartHeaders = errors.New("httpadapter: part headers over the bound")

func (m *meteredReader) Read(p []byte) (int, error) {
	if m.budget < 0 {
		return m.r.Read(p)
	}
	if m.budget == 0 {
		m.over = true
		return 0, errPartHeaders
	}
	if int64(len(p)) > m.budget {
		p = p[:m.budget]
	}
	n, err := m.r.Read(p)
	m.budget -= int64(n)
	return n, err
}

type readCloser struct {
	io.Reader
	io.Closer
}

type importRequest struct {
	URL          *string `json:"url"`
	FileName     string  `json:"fileName"`
	CollectionID string  `json:"collectionId"`
}

// importFile is POST /files/import: 202 with the processing file; the
// fetch runs in the background (GET /files/{id}/status follows it).
func (h *Handler) importFile(w http.ResponseWriter, r *http.Request, scope attach.Scope, imp *attach.Importer) error {
	var req importRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.URL == nil {
		return apiError(attach.CodeInvalidRequest, "url is required")
	}
	f, err := imp.Import(r.Context(), scope, attach.ImportRequest{URL: *req.URL, FileName: req.FileName, CollectionID: req.CollectionID})
	if attach.CodeOf(err) == attach.CodeRateLimited {
		w.Header().Set("Retry-After", "5")
	}
	if err != nil {
		return err
	}
	return h.created(w, http.StatusAccepted, f)
}
