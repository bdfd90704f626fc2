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
	e       *env
	owner   caller // alice, in workspace A
	file    attach.File
	ids     map[string]string // path wildcard → value ("id" is the file's)
	unknown map[string]string // the same wildcards, naming nothing
	linkURL string
}

// isoRoute says how to call one route with the fixture's ids.
type isoRoute struct {
	// body is the request body (JSON unless a string or []byte).
	body func(fx *isoFixture) any
	// contentType overrides the JSON content type.
	contentType string
	// right is what a same-workspace user needs: "view", "edit" or
	// "delete"; "member" for what every member may read (without seeing
	// files it may not view). "" marks a route that names no resource of
	// the workspace (a foreign caller cannot name anything there).
	right string
	// query is appended to the path.
	query string
	// perItem marks a bulk route that answers 200 with per-item errors.
	perItem bool
	// foreignStatus is what a foreign workspace gets (default 404); in
	// every case exactly what it gets for ids that do not exist.
	foreignStatus int
}

// isoRoutes lists every authenticated route. TestIsolationMatrix fails on a
// route missing here, so a new route cannot skip the matrix.
var isoRoutes = map[string]isoRoute{
	"POST /files":            {right: "", body: func(*isoFixture) any { return map[string]any{"fileName": "x.png", "data": "data:image/png;base64,"} }},
	"POST /files/import":     {right: ""},
	"GET /files":             {right: ""},
	"POST /files/upload-url": {right: ""},
	"POST /files/download-urls": {right: "view", perItem: true, body: func(fx *isoFixture) any {
		return []map[string]any{{"id": fx.ids["id"]}}
	}},
	"PATCH /files/{id}":                     {right: "edit", body: func(*isoFixture) any { return map[string]any{"title": "taken"} }},
	"GET /files/{id}/versions":              {right: "view"},
	"POST /files/{id}/versions/upload-url":  {right: "edit", body: func(*isoFixture) any { return map[string]any{"mimeType": "image/png", "fileSize": 10} }},
	"PUT /files/{id}/content":               {right: "edit", contentType: "image/png", query: "?ifVersion=2", body: func(fx *isoFixture) any { return isoPNG }},
	"POST /files/{id}/versions/{n}/restore": {right: "edit"},
	"POST /files/{id}/confirm":              {right: "edit"},
	"GET /files/{id}/status":                {right: "view"},
	"GET /files/{id}":                       {right: "view"},
	"DELETE /files/{id}":                    {right: "delete"},
	"GET /files/{id}/download":              {right: "view"},
	"GET /files/{id}/content":               {right: "view"},
	"GET /files/{id}/thumbnail":             {right: "view", query: "?w=64"},
	"GET /files/{id}/attachments":           {right: "view"},
	"POST /files/{id}/links":                {right: "edit", body: func(*isoFixture) any { return map[string]any{} }},
	"GET /files/{id}/links":                 {right: "edit"},
	"DELETE /links/{linkId}":                {right: "edit"},
	"POST /urls/verify": {right: "", foreignStatus: http.StatusOK, body: func(fx *isoFixture) any {
		return map[string]any{"url": fx.linkURL}
	}},

	"POST /collections": {right: ""},
	"GET /collections":  {right: ""},
	// Every member of a workspace sees its collections (not the files in
	// them it may not view); their creator and admins change them.
	"GET /collections/{id}":       {right: "member"},
	"GET /collections/{id}/files": {right: "member"},
	"PATCH /collections/{id}":     {right: "edit", body: func(*isoFixture) any { return map[string]any{"name": "taken"} }},
	"DELETE /collections/{id}":    {right: "delete"},

	// Records are the application's; a field's files are what the
	// attachment routes guard. File ids in a PUT body that the caller
	// cannot name are 400, like unknown ids.
	"PUT /records/{type}/{recordId}/attachments/{field}": {right: "view", foreignStatus: http.StatusBadRequest, body: func(fx *isoFixture) any {
		return map[string]any{"fileIds": []string{fx.ids["fileId"]}}
	}},
	"POST /records/{type}/{recordId}/attachments/{field}": {right: "view", body: func(fx *isoFixture) any {
		return map[string]any{"fileId": fx.ids["fileId"]}
	}},
	"GET /records/{type}/{recordId}/attachments":                     {right: "member", foreignStatus: http.StatusOK},
	"DELETE /records/{type}/{recordId}/attachments/{field}/{fileId}": {right: "view"},
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
	col := fx.owner.do(t, http.MethodPost, "/collections", map[string]any{"name": "Reports"})
	require.Equal(t, http.StatusCreated, col.Status, "%s", col.Body)
	r = fx.owner.do(t, http.MethodPatch, "/files/"+fx.file.ID, map[string]any{"collectionId": col.JSON(t)["id"]})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	r = fx.owner.do(t, http.MethodPut, "/records/order/o-1/attachments/docs", map[string]any{"fileIds": []string{fx.file.ID}})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	link := fx.owner.do(t, http.MethodPost, "/files/"+fx.file.ID+"/links", map[string]any{})
	require.Equal(t, http.StatusCreated, link.Status, "%s", link.Body)
	fx.linkURL = link.JSON(t)["url"].(string)
	fx.ids = map[string]string{"id": fx.file.ID, "n": "1", "collection": col.JSON(t)["id"].(string),
		"type": "order", "recordId": "o-1", "field": "docs", "fileId": fx.file.ID, "linkId": link.JSON(t)["id"].(string)}
	fx.unknown = map[string]string{"id": "file_01900000-0000-7000-8000-000000000001", "n": "1",
		"collection": "col_01900000-0000-7000-8000-000000000002", "type": "order", "recordId": "o-none", "field": "docs",
		"fileId": "file_01900000-0000-7000-8000-000000000001", "linkId": "lnk_01900000-0000-7000-8000-000000000003"}
	return fx
}

