package attach_test

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

// linkToken returns the secret segment of a link URL.
func linkToken(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	rest, ok := strings.CutPrefix(u.Path, "/v1/public/links/")
	require.True(t, ok, raw)
	token, _, _ := strings.Cut(rest, "/")
	return token
}

func readAll(t *testing.T, c *attach.Content) []byte {
	t.Helper()
	defer c.Close()
	b, err := io.ReadAll(c)
	require.NoError(t, err)
	return b
}

func requireCode(t *testing.T, err error, code attach.Code) {
	t.Helper()
	require.Error(t, err)
	assert.Equal(t, code, attach.CodeOf(err), "err: %v", err)
}

func TestLinkLifecycle(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	data := pngBytes(t, 8, 8)
	f := e.upload(t, alice, "photo 1.png", "image/png", data)

	l, err := e.svc.CreateLink(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	require.NotNil(t, l.URL)
	assert.True(t, strings.HasPrefix(*l.URL, "http://files.test/v1/public/links/"), *l.URL)
	assert.True(t, strings.HasSuffix(*l.URL, "/photo%201.png"), *l.URL)
	token := linkToken(t, *l.URL)
	assert.Len(t, token, 32, "192 random bits, base64url")
	assert.Nil(t, l.ExpiresAt)
	assert.Nil(t, l.LastAccessedAt)

	// The database holds neither the token nor the URL in the clear.
	recs, err := e.store.Links(ctx, "ws-a", f.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.NotContains(t, recs[0].TokenHash, token)
	assert.NotContains(t, recs[0].Sealed, token)
	assert.NotEmpty(t, recs[0].Sealed)

	c, err := e.svc.OpenLink(ctx, token, nil)
	require.NoError(t, err)
	assert.Equal(t, data, readAll(t, c))
	assert.True(t, c.Private)
	assert.Contains(t, c.ContentDisposition, "attachment")

	list, err := e.svc.Links(ctx, alice, f.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, *l.URL, *list[0].URL, "the listing recovers the URL")
	require.NotNil(t, list[0].LastAccessedAt)
	first := *list[0].LastAccessedAt
	assert.Equal(t, e.clock.Now(), first)

	// Within a minute an access is not written again; after it, it is.
	e.clock.Advance(30 * time.Second)
	c, err = e.svc.OpenLink(ctx, token, nil)
	require.NoError(t, err)
	c.Close()
	list, err = e.svc.Links(ctx, alice, f.ID)
	require.NoError(t, err)
	assert.Equal(t, first, *list[0].LastAccessedAt)
	e.clock.Advance(2 * time.Minute)
	c, err = e.svc.OpenLink(ctx, token, &attach.DownloadOptions{Inline: true})
	require.NoError(t, err)
	assert.Contains(t, c.ContentDisposition, "inline")
	c.Close()
	list, err = e.svc.Links(ctx, alice, f.ID)
	require.NoError(t, err)
	assert.Equal(t, e.clock.Now(), *list[0].LastAccessedAt)

	// Revocation works at once.
	require.NoError(t, e.svc.RevokeLink(ctx, alice, l.ID))
	_, err = e.svc.OpenLink(ctx, token, nil)
	requireCode(t, err, attach.CodeNotFound)
	requireCode(t, e.svc.RevokeLink(ctx, alice, l.ID), attach.CodeNotFound)
	list, err = e.svc.Links(ctx, alice, f.ID)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestLinkFollowsTheFile(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	f := e.upload(t, alice, "a.pdf", "application/pdf", pdfBytes(300))
	l, err := e.svc.CreateLink(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	token := linkToken(t, *l.URL)

	// A deleted file stops its links.
	require.NoError(t, e.svc.Delete(ctx, alice, f.ID, nil))
	_, err = e.svc.OpenLink(ctx, token, nil)
	requireCode(t, err, attach.CodeNotFound)

	// A file without content cannot be linked.
	up, err := e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "b.pdf", MIMEType: "application/pdf", Size: 300})
	require.NoError(t, err)
	_, err = e.svc.CreateLink(ctx, alice, up.ID, nil)
	requireCode(t, err, attach.CodeConflict)
}

func TestLinkRefusals(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	f := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 4, 4))
	viewer := attach.Scope{Workspace: "ws-a", User: "carol"}
	view := attach.ACL{View: []string{"user:carol"}}
	_, err := e.svc.Update(ctx, alice, f.ID, attach.UpdateRequest{ACL: &view})
	require.NoError(t, err)
	l, err := e.svc.CreateLink(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	now := e.clock.Now()

	tests := []struct {
		name  string
		scope attach.Scope
		id    string
		opts  *attach.LinkOptions
		code  attach.Code
	}{
		{name: "no right", scope: bob, id: f.ID, code: attach.CodeForbidden},
		{name: "view right only", scope: viewer, id: f.ID, code: attach.CodeForbidden},
		{name: "another workspace", scope: wsB, id: f.ID, code: attach.CodeNotFound},
		{name: "bad id", scope: alice, id: "file_nope", code: attach.CodeInvalidRequest},
		{name: "expiry in the past", scope: alice, id: f.ID, opts: &attach.LinkOptions{ExpiresAt: now.Add(-time.Second)}, code: attach.CodeInvalidRequest},
		{name: "expiry too far", scope: alice, id: f.ID, opts: &attach.LinkOptions{ExpiresAt: now.Add(attach.MaxLinkLifetime + time.Hour)}, code: attach.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run("create/"+tt.name, func(t *testing.T) {
			_, err := e.svc.CreateLink(ctx, tt.scope, tt.id, tt.opts)
			requireCode(t, err, tt.code)
		})
		if tt.opts != nil {
			continue
		}
		t.Run("list/"+tt.name, func(t *testing.T) {
			_, err := e.svc.Links(ctx, tt.scope, tt.id)
			requireCode(t, err, tt.code)
		})
	}
	for _, tt := range []struct {
		name  string
		scope attach.Scope
		id    string
		code  attach.Code
	}{
		{name: "no right", scope: bob, id: l.ID, code: attach.CodeForbidden},
		{name: "view right only", scope: viewer, id: l.ID, code: attach.CodeForbidden},
		{name: "another workspace", scope: wsB, id: l.ID, code: attach.CodeNotFound},
		{name: "bad id", scope: alice, id: "lnk_x", code: attach.CodeInvalidRequest},
		{name: "unknown id", scope: alice, id: "lnk_01234567-89ab-7def-8123-456789abcdef", code: attach.CodeNotFound},
	} {
		t.Run("revoke/"+tt.name, func(t *testing.T) {
			requireCode(t, e.svc.RevokeLink(ctx, tt.scope, tt.id), tt.code)
		})
	}
	_, err = e.svc.OpenLink(ctx, linkToken(t, *l.URL), nil)
	require.NoError(t, err, "the refused calls changed nothing")
}

// TestLinkMissesAlike: unknown, malformed, expired, revoked links and
// links to deleted files all fail with the same error.
func TestLinkMissesAlike(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	f := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 4, 4))
	g := e.upload(t, alice, "b.png", "image/png", pngBytes(t, 5, 5))
	mk := func(id string, opts *attach.LinkOptions) string {
		l, err := e.svc.CreateLink(ctx, alice, id, opts)
		require.NoError(t, err)
		return linkToken(t, *l.URL)
	}
	expiring := mk(f.ID, &attach.LinkOptions{ExpiresAt: e.clock.Now().Add(time.Hour)})
	revokedL, err := e.svc.CreateLink(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	require.NoError(t, e.svc.RevokeLink(ctx, alice, revokedL.ID))
	ofDeleted := mk(g.ID, nil)
	require.NoError(t, e.svc.Delete(ctx, alice, g.ID, nil))
	valid := mk(f.ID, nil)
	e.clock.Advance(time.Hour)

	misses := map[string]string{
		"unknown":   strings.Repeat("A", 32),
		"malformed": "../../etc/passwd",
		"too long":  strings.Repeat("a", 10000),
		"empty":     "",
		"expired":   expiring,
		"revoked":   linkToken(t, *revokedL.URL),
		"deleted":   ofDeleted,
	}
	var first error
	for name, token := range misses {
		_, err := e.svc.OpenLink(ctx, token, nil)
		requireCode(t, err, attach.CodeNotFound)
		var ae *attach.Error
		require.True(t, errors.As(err, &ae))
		if first == nil {
			first = err
		}
		assert.Equal(t, first.Error(), err.Error(), name)
	}
	c, err := e.svc.OpenLink(ctx, valid, nil)
	require.NoError(t, err)
	c.Close()
}

func TestPublicRead(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	data := pngBytes(t, 6, 6)
	f := e.upload(t, alice, "logo.png", "image/png", data)

	_, err := e.svc.OpenPublic(ctx, f.ID, nil)
	requireCode(t, err, attach.CodeNotFound)
	_, err = e.svc.PublicURL(ctx, alice, f.ID)
	requireCode(t, err, attach.CodeConflict)

	public := attach.AccessPublicRead
	_, err = e.svc.Update(ctx, alice, f.ID, attach.UpdateRequest{AccessControl: &public})
	require.NoError(t, err)
	u, err := e.svc.PublicURL(ctx, alice, f.ID)
	require.NoError(t, err)
	assert.Equal(t, "http://files.test/v1/public/files/"+f.ID+"/logo.png", u)
	c, err := e.svc.OpenPublic(ctx, f.ID, nil)
	require.NoError(t, err)
	assert.False(t, c.Private)
	assert.Equal(t, data, readAll(t, c))

	for _, id := range []string{"", "file_x", "../x", "file_01234567-89ab-7def-8123-456789abcdef"} {
		_, err = e.svc.OpenPublic(ctx, id, nil)
		requireCode(t, err, attach.CodeNotFound)
	}
	private := attach.AccessPrivate
	_, err = e.svc.Update(ctx, alice, f.ID, attach.UpdateRequest{AccessControl: &private})
	require.NoError(t, err)
	_, err = e.svc.OpenPublic(ctx, f.ID, nil)
	requireCode(t, err, attach.CodeNotFound) // private again: the URL stops at once
}

func TestPublicBaseURL(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(o *attach.Options) { o.PublicBaseURL = "https://share.example.com/api/" })
	f := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 4, 4))
	l, err := e.svc.CreateLink(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(*l.URL, "https://share.example.com/api/public/links/"), *l.URL)

	_, err = attach.New(e.storage, e.store, &attach.Options{SigningKeys: []attach.SigningKey{{ID: "k", Secret: make([]byte, 32)}},
		BaseURL: baseURL, PublicBaseURL: "ftp://x"})
	require.Error(t, err)

	// Without a derivable base, links cannot be made.
	noBase := newEnv(t, func(o *attach.Options) { o.BaseURL = "http://files.test/raw" })
	g := noBase.uploadRaw(t)
	_, err = noBase.svc.CreateLink(ctx, alice, g.ID, nil)
	requireCode(t, err, attach.CodeInternal)
}

