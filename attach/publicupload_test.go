package attach_test

import (
	"archive/zip"
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

func publicEnv(t *testing.T, pu *attach.PublicUploadOptions, policy *attach.Policy) *env {
	t.Helper()
	return newEnv(t, func(o *attach.Options) {
		o.PublicUpload = pu
		o.Policy = policy
	})
}

func TestPublicUploadDisabled(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	assert.False(t, e.svc.PublicUploadEnabled())
	_, err := e.svc.RequestPublicUpload(ctx, attach.PublicUploadRequest{FileName: "a.png", MIMEType: "image/png", Size: 10})
	requireCode(t, err, attach.CodeNotFound)
	_, err = e.svc.ConfirmPublicUpload(ctx, "upl_01234567-89ab-7def-8123-456789abcdef")
	requireCode(t, err, attach.CodeNotFound)
}

func TestPublicUpload(t *testing.T) {
	ctx := context.Background()
	base := newEnv(t, nil)
	inbox, err := base.svc.CreateCollection(ctx, attach.Scope{Workspace: "ws-a"}, attach.CollectionRequest{Name: "Inbox"})
	require.NoError(t, err)
	e := base.with(t, func(o *attach.Options) {
		o.PublicUpload = &attach.PublicUploadOptions{Workspace: "ws-a", CollectionID: inbox.ID}
	})
	require.True(t, e.svc.PublicUploadEnabled())
	data := pngBytes(t, 10, 10)

	up, err := e.svc.RequestPublicUpload(ctx, attach.PublicUploadRequest{FileName: "scan.png", MIMEType: "image/png", Size: int64(len(data))})
	require.NoError(t, err)
	assert.Equal(t, int64(10*attach.MB), up.FileLimits.MaxSize, "the stricter limits")
	assert.NotContains(t, up.FileLimits.AllowedTypes, "image/svg+xml")

	// Confirm before the bytes: nothing changes.
	_, err = e.svc.ConfirmPublicUpload(ctx, up.UploadID)
	requireCode(t, err, attach.CodeUploadIncomplete)

	require.NoError(t, e.put(t, up, "image/png", data))
	st, err := e.svc.ConfirmPublicUpload(ctx, up.UploadID)
	require.NoError(t, err)
	assert.Equal(t, &attach.StatusInfo{ID: up.ID, Status: attach.StatusReady}, st)
	st, err = e.svc.ConfirmPublicUpload(ctx, up.UploadID)
	require.NoError(t, err, "idempotent")
	assert.Equal(t, attach.StatusReady, st.Status)

	// The workspace sees it, in the target collection, owned by the
	// public upload owner; no anonymous path serves it.
	f, err := e.svc.File(ctx, wsA, up.ID)
	require.NoError(t, err)
	assert.Equal(t, "public-upload", f.Owner)
	require.NotNil(t, f.CollectionID)
	assert.Equal(t, inbox.ID, *f.CollectionID)
	assert.Equal(t, attach.AccessPrivate, f.AccessControl)
	_, err = e.svc.OpenPublic(ctx, up.ID, nil)
	requireCode(t, err, attach.CodeNotFound)
	_, err = e.svc.File(ctx, alice, up.ID)
	requireCode(t, err, attach.CodeForbidden)

	// A ticket that is not a public one cannot be confirmed anonymously.
	own, err := e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", Size: int64(len(data))})
	require.NoError(t, err)
	require.NoError(t, e.put(t, own, "image/png", data))
	_, err = e.svc.ConfirmPublicUpload(ctx, own.UploadID)
	requireCode(t, err, attach.CodeNotFound)
}

func TestPublicUploadRefusals(t *testing.T) {
	ctx := context.Background()
	e := publicEnv(t, &attach.PublicUploadOptions{Workspace: "ws-a"}, nil)
	tests := []struct {
		name string
		req  attach.PublicUploadRequest
		code attach.Code
	}{
		{name: "type only the service allows", req: attach.PublicUploadRequest{FileName: "a.svg", MIMEType: "image/svg+xml", Size: 100}, code: attach.CodeInvalidFileType},
		{name: "video", req: attach.PublicUploadRequest{FileName: "a.mp4", MIMEType: "video/mp4", Size: 100}, code: attach.CodeInvalidFileType},
		{name: "over the stricter limit", req: attach.PublicUploadRequest{FileName: "a.png", MIMEType: "image/png", Size: 10*attach.MB + 1}, code: attach.CodeFileTooLarge},
		{name: "no size", req: attach.PublicUploadRequest{FileName: "a.png", MIMEType: "image/png"}, code: attach.CodeInvalidRequest},
		{name: "bad name", req: attach.PublicUploadRequest{FileName: "../\x00", MIMEType: "image/png", Size: 10}, code: attach.CodeInvalidRequest},
		{name: "bad type", req: attach.PublicUploadRequest{FileName: "a.png", MIMEType: "png", Size: 10}, code: attach.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.RequestPublicUpload(ctx, tt.req)
			requireCode(t, err, tt.code)
		})
	}
	for _, id := range []string{"", "upl_x", "file_01234567-89ab-7def-8123-456789abcdef"} {
		_, err := e.svc.ConfirmPublicUpload(ctx, id)
		requireCode(t, err, attach.CodeInvalidRequest)
	}
	_, err := e.svc.ConfirmPublicUpload(ctx, "upl_01234567-89ab-7def-8123-456789abcdef")
	requireCode(t, err, attach.CodeNotFound)

	// Bytes of a type the public policy does not allow (whatever was
	// declared) are rejected and removed.
	up, err := e.svc.RequestPublicUpload(ctx, attach.PublicUploadRequest{FileName: "a.png", MIMEType: "image/png", Size: int64(len(htmlBytes))})
	require.NoError(t, err)
	require.NoError(t, e.put(t, up, "image/png", htmlBytes))
	_, err = e.svc.ConfirmPublicUpload(ctx, up.UploadID)
	requireCode(t, err, attach.CodeInvalidFileType)
	assert.Empty(t, e.objects(t))
	_, err = e.svc.ConfirmPublicUpload(ctx, up.UploadID)
	requireCode(t, err, attach.CodeInvalidFileType) // the rejection stands

	_, err = attach.New(e.storage, e.store, &attach.Options{SigningKeys: []attach.SigningKey{{ID: "k", Secret: make([]byte, 32)}},
		BaseURL: baseURL, PublicUpload: &attach.PublicUploadOptions{Workspace: "../x"}})
	require.Error(t, err, "a bad workspace is a wiring mistake")
}

