package httpadapter

import (
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

func TestUploadURLValidation(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	req := func(fields ...any) map[string]any {
		m := map[string]any{"fileName": "a.png", "mimeType": "image/png", "fileSize": 1234}
		for i := 0; i < len(fields); i += 2 {
			if fields[i+1] == nil {
				delete(m, fields[i].(string))
			} else {
				m[fields[i].(string)] = fields[i+1]
			}
		}
		return m
	}
	const valid = `{"fileName":"a.png","mimeType":"image/png","fileSize":1234}`
	maxSize := int64(50 * attach.MB)
	tests := []struct {
		name    string
		body    any
		status  int
		code    attach.Code
		details map[string]any // nil: any details object
	}{
		{name: "missing fileName", body: req("fileName", nil), status: 400, code: attach.CodeInvalidRequest},
		{name: "missing mimeType", body: req("mimeType", nil), status: 400, code: attach.CodeInvalidRequest},
		{name: "missing fileSize", body: req("fileSize", nil), status: 400, code: attach.CodeInvalidRequest},
		{name: "empty body", body: "", status: 400, code: attach.CodeInvalidRequest},
		{name: "null", body: "null", status: 400, code: attach.CodeInvalidRequest},
		{name: "bad JSON", body: `{"fileName":`, status: 400, code: attach.CodeInvalidRequest},
		{name: "not JSON", body: `fileName=a.png&mimeType=image/png`, status: 400, code: attach.CodeInvalidRequest},
		{name: "array", body: `[1,2]`, status: 400, code: attach.CodeInvalidRequest},
		{name: "fileSize as string", body: req("fileSize", "1234"), status: 400, code: attach.CodeInvalidRequest},
		{name: "trailing object", body: valid + `{}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "trailing garbage", body: valid + ` x`, status: 400, code: attach.CodeInvalidRequest},
		{name: "trailing brace", body: valid + `}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "trailing bracket", body: valid + `]`, status: 400, code: attach.CodeInvalidRequest},
		{name: "1 MiB body", body: req("title", strings.Repeat("t", 1<<20)), status: 413, code: attach.CodePayloadTooLarge},
		{name: "1 MiB of trailing spaces", body: valid + strings.Repeat(" ", 1<<20), status: 413, code: attach.CodePayloadTooLarge},
		{name: "disallowed type", body: req("mimeType", "text/html", "fileName", "a.html"), status: 400,
			code: attach.CodeInvalidFileType, details: map[string]any{"allowedTypes": toAny(attach.DefaultPolicy().Limits().AllowedTypes)}},
		{name: "invalid type", body: req("mimeType", "png"), status: 400, code: attach.CodeInvalidRequest},
		{name: "too large", body: req("fileSize", maxSize+1), status: 400, code: attach.CodeFileTooLarge,
			details: map[string]any{"maxSize": float64(maxSize), "actualSize": float64(maxSize + 1)}},
		{name: "zero size", body: req("fileSize", 0), status: 400, code: attach.CodeInvalidRequest},
		{name: "negative size", body: req("fileSize", -5), status: 400, code: attach.CodeInvalidRequest},
		{name: "empty file name", body: req("fileName", ""), status: 400, code: attach.CodeInvalidRequest},
		{name: "dot dot", body: req("fileName", ".."), status: 400, code: attach.CodeInvalidRequest},
		{name: "directory only", body: req("fileName", "dir/"), status: 400, code: attach.CodeInvalidRequest},
		{name: "NUL", body: req("fileName", "a\x00.png"), status: 400, code: attach.CodeInvalidRequest},
		{name: "CR LF", body: req("fileName", "a.png\r\nSet-Cookie: x=1"), status: 400, code: attach.CodeInvalidRequest},
		{name: "LF", body: req("fileName", "a\n.png"), status: 400, code: attach.CodeInvalidRequest},
		{name: "bidi override", body: req("fileName", "invoice\u202Egnp.exe"), status: 400, code: attach.CodeInvalidRequest},
		{name: "300 bytes", body: req("fileName", strings.Repeat("n", 296)+".png"), status: 400, code: attach.CodeInvalidRequest},
		{name: "tag with newline", body: req("tags", []string{"a\nb"}), status: 400, code: attach.CodeInvalidRequest},
		{name: "metadata not an object", body: req("metadata", []int{1}), status: 400, code: attach.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(t, http.MethodPost, "/files/upload-url", tt.body)
			details := r.requireError(t, tt.status, tt.code)
			if tt.details != nil {
				assert.Equal(t, tt.details, details)
			}
		})
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func TestUploadURLFileNames(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	long := strings.Repeat("é", 125) + ".png" // 254 bytes
	tests := []struct {
		name, fileName, want string
	}{
		{name: "parent directory", fileName: "../x.png", want: "x.png"},
		{name: "deep traversal", fileName: "../../../../etc/x.png", want: "x.png"},
		{name: "windows traversal", fileName: `..\..\x.png`, want: "x.png"},
		{name: "windows path", fileName: `C:\Users\me\x.png`, want: "x.png"},
		{name: "absolute path", fileName: "/etc/passwd.png", want: "passwd.png"},
		{name: "surrounding spaces", fileName: "  spaced.png  ", want: "spaced.png"},
		{name: "unicode kept", fileName: "résumé 📄.png", want: "résumé 📄.png"},
		{name: "quotes and semicolons kept", fileName: `a"b;c.png`, want: `a"b;c.png`},
		{name: "254 bytes", fileName: long, want: long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := c.requestUpload(t, tt.fileName, "image/png", 100)
			r := c.do(t, http.MethodGet, "/files/"+tk.ID, nil)
			require.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, tt.want, r.JSON(t)["fileName"])
			assert.NotContains(t, tk.Key, "..", "file names never reach keys")
			assert.NotContains(t, tk.UploadURL, "x.png")
		})
	}
}

