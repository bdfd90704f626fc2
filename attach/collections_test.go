package attach_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

const unknownCol = "col_01900000-0000-7000-8000-000000000000"

func requireOrgCode(t *testing.T, err error, code attach.Code, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.Equal(t, code, attach.CodeOf(err), "%v %v", err, msgAndArgs)
}

func (e *env) collection(t *testing.T, scope attach.Scope, req attach.CollectionRequest) *attach.Collection {
	t.Helper()
	c, err := e.svc.CreateCollection(context.Background(), scope, req)
	require.NoError(t, err)
	return c
}

func TestCollections(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	photos := e.collection(t, alice, attach.CollectionRequest{Name: " Photos ", Order: 2, Starred: true,
		AllowedTypes: []string{"Image/*", "image/png"}, MaxSize: 1000})
	assert.Equal(t, "Photos", photos.Name)
	assert.Equal(t, []string{"image/*", "image/png"}, photos.AllowedTypes)
	require.NotNil(t, photos.MaxSize)
	assert.Equal(t, int64(1000), *photos.MaxSize)
	assert.Nil(t, photos.ParentID)
	assert.Equal(t, "alice", photos.CreatedBy)
	assert.True(t, strings.HasPrefix(photos.ID, "col_"))
	docs := e.collection(t, bob, attach.CollectionRequest{Name: "docs", Order: 1})
	archive := e.collection(t, bob, attach.CollectionRequest{Name: "Archive", Order: 1})
	y2025 := e.collection(t, alice, attach.CollectionRequest{Name: "2025", ParentID: photos.ID})
	require.NotNil(t, y2025.ParentID)
	assert.Equal(t, photos.ID, *y2025.ParentID)

	names := func(cs []*attach.Collection) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	top, err := e.svc.Collections(ctx, bob, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"Archive", "docs", "Photos"}, names(top), "by order, then name; every member sees them")
	kids, err := e.svc.Collections(ctx, bob, photos.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"2025"}, names(kids))
	got, err := e.svc.Collection(ctx, bob, docs.ID)
	require.NoError(t, err)
	assert.Equal(t, docs, got)
	other, err := e.svc.Collections(ctx, wsB, "")
	require.NoError(t, err)
	assert.Empty(t, other)
	_ = archive

	bad := []struct {
		name string
		req  attach.CollectionRequest
		code attach.Code
	}{
		{name: "no name", req: attach.CollectionRequest{Name: " "}, code: attach.CodeInvalidRequest},
		{name: "long name", req: attach.CollectionRequest{Name: strings.Repeat("n", 256)}, code: attach.CodeInvalidRequest},
		{name: "control in name", req: attach.CollectionRequest{Name: "a\nb"}, code: attach.CodeInvalidRequest},
		{name: "malformed parent", req: attach.CollectionRequest{Name: "x", ParentID: "../x"}, code: attach.CodeInvalidRequest},
		{name: "unknown parent", req: attach.CollectionRequest{Name: "x", ParentID: unknownCol}, code: attach.CodeNotFound},
		{name: "bad type", req: attach.CollectionRequest{Name: "x", AllowedTypes: []string{"png"}}, code: attach.CodeInvalidRequest},
		{name: "bad family", req: attach.CollectionRequest{Name: "x", AllowedTypes: []string{"image/png/*"}}, code: attach.CodeInvalidRequest},
		{name: "65 types", req: attach.CollectionRequest{Name: "x", AllowedTypes: strings.Split(strings.Repeat("a/b,", 64)+"a/b", ",")}, code: attach.CodeInvalidRequest},
		{name: "negative size", req: attach.CollectionRequest{Name: "x", MaxSize: -1}, code: attach.CodeInvalidRequest},
		{name: "huge order", req: attach.CollectionRequest{Name: "x", Order: 1 << 40}, code: attach.CodeInvalidRequest},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.CreateCollection(ctx, alice, tc.req)
			requireOrgCode(t, err, tc.code)
		})
	}
	_, err = e.svc.CreateCollection(ctx, wsB, attach.CollectionRequest{Name: "x", ParentID: photos.ID})
	requireOrgCode(t, err, attach.CodeNotFound)
	top, err = e.svc.Collections(ctx, wsA, "")
	require.NoError(t, err)
	assert.Len(t, top, 3, "nothing was created by the refused requests")
}

