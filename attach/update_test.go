package attach_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

func ptr[T any](v T) *T { return &v }

func TestUpdate(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	f := e.upload(t, alice, "photo.png", "image/png", pngBytes(t, 6, 4))
	manyKeys := map[string]int{}
	for i := range 65 {
		manyKeys[fmt.Sprint("k", i)] = i
	}
	tooMany, _ := json.Marshal(manyKeys)
	col, err := e.svc.CreateCollection(ctx, wsA, attach.CollectionRequest{Name: "Nine"})
	require.NoError(t, err)

	tests := []struct {
		name  string
		req   attach.UpdateRequest
		code  attach.Code
		check func(t *testing.T, f *attach.File)
	}{
		{name: "rename", req: attach.UpdateRequest{FileName: ptr("dir/Holiday.PNG ")}, check: func(t *testing.T, f *attach.File) {
			assert.Equal(t, "Holiday.PNG", f.FileName, "normalised like an upload")
		}},
		{name: "title", req: attach.UpdateRequest{Title: ptr("Sunset")}, check: func(t *testing.T, f *attach.File) {
			assert.Equal(t, "Sunset", f.Title)
		}},
		{name: "empty title follows the name", req: attach.UpdateRequest{Title: ptr("")}, check: func(t *testing.T, f *attach.File) {
			assert.Equal(t, "Holiday", f.Title)
		}},
		{name: "move", req: attach.UpdateRequest{CollectionID: ptr(col.ID)}, check: func(t *testing.T, f *attach.File) {
			require.NotNil(t, f.CollectionID)
			assert.Equal(t, col.ID, *f.CollectionID)
		}},
		{name: "tags", req: attach.UpdateRequest{Tags: &[]string{" x ", "y", "x", ""}}, check: func(t *testing.T, f *attach.File) {
			assert.Equal(t, []string{"x", "y"}, f.Tags)
		}},
		{name: "metadata", req: attach.UpdateRequest{Metadata: json.RawMessage(`{ "a": {"b": [1, 2]} }`)}, check: func(t *testing.T, f *attach.File) {
			assert.JSONEq(t, `{"a":{"b":[1,2]}}`, string(f.Metadata))
		}},
		{name: "public", req: attach.UpdateRequest{AccessControl: ptr(attach.AccessPublicRead)}, check: func(t *testing.T, f *attach.File) {
			assert.Equal(t, attach.AccessPublicRead, f.AccessControl)
		}},
		{name: "acl", req: attach.UpdateRequest{ACL: &attach.ACL{View: []string{"workspace"}, Edit: []string{"user:bob", "user:bob"}}},
			check: func(t *testing.T, f *attach.File) {
				assert.Equal(t, attach.ACL{View: []string{"workspace"}, Edit: []string{"user:bob"}, Delete: []string{}}, f.ACL)
			}},
		{name: "out of the collection, no tags, no metadata", req: attach.UpdateRequest{CollectionID: ptr(""), Tags: &[]string{}, Metadata: json.RawMessage(`null`)},
			check: func(t *testing.T, f *attach.File) {
				assert.Nil(t, f.CollectionID)
				assert.Equal(t, []string{}, f.Tags)
				assert.JSONEq(t, `{}`, string(f.Metadata))
			}},
		{name: "nothing", req: attach.UpdateRequest{}, check: func(t *testing.T, f *attach.File) {
			assert.Equal(t, "Holiday.PNG", f.FileName)
		}},

		{name: "empty name", req: attach.UpdateRequest{FileName: ptr(" ")}, code: attach.CodeInvalidRequest},
		{name: "name with CRLF", req: attach.UpdateRequest{FileName: ptr("a\r\nb.png")}, code: attach.CodeInvalidRequest},
		{name: "bidi title", req: attach.UpdateRequest{Title: ptr("gnp\u202e.exe")}, code: attach.CodeInvalidRequest},
		{name: "long title", req: attach.UpdateRequest{Title: ptr(strings.Repeat("t", 511))}, code: attach.CodeInvalidRequest},
		{name: "long collection", req: attach.UpdateRequest{CollectionID: ptr(strings.Repeat("c", 129))}, code: attach.CodeInvalidRequest},
		{name: "collection id of another shape", req: attach.UpdateRequest{CollectionID: ptr("col-9")}, code: attach.CodeInvalidRequest},
		{name: "unknown collection", req: attach.UpdateRequest{CollectionID: ptr("col_01900000-0000-7000-8000-000000000000")}, code: attach.CodeNotFound},
		{name: "65 tags", req: attach.UpdateRequest{Tags: ptr(strings.Split(strings.Repeat("t,", 64)+"t", ","))}, code: attach.CodeInvalidRequest},
		{name: "metadata array", req: attach.UpdateRequest{Metadata: json.RawMessage(`[1]`)}, code: attach.CodeInvalidRequest},
		{name: "metadata not JSON", req: attach.UpdateRequest{Metadata: json.RawMessage(`{`)}, code: attach.CodeInvalidRequest},
		{name: "metadata 65 keys", req: attach.UpdateRequest{Metadata: tooMany}, code: attach.CodeInvalidRequest},
		{name: "metadata long key", req: attach.UpdateRequest{Metadata: json.RawMessage(`{"` + strings.Repeat("k", 129) + `":1}`)}, code: attach.CodeInvalidRequest},
		{name: "metadata empty key", req: attach.UpdateRequest{Metadata: json.RawMessage(`{"":1}`)}, code: attach.CodeInvalidRequest},
		{name: "metadata large value", req: attach.UpdateRequest{Metadata: json.RawMessage(`{"k":"` + strings.Repeat("v", 5000) + `"}`)}, code: attach.CodeInvalidRequest},
		{name: "metadata over 16 KiB", req: attach.UpdateRequest{Metadata: bigMetadata(5, 3500)}, code: attach.CodeInvalidRequest},
		{name: "unknown access", req: attach.UpdateRequest{AccessControl: ptr("public-write")}, code: attach.CodeInvalidRequest},
		{name: "acl principal", req: attach.UpdateRequest{ACL: &attach.ACL{View: []string{"everyone"}}}, code: attach.CodeInvalidRequest},
		{name: "acl empty user", req: attach.UpdateRequest{ACL: &attach.ACL{Edit: []string{"user:"}}}, code: attach.CodeInvalidRequest},
		{name: "acl too long", req: attach.UpdateRequest{ACL: &attach.ACL{Delete: strings.Split(strings.Repeat("user:u,", 32)+"user:v", ",")}}, code: attach.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := e.svc.File(ctx, wsA, f.ID)
			require.NoError(t, err)
			got, err := e.svc.Update(ctx, alice, f.ID, tt.req)
			if tt.code != "" {
				assert.Equal(t, tt.code, attach.CodeOf(err), "%v", err)
				after, err := e.svc.File(ctx, wsA, f.ID)
				require.NoError(t, err)
				assert.Equal(t, before, after, "a refused update changes nothing")
				return
			}
			require.NoError(t, err)
			tt.check(t, got)
			stored, err := e.svc.File(ctx, wsA, f.ID)
			require.NoError(t, err)
			assert.Equal(t, got, stored)
			// Server-owned fields never move.
			assert.Equal(t, before.Digest, got.Digest)
			assert.Equal(t, before.Size, got.Size)
			assert.Equal(t, before.Version, got.Version)
			assert.Equal(t, "alice", got.Owner)
			assert.Equal(t, attach.StatusReady, got.Status)
		})
	}
}

