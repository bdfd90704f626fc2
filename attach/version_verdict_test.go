package attach_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/internal/backendtest"
	"github.com/attachkit/attachkit/internal/signedurl"
	"github.com/attachkit/attachkit/scan/clamav"
)

// signedGet returns a library-signed GET URL of one version's bytes, as
// DownloadURL would have issued it, for paths DownloadURL refuses.
func signedGet(t *testing.T, e *env, id string, version int) string {
	t.Helper()
	v, err := e.store.Version(context.Background(), wsA.Workspace, id, version)
	require.NoError(t, err)
	signer, err := signedurl.New([]signedurl.Key{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}})
	require.NoError(t, err)
	q := signer.Sign(signedurl.Claims{Method: "GET", Key: v.StorageKey, Expires: e.clock.Now().Add(time.Hour).Truncate(time.Second),
		Type: v.MIMEType, File: id, Version: version, Disposition: "attachment"})
	return baseURL + "/" + v.StorageKey + "?" + q.Encode()
}

// TestVersionVerdicts: with a real clamd, an infected version stays
// refused on every read path after a clean version became current, and
// cannot be restored; a version superseded while processing is never
// served; restoring a clean version with a scanner configured is
// processing until the worker scanned it again.
func TestVersionVerdicts(t *testing.T) {
	addr := backendtest.RequireEnv(t, "ATTACH_CLAMD_ADDR", "clamd")
	e := newEnv(t, func(o *attach.Options) {
		o.Policy = textPolicy
		o.Scanner = clamav.New(addr, nil)
	})
	ctx := context.Background()
	w := attach.NewWorker(e.svc, nil)
	clean1, clean3 := pdfBytes(900), pdfBytes(1000)
	f := e.upload(t, alice, "doc.pdf", "application/pdf", clean1)
	putVersion := func(name string, body []byte) {
		t.Helper()
		_, err := e.svc.PutVersion(ctx, alice, f.ID, attach.VersionPutRequest{FileName: name, Size: -1}, bytes.NewReader(body))
		require.NoError(t, err)
	}
	runDue(t, w)
	putVersion("eicar.txt", []byte(eicar)) // v2
	runDue(t, w)
	require.Equal(t, attach.StatusRejected, status(t, e, f.ID).Status, "version 2 is infected")
	putVersion("doc.pdf", clean3) // v3
	runDue(t, w)
	require.Equal(t, attach.StatusReady, status(t, e, f.ID).Status, "version 3 is clean")

	infected, clean := signedGet(t, e, f.ID, 2), signedGet(t, e, f.ID, 3)
	paths := []struct {
		name string
		call func(version int) error
	}{
		{name: "Open", call: func(v int) error {
			c, err := e.svc.Open(ctx, alice, f.ID, &attach.DownloadOptions{Version: v})
			if err == nil {
				c.Close()
			}
			return err
		}},
		{name: "DownloadURL", call: func(v int) error {
			_, err := e.svc.DownloadURL(ctx, alice, f.ID, &attach.DownloadOptions{Version: v})
			return err
		}},
		{name: "Thumbnail", call: func(v int) error {
			_, err := e.svc.Thumbnail(ctx, alice, f.ID, &attach.ThumbnailOptions{Version: v, Width: 64, Height: 64})
			return err
		}},
		{name: "OpenSigned", call: func(v int) error {
			key, q := splitURL(t, map[int]string{2: infected, 3: clean}[v])
			c, err := e.svc.OpenSigned(ctx, key, q)
			if err == nil {
				c.Close()
			}
			return err
		}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			assert.Equal(t, attach.CodeConflict, attach.CodeOf(p.call(2)), "the infected version 2 is refused")
			assert.NoError(t, p.call(3), "the clean version 3 is served")
		})
	}
	check, err := e.svc.VerifyURL(ctx, alice, infected)
	require.NoError(t, err)
	assert.False(t, check.Valid, "a URL of the infected version would not be served")
	check, err = e.svc.VerifyURL(ctx, alice, clean)
	require.NoError(t, err)
	assert.True(t, check.Valid)

	_, err = e.svc.RestoreVersion(ctx, alice, f.ID, 2, nil)
	assert.Equal(t, attach.CodeConflict, attach.CodeOf(err), "the infected version cannot be restored")

	// Restoring the clean version 1 scans it again before serving it.
	got, err := e.svc.RestoreVersion(ctx, alice, f.ID, 1, nil)
	require.NoError(t, err)
	assert.Equal(t, 4, got.Version)
	assert.Equal(t, attach.StatusProcessing, got.Status)
	_, err = e.svc.Open(ctx, alice, f.ID, nil)
	assert.Equal(t, attach.CodeConflict, attach.CodeOf(err), "not served while processing")
	assert.Equal(t, 1, runDue(t, w), "the restore recorded one process job")
	assert.Equal(t, attach.StatusReady, status(t, e, f.ID).Status)
	assert.Equal(t, clean1, e.read(t, alice, f.ID, 0))
	assert.Equal(t, clean1, e.read(t, alice, f.ID, 1))

	// Version 5 is superseded by version 6 while processing: it is never
	// scanned, so never served; restoring it scans it.
	putVersion("eicar.txt", []byte(eicar)) // v5
	putVersion("doc.pdf", clean3)          // v6
	runDue(t, w)
	require.Equal(t, attach.StatusReady, status(t, e, f.ID).Status)
	_, err = e.svc.Open(ctx, alice, f.ID, &attach.DownloadOptions{Version: 5})
	assert.Equal(t, attach.CodeConflict, attach.CodeOf(err), "a version superseded while processing is never served")
	_, err = e.with(t, func(o *attach.Options) { o.Policy = textPolicy }).svc.RestoreVersion(ctx, alice, f.ID, 5, nil)
	assert.Equal(t, attach.CodeConflict, attach.CodeOf(err), "without a scanner an unscanned version cannot be restored")
	got, err = e.svc.RestoreVersion(ctx, alice, f.ID, 5, nil)
	require.NoError(t, err)
	assert.Equal(t, attach.StatusProcessing, got.Status)
	runDue(t, w)
	assert.Equal(t, attach.StatusRejected, status(t, e, f.ID).Status, "the restored version 5 is scanned: infected")
}