func TestCollectionsOtherWorkspaceAndAccess(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	c := e.collection(t, alice, attach.CollectionRequest{Name: "Mine"})
	name := "Renamed"
	calls := []struct {
		name string
		call func(scope attach.Scope) error
	}{
		{"Collection", func(s attach.Scope) error { _, err := e.svc.Collection(ctx, s, c.ID); return err }},
		{"Collections", func(s attach.Scope) error { _, err := e.svc.Collections(ctx, s, c.ID); return err }},
		{"CollectionFiles", func(s attach.Scope) error { _, err := e.svc.CollectionFiles(ctx, s, c.ID, nil); return err }},
		{"UpdateCollection", func(s attach.Scope) error {
			_, err := e.svc.UpdateCollection(ctx, s, c.ID, attach.CollectionUpdate{Name: &name})
			return err
		}},
		{"DeleteCollection", func(s attach.Scope) error { return e.svc.DeleteCollection(ctx, s, c.ID, nil) }},
		{"DeleteCollection recursive", func(s attach.Scope) error {
			return e.svc.DeleteCollection(ctx, s, c.ID, &attach.DeleteCollectionOptions{Recursive: true})
		}},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			requireOrgCode(t, tc.call(attach.Scope{Workspace: "ws-b", User: "alice"}), attach.CodeNotFound)
			requireOrgCode(t, tc.call(wsB), attach.CodeNotFound)
		})
	}
	// Same workspace: bob may read, not change.
	_, err := e.svc.Collection(ctx, bob, c.ID)
	require.NoError(t, err)
	_, err = e.svc.UpdateCollection(ctx, bob, c.ID, attach.CollectionUpdate{Name: &name})
	requireOrgCode(t, err, attach.CodeForbidden)
	requireOrgCode(t, e.svc.DeleteCollection(ctx, bob, c.ID, nil), attach.CodeForbidden)
	got, err := e.svc.UpdateCollection(ctx, wsA, c.ID, attach.CollectionUpdate{Name: &name})
	require.NoError(t, err, "an administrator may")
	assert.Equal(t, "Renamed", got.Name)
	require.NoError(t, e.svc.DeleteCollection(ctx, alice, c.ID, nil), "so may its creator")
}

func TestUpdateCollection(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a := e.collection(t, alice, attach.CollectionRequest{Name: "A"})
	b := e.collection(t, alice, attach.CollectionRequest{Name: "B", ParentID: a.ID})
	c := e.collection(t, alice, attach.CollectionRequest{Name: "C", ParentID: b.ID})
	starred, order, size, types := true, 7, int64(123), []string{"application/pdf"}
	got, err := e.svc.UpdateCollection(ctx, alice, c.ID, attach.CollectionUpdate{Starred: &starred, Order: &order,
		MaxSize: &size, AllowedTypes: &types, ParentID: ptr("")})
	require.NoError(t, err)
	assert.True(t, got.Starred)
	assert.Equal(t, 7, got.Order)
	assert.Equal(t, types, got.AllowedTypes)
	assert.Equal(t, int64(123), *got.MaxSize)
	assert.Nil(t, got.ParentID, "moved to the top level")
	zero := int64(0)
	got, err = e.svc.UpdateCollection(ctx, alice, c.ID, attach.CollectionUpdate{MaxSize: &zero, AllowedTypes: &[]string{}})
	require.NoError(t, err)
	assert.Nil(t, got.MaxSize)
	assert.Equal(t, []string{}, got.AllowedTypes)

	tests := []struct {
		name string
		id   string
		req  attach.CollectionUpdate
		code attach.Code
	}{
		{name: "under itself", id: a.ID, req: attach.CollectionUpdate{ParentID: &a.ID}, code: attach.CodeInvalidRequest},
		{name: "under its grandchild's parent", id: a.ID, req: attach.CollectionUpdate{ParentID: &b.ID}, code: attach.CodeInvalidRequest},
		{name: "unknown parent", id: a.ID, req: attach.CollectionUpdate{ParentID: ptr(unknownCol)}, code: attach.CodeNotFound},
		{name: "malformed parent", id: a.ID, req: attach.CollectionUpdate{ParentID: ptr("x")}, code: attach.CodeInvalidRequest},
		{name: "empty name", id: a.ID, req: attach.CollectionUpdate{Name: ptr("")}, code: attach.CodeInvalidRequest},
		{name: "negative size", id: a.ID, req: attach.CollectionUpdate{MaxSize: ptr(int64(-5))}, code: attach.CodeInvalidRequest},
		{name: "bad types", id: a.ID, req: attach.CollectionUpdate{AllowedTypes: &[]string{"*"}}, code: attach.CodeInvalidRequest},
		{name: "malformed id", id: "col_x", req: attach.CollectionUpdate{Name: ptr("x")}, code: attach.CodeInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.UpdateCollection(ctx, alice, tc.id, tc.req)
			requireOrgCode(t, err, tc.code)
			got, err := e.svc.Collection(ctx, alice, a.ID)
			require.NoError(t, err)
			assert.Equal(t, a, got, "unchanged")
		})
	}
}

