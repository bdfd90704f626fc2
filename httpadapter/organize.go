package httpadapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/attachkit/attachkit/attach"
)

// maxAttachmentsBody bounds a PUT of a record field's set: room for more
// than MaxAttachments ids, so an oversized set is refused as such (400)
// rather than as an oversized body.
const maxAttachmentsBody = 1 << 20

// organizeRoutes: collections and attachments to records.
func (h *Handler) organizeRoutes(auth authed, public anon) {
	auth("POST /collections", h.createCollection)
	auth("GET /collections", h.listCollections)
	auth("GET /collections/{id}", h.collection)
	auth("PATCH /collections/{id}", h.updateCollection)
	auth("DELETE /collections/{id}", h.deleteCollection)
	auth("GET /collections/{id}/files", h.collectionFiles)
	auth("PUT /records/{type}/{recordId}/attachments/{field}", h.setAttachments)
	auth("POST /records/{type}/{recordId}/attachments/{field}", h.attach)
	auth("GET /records/{type}/{recordId}/attachments", h.recordAttachments)
	auth("DELETE /records/{type}/{recordId}/attachments/{field}/{fileId}", h.detach)
	auth("GET /files/{id}/attachments", h.fileAttachments)
}

type collectionRequest struct {
	Name         *string  `json:"name"`
	ParentID     *string  `json:"parentId"`
	Starred      bool     `json:"starred"`
	Order        int      `json:"order"`
	AllowedTypes []string `json:"allowedTypes"`
	MaxSize      *int64   `json:"maxSize"`
}

func (h *Handler) createCollection(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	var req collectionRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Name == nil {
		return apiError(attach.CodeInvalidRequest, "name is required")
	}
	c := attach.CollectionRequest{Name: *req.Name, Starred: req.Starred, Order: req.Order, AllowedTypes: req.AllowedTypes}
	if req.ParentID != nil {
		c.ParentID = *req.ParentID
	}
	if req.MaxSize != nil {
		c.MaxSize = *req.MaxSize
	}
	col, err := h.svc.CreateCollection(r.Context(), scope, c)
	if err == nil {
		w.Header().Set("Location", h.opts.Prefix+"/collections/"+col.ID)
	}
	return reply(w, http.StatusCreated, col, err)
}

func (h *Handler) listCollections(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	cs, err := h.svc.Collections(r.Context(), scope, r.URL.Query().Get("parentId"))
	return reply(w, http.StatusOK, cs, err)
}

func (h *Handler) collection(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	c, err := h.svc.Collection(r.Context(), scope, r.PathValue("id"))
	return reply(w, http.StatusOK, c, err)
}

// updateCollection applies a partial update. Absent fields stay; null
// moves the collection to the top level (parentId) or stops narrowing
// (allowedTypes, maxSize); name, starred and order cannot be null.
// Unknown fields are refused.
func (h *Handler) updateCollection(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	var body map[string]json.RawMessage
	if err := h.decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body == nil {
		return apiError(attach.CodeInvalidRequest, "request body must be a JSON object")
	}
	var req attach.CollectionUpdate
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		raw := body[k]
		isNull := string(bytes.TrimSpace(raw)) == "null"
		if isNull && (k == "name" || k == "starred" || k == "order") {
			return apiError(attach.CodeInvalidRequest, k+" cannot be null")
		}
		var err error
		switch k {
		case "name":
			req.Name = new(string)
			err = decodeField(k, raw, req.Name)
		case "parentId":
			req.ParentID = new(string)
			if !isNull {
				err = decodeField(k, raw, req.ParentID)
			}
		case "starred":
			req.Starred = new(bool)
			err = decodeField(k, raw, req.Starred)
		case "order":
			req.Order = new(int)
			err = decodeField(k, raw, req.Order)
		case "allowedTypes":
			req.AllowedTypes = &[]string{}
			if !isNull {
				err = decodeField(k, raw, req.AllowedTypes)
			}
		case "maxSize":
			req.MaxSize = new(int64)
			if !isNull {
				err = decodeField(k, raw, req.MaxSize)
			}
		default:
			return apiError(attach.CodeInvalidRequest, fmt.Sprintf("unknown field %.64q", k))
		}
		if err != nil {
			return err
		}
	}
	c, err := h.svc.UpdateCollection(r.Context(), scope, r.PathValue("id"), req)
	return reply(w, http.StatusOK, c, err)
}

