package attach_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

var orgPost = attach.Record{Type: "post", ID: "42"}

func attachedIDs(as []*attach.Attachment) []string {
	ids := []string{}
	for i, a := range as {
		if a.Position != i {
			panic(fmt.Sprintf("position %d at index %d", a.Position, i))
		}
		ids = append(ids, a.FileID)
	}
	return ids
}

func orgFileIDs(fs []*attach.File) []string {
	ids := []string{}
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	return ids
}

func (e *env) orgPNGs(t *testing.T, scope attach.Scope, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		ids = append(ids, e.upload(t, scope, fmt.Sprintf("p%d.png", i), "image/png", pngBytes(t, i+1, 2)).ID)
	}
	return ids
}

func TestSetAttachments(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ids := e.orgPNGs(t, alice, 4)

	as, err := e.svc.SetAttachments(ctx, alice, orgPost, "gallery", []string{ids[2], ids[0], ids[1]}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{ids[2], ids[0], ids[1]}, attachedIDs(as))
	assert.Equal(t, attach.Attachment{RecordType: "post", RecordID: "42", Field: "gallery", FileID: ids[2], Position: 0,
		CreatedBy: "alice", CreatedAt: e.clock.Now()}, *as[0])

	// The same PUT again changes nothing.
	e.clock.Advance(time.Minute)
	again, err := e.svc.SetAttachments(ctx, alice, orgPost, "gallery", []string{ids[2], ids[0], ids[1]}, nil)
	require.NoError(t, err)
	assert.Equal(t, as, again)

	// Replace the set; single-file field.
	as, err = e.svc.SetAttachments(ctx, alice, orgPost, "gallery", []string{ids[3], ids[2]}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{ids[3], ids[2]}, attachedIDs(as))
	_, err = e.svc.SetAttachments(ctx, alice, orgPost, "cover", []string{ids[0]}, nil)
	require.NoError(t, err)

	got, err := e.svc.Attachments(ctx, alice, orgPost)
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"gallery": {ids[3], ids[2]}, "cover": {ids[0]}},
		map[string][]string{"gallery": orgFileIDs(got["gallery"]), "cover": orgFileIDs(got["cover"])})
	assert.Len(t, got, 2)

	used, err := e.svc.FileAttachments(ctx, alice, ids[0])
	require.NoError(t, err)
	require.Len(t, used, 1)
	assert.Equal(t, "cover", used[0].Field)

	// Clearing.
	as, err = e.svc.SetAttachments(ctx, alice, orgPost, "gallery", nil, nil)
	require.NoError(t, err)
	assert.Empty(t, as)
	got, err = e.svc.Attachments(ctx, alice, orgPost)
	require.NoError(t, err)
	assert.Len(t, got, 1)
}