func TestCollectionPolicy(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	png := pngBytes(t, 8, 8)
	col := e.collection(t, alice, attach.CollectionRequest{Name: "PNG only", AllowedTypes: []string{"image/png", "text/*"},
		MaxSize: int64(len(png) + 10)})

	// Presign: type and size narrowed, limits reported.
	up, err := e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png",
		Size: int64(len(png)), CollectionID: col.ID})
	require.NoError(t, err)
	assert.Equal(t, attach.FileLimits{AllowedTypes: []string{"image/png"}, MaxSize: int64(len(png) + 10)}, up.FileLimits,
		"the intersection with the default policy (which has no text types)")
	_, err = e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "a.pdf", MIMEType: "application/pdf", Size: 100, CollectionID: col.ID})
	requireOrgCode(t, err, attach.CodeInvalidFileType)
	_, err = e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", Size: int64(len(png) + 11), CollectionID: col.ID})
	var te *attach.Error
	require.True(t, errors.As(err, &te))
	assert.Equal(t, attach.CodeFileTooLarge, te.Code)
	assert.Equal(t, int64(len(png)+10), te.MaxSize)
	_, err = e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "a.txt", MIMEType: "text/plain", Size: 5, CollectionID: col.ID})
	requireOrgCode(t, err, attach.CodeInvalidFileType)

	// Confirm: the collection narrowed after the ticket was issued.
	require.NoError(t, e.put(t, up, "image/png", png))
	smaller := int64(len(png) - 1)
	_, err = e.svc.UpdateCollection(ctx, alice, col.ID, attach.CollectionUpdate{MaxSize: &smaller})
	require.NoError(t, err)
	_, err = e.svc.Confirm(ctx, alice, up.ID)
	requireOrgCode(t, err, attach.CodeFileTooLarge)
	st, err := e.svc.Status(ctx, alice, up.ID)
	require.NoError(t, err)
	assert.Equal(t, attach.StatusRejected, st.Status)

	up, err = e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "b.png", MIMEType: "image/png", Size: 20, CollectionID: col.ID})
	require.NoError(t, err)
	_, err = e.svc.UpdateCollection(ctx, alice, col.ID, attach.CollectionUpdate{AllowedTypes: &[]string{"image/gif"}})
	require.NoError(t, err)
	require.NoError(t, e.put(t, up, "image/png", pngBytes(t, 1, 1)[:20]))
	_, err = e.svc.Confirm(ctx, alice, up.ID)
	requireOrgCode(t, err, attach.CodeInvalidFileType)

	// Direct uploads meet the collection's policy while streaming (its
	// size limit) and at confirm (the detected type).
	_, err = e.svc.Put(ctx, alice, attach.PutRequest{FileName: "d.pdf", Size: -1, CollectionID: col.ID}, bytes.NewReader(pdfBytes(300)))
	requireOrgCode(t, err, attach.CodeFileTooLarge)
	_, err = e.svc.Put(ctx, alice, attach.PutRequest{FileName: "d.txt", Size: -1, CollectionID: col.ID}, strings.NewReader("hello"))
	requireOrgCode(t, err, attach.CodeInvalidFileType)

	// Moving a file in: its content must fit.
	f := e.upload(t, alice, "c.pdf", "application/pdf", pdfBytes(300))
	_, err = e.svc.Update(ctx, alice, f.ID, attach.UpdateRequest{CollectionID: &col.ID})
	requireOrgCode(t, err, attach.CodeInvalidFileType)
	pdfs := e.collection(t, alice, attach.CollectionRequest{Name: "PDFs", AllowedTypes: []string{"application/*"}})
	moved, err := e.svc.Update(ctx, alice, f.ID, attach.UpdateRequest{CollectionID: &pdfs.ID})
	require.NoError(t, err)
	assert.Equal(t, pdfs.ID, *moved.CollectionID)

	// Unknown and foreign collections are not found everywhere.
	foreign := e.collection(t, wsB, attach.CollectionRequest{Name: "theirs"})
	for _, id := range []string{unknownCol, foreign.ID} {
		_, err = e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", Size: 10, CollectionID: id})
		requireOrgCode(t, err, attach.CodeNotFound)
		_, err = e.svc.Put(ctx, alice, attach.PutRequest{FileName: "a.png", Size: -1, CollectionID: id}, bytes.NewReader(png))
		requireOrgCode(t, err, attach.CodeNotFound)
		_, err = e.svc.Update(ctx, alice, f.ID, attach.UpdateRequest{CollectionID: &id})
		requireOrgCode(t, err, attach.CodeNotFound)
		imp, err := attach.NewImporter(e.svc, nil)
		require.NoError(t, err)
		_, err = imp.Import(ctx, alice, attach.ImportRequest{URL: "https://example.com/a.png", CollectionID: id})
		requireOrgCode(t, err, attach.CodeNotFound)
		require.NoError(t, imp.Close())
	}
	_, err = e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", Size: 10, CollectionID: "photos"})
	requireOrgCode(t, err, attach.CodeInvalidRequest)
}

