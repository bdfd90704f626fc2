package attach_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/meta/sqlite"
)

func TestVerifyURL(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	data := pngBytes(t, 4, 4)
	f := e.upload(t, alice, "a.png", "image/png", data)
	dl, err := e.svc.DownloadURL(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	pending, err := e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "b.png", MIMEType: "image/png", Size: int64(len(data))})
	require.NoError(t, err)
	link, err := e.svc.CreateLink(ctx, alice, f.ID, &attach.LinkOptions{ExpiresAt: e.clock.Now().Add(2 * time.Hour)})
	require.NoError(t, err)
	forever, err := e.svc.CreateLink(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	revoked, err := e.svc.CreateLink(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	require.NoError(t, e.svc.RevokeLink(ctx, alice, revoked.ID))
	g := e.upload(t, alice, "pub.png", "image/png", data)
	public := attach.AccessPublicRead
	_, err = e.svc.Update(ctx, alice, g.ID, attach.UpdateRequest{AccessControl: &public})
	require.NoError(t, err)
	pub, err := e.svc.PublicURL(ctx, alice, g.ID)
	require.NoError(t, err)

	tampered := strings.Replace(dl.URL, "sig=", "sig=A", 1)
	tests := []struct {
		name    string
		scope   attach.Scope
		url     string
		valid   bool
		expires *time.Time
	}{
		{name: "signed download", scope: alice, url: dl.URL, valid: true, expires: &dl.ExpiresAt},
		{name: "signed upload", scope: alice, url: pending.URL, valid: true, expires: &pending.ExpiresAt},
		{name: "signed download, other workspace", scope: wsB, url: dl.URL},
		{name: "tampered signature", scope: alice, url: tampered},
		{name: "another file's key", scope: alice, url: strings.Replace(dl.URL, f.ID, g.ID, 1)},
		{name: "link with expiry", scope: alice, url: *link.URL, valid: true, expires: link.ExpiresAt},
		{name: "link without expiry", scope: alice, url: *forever.URL, valid: true},
		{name: "link, other workspace", scope: wsB, url: *forever.URL},
		{name: "revoked link", scope: alice, url: *revoked.URL},
		{name: "unknown link", scope: alice, url: "http://files.test/v1/public/links/" + strings.Repeat("A", 32) + "/a.png"},
		{name: "public-read file", scope: alice, url: pub, valid: true},
		{name: "public-read file, other workspace", scope: wsB, url: pub},
		{name: "private file as public", scope: alice, url: "http://files.test/v1/public/files/" + f.ID + "/a.png"},
		{name: "foreign origin", scope: alice, url: strings.Replace(dl.URL, "files.test", "evil.test", 1)},
		{name: "foreign scheme", scope: alice, url: strings.Replace(dl.URL, "http://", "https://", 1)},
		{name: "userinfo", scope: alice, url: strings.Replace(dl.URL, "http://", "http://files.test@", 1)},
		{name: "another path", scope: alice, url: "http://files.test/v1/files/" + f.ID},
		{name: "an S3 URL", scope: alice, url: "https://bucket.s3.amazonaws.com/ws-a/x?X-Amz-Signature=abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.svc.VerifyURL(ctx, tt.scope, tt.url)
			require.NoError(t, err)
			assert.Equal(t, tt.valid, got.Valid)
			if tt.expires != nil {
				require.NotNil(t, got.ExpiresAt)
				assert.True(t, tt.expires.Equal(*got.ExpiresAt), "%v != %v", tt.expires, got.ExpiresAt)
			} else if tt.valid {
				assert.Nil(t, got.ExpiresAt)
			}
		})
	}

	// A confirmed ticket's URL no longer takes bytes; a deleted file's URL
	// no longer serves; time ends signed URLs and links.
	require.NoError(t, e.put(t, pending, "image/png", data))
	_, err = e.svc.Confirm(ctx, alice, pending.ID)
	require.NoError(t, err)
	got, err := e.svc.VerifyURL(ctx, alice, pending.URL)
	require.NoError(t, err)
	assert.False(t, got.Valid, "confirmed ticket")

	e.clock.Advance(3 * time.Hour)
	got, err = e.svc.VerifyURL(ctx, alice, dl.URL)
	require.NoError(t, err)
	assert.False(t, got.Valid, "expired signed URL")
	require.NotNil(t, got.ExpiresAt)
	assert.True(t, dl.ExpiresAt.Equal(*got.ExpiresAt))
	got, err = e.svc.VerifyURL(ctx, alice, *link.URL)
	require.NoError(t, err)
	assert.False(t, got.Valid, "expired link")

	require.NoError(t, e.svc.Delete(ctx, alice, g.ID, nil))
	got, err = e.svc.VerifyURL(ctx, alice, pub)
	require.NoError(t, err)
	assert.False(t, got.Valid, "deleted public file")

	for name, bad := range map[string]string{
		"not a URL": "::nope", "relative": "/v1/blob/x", "empty": "", "too long": "http://files.test/" + strings.Repeat("a", 9000),
	} {
		_, err := e.svc.VerifyURL(ctx, alice, bad)
		require.Error(t, err, name)
		assert.Equal(t, attach.CodeInvalidRequest, attach.CodeOf(err), name)
	}
	_, err = e.svc.VerifyURL(ctx, attach.Scope{}, dl.URL)
	requireCode(t, err, attach.CodeUnauthorized)
}

