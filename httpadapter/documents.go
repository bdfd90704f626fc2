package httpadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/attachkit/attachkit/attach"
)

// documentRoutes: listing, metadata edits, versions, bulk download URLs.
func (h *Handler) documentRoutes(auth authed, public anon) {
	auth("GET /files", h.listFiles)
	auth("PATCH /files/{id}", h.updateFile)
	auth("POST /files/download-urls", h.downloadURLs)
	auth("GET /files/{id}/versions", h.versions)
	auth("POST /files/{id}/versions/upload-url", h.versionUploadURL)
	auth("PUT /files/{id}/content", h.putContent)
	auth("POST /files/{id}/versions/{n}/restore", h.restoreVersion)
}

func (h *Handler) listFiles(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	q := r.URL.Query()
	o := &attach.ListOptions{
		CollectionID: q.Get("collectionId"), Tag: q.Get("tag"), Kind: attach.Kind(q.Get("kind")),
		Query: q.Get("q"), Sort: attach.ListSort(q.Get("sort")), Cursor: q.Get("cursor"),
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > attach.MaxListLimit {
			return apiError(attach.CodeInvalidRequest, fmt.Sprintf("limit must be an integer from 1 to %d", attach.MaxListLimit))
		}
		o.Limit = n
	}
	page, err := h.svc.List(r.Context(), scope, o)
	return reply(w, http.StatusOK, page, err)
}

// Fields of PATCH /files/{id}: those a client may set, and those the server
// owns (named in the refusal, so a client learns why).
var (
	editableFields = []string{"fileName", "title", "collectionId", "tags", "metadata", "accessControl", "acl"}
	serverFields   = []string{"id", "mimeType", "kind", "fileSize", "readableSize", "digest", "width", "height", "status",
		"source", "version", "owner", "persist", "expiresAt", "createdAt", "updatedAt", "workspace"}
)

// updateFile applies a partial update. Absent fields stay; null clears
// title (derived from the name again), collectionId, tags, metadata and
// acl; fileName and accessControl cannot be null. Unknown and server-owned
// fields are refused.
func (h *Handler) updateFile(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	var body map[string]json.RawMessage
	if err := h.decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body == nil {
		return apiError(attach.CodeInvalidRequest, "request body must be a JSON object")
	}
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case slices.Contains(serverFields, k):
			return apiError(attach.CodeInvalidRequest, fmt.Sprintf("%s is set by the server and cannot be changed", k))
		case !slices.Contains(editableFields, k):
			return apiError(attach.CodeInvalidRequest, fmt.Sprintf("unknown field %.64q", k))
		}
	}
	var req attach.UpdateRequest
	for _, k := range keys {
		raw := body[k]
		isNull := string(bytes.TrimSpace(raw)) == "null"
		var err error
		switch k {
		case "fileName", "accessControl":
			if isNull {
				return apiError(attach.CodeInvalidRequest, k+" cannot be null")
			}
			var s string
			err = decodeField(k, raw, &s)
			if k == "fileName" {
				req.FileName = &s
			} else {
				req.AccessControl = &s
			}
		case "title", "collectionId":
			var s string
			if !isNull {
				err = decodeField(k, raw, &s)
			}
			if k == "title" {
				req.Title = &s
			} else {
				req.CollectionID = &s
			}
		case "tags":
			tags := []string{}
			if !isNull {
				err = decodeField(k, raw, &tags)
			}
			req.Tags = &tags
		case "metadata":
			req.Metadata = raw
		case "acl":
			acl := attach.ACL{}
			if !isNull {
				err = decodeField(k, raw, &acl)
			}
			req.ACL = &acl
		}
		if err != nil {
			return err
		}
	}
	f, err := h.svc.Update(r.Context(), scope, r.PathValue("id"), req)
	return reply(w, http.StatusOK, f, err)
}

// decodeField decodes one field's value strictly (unknown nested fields
// are refused).
func decodeField(name string, raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return apiError(attach.CodeInvalidRequest, fmt.Sprintf("%s has the wrong type", name))
		}
		return apiError(attach.CodeInvalidRequest, fmt.Sprintf("%s: %s", name, strings.TrimPrefix(err.Error(), "json: ")))
	}
	return nil
}

// decodeStrict reads a bounded JSON body into v, refusing unknown fields.
func (h *Handler) decodeStrict(w http.ResponseWriter, r *http.Request, v any) error {
	var raw json.RawMessage
	if err := h.decodeJSON(w, r, &raw); err != nil {
		return err
	}
	return decodeField("request body", raw, v)
}