func TestCollectionFiles(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	col := e.collection(t, alice, attach.CollectionRequest{Name: "C"})
	var want []string
	for range 5 {
		f := e.uploadWith(t, alice, attach.UploadRequest{FileName: "f.png", MIMEType: "image/png", CollectionID: col.ID}, pngBytes(t, 2, 2))
		want = append(want, f.ID)
		e.clock.Advance(time.Second)
	}
	e.upload(t, alice, "outside.png", "image/png", pngBytes(t, 2, 2))
	var got []string
	opts := &attach.ListOptions{Limit: 2, Sort: attach.SortCreated}
	for {
		page, err := e.svc.CollectionFiles(ctx, alice, col.ID, opts)
		require.NoError(t, err)
		assert.Equal(t, int64(5), page.Total)
		for _, f := range page.Items {
			got = append(got, f.ID)
		}
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
	assert.Equal(t, want, got)
	page, err := e.svc.CollectionFiles(ctx, bob, col.ID, nil)
	require.NoError(t, err)
	assert.Empty(t, page.Items, "bob sees the collection, not alice's private files")
	_, err = e.svc.CollectionFiles(ctx, alice, unknownCol, nil)
	requireOrgCode(t, err, attach.CodeNotFound)
}

func TestDeleteCollection(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	top := e.collection(t, alice, attach.CollectionRequest{Name: "top"})
	mid := e.collection(t, alice, attach.CollectionRequest{Name: "mid", ParentID: top.ID})
	leaf := e.collection(t, alice, attach.CollectionRequest{Name: "leaf", ParentID: mid.ID})
	in := func(col *attach.Collection, scope attach.Scope) *attach.File {
		return e.uploadWith(t, scope, attach.UploadRequest{FileName: "f.png", MIMEType: "image/png", CollectionID: col.ID}, pngBytes(t, 2, 2))
	}
	in(top, alice)
	in(leaf, alice)
	bobs := in(mid, bob)
	// A pending upload counts too.
	_, err := e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "p.png", MIMEType: "image/png", Size: 10, CollectionID: leaf.ID})
	require.NoError(t, err)
	outside := e.upload(t, alice, "outside.png", "image/png", pngBytes(t, 3, 3))
	require.Len(t, e.objects(t), 4)

	requireOrgCode(t, e.svc.DeleteCollection(ctx, alice, leaf.ID, nil), attach.CodeConflict)
	requireOrgCode(t, e.svc.DeleteCollection(ctx, alice, top.ID, nil), attach.CodeConflict)
	requireOrgCode(t, e.svc.DeleteCollection(ctx, alice, top.ID, &attach.DeleteCollectionOptions{Recursive: true}),
		attach.CodeForbidden, "bob's file is in there")
	require.Len(t, e.objects(t), 4, "nothing was deleted")
	_, err = e.svc.Collection(ctx, alice, leaf.ID)
	require.NoError(t, err)

	// Bob shares delete with alice; now she may.
	_, err = e.svc.Update(ctx, bob, bobs.ID, attach.UpdateRequest{ACL: &attach.ACL{Delete: []string{"user:alice"}}})
	require.NoError(t, err)
	require.NoError(t, e.svc.DeleteCollection(ctx, alice, top.ID, &attach.DeleteCollectionOptions{Recursive: true}))
	for _, c := range []*attach.Collection{top, mid, leaf} {
		_, err := e.svc.Collection(ctx, alice, c.ID)
		requireOrgCode(t, err, attach.CodeNotFound)
	}
	keys := e.objects(t)
	require.Len(t, keys, 1, "the files' bytes are gone")
	assert.Contains(t, keys[0], outside.ID)
	page, err := e.svc.List(ctx, wsA, nil)
	require.NoError(t, err)
	require.Len(t, page.Items, 1)

	// Another creator's sub-collection stops a user, not an administrator.
	p := e.collection(t, alice, attach.CollectionRequest{Name: "p"})
	e.collection(t, bob, attach.CollectionRequest{Name: "bob's", ParentID: p.ID})
	requireOrgCode(t, e.svc.DeleteCollection(ctx, alice, p.ID, &attach.DeleteCollectionOptions{Recursive: true}), attach.CodeForbidden)
	require.NoError(t, e.svc.DeleteCollection(ctx, wsA, p.ID, &attach.DeleteCollectionOptions{Recursive: true}))
	// An empty one needs no recursive.
	empty := e.collection(t, alice, attach.CollectionRequest{Name: "e"})
	require.NoError(t, e.svc.DeleteCollection(ctx, alice, empty.ID, nil))
}