func (h *Handler) deleteCollection(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	recursive, err := boolParam(r, "recursive")
	if err != nil {
		return err
	}
	err = h.svc.DeleteCollection(r.Context(), scope, r.PathValue("id"), &attach.DeleteCollectionOptions{Recursive: recursive})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) collectionFiles(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	q := r.URL.Query()
	if q.Has("collectionId") {
		return apiError(attach.CodeInvalidRequest, "collectionId is the path's collection here")
	}
	o := &attach.ListOptions{Tag: q.Get("tag"), Kind: attach.Kind(q.Get("kind")), Query: q.Get("q"),
		Sort: attach.ListSort(q.Get("sort")), Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > attach.MaxListLimit {
			return apiError(attach.CodeInvalidRequest, fmt.Sprintf("limit must be an integer from 1 to %d", attach.MaxListLimit))
		}
		o.Limit = n
	}
	page, err := h.svc.CollectionFiles(r.Context(), scope, r.PathValue("id"), o)
	return reply(w, http.StatusOK, page, err)
}

func recordOf(r *http.Request) attach.Record {
	return attach.Record{Type: r.PathValue("type"), ID: r.PathValue("recordId")}
}

// setAttachments replaces a field's set: {"fileIds": [...]} or, for a
// single-file field, {"fileId": "..."} (null clears it).
func (h *Handler) setAttachments(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	purge, err := boolParam(r, "purge")
	if err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := decodeJSONLimit(w, r, &body, max(h.opts.MaxJSONBody, maxAttachmentsBody)); err != nil {
		return err
	}
	var ids []string
	_, one := body["fileId"]
	_, many := body["fileIds"]
	switch {
	case body == nil || one == many || len(body) != 1:
		return apiError(attach.CodeInvalidRequest, `the body must be {"fileId": ...} or {"fileIds": [...]}`)
	case one:
		var id *string
		if err := decodeField("fileId", body["fileId"], &id); err != nil {
			return err
		}
		if id != nil {
			ids = []string{*id}
		}
	default:
		if string(bytes.TrimSpace(body["fileIds"])) == "null" {
			return apiError(attach.CodeInvalidRequest, "fileIds must be an array")
		}
		if err := decodeField("fileIds", body["fileIds"], &ids); err != nil {
			return err
		}
	}
	as, err := h.svc.SetAttachments(r.Context(), scope, recordOf(r), r.PathValue("field"), ids,
		&attach.SetAttachmentsOptions{Purge: purge})
	return reply(w, http.StatusOK, as, err)
}

type attachRequest struct {
	FileID   *string `json:"fileId"`
	Position *int    `json:"position"`
}

// attach adds one file: 201 when added, 200 when it was already there.
func (h *Handler) attach(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	var req attachRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.FileID == nil {
		return apiError(attach.CodeInvalidRequest, "fileId is required")
	}
	a, created, err := h.svc.Attach(r.Context(), scope, recordOf(r), r.PathValue("field"), *req.FileID,
		&attach.AttachOptions{Position: req.Position})
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return reply(w, status, a, err)
}

func (h *Handler) recordAttachments(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	m, err := h.svc.Attachments(r.Context(), scope, recordOf(r))
	return reply(w, http.StatusOK, m, err)
}

func (h *Handler) detach(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	purge, err := boolParam(r, "purge")
	if err != nil {
		return err
	}
	err = h.svc.Detach(r.Context(), scope, recordOf(r), r.PathValue("field"), r.PathValue("fileId"),
		&attach.DetachOptions{Purge: purge})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) fileAttachments(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	as, err := h.svc.FileAttachments(r.Context(), scope, r.PathValue("id"))
	return reply(w, http.StatusOK, as, err)
}
