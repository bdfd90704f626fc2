package httpadapter

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

// createCollection runs POST /collections and returns the collection.
func (c caller) createCollection(t *testing.T, body map[string]any) attach.Collection {
	t.Helper()
	r := c.do(t, http.MethodPost, "/collections", body)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var col attach.Collection
	r.decode(t, &col)
	assert.Equal(t, "/v1/collections/"+col.ID, r.Header.Get("Location"))
	return col
}

func collectionNames(t *testing.T, r *response) []string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var cs []attach.Collection
	r.decode(t, &cs)
	names := []string{}
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}

func TestCollectionRoutes(t *testing.T) {
	e := newEnv(t, nil)
	u1 := e.as(keyA, "u1")
	photos := u1.createCollection(t, map[string]any{"name": "Photos", "order": 2, "starred": true,
		"allowedTypes": []string{"image/png"}, "maxSize": 5000})
	assert.True(t, photos.Starred)
	docs := u1.createCollection(t, map[string]any{"name": "Docs", "order": 1})
	sub := u1.createCollection(t, map[string]any{"name": "2025", "parentId": photos.ID})

	// Raw JSON shape: camelCase, nulls where nothing is set.
	r := u1.do(t, http.MethodGet, "/collections/"+docs.ID, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	raw := r.JSON(t)
	for _, k := range []string{"id", "name", "parentId", "starred", "order", "allowedTypes", "maxSize", "createdBy", "createdAt", "updatedAt"} {
		assert.Contains(t, raw, k)
	}
	assert.Nil(t, raw["parentId"])
	assert.Nil(t, raw["maxSize"])
	assert.Equal(t, []any{}, raw["allowedTypes"])

	assert.Equal(t, []string{"Docs", "Photos"}, collectionNames(t, e.as(keyA, "u2").do(t, http.MethodGet, "/collections", nil)))
	assert.Equal(t, []string{"2025"}, collectionNames(t, u1.do(t, http.MethodGet, "/collections?parentId="+photos.ID, nil)))

	// Uploads into a collection meet its narrowed policy.
	r = u1.do(t, http.MethodPost, "/files/upload-url", map[string]any{"fileName": "a.png", "mimeType": "image/png",
		"fileSize": 100, "collectionId": photos.ID})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var tk ticket
	r.decode(t, &tk)
	assert.Equal(t, attach.FileLimits{AllowedTypes: []string{"image/png"}, MaxSize: 5000}, tk.FileLimits)
	u1.do(t, http.MethodPost, "/files/upload-url", map[string]any{"fileName": "a.pdf", "mimeType": "application/pdf",
		"fileSize": 100, "collectionId": photos.ID}).requireError(t, http.StatusBadRequest, attach.CodeInvalidFileType)
	d := u1.do(t, http.MethodPost, "/files/upload-url", map[string]any{"fileName": "a.png", "mimeType": "image/png",
		"fileSize": 5001, "collectionId": photos.ID}).requireError(t, http.StatusBadRequest, attach.CodeFileTooLarge)
	assert.Equal(t, float64(5000), d["maxSize"])
	u1.do(t, http.MethodPost, "/files/upload-url", map[string]any{"fileName": "a.png", "mimeType": "image/png",
		"fileSize": 100, "collectionId": "col_01900000-0000-7000-8000-000000000000"}).requireError(t, http.StatusNotFound, attach.CodeNotFound)

	// Files of a collection, paged like GET /files.
	var ids []string
	for i := range 3 {
		f := u1.uploadWith(t, map[string]any{"fileName": fmt.Sprintf("p%d.png", i), "collectionId": photos.ID}, "image/png", pngFile(t, 4, 4))
		ids = append(ids, f.ID)
		e.clock.Advance(1e6)
	}
	u1.upload(t, "outside.png", "image/png", pngFile(t, 4, 4))
	r = u1.do(t, http.MethodGet, "/collections/"+photos.ID+"/files?sort=createdAt&limit=2", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var p page
	r.decode(t, &p)
	assert.Equal(t, int64(3), p.Total)
	require.Len(t, p.Items, 2)
	assert.Equal(t, ids[:2], []string{p.Items[0].ID, p.Items[1].ID})
	var cursor string
	require.NoError(t, json.Unmarshal(p.NextCursor, &cursor))
	r = u1.do(t, http.MethodGet, "/collections/"+photos.ID+"/files?sort=createdAt&limit=2&cursor="+cursor, nil)
	r.decode(t, &p)
	require.Len(t, p.Items, 1)
	assert.Equal(t, ids[2], p.Items[0].ID)
	u1.do(t, http.MethodGet, "/collections/"+photos.ID+"/files?limit=0", nil).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)

	// PATCH.
	r = u1.do(t, http.MethodPatch, "/collections/"+sub.ID, map[string]any{"name": "Renamed", "parentId": nil, "starred": true, "order": -1})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var got attach.Collection
	r.decode(t, &got)
	assert.Equal(t, "Renamed", got.Name)
	assert.Nil(t, got.ParentID)
	assert.True(t, got.Starred)
	r = u1.do(t, http.MethodPatch, "/collections/"+photos.ID, map[string]any{"allowedTypes": nil, "maxSize": nil})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	r.decode(t, &got)
	assert.Empty(t, got.AllowedTypes)
	assert.Nil(t, got.MaxSize)
	_ = u1.createCollection(t, map[string]any{"name": "child", "parentId": sub.ID})
	bad := []struct {
		name string
		body any
		code attach.Code
		st   int
	}{
		{name: "unknown field", body: map[string]any{"color": "red"}, code: attach.CodeInvalidRequest, st: 400},
		{name: "null name", body: map[string]any{"name": nil}, code: attach.CodeInvalidRequest, st: 400},
		{name: "wrong type", body: map[string]any{"order": "1"}, code: attach.CodeInvalidRequest, st: 400},
		{name: "not an object", body: "[]", code: attach.CodeInvalidRequest, st: 400},
		{name: "under itself", body: map[string]any{"parentId": sub.ID}, code: attach.CodeInvalidRequest, st: 400},
		{name: "unknown parent", body: map[string]any{"parentId": "col_01900000-0000-7000-8000-000000000000"}, code: attach.CodeNotFound, st: 404},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			u1.do(t, http.MethodPatch, "/collections/"+sub.ID, tc.body).requireError(t, tc.st, tc.code)
		})
	}
	r = u1.do(t, http.MethodGet, "/collections?parentId="+sub.ID, nil)
	assert.Equal(t, []string{"child"}, collectionNames(t, r))
	// A cycle through a child is refused too.
	children := u1.do(t, http.MethodGet, "/collections?parentId="+sub.ID, nil)
	var cs []attach.Collection
	children.decode(t, &cs)
	u1.do(t, http.MethodPatch, "/collections/"+sub.ID, map[string]any{"parentId": cs[0].ID}).
		requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)

	// Create: bad input.
	u1.do(t, http.MethodPost, "/collections", map[string]any{}).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
	u1.do(t, http.MethodPost, "/collections", map[string]any{"name": strings.Repeat("n", 300)}).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
	u1.do(t, http.MethodPost, "/collections", map[string]any{"name": "x", "parentId": "nope"}).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)

	// DELETE: non-empty needs recursive.
	u1.do(t, http.MethodDelete, "/collections/"+photos.ID, nil).requireError(t, http.StatusConflict, attach.CodeConflict)
	u1.do(t, http.MethodDelete, "/collections/"+photos.ID+"?recursive=maybe", nil).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
	r = u1.do(t, http.MethodDelete, "/collections/"+photos.ID+"?recursive=true", nil)
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
	u1.do(t, http.MethodGet, "/collections/"+photos.ID, nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
	u1.do(t, http.MethodGet, "/files/"+ids[0], nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
	r = u1.do(t, http.MethodDelete, "/collections/"+docs.ID, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
}

// TestOrganizeRoutesForeignAndForbidden: another workspace's ids are 404
// on every route; a same-workspace user without the right gets 403 on
// every mutating route.
func TestOrganizeRoutesForeignAndForbidden(t *testing.T) {
	e := newEnv(t, nil)
	u1 := e.as(keyA, "u1")
	col := u1.createCollection(t, map[string]any{"name": "mine"})
	f := u1.upload(t, "a.png", "image/png", pngFile(t, 3, 3))
	r := u1.do(t, http.MethodPut, "/records/post/1/attachments/g", map[string]any{"fileIds": []string{f.ID}})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)

	routes := []struct {
		method, path string
		body         any
		mutating     bool
	}{
		{http.MethodGet, "/collections/" + col.ID, nil, false},
		{http.MethodGet, "/collections?parentId=" + col.ID, nil, false},
		{http.MethodGet, "/collections/" + col.ID + "/files", nil, false},
		{http.MethodPost, "/collections", map[string]any{"name": "x", "parentId": col.ID}, false},
		{http.MethodPatch, "/collections/" + col.ID, map[string]any{"name": "x"}, true},
		{http.MethodDelete, "/collections/" + col.ID, nil, true},
		{http.MethodDelete, "/collections/" + col.ID + "?recursive=true", nil, true},
		{http.MethodPost, "/files/upload-url", map[string]any{"fileName": "a.png", "mimeType": "image/png", "fileSize": 10, "collectionId": col.ID}, false},
		{http.MethodPost, "/files", map[string]any{"fileName": "a.png", "data": "data:image/png;base64,iVBORw0KGgo=", "collectionId": col.ID}, false},
		{http.MethodPost, "/files/import", map[string]any{"url": "https://example.com/a.png", "collectionId": col.ID}, false},
		{http.MethodPatch, "/files/" + f.ID, map[string]any{"collectionId": col.ID}, false},
		{http.MethodPost, "/records/post/1/attachments/g", map[string]any{"fileId": f.ID}, true},
		{http.MethodDelete, "/records/post/1/attachments/g/" + f.ID, nil, true},
		{http.MethodGet, "/files/" + f.ID + "/attachments", nil, false},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			e.as(keyB, "u1").do(t, rt.method, rt.path, rt.body).requireError(t, http.StatusNotFound, attach.CodeNotFound)
			e.as(keyB, "").do(t, rt.method, rt.path, rt.body).requireError(t, http.StatusNotFound, attach.CodeNotFound)
			if rt.mutating {
				e.as(keyA, "u2").do(t, rt.method, rt.path, rt.body).requireError(t, http.StatusForbidden, attach.CodeForbidden)
			}
		})
	}
	// PUT names files in its body: a foreign (like an unknown) id is 400;
	// an invisible one 403.
	e.as(keyB, "u1").do(t, http.MethodPut, "/records/post/1/attachments/g", map[string]any{"fileIds": []string{f.ID}}).
		requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
	e.as(keyA, "u2").do(t, http.MethodPut, "/records/post/1/attachments/g", map[string]any{"fileIds": []string{f.ID}}).
		requireError(t, http.StatusForbidden, attach.CodeForbidden)
	e.as(keyA, "u2").do(t, http.MethodGet, "/files/"+f.ID+"/attachments", nil).requireError(t, http.StatusForbidden, attach.CodeForbidden)

	// Everything survived.
	r = u1.do(t, http.MethodGet, "/records/post/1/attachments", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var m map[string][]attach.File
	r.decode(t, &m)
	require.Len(t, m["g"], 1)
	assert.Equal(t, f.ID, m["g"][0].ID)
	r = u1.do(t, http.MethodGet, "/collections/"+col.ID, nil)
	require.Equal(t, http.StatusOK, r.Status)
	var got attach.Collection
	r.decode(t, &got)
	assert.Equal(t, "mine", got.Name)
}

