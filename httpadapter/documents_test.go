package httpadapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/driver"
)

// send calls the API at path (relative to /v1) as c with extra headers
// and a raw body.
func (c caller) send(t *testing.T, method, path string, headers map[string]string, body []byte) *response {
	t.Helper()
	h := map[string]string{"Authorization": "Bearer " + c.key}
	if c.user != "" {
		h[UserHeader] = c.user
	}
	for k, v := range headers {
		h[k] = v
	}
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	if rd == nil {
		return c.e.fetch(t, method, c.e.srv.URL+"/v1"+path, h, nil)
	}
	return c.e.fetch(t, method, c.e.srv.URL+"/v1"+path, h, rd)
}

// keysOf lists the storage keys of a file of workspace A.
func (e *env) keysOf(t *testing.T, id string) []string {
	t.Helper()
	var keys []string
	require.NoError(t, e.storage.List(t.Context(), wsA+"/"+id+"/", func(o driver.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}))
	return keys
}

// uploadWith runs the presigned flow with extra upload-url fields.
func (c caller) uploadWith(t *testing.T, fields map[string]any, mimeType string, data []byte) attach.File {
	t.Helper()
	body := map[string]any{"mimeType": mimeType, "fileSize": len(data)}
	for k, v := range fields {
		body[k] = v
	}
	r := c.do(t, http.MethodPost, "/files/upload-url", body)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var tk ticket
	r.decode(t, &tk)
	require.Equal(t, http.StatusOK, c.e.put(t, tk, data).Status)
	r = c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var f attach.File
	r.decode(t, &f)
	return f
}

// page is GET /files's answer, with nextCursor kept raw to tell null.
type page struct {
	Items      []attach.File   `json:"items"`
	NextCursor json.RawMessage `json:"nextCursor"`
	Total      int64           `json:"total"`
}

// listNames pages through GET /files?query and returns the file names.
func (c caller) listNames(t *testing.T, query string) []string {
	t.Helper()
	names := []string{}
	cursor := ""
	for range 100 {
		q := query
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := c.do(t, http.MethodGet, "/files?"+q, nil)
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		var m map[string]json.RawMessage
		r.decode(t, &m)
		assert.Len(t, m, 3, "a page is {items, nextCursor, total}")
		var p page
		r.decode(t, &p)
		for _, f := range p.Items {
			names = append(names, f.FileName)
		}
		if string(p.NextCursor) == "null" {
			assert.Equal(t, int64(len(names)), p.Total)
			return names
		}
		require.NoError(t, json.Unmarshal(p.NextCursor, &cursor))
	}
	t.Fatal("listing did not end")
	return nil
}