func TestSetAttachmentsRefused(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ids := e.orgPNGs(t, alice, 2)
	bobs := e.upload(t, bob, "bob.png", "image/png", pngBytes(t, 3, 3))
	foreign := e.upload(t, wsB, "b.png", "image/png", pngBytes(t, 3, 3))
	pending, err := e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "p.png", MIMEType: "image/png", Size: 10})
	require.NoError(t, err)
	gone := e.upload(t, alice, "gone.png", "image/png", pngBytes(t, 3, 3))
	require.NoError(t, e.svc.Delete(ctx, alice, gone.ID, nil))
	_, err = e.svc.SetAttachments(ctx, alice, orgPost, "g", ids, nil)
	require.NoError(t, err)

	many := make([]string, 10000)
	for i := range many {
		many[i] = "file_" + uuid.Must(uuid.NewV7()).String()
	}
	unknown := "file_01900000-0000-7000-8000-000000000000"
	tests := []struct {
		name  string
		scope attach.Scope
		rec   attach.Record
		field string
		ids   []string
		code  attach.Code
	}{
		{name: "duplicate ids", ids: []string{ids[0], ids[1], ids[0]}, code: attach.CodeInvalidRequest},
		{name: "unknown id", ids: []string{ids[0], unknown}, code: attach.CodeInvalidRequest},
		{name: "another workspace's id", ids: []string{foreign.ID}, code: attach.CodeInvalidRequest},
		{name: "deleted file", ids: []string{gone.ID}, code: attach.CodeInvalidRequest},
		{name: "10,000 ids", ids: many, code: attach.CodeInvalidRequest},
		{name: "1,001 ids", ids: many[:1001], code: attach.CodeInvalidRequest},
		{name: "malformed id", ids: []string{"file_../x"}, code: attach.CodeInvalidRequest},
		{name: "invisible file", ids: []string{ids[0], bobs.ID}, code: attach.CodeForbidden},
		{name: "pending file", ids: []string{pending.ID}, code: attach.CodeConflict},
		{name: "bad record type", rec: attach.Record{Type: "po st", ID: "42"}, ids: ids, code: attach.CodeInvalidRequest},
		{name: "long record type", rec: attach.Record{Type: strings.Repeat("t", 65), ID: "42"}, ids: ids, code: attach.CodeInvalidRequest},
		{name: "empty record id", rec: attach.Record{Type: "post"}, ids: ids, code: attach.CodeInvalidRequest},
		{name: "record id with slash", rec: attach.Record{Type: "post", ID: "4/2"}, ids: ids, code: attach.CodeInvalidRequest},
		{name: "long record id", rec: attach.Record{Type: "post", ID: strings.Repeat("1", 129)}, ids: ids, code: attach.CodeInvalidRequest},
		{name: "bad field", field: "g\x00", ids: ids, code: attach.CodeInvalidRequest},
		{name: "empty field", field: "-", ids: ids, code: attach.CodeInvalidRequest},
		{name: "no workspace", scope: attach.Scope{}, ids: ids, code: attach.CodeUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scope, rec, field := alice, orgPost, "g"
			if tc.scope != (attach.Scope{}) || tc.code == attach.CodeUnauthorized {
				scope = tc.scope
			}
			if tc.rec != (attach.Record{}) {
				rec = tc.rec
			}
			switch tc.field {
			case "":
			case "-":
				field = ""
			default:
				field = tc.field
			}
			_, err := e.svc.SetAttachments(ctx, scope, rec, field, tc.ids, nil)
			requireOrgCode(t, err, tc.code)
			got, err := e.svc.Attachments(ctx, alice, orgPost)
			require.NoError(t, err)
			assert.Equal(t, ids, orgFileIDs(got["g"]), "the previous set is unchanged")
		})
	}
}