// thisIssueRoutes are the authenticated routes, with %s for a file id.
var thisIssueRoutes = []struct{ method, path string }{
	{http.MethodGet, "/files/%s"},
	{http.MethodGet, "/files/%s/status"},
	{http.MethodPost, "/files/%s/confirm"},
	{http.MethodGet, "/files/%s/download"},
	{http.MethodGet, "/files/%s/content"},
	{http.MethodDelete, "/files/%s"},
}

func routePath(p, id string) string { return strings.Replace(p, "%s", id, 1) }

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, nil)
	f := e.as(keyA, "").upload(t, "a.png", "image/png", pngFile(t, 2, 2))
	routes := append([]struct{ method, path string }{{http.MethodPost, "/files/upload-url"}}, thisIssueRoutes...)
	creds := []struct {
		name    string
		headers map[string]string
	}{
		{name: "no header", headers: nil},
		{name: "unknown key", headers: map[string]string{"Authorization": "Bearer nope"}},
		{name: "empty bearer", headers: map[string]string{"Authorization": "Bearer "}},
		{name: "basic scheme", headers: map[string]string{"Authorization": "Basic a2V5LWE6"}},
		{name: "key without scheme", headers: map[string]string{"Authorization": keyA}},
		{name: "key prefix", headers: map[string]string{"Authorization": "Bearer key-"}},
		{name: "user id too long", headers: map[string]string{"Authorization": "Bearer " + keyA, UserHeader: strings.Repeat("u", 300)}},
	}
	for _, cr := range creds {
		for _, rt := range routes {
			t.Run(cr.name+"/"+rt.method+" "+rt.path, func(t *testing.T) {
				var body io.Reader
				if rt.method == http.MethodPost {
					body = strings.NewReader(`{"fileName":"a.png","mimeType":"image/png","fileSize":10}`)
				}
				r := e.fetch(t, rt.method, e.srv.URL+"/v1"+routePath(rt.path, f.ID), cr.headers, body)
				r.requireError(t, http.StatusUnauthorized, attach.CodeUnauthorized)
				assert.Equal(t, `Bearer realm="attachkit"`, r.Header.Get("WWW-Authenticate"))
			})
		}
	}
	// Nothing was deleted by any of them.
	require.Equal(t, http.StatusOK, e.as(keyA, "").do(t, http.MethodGet, "/files/"+f.ID, nil).Status)
}