// uploadRaw uploads a PNG through Put (the blob URL prefix is not /v1/blob).
func (e *env) uploadRaw(t *testing.T) *attach.File {
	t.Helper()
	data := pngBytes(t, 4, 4)
	f, err := e.svc.Put(context.Background(), alice, attach.PutRequest{FileName: "a.png", MIMEType: "image/png", Size: int64(len(data))},
		strings.NewReader(string(data)))
	require.NoError(t, err)
	return f
}

// TestLinkCapCountsLiveLinks: MaxLinksPerFile bounds a file's live links:
// expired ones do not count, and concurrent creates do not overshoot.
func TestLinkCapCountsLiveLinks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	f := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 4, 4))
	soon := &attach.LinkOptions{ExpiresAt: e.clock.Now().Add(time.Hour)}
	for range attach.MaxLinksPerFile - 1 {
		_, err := e.svc.CreateLink(ctx, alice, f.ID, soon)
		require.NoError(t, err)
	}
	// Concurrent creates for the last place: exactly one gets it.
	var wg sync.WaitGroup
	var won atomic.Int32
	for range 8 {
		wg.Go(func() {
			_, err := e.svc.CreateLink(ctx, alice, f.ID, nil)
			if err == nil {
				won.Add(1)
				return
			}
			assert.Equal(t, attach.CodeInvalidRequest, attach.CodeOf(err), "%v", err)
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, won.Load())
	_, err := e.svc.CreateLink(ctx, alice, f.ID, nil)
	requireCode(t, err, attach.CodeInvalidRequest)

	e.clock.Advance(2 * time.Hour) // the expiring ones no longer count
	_, err = e.svc.CreateLink(ctx, alice, f.ID, nil)
	require.NoError(t, err)
}