func TestAttachAndDetach(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ids := e.orgPNGs(t, alice, 3)
	bobs := e.upload(t, bob, "bob.png", "image/png", pngBytes(t, 3, 3))
	foreign := e.upload(t, wsB, "b.png", "image/png", pngBytes(t, 3, 3))

	a, created, err := e.svc.Attach(ctx, alice, orgPost, "g", ids[0], nil)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, 0, a.Position)
	_, _, err = e.svc.Attach(ctx, alice, orgPost, "g", ids[1], nil)
	require.NoError(t, err)
	a, created, err = e.svc.Attach(ctx, alice, orgPost, "g", ids[2], &attach.AttachOptions{Position: ptr(0)})
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, 0, a.Position)
	a, created, err = e.svc.Attach(ctx, alice, orgPost, "g", ids[0], nil)
	require.NoError(t, err)
	assert.False(t, created, "already there: a retry changes nothing")
	assert.Equal(t, 1, a.Position)
	field := func() []string {
		got, err := e.svc.Attachments(ctx, alice, orgPost)
		require.NoError(t, err)
		return orgFileIDs(got["g"])
	}
	assert.Equal(t, []string{ids[2], ids[0], ids[1]}, field())

	_, _, err = e.svc.Attach(ctx, alice, orgPost, "g", foreign.ID, nil)
	requireOrgCode(t, err, attach.CodeNotFound)
	_, _, err = e.svc.Attach(ctx, alice, orgPost, "g", bobs.ID, nil)
	requireOrgCode(t, err, attach.CodeForbidden)
	_, _, err = e.svc.Attach(ctx, alice, orgPost, "g", ids[1], &attach.AttachOptions{Position: ptr(-1)})
	requireOrgCode(t, err, attach.CodeInvalidRequest)
	_, _, err = e.svc.Attach(ctx, alice, attach.Record{Type: "", ID: "1"}, "g", ids[1], nil)
	requireOrgCode(t, err, attach.CodeInvalidRequest)

	requireOrgCode(t, e.svc.Detach(ctx, alice, orgPost, "g", foreign.ID, nil), attach.CodeNotFound)
	requireOrgCode(t, e.svc.Detach(ctx, bob, orgPost, "g", ids[0], nil), attach.CodeForbidden)
	requireOrgCode(t, e.svc.Detach(ctx, alice, orgPost, "other", ids[0], nil), attach.CodeNotFound)
	require.NoError(t, e.svc.Detach(ctx, alice, orgPost, "g", ids[0], nil))
	assert.Equal(t, []string{ids[2], ids[1]}, field())
	_, err = e.svc.File(ctx, alice, ids[0])
	require.NoError(t, err, "detaching without purge keeps the file")

	// Where-used needs the view right; another workspace's file is not found.
	_, err = e.svc.FileAttachments(ctx, bob, ids[1])
	requireOrgCode(t, err, attach.CodeForbidden)
	_, err = e.svc.FileAttachments(ctx, wsB, ids[1])
	requireOrgCode(t, err, attach.CodeNotFound)
}

func TestAttachmentsShowOnlyVisibleFiles(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	mine := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 2, 2))
	shared := e.upload(t, alice, "s.png", "image/png", pngBytes(t, 3, 2))
	_, err := e.svc.Update(ctx, alice, shared.ID, attach.UpdateRequest{ACL: &attach.ACL{View: []string{"user:bob"}}})
	require.NoError(t, err)
	_, err = e.svc.SetAttachments(ctx, alice, orgPost, "g", []string{mine.ID, shared.ID}, nil)
	require.NoError(t, err)
	got, err := e.svc.Attachments(ctx, bob, orgPost)
	require.NoError(t, err)
	assert.Equal(t, []string{shared.ID}, orgFileIDs(got["g"]))
	got, err = e.svc.Attachments(ctx, wsA, orgPost)
	require.NoError(t, err)
	assert.Equal(t, []string{mine.ID, shared.ID}, orgFileIDs(got["g"]))
	got, err = e.svc.Attachments(ctx, wsB, orgPost)
	require.NoError(t, err)
	assert.Empty(t, got, "another workspace's record of the same name is another record")
}

func TestDeleteFileDetaches(t *testing.T) {
	e := newEnv(t, func(o *attach.Options) { o.Retention = time.Hour })
	ctx := context.Background()
	ids := e.orgPNGs(t, alice, 3)
	_, err := e.svc.SetAttachments(ctx, alice, orgPost, "g", ids, nil)
	require.NoError(t, err)
	require.NoError(t, e.svc.Delete(ctx, alice, ids[1], nil))
	got, err := e.svc.Attachments(ctx, alice, orgPost)
	require.NoError(t, err)
	assert.Equal(t, []string{ids[0], ids[2]}, orgFileIDs(got["g"]))
	as, err := e.svc.SetAttachments(ctx, alice, orgPost, "g", []string{ids[0], ids[2]}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{ids[0], ids[2]}, attachedIDs(as), "positions closed up")

	// Undelete brings the file back, not its attachments.
	_, err = e.svc.Undelete(ctx, alice, ids[1])
	require.NoError(t, err)
	used, err := e.svc.FileAttachments(ctx, alice, ids[1])
	require.NoError(t, err)
	assert.Empty(t, used)

	// Purged files go too.
	require.NoError(t, e.svc.Delete(ctx, alice, ids[0], &attach.DeleteOptions{Purge: true}))
	got, err = e.svc.Attachments(ctx, alice, orgPost)
	require.NoError(t, err)
	assert.Equal(t, []string{ids[2]}, orgFileIDs(got["g"]))
}