// TestPublicUploadDetectedType: a declared family the public policy allows
// (zip) does not let through a detected type it does not (a DOCX), even
// when the service's own policy allows both.
func TestPublicUploadDetectedType(t *testing.T) {
	ctx := context.Background()
	const docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	policy := &attach.Policy{Types: []attach.TypeRule{{MIMEType: "application/zip"}, {MIMEType: docx}}, MaxSize: attach.MB}
	strict := &attach.Policy{Types: []attach.TypeRule{{MIMEType: "application/zip"}}, MaxSize: attach.MB}
	e := publicEnv(t, &attach.PublicUploadOptions{Workspace: "ws-a", Policy: strict}, policy)

	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range []string{"[Content_Types].xml", "word/document.xml"} {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = w.Write([]byte("<x/>"))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	data := b.Bytes()

	up, err := e.svc.RequestPublicUpload(ctx, attach.PublicUploadRequest{FileName: "a.zip", MIMEType: "application/zip", Size: int64(len(data))})
	require.NoError(t, err)
	require.NoError(t, e.put(t, up, "application/zip", data))
	_, err = e.svc.ConfirmPublicUpload(ctx, up.UploadID)
	requireCode(t, err, attach.CodeInvalidFileType)
	assert.Empty(t, e.objects(t), "the rejected bytes are removed")
	st, err := e.svc.Status(ctx, wsA, up.ID)
	require.NoError(t, err)
	assert.Equal(t, attach.StatusRejected, st.Status)
}

// TestPublicUploadCollectionPolicy: the target collection's policy applies
// to the presign of a public upload, and its ticket's limits say so.
func TestPublicUploadCollectionPolicy(t *testing.T) {
	ctx := context.Background()
	base := newEnv(t, nil)
	inbox, err := base.svc.CreateCollection(ctx, wsA, attach.CollectionRequest{Name: "Inbox",
		AllowedTypes: []string{"image/png"}, MaxSize: 1000})
	require.NoError(t, err)
	e := base.with(t, func(o *attach.Options) {
		o.PublicUpload = &attach.PublicUploadOptions{Workspace: "ws-a", CollectionID: inbox.ID}
	})
	tests := []struct {
		name string
		req  attach.PublicUploadRequest
		code attach.Code
	}{
		{name: "type the collection refuses", req: attach.PublicUploadRequest{FileName: "a.jpg", MIMEType: "image/jpeg", Size: 100}, code: attach.CodeInvalidFileType},
		{name: "over the collection's size", req: attach.PublicUploadRequest{FileName: "a.png", MIMEType: "image/png", Size: 1001}, code: attach.CodeFileTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.RequestPublicUpload(ctx, tt.req)
			requireCode(t, err, tt.code)
		})
	}
	up, err := e.svc.RequestPublicUpload(ctx, attach.PublicUploadRequest{FileName: "a.png", MIMEType: "image/png", Size: 1000})
	require.NoError(t, err)
	assert.Equal(t, int64(1000), up.FileLimits.MaxSize)
	assert.Equal(t, []string{"image/png"}, up.FileLimits.AllowedTypes)
}

// TestPublicUploadConfirmedElsewhere: the public upload policy applies to
// a public ticket whichever route confirms it, the authenticated Confirm
// included.
func TestPublicUploadConfirmedElsewhere(t *testing.T) {
	ctx := context.Background()
	const docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	policy := &attach.Policy{Types: []attach.TypeRule{{MIMEType: "application/zip"}, {MIMEType: docx}}, MaxSize: attach.MB}
	strict := &attach.Policy{Types: []attach.TypeRule{{MIMEType: "application/zip"}}, MaxSize: attach.MB}
	e := publicEnv(t, &attach.PublicUploadOptions{Workspace: "ws-a", Policy: strict}, policy)

	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range []string{"[Content_Types].xml", "word/document.xml"} {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = w.Write([]byte("<x/>"))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	data := b.Bytes()

	up, err := e.svc.RequestPublicUpload(ctx, attach.PublicUploadRequest{FileName: "a.zip", MIMEType: "application/zip", Size: int64(len(data))})
	require.NoError(t, err)
	require.NoError(t, e.put(t, up, "application/zip", data))
	_, err = e.svc.Confirm(ctx, wsA, up.ID)
	requireCode(t, err, attach.CodeInvalidFileType)
	st, err := e.svc.Status(ctx, wsA, up.ID)
	require.NoError(t, err)
	assert.Equal(t, attach.StatusRejected, st.Status)
	_, err = e.svc.ConfirmPublicUpload(ctx, up.UploadID)
	requireCode(t, err, attach.CodeInvalidFileType)
}
