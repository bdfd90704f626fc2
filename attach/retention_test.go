package attach_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

func TestDeleteWithRetention(t *testing.T) {
	e := newEnv(t, func(o *attach.Options) { o.Retention = time.Hour })
	ctx := context.Background()
	body := pngBytes(t, 4, 4)
	f := e.upload(t, alice, "a.png", "image/png", body)
	u, err := e.svc.DownloadURL(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	key, q := splitURL(t, u.URL)

	require.NoError(t, e.svc.Delete(ctx, alice, f.ID, nil))
	_, err = e.svc.File(ctx, alice, f.ID)
	assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err), "invisible at once")
	_, err = e.svc.OpenSigned(ctx, key, q)
	assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err), "an earlier URL serves nothing")
	assert.Empty(t, listAll(t, e.svc, alice, attach.ListOptions{}))
	assert.Len(t, e.objects(t), 1, "bytes kept for the window")
	assert.Equal(t, attach.CodeNotFound, attach.CodeOf(e.svc.Delete(ctx, alice, f.ID, nil)))

	_, err = e.svc.Undelete(ctx, bob, f.ID)
	assert.Equal(t, attach.CodeForbidden, attach.CodeOf(err))
	_, err = e.svc.Undelete(ctx, wsB, f.ID)
	assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err))
	e.clock.Advance(59 * time.Minute)
	back, err := e.svc.Undelete(ctx, alice, f.ID)
	require.NoError(t, err)
	assert.Equal(t, f.Digest, back.Digest)
	assert.Equal(t, body, e.read(t, alice, f.ID, 0))
	assert.Equal(t, []string{"a.png"}, listAll(t, e.svc, alice, attach.ListOptions{}))
	_, err = e.svc.Undelete(ctx, alice, f.ID)
	assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err), "not deleted")

	// Past the window it cannot come back.
	require.NoError(t, e.svc.Delete(ctx, alice, f.ID, nil))
	e.clock.Advance(time.Hour)
	_, err = e.svc.Undelete(ctx, alice, f.ID)
	assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err))

	// purge skips the window.
	g := e.upload(t, alice, "b.png", "image/png", body)
	require.NoError(t, e.svc.Delete(ctx, alice, g.ID, &attach.DeleteOptions{Purge: true}))
	assert.NotContains(t, fmt.Sprint(e.objects(t)), g.ID)
	_, err = e.svc.Undelete(ctx, alice, g.ID)
	assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err))
}

func TestDeleteWithoutRetention(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	f := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 4, 4))
	require.NoError(t, e.svc.Delete(ctx, alice, f.ID, nil))
	assert.Empty(t, e.objects(t))
	_, err := e.svc.Undelete(ctx, alice, f.ID)
	assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err))
	_, err = e.svc.Undelete(ctx, alice, "nope")
	assert.Equal(t, attach.CodeInvalidRequest, attach.CodeOf(err))
}

func TestTemporaryFileInvisibleAfterExpiry(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	body := pngBytes(t, 4, 4)
	no := false
	f := e.uploadWith(t, alice, attach.UploadRequest{FileName: "t.png", MIMEType: "image/png", Persist: &no}, body)
	e.upload(t, alice, "kept.png", "image/png", body)
	require.NotNil(t, f.ExpiresAt)

	e.clock.Advance(24*time.Hour - 30*time.Minute)
	u, err := e.svc.DownloadURL(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	key, q := splitURL(t, u.URL)
	assert.ElementsMatch(t, []string{"t.png", "kept.png"}, listAll(t, e.svc, alice, attach.ListOptions{}))

	e.clock.Advance(30 * time.Minute) // at expiresAt; the URL itself is still valid
	calls := []struct {
		name string
		call func() error
	}{
		{name: "File", call: func() error { _, err := e.svc.File(ctx, alice, f.ID); return err }},
		{name: "DownloadURL", call: func() error { _, err := e.svc.DownloadURL(ctx, alice, f.ID, nil); return err }},
		{name: "Open", call: func() error { _, err := e.svc.Open(ctx, alice, f.ID, nil); return err }},
		{name: "OpenSigned", call: func() error { _, err := e.svc.OpenSigned(ctx, key, q); return err }},
		{name: "Update", call: func() error {
			_, err := e.svc.Update(ctx, alice, f.ID, attach.UpdateRequest{Title: ptr("x")})
			return err
		}},
		{name: "Versions", call: func() error { _, err := e.svc.Versions(ctx, alice, f.ID); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, attach.CodeNotFound, attach.CodeOf(c.call()))
		})
	}
	assert.Equal(t, []string{"kept.png"}, listAll(t, e.svc, alice, attach.ListOptions{}))
}