func TestUpdateRights(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	f := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 4, 4))
	carol := attach.Scope{Workspace: "ws-a", User: "carol"}
	unknown := "file_01900000-0000-7000-8000-000000000000"
	title := attach.UpdateRequest{Title: ptr("t")}
	acl := attach.UpdateRequest{ACL: &attach.ACL{Edit: []string{"user:carol"}}}

	steps := []struct {
		name  string
		scope attach.Scope
		id    string
		req   attach.UpdateRequest
		code  attach.Code
	}{
		{name: "bob may not edit", scope: bob, id: f.ID, req: title, code: attach.CodeForbidden},
		{name: "owner shares edit with bob", scope: alice, id: f.ID, req: attach.UpdateRequest{ACL: &attach.ACL{Edit: []string{"user:bob"}}}},
		{name: "bob edits", scope: bob, id: f.ID, req: title},
		{name: "bob may not change the access list", scope: bob, id: f.ID, req: acl, code: attach.CodeForbidden},
		{name: "bob may not publish", scope: bob, id: f.ID, req: attach.UpdateRequest{AccessControl: ptr(attach.AccessPublicRead)}, code: attach.CodeForbidden},
		{name: "admin changes the access list", scope: wsA, id: f.ID, req: acl},
		{name: "carol edits", scope: carol, id: f.ID, req: title},
		{name: "bob no longer edits", scope: bob, id: f.ID, req: title, code: attach.CodeForbidden},
		{name: "another workspace", scope: wsB, id: f.ID, req: title, code: attach.CodeNotFound},
		{name: "unknown id", scope: wsA, id: unknown, req: title, code: attach.CodeNotFound},
		{name: "bad id", scope: wsA, id: "file_x", req: title, code: attach.CodeInvalidRequest},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			_, err := e.svc.Update(ctx, st.scope, st.id, st.req)
			assert.Equal(t, st.code, attach.CodeOf(err), "%v", err)
		})
	}
}

// bigMetadata is an object of n keys whose string values are size bytes.
func bigMetadata(n, size int) json.RawMessage {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprint("k", i)] = strings.Repeat("v", size)
	}
	b, _ := json.Marshal(m)
	return b
}