// path fills a route's wildcards from ids ({id} of /collections routes is
// the collection).
func (fx *isoFixture) path(t *testing.T, pattern string, ids map[string]string) string {
	var b strings.Builder
	for rest := pattern; rest != ""; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.IndexByte(rest, '}')
		name := strings.TrimSuffix(rest[i+1:j], "...")
		if name == "id" && strings.HasPrefix(pattern, "/collections/") {
			name = "collection"
		}
		v, ok := ids[name]
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
	before := fx.snapshot(t)

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
		if rt.right == "" && rt.foreignStatus == 0 {
			continue
		}
		path := fx.path(t, route.Path, fx.ids) + rt.query
		unknownPath := fx.path(t, route.Path, fx.unknown) + rt.query
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				name string
				who  caller
			}{{"foreign workspace", foreign}, {"admin of a foreign workspace", fx.e.as(keyB, "")}} {
				t.Run(c.name, func(t *testing.T) {
					got := fx.call(t, c.who, route.Method, path, rt)
					known := fx.ids
					fx.ids = fx.unknown
					like := fx.call(t, c.who, route.Method, unknownPath, rt)
					fx.ids = known
					assert.Equal(t, like.Status, got.Status, "like unknown ids: %s vs %s", got.Body, like.Body)
					assert.Equal(t, fx.scrub(like.Body, fx.unknown), fx.scrub(got.Body, fx.ids),
						"the same answer as for unknown ids: nothing of workspace A shows")
					switch rt.foreignStatus {
					case 0:
						expectCode(t, got, rt, http.StatusNotFound, attach.CodeNotFound)
					case http.StatusBadRequest:
						expectCode(t, got, rt, http.StatusBadRequest, attach.CodeInvalidRequest)
					default:
						assert.Equal(t, rt.foreignStatus, got.Status, "%s", got.Body)
					}
				})
			}
			if rt.right == "" {
				return
			}
			t.Run("user without rights", func(t *testing.T) {
				got := fx.call(t, stranger, route.Method, path, rt)
				if rt.right == "member" {
					require.Equal(t, http.StatusOK, got.Status, "%s", got.Body)
					assert.NotContains(t, string(got.Body), fx.file.ID, "a member sees no file it may not view")
					return
				}
				expectCode(t, got, rt, http.StatusForbidden, attach.CodeForbidden)
			})
			if rt.right != "view" && rt.right != "member" {
				t.Run("viewer", func(t *testing.T) {
					expectCode(t, fx.call(t, viewer, route.Method, path, rt), rt, http.StatusForbidden, attach.CodeForbidden)
				})
			}
		})
	}
	for name := range isoRoutes {
		assert.True(t, seen[name], "isoRoutes lists %s, which the handler does not serve", name)
	}

	after := fx.snapshot(t)
	assert.Equal(t, before, after, "refused calls changed nothing")
}

// snapshot reads, as the owner, everything the matrix could change.
func (fx *isoFixture) snapshot(t *testing.T) map[string]string {
	out := map[string]string{}
	for _, p := range []string{"/files/" + fx.file.ID, "/files/" + fx.file.ID + "/versions", "/files/" + fx.file.ID + "/links",
		"/collections/" + fx.ids["collection"], "/records/order/o-1/attachments"} {
		r := fx.owner.do(t, http.MethodGet, p, nil)
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", p, r.Body)
		out[p] = string(r.Body)
	}
	return out
}

// scrub replaces the ids of a fixture in an answer, so answers about
// existing and unknown ids compare.
func (fx *isoFixture) scrub(b []byte, ids map[string]string) string {
	s := string(b)
	for _, k := range []string{"id", "collection", "linkId", "recordId"} {
		s = strings.ReplaceAll(s, ids[k], "{"+k+"}")
	}
	return s
}