func TestWorkspaceIsolation(t *testing.T) {
	e := newEnv(t, nil)
	f := e.as(keyA, "u1").upload(t, "a.png", "image/png", pngFile(t, 2, 2))
	pending := e.as(keyA, "u1").requestUpload(t, "b.png", "image/png", 10)
	const unknown = "file_0192f3c4-7d3e-7b6a-9c1d-2e3f4a5b6c7d"
	b := e.as(keyB, "") // ws-b's administrator
	for _, id := range []string{f.ID, pending.ID} {
		for _, rt := range thisIssueRoutes {
			t.Run(rt.method+" "+rt.path, func(t *testing.T) {
				other := b.do(t, rt.method, routePath(rt.path, id), nil)
				missing := b.do(t, rt.method, routePath(rt.path, unknown), nil)
				other.requireError(t, http.StatusNotFound, attach.CodeNotFound)
				assert.Equal(t, string(missing.Body), string(other.Body), "another workspace's id answers like an unknown id")
				assert.Equal(t, missing.Header.Get("Content-Type"), other.Header.Get("Content-Type"))
			})
		}
	}
	a := e.as(keyA, "u1")
	r := a.do(t, http.MethodGet, "/files/"+f.ID, nil)
	require.Equal(t, http.StatusOK, r.Status, "ws-b's DELETE did nothing")
	assert.Equal(t, "ready", r.JSON(t)["status"])
	r = a.do(t, http.MethodGet, "/files/"+pending.ID+"/status", nil)
	assert.Equal(t, "pending", r.JSON(t)["status"], "ws-b's confirm did nothing")
}

func TestMalformedIDs(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "")
	ids := []string{"nope", "file_", "file_123", "upl_0192f3c4-7d3e-7b6a-9c1d-2e3f4a5b6c7d",
		"file_0192f3c4-7d3e-7b6a-9c1d-2e3f4a5b6c7", "file_0192f3c4-7d3e-7b6a-9c1d-2e3f4a5b6c7dX",
		"file_0192f3c4_7d3e_7b6a_9c1d_2e3f4a5b6c7d", "file_%00", strings.Repeat("f", 5000)}
	for _, id := range ids {
		for _, rt := range thisIssueRoutes {
			t.Run(rt.method+" "+rt.path+" "+id[:min(len(id), 20)], func(t *testing.T) {
				r := c.do(t, rt.method, routePath(rt.path, id), nil)
				r.requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
				assert.Less(t, len(r.Body), 1024, "the id is not echoed at length")
			})
		}
	}
}

func TestOwnerAccess(t *testing.T) {
	e := newEnv(t, nil)
	owner, other, admin := e.as(keyA, "u1"), e.as(keyA, "u2"), e.as(keyA, "")
	f := owner.upload(t, "a.png", "image/png", pngFile(t, 2, 2))
	pending := owner.requestUpload(t, "b.png", "image/png", len(pngFile(t, 3, 3)))
	require.Equal(t, http.StatusOK, e.put(t, pending, pngFile(t, 3, 3)).Status)

	tests := []struct {
		name   string
		as     caller
		method string
		path   string
		id     string
		status int
	}{
		{"other GET", other, http.MethodGet, "/files/%s", f.ID, 403},
		{"other status", other, http.MethodGet, "/files/%s/status", f.ID, 403},
		{"other confirm", other, http.MethodPost, "/files/%s/confirm", f.ID, 403},
		{"other confirm pending", other, http.MethodPost, "/files/%s/confirm", pending.ID, 403},
		{"other download", other, http.MethodGet, "/files/%s/download", f.ID, 403},
		{"other content", other, http.MethodGet, "/files/%s/content", f.ID, 403},
		{"other DELETE", other, http.MethodDelete, "/files/%s", f.ID, 403},
		{"owner GET", owner, http.MethodGet, "/files/%s", f.ID, 200},
		{"owner status", owner, http.MethodGet, "/files/%s/status", f.ID, 200},
		{"owner confirm", owner, http.MethodPost, "/files/%s/confirm", f.ID, 200},
		{"owner download", owner, http.MethodGet, "/files/%s/download", f.ID, 200},
		{"owner content", owner, http.MethodGet, "/files/%s/content", f.ID, 302},
		{"admin GET", admin, http.MethodGet, "/files/%s", f.ID, 200},
		{"admin status", admin, http.MethodGet, "/files/%s/status", f.ID, 200},
		{"admin confirm pending", admin, http.MethodPost, "/files/%s/confirm", pending.ID, 200},
		{"admin download", admin, http.MethodGet, "/files/%s/download", f.ID, 200},
		{"admin content", admin, http.MethodGet, "/files/%s/content", f.ID, 302},
		{"owner DELETE", owner, http.MethodDelete, "/files/%s", f.ID, 204},
		{"admin DELETE", admin, http.MethodDelete, "/files/%s", pending.ID, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.as.do(t, tt.method, routePath(tt.path, tt.id), nil)
			if tt.status == http.StatusForbidden {
				r.requireError(t, tt.status, attach.CodeForbidden)
				return
			}
			assert.Equal(t, tt.status, r.Status, "body: %s", r.Body)
			if tt.name == "other confirm pending" {
				st := admin.do(t, http.MethodGet, "/files/"+pending.ID+"/status", nil).JSON(t)
				assert.Equal(t, "pending", st["status"], "a refused confirm changes nothing")
			}
		})
	}
}