func attachmentIDs(t *testing.T, r *response) []string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var as []attach.Attachment
	r.decode(t, &as)
	ids := []string{}
	for i, a := range as {
		assert.Equal(t, i, a.Position)
		ids = append(ids, a.FileID)
	}
	return ids
}

func TestAttachmentRoutes(t *testing.T) {
	e := newEnv(t, nil)
	u1 := e.as(keyA, "u1")
	var ids []string
	for i := range 3 {
		ids = append(ids, u1.upload(t, fmt.Sprintf("a%d.png", i), "image/png", pngFile(t, i+2, 3)).ID)
	}
	field := "/records/post/42/attachments/gallery"
	record := func() map[string][]string {
		r := u1.do(t, http.MethodGet, "/records/post/42/attachments", nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		var m map[string][]attach.File
		r.decode(t, &m)
		out := map[string][]string{}
		for k, fs := range m {
			for _, f := range fs {
				out[k] = append(out[k], f.ID)
			}
		}
		return out
	}

	first := u1.do(t, http.MethodPut, field, map[string]any{"fileIds": []string{ids[1], ids[0]}})
	assert.Equal(t, []string{ids[1], ids[0]}, attachmentIDs(t, first))
	again := u1.do(t, http.MethodPut, field, map[string]any{"fileIds": []string{ids[1], ids[0]}})
	assert.JSONEq(t, string(first.Body), string(again.Body), "a retried PUT changes nothing")
	r := u1.do(t, http.MethodPut, "/records/post/42/attachments/cover", map[string]any{"fileId": ids[2]})
	assert.Equal(t, []string{ids[2]}, attachmentIDs(t, r))
	assert.Equal(t, map[string][]string{"gallery": {ids[1], ids[0]}, "cover": {ids[2]}}, record())

	// POST adds; a repeat is 200.
	r = u1.do(t, http.MethodPost, field, map[string]any{"fileId": ids[2], "position": 0})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var a attach.Attachment
	r.decode(t, &a)
	assert.Equal(t, attach.Attachment{RecordType: "post", RecordID: "42", Field: "gallery", FileID: ids[2], Position: 0,
		CreatedBy: "u1", CreatedAt: a.CreatedAt}, a)
	r = u1.do(t, http.MethodPost, field, map[string]any{"fileId": ids[2]})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	assert.Equal(t, []string{ids[2], ids[1], ids[0]}, record()["gallery"])

	// Where used.
	assert.ElementsMatch(t, []string{ids[2], ids[2]}, attachmentFileIDs(t, u1.do(t, http.MethodGet, "/files/"+ids[2]+"/attachments", nil)))

	// DELETE one.
	r = u1.do(t, http.MethodDelete, field+"/"+ids[1], nil)
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
	assert.Equal(t, []string{ids[2], ids[0]}, record()["gallery"])
	u1.do(t, http.MethodDelete, field+"/"+ids[1], nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)

	// Refused PUTs leave the set as it was.
	many := make([]string, 10000)
	for i := range many {
		many[i] = "file_" + uuid.Must(uuid.NewV7()).String()
	}
	pending := u1.requestUpload(t, "p.png", "image/png", 10)
	bad := []struct {
		name string
		body any
		st   int
		code attach.Code
	}{
		{name: "duplicate ids", body: map[string]any{"fileIds": []string{ids[0], ids[0]}}, st: 400, code: attach.CodeInvalidRequest},
		{name: "unknown id", body: map[string]any{"fileIds": []string{ids[0], "file_01900000-0000-7000-8000-000000000000"}}, st: 400, code: attach.CodeInvalidRequest},
		{name: "10,000 ids", body: map[string]any{"fileIds": many}, st: 400, code: attach.CodeInvalidRequest},
		{name: "malformed id", body: map[string]any{"fileIds": []string{"x"}}, st: 400, code: attach.CodeInvalidRequest},
		{name: "pending file", body: map[string]any{"fileId": pending.ID}, st: 409, code: attach.CodeConflict},
		{name: "both keys", body: map[string]any{"fileId": ids[0], "fileIds": []string{ids[0]}}, st: 400, code: attach.CodeInvalidRequest},
		{name: "no key", body: map[string]any{}, st: 400, code: attach.CodeInvalidRequest},
		{name: "extra key", body: map[string]any{"fileIds": []string{}, "x": 1}, st: 400, code: attach.CodeInvalidRequest},
		{name: "null fileIds", body: map[string]any{"fileIds": nil}, st: 400, code: attach.CodeInvalidRequest},
		{name: "ids not strings", body: map[string]any{"fileIds": []int{1}}, st: 400, code: attach.CodeInvalidRequest},
		{name: "not JSON", body: "{", st: 400, code: attach.CodeInvalidRequest},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			u1.do(t, http.MethodPut, field, tc.body).requireError(t, tc.st, tc.code)
			assert.Equal(t, []string{ids[2], ids[0]}, record()["gallery"])
		})
	}
	u1.do(t, http.MethodPut, "/records/po%20st/42/attachments/gallery", map[string]any{"fileIds": []string{}}).
		requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
	u1.do(t, http.MethodPost, field, map[string]any{"fileId": ids[0], "position": -1}).
		requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
	u1.do(t, http.MethodPost, field, map[string]any{}).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)

	// Clearing with purge deletes what only this record used.
	r = u1.do(t, http.MethodPut, field+"?purge=true", map[string]any{"fileIds": []string{}})
	assert.Empty(t, attachmentIDs(t, r))
	u1.do(t, http.MethodGet, "/files/"+ids[0], nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
	r = u1.do(t, http.MethodGet, "/files/"+ids[2], nil)
	assert.Equal(t, http.StatusOK, r.Status, "still the cover")
	r = u1.do(t, http.MethodPut, "/records/post/42/attachments/cover", map[string]any{"fileId": nil})
	assert.Empty(t, attachmentIDs(t, r))
	assert.Empty(t, record())
}

func attachmentFileIDs(t *testing.T, r *response) []string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var as []attach.Attachment
	r.decode(t, &as)
	var ids []string
	for _, a := range as {
		ids = append(ids, a.FileID)
	}
	return ids
}
