package httpadapter

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

// isoFixture is what the isolation matrix acts on: in workspace A, a
// private file of its owner with two versions, and whatever else the
// routes name (see isoSetup).
type isoFixture struct {
	e     *env
	owner caller // alice, in workspace A
	file  attach.File
	ids   map[string]string // path wildcard → value
}

// isoRoute says how to call one route with the fixture's ids.
type isoRoute struct {
	// body is the request body (JSON unless a string or []byte).
	body func(fx *isoFixture) any
	// contentType overrides the JSON content type.
	contentType string
	// right is what a same-workspace user needs: "view", "edit" or
	// "delete". "" marks a route that names no resource of the workspace
	// (a foreign caller cannot name anything there).
	right string
	// query is appended to the path.
	query string
	// perItem marks a bulk route that answers 200 with per-item errors.
	perItem bool
}

// isoRoutes lists every authenticated route. TestIsolationMatrix fails on a
// route missing here, so a new route cannot skip the matrix.
var isoRoutes = map[string]isoRoute{
	"POST /files":            {right: "", body: func(*isoFixture) any { return map[string]any{"fileName": "x.png", "data": "data:image/png;base64,"} }},
	"POST /files/import":     {right: ""},
	"GET /files":             {right: ""},
	"POST /files/upload-url": {right: ""},
	"POST /files/download-urls": {right: "view", perItem: true, body: func(fx *isoFixture) any {
		return []map[string]any{{"id": fx.file.ID}}
	}},
	"PATCH /files/{id}":                     {right: "edit", body: func(*isoFixture) any { return map[string]any{"title": "taken"} }},
	"GET /files/{id}/versions":              {right: "view"},
	"POST /files/{id}/versions/upload-url":  {right: "edit", body: func(*isoFixture) any { return map[string]any{"mimeType": "image/png", "fileSize": 10} }},
	"PUT /files/{id}/content":               {right: "edit", contentType: "image/png", body: func(fx *isoFixture) any { return isoPNG }},
	"POST /files/{id}/versions/{n}/restore": {right: "edit"},
	"POST /files/{id}/confirm":              {right: "edit"},
	"GET /files/{id}/status":                {right: "view"},
	"GET /files/{id}":                       {right: "view"},
	"DELETE /files/{id}":                    {right: "delete"},
	"GET /files/{id}/download":              {right: "view"},
	"GET /files/{id}/content":               {right: "view"},
}

var isoPNG []byte

func isoSetup(t *testing.T) *isoFixture {
	e := newEnv(t, nil)
	isoPNG = pngFile(t, 3, 3)
	fx := &isoFixture{e: e, owner: e.as(keyA, "alice")}
	fx.file = fx.owner.upload(t, "a.png", "image/png", pngFile(t, 5, 5))
	r := fx.call(t, fx.owner, http.MethodPut, "/files/"+fx.file.ID+"/content?ifVersion=1",
		isoRoute{contentType: "image/png", body: func(*isoFixture) any { return isoPNG }})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	fx.ids = map[string]string{"id": fx.file.ID, "n": "1"}
	return fx
}

// path fills a route's wildcards from the fixture.
func (fx *isoFixture) path(t *testing.T, pattern string) string {
	var b strings.Builder
	for rest := pattern; rest != ""; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest, '}')
		name := strings.TrimSuffix(rest[i+1:j], "...")
		v, ok := fx.ids[name]
		require.True(t, ok, "the fixture has no value for {%s} in %s", name, pattern)
		b.WriteString(rest[:i] + v)
		rest = rest[j+1:]
	}
	return b.String()
}

func (fx *isoFixture) call(t *testing.T, c caller, method, path string, rt isoRoute) *response {
	var body any
	if rt.body != nil {
		body = rt.body(fx)
	}
	h := map[string]string{"Authorization": "Bearer " + c.key}
	if c.user != "" {
		h[UserHeader] = c.user
	}
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
		h["Content-Type"] = "application/json"
	}
	if rt.contentType != "" {
		h["Content-Type"] = rt.contentType
	}
	if rd == nil {
		return fx.e.fetch(t, method, fx.e.srv.URL+"/v1"+path, h, nil)
	}
	return fx.e.fetch(t, method, fx.e.srv.URL+"/v1"+path, h, rd)
}

// expectCode checks an answer is the error, or for a bulk route that its
// one item carries it.
func expectCode(t *testing.T, r *response, rt isoRoute, status int, code attach.Code) {
	t.Helper()
	if rt.perItem {
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		var items []struct {
			Error *struct{ Code attach.Code } `json:"error"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &items), "%s", r.Body)
		require.Len(t, items, 1)
		require.NotNil(t, items[0].Error, "%s", r.Body)
		assert.Equal(t, code, items[0].Error.Code)
		return
	}
	r.requireError(t, status, code)
}

// TestIsolationMatrix walks every authenticated route of Handler.Routes():
// another workspace naming workspace A's ids gets 404 not_found, exactly
// like an unknown id; a same-workspace user without the route's right gets
// 403 forbidden; a user with view but not edit or delete gets 403 on every
// mutating route; and after all of it the file is unchanged.
func TestIsolationMatrix(t *testing.T) {
	fx := isoSetup(t)
	foreign := fx.e.as(keyB, "alice") // the same user name, another workspace
	stranger := fx.e.as(keyA, "bob")  // workspace A, no rights
	viewer := fx.e.as(keyA, "carol")  // workspace A, view only
	r := fx.owner.do(t, http.MethodPatch, "/files/"+fx.file.ID, map[string]any{"acl": map[string]any{"view": []string{"user:carol"}}})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	before := fx.owner.do(t, http.MethodGet, "/files/"+fx.file.ID, nil)
	require.Equal(t, http.StatusOK, before.Status)

	seen := map[string]bool{}
	for _, route := range fx.e.api.Routes() {
		if route.Anonymous {
			continue
		}
		name := route.Method + " " + route.Path
		seen[name] = true
		rt, ok := isoRoutes[name]
		if !assert.True(t, ok, "route %s is not in the isolation matrix (isoRoutes)", name) {
			continue
		}
		if rt.right == "" {
			continue
		}
		path := fx.path(t, route.Path) + rt.query
		t.Run(name, func(t *testing.T) {
			t.Run("foreign workspace", func(t *testing.T) {
				expectCode(t, fx.call(t, foreign, route.Method, path, rt), rt, http.StatusNotFound, attach.CodeNotFound)
			})
			t.Run("admin of a foreign workspace", func(t *testing.T) {
				expectCode(t, fx.call(t, fx.e.as(keyB, ""), route.Method, path, rt), rt, http.StatusNotFound, attach.CodeNotFound)
			})
			t.Run("user without rights", func(t *testing.T) {
				expectCode(t, fx.call(t, stranger, route.Method, path, rt), rt, http.StatusForbidden, attach.CodeForbidden)
			})
			if rt.right != "view" {
				t.Run("viewer", func(t *testing.T) {
					expectCode(t, fx.call(t, viewer, route.Method, path, rt), rt, http.StatusForbidden, attach.CodeForbidden)
				})
			}
		})
	}
	for name := range isoRoutes {
		assert.True(t, seen[name], "isoRoutes lists %s, which the handler does not serve", name)
	}

	after := fx.owner.do(t, http.MethodGet, "/files/"+fx.file.ID, nil)
	require.Equal(t, http.StatusOK, after.Status)
	assert.JSONEq(t, string(before.Body), string(after.Body), "refused calls changed nothing")
}