func TestDownloadURLs(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 4, 4))
	_, err := e.svc.PutVersion(ctx, alice, a.ID, attach.VersionPutRequest{Size: -1}, bytesReader(pngBytes(t, 5, 5)))
	require.NoError(t, err)
	b := e.upload(t, bob, "b.png", "image/png", pngBytes(t, 4, 4))
	foreign := e.upload(t, wsB, "c.png", "image/png", pngBytes(t, 4, 4))
	pending, err := e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "p.png", MIMEType: "image/png", Size: 9})
	require.NoError(t, err)
	unknown := "file_01900000-0000-7000-8000-000000000000"

	items := []attach.DownloadItem{
		{ID: a.ID}, {ID: a.ID, Version: 1}, {ID: a.ID, Version: 7}, {ID: b.ID}, {ID: foreign.ID},
		{ID: unknown}, {ID: pending.ID}, {ID: "bad"}, {ID: a.ID, Version: -1},
	}
	want := []attach.Code{"", "", attach.CodeNotFound, attach.CodeForbidden, attach.CodeNotFound,
		attach.CodeNotFound, attach.CodeConflict, attach.CodeInvalidRequest, attach.CodeInvalidRequest}
	res, err := e.svc.DownloadURLs(ctx, alice, items)
	require.NoError(t, err)
	require.Len(t, res, len(items))
	for i, r := range res {
		assert.Equal(t, items[i].ID, r.ID, "item %d", i)
		if want[i] == "" {
			require.Nil(t, r.Error, "item %d", i)
			require.NotNil(t, r.ExpiresAt)
			key, q := splitURL(t, r.URL)
			c, err := e.svc.OpenSigned(ctx, key, q)
			require.NoError(t, err)
			wantVersion := items[i].Version
			if wantVersion == 0 {
				wantVersion = 2 // current
			}
			assert.Equal(t, wantVersion, c.Version, "item %d", i)
			require.NoError(t, c.Close())
			continue
		}
		require.NotNil(t, r.Error, "item %d", i)
		assert.Equal(t, want[i], r.Error.Code, "item %d: %s", i, r.Error.Message)
		assert.Empty(t, r.URL)
	}

	res, err = e.svc.DownloadURLs(ctx, alice, nil)
	require.NoError(t, err)
	assert.Empty(t, res)
	_, err = e.svc.DownloadURLs(ctx, alice, make([]attach.DownloadItem, attach.MaxBulkDownloads+1))
	assert.Equal(t, attach.CodeInvalidRequest, attach.CodeOf(err))
	full := make([]attach.DownloadItem, attach.MaxBulkDownloads)
	for i := range full {
		full[i].ID = a.ID
	}
	res, err = e.svc.DownloadURLs(ctx, alice, full)
	require.NoError(t, err)
	assert.Len(t, res, attach.MaxBulkDownloads)
}

// TestDeleteEndsLinks: deleting a file ends its public links for good:
// they serve nothing in the retention window and Undelete does not bring
// them back, so none survives that its owner could not revoke.
func TestDeleteEndsLinks(t *testing.T) {
	e := newEnv(t, func(o *attach.Options) { o.Retention = time.Hour })
	ctx := context.Background()
	f := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 4, 4))
	l, err := e.svc.CreateLink(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	token := linkToken(t, *l.URL)

	require.NoError(t, e.svc.Delete(ctx, alice, f.ID, nil))
	_, err = e.svc.OpenLink(ctx, token, nil)
	requireCode(t, err, attach.CodeNotFound)

	_, err = e.svc.Undelete(ctx, alice, f.ID)
	require.NoError(t, err)
	_, err = e.svc.OpenLink(ctx, token, nil)
	requireCode(t, err, attach.CodeNotFound)
	ls, err := e.svc.Links(ctx, alice, f.ID)
	require.NoError(t, err)
	assert.Empty(t, ls)
	requireCode(t, e.svc.RevokeLink(ctx, alice, l.ID), attach.CodeNotFound)
}