func TestUnknownRoutes(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "")
	tests := []struct{ name, method, path string }{
		{"unknown path", http.MethodGet, "/nope"},
		{"prefix root", http.MethodGet, "/"},
		{"one version (not a route)", http.MethodGet, "/files/file_0192f3c4-7d3e-7b6a-9c1d-2e3f4a5b6c7d/versions/1"},
		{"PATCH the file list", http.MethodPatch, "/files"},
		{"too deep", http.MethodGet, "/files/a/b/c"},
		{"DELETE a blob", http.MethodDelete, "/blob/ws-a/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.do(t, tt.method, tt.path, nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
		})
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t, nil)
	r := e.fetch(t, http.MethodGet, e.srv.URL+"/v1/healthz", nil, nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Equal(t, map[string]any{"status": "ok"}, r.JSON(t))

	require.NoError(t, os.RemoveAll(e.dir)) // storage no longer answers
	r = e.fetch(t, http.MethodGet, e.srv.URL+"/v1/healthz", nil, nil)
	require.Equal(t, http.StatusServiceUnavailable, r.Status)
	assert.Equal(t, map[string]any{"status": "unavailable"}, r.JSON(t))
}

// TestOpenAPIMatchesRoutes keeps the served document true to the routes
// handler.go registers: the same paths with the same methods.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, nil)
	r := e.fetch(t, http.MethodGet, e.srv.URL+"/v1/openapi.yaml", nil, nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.True(t, strings.HasPrefix(r.Header.Get("Content-Type"), "application/yaml"))
	assert.Equal(t, OpenAPI, r.Body)
	require.True(t, strings.HasPrefix(string(r.Body), "openapi: 3."))

	var code []string
	for _, rt := range e.api.Routes() {
		code = append(code, rt.Method+" "+rt.Path)
	}
	require.NotEmpty(t, code, "no routes registered")

	doc := openAPIOperations(t, string(r.Body))
	slices.Sort(code)
	slices.Sort(doc)
	assert.Equal(t, code, doc, "openapi.yaml paths and methods must be the routes handler.go registers")
}

// openAPIOperations lists "METHOD /path" for every operation under
// paths:, read from the document's indentation (two spaces per level).
func openAPIOperations(t *testing.T, doc string) []string {
	t.Helper()
	methods := []string{"get", "put", "post", "delete", "patch", "head", "options"}
	var ops []string
	in, path := false, ""
	for line := range strings.Lines(doc) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "paths:":
			in = true
		case !in || line == "" || strings.HasPrefix(strings.TrimSpace(line), "#"):
		case !strings.HasPrefix(line, " "):
			in = false
		case strings.HasPrefix(line, "  /") && strings.HasSuffix(line, ":"):
			path = strings.TrimSuffix(strings.TrimSpace(line), ":")
		case strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     "):
			key := strings.TrimSuffix(strings.TrimSpace(line), ":")
			if slices.Contains(methods, key) {
				require.NotEmpty(t, path, "operation %s outside a path", key)
				ops = append(ops, strings.ToUpper(key)+" "+path)
			}
		}
	}
	require.NotEmpty(t, ops, "no operations under paths:")
	return ops
}