// TestRestoreVersionMeetsCollectionPolicy: a restore is a new version of a
// file in its collection, so the collection's types and size apply.
func TestRestoreVersionMeetsCollectionPolicy(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	f := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 4, 4)) // v1
	for _, body := range [][]byte{pdfBytes(5000), pdfBytes(700)} {   // v2, v3
		_, err := e.svc.PutVersion(ctx, alice, f.ID, attach.VersionPutRequest{FileName: "a.pdf", Size: -1}, bytes.NewReader(body))
		require.NoError(t, err)
	}
	c, err := e.svc.CreateCollection(ctx, alice, attach.CollectionRequest{Name: "pdfs", AllowedTypes: []string{"application/pdf"}, MaxSize: 1000})
	require.NoError(t, err)
	_, err = e.svc.Update(ctx, alice, f.ID, attach.UpdateRequest{CollectionID: &c.ID})
	require.NoError(t, err)

	tests := []struct {
		name    string
		version int
		code    attach.Code
	}{
		{name: "type outside the collection's", version: 1, code: attach.CodeInvalidFileType},
		{name: "size over the collection's limit", version: 2, code: attach.CodeFileTooLarge},
		{name: "within the policy", version: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.RestoreVersion(ctx, alice, f.ID, tt.version, nil)
			assert.Equal(t, tt.code, attach.CodeOf(err), "%v", err)
		})
	}
	got, err := e.svc.File(ctx, alice, f.ID)
	require.NoError(t, err)
	assert.Equal(t, 4, got.Version, "only the restore within the policy made a version")
}