func (h *Handler) downloadURLs(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	var raw []json.RawMessage
	if err := h.decodeJSON(w, r, &raw); err != nil {
		return err
	}
	if raw == nil {
		return apiError(attach.CodeInvalidRequest, "request body must be a JSON array of {id, version?}")
	}
	if len(raw) > attach.MaxBulkDownloads {
		return apiError(attach.CodeInvalidRequest, fmt.Sprintf("at most %d files per request, got %d", attach.MaxBulkDownloads, len(raw)))
	}
	items := make([]attach.DownloadItem, len(raw))
	for i, b := range raw {
		var it struct {
			ID      *string `json:"id"`
			Version *int    `json:"version"`
		}
		if err := decodeField(fmt.Sprintf("item %d", i), b, &it); err != nil {
			return err
		}
		if it.ID == nil {
			return apiError(attach.CodeInvalidRequest, fmt.Sprintf("item %d: id is required", i))
		}
		items[i].ID = *it.ID
		if it.Version != nil {
			if *it.Version <= 0 {
				return apiError(attach.CodeInvalidRequest, fmt.Sprintf("item %d: version must be a positive integer", i))
			}
			items[i].Version = *it.Version
		}
	}
	res, err := h.svc.DownloadURLs(r.Context(), scope, items)
	return reply(w, http.StatusOK, res, err)
}

func (h *Handler) versions(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	vs, err := h.svc.Versions(r.Context(), scope, r.PathValue("id"))
	return reply(w, http.StatusOK, vs, err)
}

type versionUploadRequest struct {
	FileName  string  `json:"fileName"`
	MIMEType  *string `json:"mimeType"`
	FileSize  *int64  `json:"fileSize"`
	IfVersion *int    `json:"ifVersion"`
}

func (h *Handler) versionUploadURL(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	var req versionUploadRequest
	if err := h.decodeStrict(w, r, &req); err != nil {
		return err
	}
	switch {
	case req.MIMEType == nil:
		return apiError(attach.CodeInvalidRequest, "mimeType is required")
	case req.FileSize == nil:
		return apiError(attach.CodeInvalidRequest, "fileSize is required")
	}
	ifv, err := expectedVersion(r, req.IfVersion)
	if err != nil {
		return err
	}
	up, err := h.svc.RequestVersionUpload(r.Context(), scope, r.PathValue("id"), attach.VersionUploadRequest{
		FileName: req.FileName, MIMEType: *req.MIMEType, Size: *req.FileSize, IfVersion: ifv,
	})
	return reply(w, http.StatusCreated, up, err)
}

// putContent stores the request body as the file's new version. The
// declared type is the Content-Type (none, or application/octet-stream,
// means "detect it"); the size is the Content-Length when sent.
func (h *Handler) putContent(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	ifv, err := expectedVersion(r, nil)
	if err != nil {
		return err
	}
	req := attach.VersionPutRequest{FileName: r.URL.Query().Get("fileName"), Size: r.ContentLength, IfVersion: ifv}
	if req.Size < 0 {
		req.Size = -1
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/octet-stream") {
		req.MIMEType = ct
	}
	f, err := h.svc.PutVersion(r.Context(), scope, r.PathValue("id"), req, r.Body)
	return reply(w, http.StatusCreated, f, err)
}

func (h *Handler) restoreVersion(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n <= 0 {
		return apiError(attach.CodeInvalidRequest, "version must be a positive integer")
	}
	ifv, err := expectedVersion(r, nil)
	if err != nil {
		return err
	}
	f, err := h.svc.RestoreVersion(r.Context(), scope, r.PathValue("id"), n, &attach.RestoreOptions{IfVersion: ifv})
	return reply(w, http.StatusCreated, f, err)
}

// expectedVersion returns the version a write expects the file to be at,
// from `If-Match: "<version>"`, `?ifVersion=` or the body's ifVersion, or
// 0 when none is given (`If-Match: *` gives none). Several that disagree,
// a weak or unparsable tag, or a version below 1 are invalid.
func expectedVersion(r *http.Request, fromBody *int) (int, error) {
	bad := func(msg string) (int, error) { return 0, apiError(attach.CodeInvalidRequest, msg) }
	var found []int
	if fromBody != nil {
		if *fromBody <= 0 {
			return bad("ifVersion must be a positive integer")
		}
		found = append(found, *fromBody)
	}
	if v := r.URL.Query().Get("ifVersion"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return bad("ifVersion must be a positive integer")
		}
		found = append(found, n)
	}
	if tags := r.Header.Values("If-Match"); len(tags) > 0 {
		tag := strings.TrimSpace(strings.Join(tags, ","))
		if tag != "*" {
			inner, ok := strings.CutPrefix(tag, `"`)
			inner, ok2 := strings.CutSuffix(inner, `"`)
			n, err := strconv.Atoi(inner)
			if !ok || !ok2 || err != nil || n <= 0 || strings.Contains(inner, "+") {
				return bad(`If-Match must be "<version>", a quoted positive integer`)
			}
			found = append(found, n)
		}
	}
	for _, n := range found[min(1, len(found)):] {
		if n != found[0] {
			return bad("If-Match and ifVersion name different versions")
		}
	}
	if len(found) == 0 {
		return 0, nil
	}
	return found[0], nil
}