func TestListFilesRoute(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	png, pdf := pngFile(t, 3, 3), pdfFile(400)
	reports := c.createCollection(t, map[string]any{"name": "reports"})
	var names []string
	for i := range 7 {
		fields := map[string]any{"fileName": fmt.Sprintf("img-%d.png", i), "tags": []string{fmt.Sprint("t", i%2)}}
		data, mimeType := png, "image/png"
		if i%3 == 0 {
			fields["fileName"], data, mimeType = fmt.Sprintf("Doc-%d.pdf", i), pdf, "application/pdf"
			fields["collectionId"] = reports.ID
		}
		c.uploadWith(t, fields, mimeType, data)
		names = append(names, fields["fileName"].(string))
		e.clock.Advance(time.Millisecond)
	}
	e.as(keyB, "u1").upload(t, "other.png", "image/png", png)
	e.as(keyA, "u2").upload(t, "private-to-u2.png", "image/png", png)

	tests := []struct {
		name, query string
		want        []string
	}{
		{name: "oldest first", query: "limit=3&sort=createdAt", want: names},
		{name: "collection", query: "limit=1&sort=createdAt&collectionId=" + reports.ID, want: []string{names[0], names[3], names[6]}},
		{name: "tag", query: "sort=createdAt&tag=t1", want: []string{names[1], names[3], names[5]}},
		{name: "kind", query: "sort=createdAt&kind=image", want: []string{names[1], names[2], names[4], names[5]}},
		{name: "name contains", query: "q=DOC&sort=fileName", want: []string{names[0], names[3], names[6]}},
		{name: "by name", query: "sort=fileName&limit=4", want: []string{"Doc-0.pdf", "Doc-3.pdf", "Doc-6.pdf", "img-1.png", "img-2.png", "img-4.png", "img-5.png"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, c.listNames(t, tt.query))
		})
	}
	newest := c.listNames(t, "")
	require.Len(t, newest, 7, "u1 sees its own files only")
	assert.Equal(t, names[6], newest[0], "newest first by default")
	assert.Len(t, e.as(keyA, "").listNames(t, "limit=100"), 8, "the administrator sees every file")

	first := c.do(t, http.MethodGet, "/files?limit=2", nil)
	require.Equal(t, http.StatusOK, first.Status)
	var p page
	first.decode(t, &p)
	var cursor string
	require.NoError(t, json.Unmarshal(p.NextCursor, &cursor))
	foreign := e.as(keyB, "u1").do(t, http.MethodGet, "/files?limit=1", nil)
	var fp page
	foreign.decode(t, &fp)
	bad := []struct{ name, query string }{
		{name: "limit 0", query: "limit=0"},
		{name: "limit 101", query: "limit=101"},
		{name: "limit not a number", query: "limit=ten"},
		{name: "unknown sort", query: "sort=size"},
		{name: "unknown kind", query: "kind=executable"},
		{name: "forged cursor", query: "cursor=eyJpIjoiZmlsZV8xIn0.AAAAAAAAAAAAAAAAAAAAAA"},
		{name: "garbage cursor", query: "cursor=%00%01"},
		{name: "another workspace's cursor", query: "limit=2&cursor=" + url.QueryEscape(strings.Trim(string(fp.NextCursor), `"`))},
		{name: "cursor with other filters", query: "limit=2&tag=t1&cursor=" + url.QueryEscape(cursor)},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			c.do(t, http.MethodGet, "/files?"+tt.query, nil).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
		})
	}
	e.as(keyA, "u2").do(t, http.MethodGet, "/files?limit=2&cursor="+url.QueryEscape(cursor), nil).
		requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
	e.fetch(t, http.MethodGet, e.srv.URL+"/v1/files", nil, nil).requireError(t, http.StatusUnauthorized, attach.CodeUnauthorized)
}