func TestDeleteCollectionWithRetention(t *testing.T) {
	e := newEnv(t, func(o *attach.Options) { o.Retention = time.Hour })
	ctx := context.Background()
	col := e.collection(t, alice, attach.CollectionRequest{Name: "c"})
	f := e.uploadWith(t, alice, attach.UploadRequest{FileName: "f.png", MIMEType: "image/png", CollectionID: col.ID}, pngBytes(t, 2, 2))
	require.NoError(t, e.svc.DeleteCollection(ctx, alice, col.ID, &attach.DeleteCollectionOptions{Recursive: true}))
	_, err := e.svc.File(ctx, alice, f.ID)
	requireOrgCode(t, err, attach.CodeNotFound)
	back, err := e.svc.Undelete(ctx, alice, f.ID)
	require.NoError(t, err)
	assert.Nil(t, back.CollectionID, "restored outside the deleted collection")
}

// TestCollectionPolicyBeforeBytes: a collection's narrower policy refuses
// at once what can be refused before any byte is stored, on every way in:
// a version's presign, a direct upload and a direct new version (declared
// type or size), and a stream of unknown length is cut at the
// collection's limit, not the service's.
func TestCollectionPolicyBeforeBytes(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	png := pngBytes(t, 8, 8)
	limit := int64(len(png) + 10)
	col := e.collection(t, alice, attach.CollectionRequest{Name: "small PNGs", AllowedTypes: []string{"image/png"}, MaxSize: limit})
	f, err := e.svc.Put(ctx, alice, attach.PutRequest{FileName: "a.png", MIMEType: "image/png", Size: -1, CollectionID: col.ID}, bytes.NewReader(png))
	require.NoError(t, err)

	_, err = e.svc.RequestVersionUpload(ctx, alice, f.ID, attach.VersionUploadRequest{MIMEType: "image/png", Size: limit + 1})
	requireOrgCode(t, err, attach.CodeFileTooLarge)
	_, err = e.svc.RequestVersionUpload(ctx, alice, f.ID, attach.VersionUploadRequest{MIMEType: "application/pdf", Size: 10})
	requireOrgCode(t, err, attach.CodeInvalidFileType)
	up, err := e.svc.RequestVersionUpload(ctx, alice, f.ID, attach.VersionUploadRequest{MIMEType: "image/png", Size: int64(len(png))})
	require.NoError(t, err)
	assert.Equal(t, limit, up.FileLimits.MaxSize)

	big := bytes.NewReader(append(append([]byte{}, png...), make([]byte, 1<<20)...))
	_, err = e.svc.Put(ctx, alice, attach.PutRequest{FileName: "b.png", MIMEType: "application/pdf", Size: -1, CollectionID: col.ID}, big)
	requireOrgCode(t, err, attach.CodeInvalidFileType)
	_, err = e.svc.Put(ctx, alice, attach.PutRequest{FileName: "b.png", MIMEType: "image/png", Size: limit + 1, CollectionID: col.ID}, big)
	requireOrgCode(t, err, attach.CodeFileTooLarge)
	_, err = e.svc.PutVersion(ctx, alice, f.ID, attach.VersionPutRequest{MIMEType: "application/pdf", Size: -1}, big)
	requireOrgCode(t, err, attach.CodeInvalidFileType)

	n := big.Len()
	_, err = e.svc.PutVersion(ctx, alice, f.ID, attach.VersionPutRequest{MIMEType: "image/png", Size: -1}, big)
	requireOrgCode(t, err, attach.CodeFileTooLarge)
	assert.LessOrEqual(t, int64(n-big.Len()), limit+64<<10, "the stream was cut near the collection's limit, not the service's")
	assert.Len(t, e.objects(t), 1, "only the first version's object is stored")
}