func TestPurgeDetached(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	only := e.upload(t, alice, "only.png", "image/png", pngBytes(t, 2, 2))
	shared := e.upload(t, alice, "shared.png", "image/png", pngBytes(t, 3, 2))
	once := e.upload(t, alice, "once.png", "image/png", pngBytes(t, 4, 2))
	bobs := e.upload(t, bob, "bob.png", "image/png", pngBytes(t, 5, 2))
	_, err := e.svc.Update(ctx, bob, bobs.ID, attach.UpdateRequest{ACL: &attach.ACL{View: []string{"workspace"}}})
	require.NoError(t, err)
	other := attach.Record{Type: "post", ID: "43"}

	_, err = e.svc.SetAttachments(ctx, alice, orgPost, "g", []string{only.ID, shared.ID, once.ID, bobs.ID}, nil)
	require.NoError(t, err)
	_, err = e.svc.SetAttachments(ctx, alice, other, "g", []string{shared.ID, once.ID}, nil)
	require.NoError(t, err)
	_, err = e.svc.SetAttachments(ctx, alice, other, "g", []string{shared.ID}, nil) // once was attached to 43 once
	require.NoError(t, err)

	// Without Purge nothing is deleted.
	_, err = e.svc.SetAttachments(ctx, alice, orgPost, "g", []string{only.ID, shared.ID, once.ID, bobs.ID}, nil)
	require.NoError(t, err)
	require.NoError(t, e.svc.ClearAttachments(ctx, alice, other, nil))
	_, err = e.svc.File(ctx, alice, shared.ID)
	require.NoError(t, err)
	_, err = e.svc.SetAttachments(ctx, alice, other, "g", []string{shared.ID}, nil)
	require.NoError(t, err)

	before := len(e.objects(t))
	require.NoError(t, e.svc.ClearAttachments(ctx, alice, orgPost, &attach.SetAttachmentsOptions{Purge: true}))
	_, err = e.svc.File(ctx, alice, only.ID)
	requireOrgCode(t, err, attach.CodeNotFound, "only ever attached to orgPost 42: purged")
	for _, f := range []*attach.File{shared, once} {
		_, err = e.svc.File(ctx, alice, f.ID)
		require.NoError(t, err, "%s was attached elsewhere", f.FileName)
	}
	_, err = e.svc.File(ctx, bob, bobs.ID)
	require.NoError(t, err, "alice may not delete bob's file, so it stays")
	assert.Len(t, e.objects(t), before-1, "the purged file's bytes are gone")

	// Detach with Purge.
	single := e.upload(t, alice, "single.png", "image/png", pngBytes(t, 6, 2))
	_, _, err = e.svc.Attach(ctx, alice, orgPost, "cover", single.ID, nil)
	require.NoError(t, err)
	require.NoError(t, e.svc.Detach(ctx, alice, orgPost, "cover", single.ID, &attach.DetachOptions{Purge: true}))
	_, err = e.svc.File(ctx, alice, single.ID)
	requireOrgCode(t, err, attach.CodeNotFound)
}

func TestSetAttachmentsConcurrentRetries(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ids := e.orgPNGs(t, alice, 3)
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := e.svc.SetAttachments(ctx, alice, orgPost, "g", ids, nil)
			errs <- err
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	got, err := e.svc.Attachments(ctx, alice, orgPost)
	require.NoError(t, err)
	assert.Equal(t, ids, orgFileIDs(got["g"]), "retries racing each other leave one set")
}