// FuzzVerifyURL: no input panics or is valid unless it is a URL the
// service issued (the seeds' valid link and download URL, unchanged).
func FuzzVerifyURL(f *testing.F) {
	ctx := context.Background()
	e := newEnvTB(f)
	data := pngBytes(f, 4, 4)
	file, err := e.svc.Put(ctx, alice, attach.PutRequest{FileName: "a.png", MIMEType: "image/png", Size: int64(len(data))},
		bytes.NewReader(data))
	require.NoError(f, err)
	dl, err := e.svc.DownloadURL(ctx, alice, file.ID, nil)
	require.NoError(f, err)
	link, err := e.svc.CreateLink(ctx, alice, file.ID, nil)
	require.NoError(f, err)
	valid := map[string]bool{dl.URL: true, *link.URL: true}
	for u := range valid {
		f.Add(u)
	}
	f.Add("http://files.test/v1/public/links//")
	f.Add("http://files.test/v1/blob/ws-a/%2e%2e/x?m=GET")
	f.Add("http://files.test/v1/public/files/file_x/y")
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := e.svc.VerifyURL(ctx, alice, raw)
		if err != nil {
			require.Equal(t, attach.CodeInvalidRequest, attach.CodeOf(err), "%v", err)
			return
		}
		if got.Valid && !valid[raw] {
			// Equivalent spellings of an issued URL are fine; anything else
			// must carry the same secret.
			require.True(t, strings.Contains(raw, linkToken(t, *link.URL)) || strings.Contains(raw, "sig="), raw)
		}
	})
}

// newEnvTB is newEnv for fuzz targets: a Service on a real SQLite file
// and a real directory.
func newEnvTB(tb testing.TB) *env {
	tb.Helper()
	dir := tb.TempDir()
	st, err := blob.OpenDir(filepath.Join(dir, "files"), nil)
	require.NoError(tb, err)
	tb.Cleanup(func() { st.Close() })
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "attach.db"), nil)
	require.NoError(tb, err)
	tb.Cleanup(func() { store.Close() })
	e := &env{storage: &countingStorage{Storage: st}, store: store, clock: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	e.svc, err = attach.New(e.storage, store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}},
		BaseURL:     baseURL,
		Now:         e.clock.Now,
	})
	require.NoError(tb, err)
	return e
}

// TestVerifyURLOtherWorkspaceExpired: another workspace's expired signed
// URL is a bare invalid answer, its expiry not revealed.
func TestVerifyURLOtherWorkspaceExpired(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	f := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 4, 4))
	dl, err := e.svc.DownloadURL(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	e.clock.Advance(3 * time.Hour)
	got, err := e.svc.VerifyURL(ctx, wsB, dl.URL)
	require.NoError(t, err)
	assert.Equal(t, &attach.URLCheck{}, got)
	got, err = e.svc.VerifyURL(ctx, alice, dl.URL)
	require.NoError(t, err)
	assert.False(t, got.Valid)
	assert.NotNil(t, got.ExpiresAt, "the owner's workspace learns the expiry")
}

// TestVerifyURLShapes: only URLs of the shape the routes serve are valid,
// and signed thumbnail URLs of the file's version are.
func TestVerifyURLShapes(t *testing.T) {
	ctx := context.Background()
	e, _ := thumbEnv(t, nil)
	f := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 40, 40))
	link, err := e.svc.CreateLink(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	public := attach.AccessPublicRead
	_, err = e.svc.Update(ctx, alice, f.ID, attach.UpdateRequest{AccessControl: &public})
	require.NoError(t, err)
	pub, err := e.svc.PublicURL(ctx, alice, f.ID)
	require.NoError(t, err)
	thumb, err := e.svc.Thumbnail(ctx, alice, f.ID, &attach.ThumbnailOptions{Width: 64})
	require.NoError(t, err)
	require.NotNil(t, thumb)

	noName := func(u string) string { return u[:strings.LastIndex(u, "/")] }
	tests := []struct {
		name  string
		url   string
		valid bool
	}{
		{name: "link", url: *link.URL, valid: true},
		{name: "link without its name", url: noName(*link.URL)},
		{name: "link with an empty name", url: noName(*link.URL) + "/"},
		{name: "link with another segment", url: *link.URL + "/x"},
		{name: "public file", url: pub, valid: true},
		{name: "public file without its name", url: noName(pub)},
		{name: "public file with an empty name", url: noName(pub) + "/"},
		{name: "public file with another segment", url: pub + "/x"},
		{name: "signed thumbnail", url: thumb.URL, valid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.svc.VerifyURL(ctx, alice, tt.url)
			require.NoError(t, err)
			assert.Equal(t, tt.valid, got.Valid, tt.url)
		})
	}
	got, err := e.svc.VerifyURL(ctx, wsB, thumb.URL)
	require.NoError(t, err)
	assert.False(t, got.Valid, "another workspace")
}