func TestUpdateFileRoute(t *testing.T) {
	e := newEnv(t, nil)
	owner := e.as(keyA, "u1")
	f := owner.upload(t, "a.png", "image/png", pngFile(t, 3, 3))
	path := "/files/" + f.ID
	c1 := owner.createCollection(t, map[string]any{"name": "c1"})

	r := owner.do(t, http.MethodPatch, path, map[string]any{
		"fileName": "../Renamed.png", "title": "Nice", "collectionId": c1.ID, "tags": []string{"x", "y"},
		"metadata": map[string]any{"k": "v"}, "accessControl": "public-read",
		"acl": map[string]any{"view": []string{"user:u2"}, "edit": []string{"user:u2"}},
	})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var got attach.File
	r.decode(t, &got)
	assert.Equal(t, "Renamed.png", got.FileName)
	assert.Equal(t, "Nice", got.Title)
	require.NotNil(t, got.CollectionID)
	assert.Equal(t, c1.ID, *got.CollectionID)
	assert.Equal(t, []string{"x", "y"}, got.Tags)
	assert.JSONEq(t, `{"k":"v"}`, string(got.Metadata))
	assert.Equal(t, "public-read", got.AccessControl)
	assert.Equal(t, attach.ACL{View: []string{"user:u2"}, Edit: []string{"user:u2"}, Delete: []string{}}, got.ACL)
	assert.Equal(t, f.Digest, got.Digest)

	r = owner.do(t, http.MethodPatch, path, map[string]any{"title": nil, "collectionId": nil, "tags": nil, "metadata": nil, "acl": nil})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	raw := r.JSON(t)
	assert.Equal(t, "Renamed", raw["title"], "a null title follows the name")
	assert.Nil(t, raw["collectionId"])
	assert.Equal(t, []any{}, raw["tags"])
	assert.Equal(t, map[string]any{}, raw["metadata"])
	assert.Equal(t, map[string]any{"view": []any{}, "edit": []any{}, "delete": []any{}}, raw["acl"])

	tests := []struct {
		name   string
		as     caller
		path   string
		body   any
		status int
		code   attach.Code
	}{
		{name: "unknown field", body: `{"colour":"red"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "server-owned size", body: `{"fileSize":1}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "server-owned status", body: `{"title":"t","status":"ready"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "server-owned owner", body: `{"owner":"u2"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "server-owned digest", body: `{"digest":"sha256:00"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "server-owned version", body: `{"version":9}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "null name", body: `{"fileName":null}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "bad name", body: `{"fileName":"a\u0000b"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "tags not a list", body: `{"tags":"x"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "acl unknown right", body: `{"acl":{"admin":["user:x"]}}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "acl bad principal", body: `{"acl":{"view":["bob"]}}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "unknown access", body: `{"accessControl":"open"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "metadata array", body: `{"metadata":[1]}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "not an object", body: `[1]`, status: 400, code: attach.CodeInvalidRequest},
		{name: "null body", body: `null`, status: 400, code: attach.CodeInvalidRequest},
		{name: "bad JSON", body: `{"title":`, status: 400, code: attach.CodeInvalidRequest},
		{name: "oversized", body: `{"title":"` + strings.Repeat("t", 70<<10) + `"}`, status: 413, code: attach.CodePayloadTooLarge},
		{name: "no edit right", as: e.as(keyA, "u3"), body: `{"title":"t"}`, status: 403, code: attach.CodeForbidden},
		{name: "another workspace", as: e.as(keyB, "u1"), body: `{"title":"t"}`, status: 404, code: attach.CodeNotFound},
		{name: "bad id", path: "/files/file_nope", body: `{"title":"t"}`, status: 400, code: attach.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as, p := tt.as, tt.path
			if as.e == nil {
				as = owner
			}
			if p == "" {
				p = path
			}
			as.do(t, http.MethodPatch, p, tt.body).requireError(t, tt.status, tt.code)
		})
	}
	r = owner.do(t, http.MethodGet, path, nil)
	assert.Equal(t, "Renamed", r.JSON(t)["title"], "refused edits changed nothing")

	// An editor who is not the owner may edit, but not the access.
	require.Equal(t, http.StatusOK, owner.do(t, http.MethodPatch, path, `{"acl":{"edit":["user:u2"]}}`).Status)
	editor := e.as(keyA, "u2")
	require.Equal(t, http.StatusOK, editor.do(t, http.MethodPatch, path, `{"title":"by u2"}`).Status)
	editor.do(t, http.MethodPatch, path, `{"acl":{"view":["workspace"]}}`).requireError(t, 403, attach.CodeForbidden)
	editor.do(t, http.MethodPatch, path, `{"accessControl":"public-read"}`).requireError(t, 403, attach.CodeForbidden)
}

func TestVersionRoutes(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	v1, v2, v3 := pngFile(t, 3, 3), jpegFile(t, 8, 6), pdfFile(900)
	f := c.upload(t, "a.png", "image/png", v1)
	content := "/files/" + f.ID + "/content"

	// PUT the bytes of version 2.
	r := c.send(t, http.MethodPut, content+"?fileName=b.jpg", map[string]string{"If-Match": `"1"`, "Content-Type": "image/jpeg"}, v2)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var got attach.File
	r.decode(t, &got)
	assert.Equal(t, 2, got.Version)
	assert.Equal(t, "b.jpg", got.FileName)
	assert.Equal(t, "image/jpeg", got.MIMEType)
	assert.Equal(t, digestOf(v2), got.Digest)

	// The stale expectation loses, in every spelling.
	stale := []struct {
		name    string
		query   string
		headers map[string]string
	}{
		{name: "If-Match", headers: map[string]string{"If-Match": `"1"`}},
		{name: "ifVersion", query: "?ifVersion=1"},
	}
	for _, tt := range stale {
		t.Run("stale "+tt.name, func(t *testing.T) {
			d := c.send(t, http.MethodPut, content+tt.query, tt.headers, v3).requireError(t, http.StatusConflict, attach.CodeVersionConflict)
			assert.Equal(t, float64(2), d["currentVersion"])
		})
	}
	badMatch := []struct {
		name    string
		query   string
		headers map[string]string
	}{
		{name: "weak tag", headers: map[string]string{"If-Match": `W/"2"`}},
		{name: "unquoted", headers: map[string]string{"If-Match": `2`}},
		{name: "two tags", headers: map[string]string{"If-Match": `"2", "3"`}},
		{name: "zero", query: "?ifVersion=0"},
		{name: "not a number", query: "?ifVersion=two"},
		{name: "disagreeing", query: "?ifVersion=3", headers: map[string]string{"If-Match": `"2"`}},
		{name: "bad name", query: "?fileName=%0A.pdf"},
	}
	for _, tt := range badMatch {
		t.Run(tt.name, func(t *testing.T) {
			c.send(t, http.MethodPut, content+tt.query, tt.headers, v3).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
		})
	}
	c.send(t, http.MethodPut, content, map[string]string{"Content-Type": "image/png"}, v3).requireError(t, 422, attach.CodeContentMismatch)
	c.send(t, http.MethodPut, content, nil, []byte(htmlFile)).requireError(t, 400, attach.CodeInvalidFileType)
	c.send(t, http.MethodPut, content, nil, []byte{}).requireError(t, 400, attach.CodeInvalidRequest)

	// Version 3 by presign, confirmed by ticket.
	r = c.do(t, http.MethodPost, "/files/"+f.ID+"/versions/upload-url",
		map[string]any{"fileName": "c.pdf", "mimeType": "application/pdf", "fileSize": len(v3), "ifVersion": 2})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var tk ticket
	r.decode(t, &tk)
	assert.Equal(t, f.ID, tk.ID)
	require.Equal(t, http.StatusOK, e.put(t, tk, v3).Status)
	r = c.do(t, http.MethodPost, "/files/"+f.ID+"/confirm?uploadId="+tk.UploadID, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	r.decode(t, &got)
	assert.Equal(t, 3, got.Version)
	assert.Equal(t, "c.pdf", got.FileName)
	c.do(t, http.MethodPost, "/files/"+f.ID+"/confirm?uploadId=upl_x", nil).requireError(t, 400, attach.CodeInvalidRequest)

	presignBad := []struct {
		name   string
		body   any
		status int
		code   attach.Code
	}{
		{name: "stale ifVersion", body: map[string]any{"mimeType": "image/png", "fileSize": 10, "ifVersion": 2}, status: 409, code: attach.CodeVersionConflict},
		{name: "missing mimeType", body: map[string]any{"fileSize": 10}, status: 400, code: attach.CodeInvalidRequest},
		{name: "missing fileSize", body: map[string]any{"mimeType": "image/png"}, status: 400, code: attach.CodeInvalidRequest},
		{name: "unknown field", body: map[string]any{"mimeType": "image/png", "fileSize": 10, "persist": false}, status: 400, code: attach.CodeInvalidRequest},
		{name: "too large", body: map[string]any{"mimeType": "image/png", "fileSize": 51 << 20}, status: 400, code: attach.CodeFileTooLarge},
		{name: "zero ifVersion", body: map[string]any{"mimeType": "image/png", "fileSize": 10, "ifVersion": 0}, status: 400, code: attach.CodeInvalidRequest},
	}
	for _, tt := range presignBad {
		t.Run("presign "+tt.name, func(t *testing.T) {
			c.do(t, http.MethodPost, "/files/"+f.ID+"/versions/upload-url", tt.body).requireError(t, tt.status, tt.code)
		})
	}

	// Every version stays downloadable.
	r = c.do(t, http.MethodGet, "/files/"+f.ID+"/versions", nil)
	require.Equal(t, http.StatusOK, r.Status)
	var vs []map[string]any
	r.decode(t, &vs)
	require.Len(t, vs, 3)
	for i, want := range [][]byte{v1, v2, v3} {
		assert.Equal(t, float64(i+1), vs[i]["version"])
		assert.Equal(t, digestOf(want), vs[i]["digest"])
		assert.Equal(t, "u1", vs[i]["createdBy"])
		assert.Len(t, vs[i], 7, "{version, fileName, mimeType, fileSize, digest, createdAt, createdBy}")
		got := e.fetch(t, http.MethodGet, c.downloadURL(t, f.ID, fmt.Sprintf("?version=%d", i+1)), nil, nil)
		assert.Equal(t, want, got.Body, "version %d", i+1)
	}

	// Restore version 1 as version 4.
	r = c.do(t, http.MethodPost, "/files/"+f.ID+"/versions/1/restore", nil)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	r.decode(t, &got)
	assert.Equal(t, 4, got.Version)
	assert.Equal(t, digestOf(v1), got.Digest)
	assert.Equal(t, v1, e.fetch(t, http.MethodGet, c.downloadURL(t, f.ID, ""), nil, nil).Body)
	restoreBad := []struct {
		name, path string
		headers    map[string]string
		status     int
		code       attach.Code
	}{
		{name: "version 0", path: "/versions/0/restore", status: 400, code: attach.CodeInvalidRequest},
		{name: "not a number", path: "/versions/one/restore", status: 400, code: attach.CodeInvalidRequest},
		{name: "unknown version", path: "/versions/9/restore", status: 404, code: attach.CodeNotFound},
		{name: "stale If-Match", path: "/versions/2/restore", headers: map[string]string{"If-Match": `"3"`}, status: 409, code: attach.CodeVersionConflict},
	}
	for _, tt := range restoreBad {
		t.Run("restore "+tt.name, func(t *testing.T) {
			c.send(t, http.MethodPost, "/files/"+f.ID+tt.path, tt.headers, nil).requireError(t, tt.status, tt.code)
		})
	}
}

func TestConcurrentPutContentOneWins(t *testing.T) {
	const writers = 6
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	f := c.upload(t, "a.png", "image/png", pngFile(t, 3, 3))
	statuses := make([]*response, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		body := pngFile(t, 4+i, 4)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i] = c.send(t, http.MethodPut, "/files/"+f.ID+"/content", map[string]string{"If-Match": `"1"`}, body)
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for _, r := range statuses {
		if r.Status == http.StatusCreated {
			won++
			continue
		}
		r.requireError(t, http.StatusConflict, attach.CodeVersionConflict)
	}
	assert.Equal(t, 1, won)
	r := c.do(t, http.MethodGet, "/files/"+f.ID+"/versions", nil)
	var vs []attach.Version
	r.decode(t, &vs)
	assert.Len(t, vs, 2)
	assert.Len(t, e.keysOf(t, f.ID), 2, "only the winner's bytes are kept")
}

func TestDownloadURLsRoute(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	a := c.upload(t, "a.png", "image/png", pngFile(t, 3, 3))
	other := e.as(keyA, "u2").upload(t, "b.png", "image/png", pngFile(t, 3, 3))
	foreign := e.as(keyB, "u1").upload(t, "c.png", "image/png", pngFile(t, 3, 3))

	r := c.do(t, http.MethodPost, "/files/download-urls", []map[string]any{
		{"id": a.ID}, {"id": a.ID, "version": 1}, {"id": a.ID, "version": 2}, {"id": other.ID}, {"id": foreign.ID}, {"id": "nope"},
	})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var res []map[string]any
	r.decode(t, &res)
	require.Len(t, res, 6)
	for _, i := range []int{0, 1} {
		assert.Equal(t, a.ID, res[i]["id"])
		assert.Len(t, res[i], 3, "{id, url, expiresAt}")
		got := e.fetch(t, http.MethodGet, res[i]["url"].(string), nil, nil)
		assert.Equal(t, http.StatusOK, got.Status)
	}
	wantErr := map[int]string{2: "not_found", 3: "forbidden", 4: "not_found", 5: "invalid_request"}
	for i, code := range wantErr {
		assert.Len(t, res[i], 2, "{id, error}")
		errObj, ok := res[i]["error"].(map[string]any)
		require.True(t, ok, "item %d: %v", i, res[i])
		assert.Equal(t, code, errObj["code"], "item %d", i)
		assert.NotEmpty(t, errObj["message"])
	}

	r = c.do(t, http.MethodPost, "/files/download-urls", []any{})
	require.Equal(t, http.StatusOK, r.Status)
	assert.JSONEq(t, `[]`, string(r.Body))

	many := make([]map[string]any, 101)
	for i := range many {
		many[i] = map[string]any{"id": a.ID}
	}
	bad := []struct {
		name string
		body any
	}{
		{name: "101 items", body: many},
		{name: "an object", body: map[string]any{"id": a.ID}},
		{name: "null", body: "null"},
		{name: "item without id", body: []map[string]any{{"version": 1}}},
		{name: "unknown item field", body: []map[string]any{{"id": a.ID, "disposition": "inline"}}},
		{name: "version 0", body: []map[string]any{{"id": a.ID, "version": 0}}},
		{name: "version as string", body: `[{"id":"x","version":"1"}]`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			c.do(t, http.MethodPost, "/files/download-urls", tt.body).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
		})
	}
	require.Equal(t, http.StatusOK, c.do(t, http.MethodPost, "/files/download-urls", many[:100]).Status)
}

// TestDocumentRoutesScope runs every route of this file against a
// missing key, another workspace's id, a bad id and a user without rights.
func TestDocumentRoutesScope(t *testing.T) {
	e := newEnv(t, nil)
	f := e.as(keyA, "u1").upload(t, "a.png", "image/png", pngFile(t, 3, 3))
	routes := []struct {
		method, path, body string
		forbidden          bool // a same-workspace user without rights is refused (listing just filters)
	}{
		{method: http.MethodPatch, path: "/files/%s", body: `{"title":"x"}`, forbidden: true},
		{method: http.MethodGet, path: "/files/%s/versions", forbidden: true},
		{method: http.MethodPost, path: "/files/%s/versions/upload-url", body: `{"mimeType":"image/png","fileSize":10}`, forbidden: true},
		{method: http.MethodPut, path: "/files/%s/content", body: "bytes", forbidden: true},
		{method: http.MethodPost, path: "/files/%s/versions/1/restore", forbidden: true},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			body := func() []byte {
				if rt.body == "" {
					return nil
				}
				return []byte(rt.body)
			}
			p := routePath(rt.path, f.ID)
			e.fetch(t, rt.method, e.srv.URL+"/v1"+p, nil, bytes.NewReader(body())).requireError(t, 401, attach.CodeUnauthorized)
			e.as(keyB, "u1").send(t, rt.method, p, nil, body()).requireError(t, 404, attach.CodeNotFound)
			e.as(keyA, "u1").send(t, rt.method, routePath(rt.path, "file_bad"), nil, body()).requireError(t, 400, attach.CodeInvalidRequest)
			if rt.forbidden {
				e.as(keyA, "u9").send(t, rt.method, p, nil, body()).requireError(t, 403, attach.CodeForbidden)
			}
		})
	}
	e.fetch(t, http.MethodPost, e.srv.URL+"/v1/files/download-urls", nil, strings.NewReader("[]")).
		requireError(t, 401, attach.CodeUnauthorized)
}

func TestDeleteRetentionRoute(t *testing.T) {
	e := newEnv(t, nil)
	o := e.opts
	o.Retention = time.Hour
	o.Now = e.clock.Now
	svc, err := attach.New(e.storage, e.store, &o)
	require.NoError(t, err)
	h, err := New(svc, &Options{Prefix: "/v1", Authenticate: BearerKeys(map[string]string{keyA: wsA})})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	auth := map[string]string{"Authorization": "Bearer " + keyA}

	for _, tt := range []struct {
		name      string
		query     string
		keptBytes bool
	}{
		{name: "kept for the window", keptBytes: true},
		{name: "purge", query: "?purge=true"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := e.as(keyA, "").upload(t, "a.png", "image/png", pngFile(t, 3, 3))
			u := e.as(keyA, "").downloadURL(t, f.ID, "")
			r := e.fetch(t, http.MethodDelete, srv.URL+"/v1/files/"+f.ID+tt.query, auth, nil)
			require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
			e.fetch(t, http.MethodGet, srv.URL+"/v1/files/"+f.ID, auth, nil).requireError(t, 404, attach.CodeNotFound)
			e.fetch(t, http.MethodGet, u, nil, nil).requireError(t, 404, attach.CodeNotFound)
			assert.Equal(t, tt.keptBytes, len(e.keysOf(t, f.ID)) > 0)
			_, err := svc.Undelete(t.Context(), attach.Scope{Workspace: wsA}, f.ID)
			if tt.keptBytes {
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, e.fetch(t, http.MethodGet, u, nil, nil).Status, "restored with its bytes")
			} else {
				assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err))
			}
		})
	}
	e.fetch(t, http.MethodDelete, srv.URL+"/v1/files/file_bad?purge=maybe", auth, nil).requireError(t, 400, attach.CodeInvalidRequest)
}

func TestTemporaryFileExpiresRoute(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	f := c.uploadWith(t, map[string]any{"fileName": "tmp.png", "persist": false}, "image/png", pngFile(t, 3, 3))
	require.NotNil(t, f.ExpiresAt)
	assert.Equal(t, []string{"tmp.png"}, c.listNames(t, ""))
	e.clock.Advance(24*time.Hour + time.Second)
	for _, p := range []string{"/files/" + f.ID, "/files/" + f.ID + "/download", "/files/" + f.ID + "/versions"} {
		c.do(t, http.MethodGet, p, nil).requireError(t, 404, attach.CodeNotFound)
	}
	assert.Equal(t, []string{}, c.listNames(t, ""))
}
