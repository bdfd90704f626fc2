package httpadapter

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta/sqlite"
)

// newShareEnv is newEnv with the service and handler options changed by
// svcOpts and apiOpts (either may be nil).
func newShareEnv(t *testing.T, svcOpts func(*env, *attach.Options), apiOpts func(*Options)) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), clock: &testClock{}}
	var err error
	e.storage, err = blob.OpenDir(e.dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, e.storage.Close()) })
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "attach.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	e.store = st
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.opts = attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef-test")}},
		BaseURL:     e.srv.URL + "/v1/blob",
		Now:         e.clock.Now,
	}
	if svcOpts != nil {
		svcOpts(e, &e.opts)
	}
	e.svc = e.service(t, 0)
	o := &Options{Prefix: "/v1", Authenticate: BearerKeys(map[string]string{keyA: wsA, keyB: "ws-b"})}
	if apiOpts != nil {
		apiOpts(o)
	}
	e.api, err = New(e.svc, o)
	require.NoError(t, err)
	mux.Handle("/v1/", e.api)
	return e
}

// trustLoopback makes the test server's loopback address a trusted proxy,
// so that tests choose client addresses with X-Forwarded-For.
func trustLoopback(rates map[RateClass]Rate) func(*Options) {
	return func(o *Options) {
		o.RateLimit = &RateLimitOptions{Rates: rates, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	}
}

func from(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }

type linkJSON struct {
	ID             string     `json:"id"`
	URL            *string    `json:"url"`
	ExpiresAt      *time.Time `json:"expiresAt"`
	CreatedAt      time.Time  `json:"createdAt"`
	LastAccessedAt *time.Time `json:"lastAccessedAt"`
}

func (c caller) createLink(t *testing.T, fileID string, body any) linkJSON {
	t.Helper()
	r := c.do(t, http.MethodPost, "/files/"+fileID+"/links", body)
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var l linkJSON
	r.decode(t, &l)
	require.NotNil(t, l.URL)
	return l
}

func TestShareLinkRoutes(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	data := pdfFile(4000)
	f := c.upload(t, "report 1.pdf", "application/pdf", data)

	l := c.createLink(t, f.ID, nil)
	assert.True(t, strings.HasPrefix(*l.URL, e.srv.URL+"/v1/public/links/"), *l.URL)
	assert.True(t, strings.HasSuffix(*l.URL, "/report%201.pdf"), *l.URL)
	assert.Nil(t, l.ExpiresAt)
	assert.True(t, strings.HasPrefix(l.ID, "lnk_"))
	exp := e.clock.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	l2 := c.createLink(t, f.ID, map[string]any{"expiresAt": exp.Format(time.RFC3339)})
	require.NotNil(t, l2.ExpiresAt)
	assert.True(t, exp.Equal(*l2.ExpiresAt))

	// Anonymous download, with the serving headers and ranges.
	r := e.fetch(t, http.MethodGet, *l.URL, nil, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	assert.Equal(t, data, r.Body)
	h := r.Header
	assert.Equal(t, "application/pdf", h.Get("Content-Type"))
	assert.Contains(t, h.Get("Content-Disposition"), "attachment")
	assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	assert.Equal(t, "default-src 'none'; sandbox", h.Get("Content-Security-Policy"))
	assert.Equal(t, "bytes", h.Get("Accept-Ranges"))
	assert.NotEmpty(t, h.Get("ETag"))
	assert.Contains(t, h.Get("Cache-Control"), "private")
	assert.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
	assert.Empty(t, h.Values("Set-Cookie"))
	r = e.fetch(t, http.MethodGet, *l.URL, map[string]string{"Range": "bytes=10-19"}, nil)
	require.Equal(t, http.StatusPartialContent, r.Status)
	assert.Equal(t, data[10:20], r.Body)
	assert.Equal(t, "bytes 10-19/4000", r.Header.Get("Content-Range"))
	r = e.fetch(t, http.MethodGet, *l.URL, map[string]string{"Range": "bytes=5000-"}, nil)
	r.requireError(t, http.StatusRequestedRangeNotSatisfiable, attach.CodeRangeNotSatisfiable)
	r = e.fetch(t, http.MethodGet, *l.URL+"?disposition=inline", nil, nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Contains(t, r.Header.Get("Content-Disposition"), "inline")

	// The listing shows both links, with their URLs and the access time.
	r = c.do(t, http.MethodGet, "/files/"+f.ID+"/links", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var list []linkJSON
	r.decode(t, &list)
	require.Len(t, list, 2)
	assert.Equal(t, l.ID, list[0].ID)
	assert.Equal(t, *l.URL, *list[0].URL)
	require.NotNil(t, list[0].LastAccessedAt)
	assert.Nil(t, list[1].LastAccessedAt)
	var raw []map[string]any
	r.decode(t, &raw)
	for _, k := range []string{"id", "url", "expiresAt", "createdAt", "lastAccessedAt"} {
		assert.Contains(t, raw[0], k)
	}

	// Revocation is immediate.
	r = c.do(t, http.MethodDelete, "/links/"+l.ID, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
	e.fetch(t, http.MethodGet, *l.URL, nil, nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
	r = e.fetch(t, http.MethodGet, *l2.URL, nil, nil)
	assert.Equal(t, http.StatusOK, r.Status, "the other link still works")
}

func TestShareRouteRefusals(t *testing.T) {
	e := newEnv(t, nil)
	owner := e.as(keyA, "u1")
	f := owner.upload(t, "a.png", "image/png", pngFile(t, 4, 4))
	l := owner.createLink(t, f.ID, nil)
	// u3 may view but not edit.
	r := owner.do(t, http.MethodPatch, "/files/"+f.ID, map[string]any{"acl": map[string]any{"view": []string{"user:u3"}}})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)

	routes := []struct {
		method, path string
		body         any
	}{
		{http.MethodPost, "/files/" + f.ID + "/links", map[string]any{}},
		{http.MethodGet, "/files/" + f.ID + "/links", nil},
		{http.MethodDelete, "/links/" + l.ID, nil},
	}
	for _, rt := range routes {
		name := rt.method + " " + rt.path[:strings.LastIndex(rt.path, "_")]
		t.Run(name+"/other workspace", func(t *testing.T) {
			e.as(keyB, "u1").do(t, rt.method, rt.path, rt.body).requireError(t, http.StatusNotFound, attach.CodeNotFound)
		})
		t.Run(name+"/no right", func(t *testing.T) {
			e.as(keyA, "u2").do(t, rt.method, rt.path, rt.body).requireError(t, http.StatusForbidden, attach.CodeForbidden)
		})
		t.Run(name+"/view right only", func(t *testing.T) {
			e.as(keyA, "u3").do(t, rt.method, rt.path, rt.body).requireError(t, http.StatusForbidden, attach.CodeForbidden)
		})
		t.Run(name+"/no credentials", func(t *testing.T) {
			e.as("", "").do(t, rt.method, rt.path, rt.body).requireError(t, http.StatusUnauthorized, attach.CodeUnauthorized)
		})
	}

	bad := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   attach.Code
	}{
		{"bad file id", http.MethodPost, "/files/nope/links", nil, 400, attach.CodeInvalidRequest},
		{"bad link id", http.MethodDelete, "/links/nope", nil, 400, attach.CodeInvalidRequest},
		{"unknown link", http.MethodDelete, "/links/lnk_01234567-89ab-7def-8123-456789abcdef", nil, 404, attach.CodeNotFound},
		{"expiry not a time", http.MethodPost, "/files/" + f.ID + "/links", `{"expiresAt": "tomorrow"}`, 400, attach.CodeInvalidRequest},
		{"expiry past", http.MethodPost, "/files/" + f.ID + "/links", map[string]any{"expiresAt": "2000-01-01T00:00:00Z"}, 400, attach.CodeInvalidRequest},
		{"expiry too far", http.MethodPost, "/files/" + f.ID + "/links", map[string]any{"expiresAt": "2999-01-01T00:00:00Z"}, 400, attach.CodeInvalidRequest},
		{"not JSON", http.MethodPost, "/files/" + f.ID + "/links", `{`, 400, attach.CodeInvalidRequest},
		{"huge body", http.MethodPost, "/files/" + f.ID + "/links", `{"x": "` + strings.Repeat("a", 1<<20) + `"}`, 413, attach.CodePayloadTooLarge},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			owner.do(t, tt.method, tt.path, tt.body).requireError(t, tt.status, tt.code)
		})
	}
	r = owner.do(t, http.MethodGet, "/files/"+f.ID+"/links", nil)
	require.Equal(t, http.StatusOK, r.Status)
	var list []linkJSON
	r.decode(t, &list)
	assert.Len(t, list, 1, "nothing refused was created")
	assert.Equal(t, http.StatusOK, e.fetch(t, http.MethodGet, *l.URL, nil, nil).Status, "nothing refused was revoked")
}

// TestLinkMissesIndistinguishable: unknown, malformed, expired and revoked
// links and links to deleted files get the same status, headers and body.
func TestLinkMissesIndistinguishable(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	f := c.upload(t, "a.png", "image/png", pngFile(t, 4, 4))
	g := c.upload(t, "b.png", "image/png", pngFile(t, 5, 5))
	expiring := c.createLink(t, f.ID, map[string]any{"expiresAt": e.clock.Now().Add(time.Hour).Format(time.RFC3339)})
	revoked := c.createLink(t, f.ID, nil)
	require.Equal(t, http.StatusNoContent, c.do(t, http.MethodDelete, "/links/"+revoked.ID, nil).Status)
	ofDeleted := c.createLink(t, g.ID, nil)
	require.Equal(t, http.StatusNoContent, c.do(t, http.MethodDelete, "/files/"+g.ID, nil).Status)
	e.clock.Advance(2 * time.Hour)

	base := e.srv.URL + "/v1/public/links/"
	misses := map[string]string{
		"unknown":   base + strings.Repeat("A", 32) + "/a.png",
		"malformed": base + "%00%ff/a.png",
		"long":      base + strings.Repeat("a", 4000) + "/a.png",
		"expired":   *expiring.URL,
		"revoked":   *revoked.URL,
		"deleted":   *ofDeleted.URL,
		"private":   e.srv.URL + "/v1/public/files/" + f.ID + "/a.png",
	}
	var first *response
	for name, u := range misses {
		r := e.fetch(t, http.MethodGet, u, nil, nil)
		r.requireError(t, http.StatusNotFound, attach.CodeNotFound)
		r.Header.Del("Date")
		if first == nil {
			first = r
			continue
		}
		assert.Equal(t, first.Body, r.Body, name)
		assert.Equal(t, first.Header, r.Header, name)
	}
}

// TestLinkGuessingRateLimited: a client guessing link ids is refused after
// its budget of misses, while valid links keep working for other
// clients, and hits never count.
func TestLinkGuessingRateLimited(t *testing.T) {
	e := newShareEnv(t, nil, trustLoopback(map[RateClass]Rate{RateLinkMiss: {Limit: rate.Every(time.Hour), Burst: 5}}))
	c := e.as(keyA, "u1")
	f := c.upload(t, "a.png", "image/png", pngFile(t, 4, 4))
	l := c.createLink(t, f.ID, nil)
	guess := e.srv.URL + "/v1/public/links/" + strings.Repeat("B", 32) + "/a.png"
	const guesser, other = "203.0.113.9", "198.51.100.7"

	for range 20 { // hits do not count
		require.Equal(t, http.StatusOK, e.fetch(t, http.MethodGet, *l.URL, from(guesser), nil).Status)
	}
	for i := range 5 {
		e.fetch(t, http.MethodGet, guess, from(guesser), nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
		require.Equal(t, http.StatusOK, e.fetch(t, http.MethodGet, *l.URL, from(other), nil).Status, "guess %d", i)
	}
	for range 3 {
		r := e.fetch(t, http.MethodGet, guess, from(guesser), nil)
		d := r.requireError(t, http.StatusTooManyRequests, attach.CodeRateLimited)
		assert.NotEmpty(t, d["retryAfter"])
		ra := r.Header.Get("Retry-After")
		assert.NotEmpty(t, ra)
		assert.NotEqual(t, "0", ra)
	}
	// The guesser is refused before any lookup, its valid link included;
	// everyone else is served.
	e.fetch(t, http.MethodGet, *l.URL, from(guesser), nil).requireError(t, http.StatusTooManyRequests, attach.CodeRateLimited)
	// A forged left-most hop does not make the guesser someone else: the
	// client is the right-most address the trusted proxy saw.
	e.fetch(t, http.MethodGet, guess, from("192.0.2.77, "+guesser), nil).requireError(t, http.StatusTooManyRequests, attach.CodeRateLimited)
	assert.Equal(t, http.StatusOK, e.fetch(t, http.MethodGet, *l.URL, from(other), nil).Status)
	e.fetch(t, http.MethodGet, guess, from(other), nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
	// Without a trusted proxy the header would be ignored: spoofing it from
	// an untrusted address changes nothing (see TestClientAddr).
}

func TestPresignAndImportRateLimited(t *testing.T) {
	e := newShareEnv(t, nil, func(o *Options) {
		o.RateLimit = &RateLimitOptions{Rates: map[RateClass]Rate{
			RatePresign: {Limit: rate.Every(time.Hour), Burst: 3},
			RateImport:  {Limit: rate.Every(time.Hour), Burst: 1},
		}}
	})
	u1 := e.as(keyA, "u1")
	req := map[string]any{"fileName": "a.png", "mimeType": "image/png", "fileSize": 10}
	for range 3 {
		require.Equal(t, http.StatusCreated, u1.do(t, http.MethodPost, "/files/upload-url", req).Status)
	}
	r := u1.do(t, http.MethodPost, "/files/upload-url", req)
	r.requireError(t, http.StatusTooManyRequests, attach.CodeRateLimited)
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	f := e.as(keyA, "u2").upload(t, "b.png", "image/png", pngFile(t, 4, 4))
	assert.Equal(t, http.StatusCreated, e.as(keyB, "u1").do(t, http.MethodPost, "/files/upload-url", req).Status,
		"another workspace's u1 has its own budget")
	// Version tickets share the presign budget (u2 spent one on upload).
	for range 3 {
		r = e.as(keyA, "u2").do(t, http.MethodPost, "/files/"+f.ID+"/versions/upload-url", map[string]any{"mimeType": "image/png", "fileSize": 10})
	}
	r.requireError(t, http.StatusTooManyRequests, attach.CodeRateLimited)

	// Import: the second call of the same user is refused before any work.
	imp := map[string]any{"url": "http://127.0.0.1/x.png"}
	u1.do(t, http.MethodPost, "/files/import", imp).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
	u1.do(t, http.MethodPost, "/files/import", imp).requireError(t, http.StatusTooManyRequests, attach.CodeRateLimited)
	// Other routes are not limited.
	for range 10 {
		require.Equal(t, http.StatusOK, u1.do(t, http.MethodGet, "/files", nil).Status)
	}
}

func TestRateLimitDisabled(t *testing.T) {
	e := newShareEnv(t, nil, func(o *Options) { o.RateLimit = &RateLimitOptions{Disabled: true} })
	guess := e.srv.URL + "/v1/public/links/" + strings.Repeat("C", 32) + "/a.png"
	for range 40 {
		e.fetch(t, http.MethodGet, guess, nil, nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
	}
	_, err := New(e.svc, &Options{Authenticate: BearerKeys(nil), RateLimit: &RateLimitOptions{Rates: map[RateClass]Rate{"nope": {Limit: 1, Burst: 1}}}})
	require.Error(t, err)
	_, err = New(e.svc, &Options{Authenticate: BearerKeys(nil), RateLimit: &RateLimitOptions{Rates: map[RateClass]Rate{RatePresign: {Limit: 1}}}})
	require.Error(t, err, "a burst of 0 would refuse everything")
}

func TestPublicReadRoute(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	data := pngFile(t, 9, 9)
	f := c.upload(t, "logo.png", "image/png", data)
	u := e.srv.URL + "/v1/public/files/" + f.ID + "/logo.png"
	e.fetch(t, http.MethodGet, u, nil, nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)

	r := c.do(t, http.MethodPatch, "/files/"+f.ID, map[string]any{"accessControl": "public-read"})
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	got, err := e.svc.PublicURL(t.Context(), attach.Scope{Workspace: wsA, User: "u1"}, f.ID)
	require.NoError(t, err)
	assert.Equal(t, u, got)
	r = e.fetch(t, http.MethodGet, u, nil, nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, data, r.Body)
	assert.Equal(t, "public, no-cache", r.Header.Get("Cache-Control"))
	assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
	r = e.fetch(t, http.MethodGet, u, map[string]string{"Range": "bytes=0-3"}, nil)
	require.Equal(t, http.StatusPartialContent, r.Status)
	assert.Equal(t, data[:4], r.Body)

	r = c.do(t, http.MethodPatch, "/files/"+f.ID, map[string]any{"accessControl": "private"})
	require.Equal(t, http.StatusOK, r.Status)
	e.fetch(t, http.MethodGet, u, nil, nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
}

func TestPublicUploadRoutesDisabled(t *testing.T) {
	e := newEnv(t, nil)
	unknown := e.fetch(t, http.MethodPost, e.srv.URL+"/v1/no/such/route", nil, nil)
	for _, path := range []string{"/v1/public/upload-url", "/v1/public/uploads/upl_01234567-89ab-7def-8123-456789abcdef/confirm"} {
		r := e.fetch(t, http.MethodPost, e.srv.URL+path, map[string]string{"Content-Type": "application/json"},
			strings.NewReader(`{"fileName": "a.png", "mimeType": "image/png", "fileSize": 10}`))
		r.requireError(t, http.StatusNotFound, attach.CodeNotFound)
		assert.Equal(t, unknown.Body, r.Body, "like an unknown route")
	}
}

func TestPublicUploadRoutes(t *testing.T) {
	var inbox string
	e := newShareEnv(t, func(e *env, o *attach.Options) {
		// The target collection exists before the Service that uploads to it.
		c, err := e.service(t, 0).CreateCollection(t.Context(), attach.Scope{Workspace: wsA}, attach.CollectionRequest{Name: "Inbox"})
		require.NoError(t, err)
		inbox = c.ID
		o.PublicUpload = &attach.PublicUploadOptions{Workspace: wsA, CollectionID: inbox}
	}, trustLoopback(map[RateClass]Rate{RatePublicUpload: {Limit: rate.Every(time.Hour), Burst: 4}}))
	anon := func(ip, path string, body any) *response {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		return e.fetch(t, http.MethodPost, e.srv.URL+"/v1"+path, map[string]string{"Content-Type": "application/json", "X-Forwarded-For": ip}, bytes.NewReader(b))
	}
	data := pngFile(t, 7, 7)
	r := anon("192.0.2.1", "/public/upload-url", map[string]any{"fileName": "scan.png", "mimeType": "image/png", "fileSize": len(data)})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var tk ticket
	r.decode(t, &tk)
	assert.NotContains(t, tk.FileLimits.AllowedTypes, "image/svg+xml", "the stricter policy")
	require.Equal(t, http.StatusOK, e.put(t, tk, data).Status)

	r = anon("192.0.2.1", "/public/uploads/"+tk.UploadID+"/confirm", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	assert.Equal(t, map[string]any{"id": tk.ID, "status": "ready"}, r.JSON(t), "only id and status")

	// Nothing anonymous reads it back; the workspace does.
	e.fetch(t, http.MethodGet, e.srv.URL+"/v1/files/"+tk.ID, nil, nil).requireError(t, http.StatusUnauthorized, attach.CodeUnauthorized)
	e.fetch(t, http.MethodGet, e.srv.URL+"/v1/files/"+tk.ID+"/download", nil, nil).requireError(t, http.StatusUnauthorized, attach.CodeUnauthorized)
	e.fetch(t, http.MethodGet, e.srv.URL+"/v1/public/files/"+tk.ID+"/scan.png", nil, nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
	r = e.as(keyA, "").do(t, http.MethodGet, "/files/"+tk.ID, nil)
	require.Equal(t, http.StatusOK, r.Status)
	got := r.JSON(t)
	assert.Equal(t, "public-upload", got["owner"])
	assert.Equal(t, inbox, got["collectionId"])
	e.as(keyB, "").do(t, http.MethodGet, "/files/"+tk.ID, nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)

	bad := []struct {
		name   string
		body   any
		status int
		code   attach.Code
	}{
		{"svg", map[string]any{"fileName": "a.svg", "mimeType": "image/svg+xml", "fileSize": 10}, 400, attach.CodeInvalidFileType},
		{"too large", map[string]any{"fileName": "a.png", "mimeType": "image/png", "fileSize": 10*attach.MB + 1}, 400, attach.CodeFileTooLarge},
		{"no size", map[string]any{"fileName": "a.png", "mimeType": "image/png"}, 400, attach.CodeInvalidRequest},
		{"no name", map[string]any{"mimeType": "image/png", "fileSize": 10}, 400, attach.CodeInvalidRequest},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			anon("192.0.2.50", "/public/upload-url", tt.body).requireError(t, tt.status, tt.code)
		})
	}
	// The client's budget of 4 is spent; refusals counted too.
	r = anon("192.0.2.50", "/public/upload-url", bad[0].body)
	r.requireError(t, http.StatusTooManyRequests, attach.CodeRateLimited)
	assert.NotEmpty(t, r.Header.Get("Retry-After"))

	// Confirming what is not a public ticket is a miss.
	own := e.as(keyA, "u1").requestUpload(t, "x.png", "image/png", len(data))
	anon("192.0.2.1", "/public/uploads/"+own.UploadID+"/confirm", nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
	anon("192.0.2.1", "/public/uploads/nope/confirm", nil).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
}

func TestVerifyRoute(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	f := c.upload(t, "a.png", "image/png", pngFile(t, 4, 4))
	dl := c.downloadURL(t, f.ID, "")
	l := c.createLink(t, f.ID, nil)

	verify := func(c caller, u string) map[string]any {
		t.Helper()
		r := c.do(t, http.MethodPost, "/urls/verify", map[string]any{"url": u})
		require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
		return r.JSON(t)
	}
	got := verify(c, dl)
	assert.Equal(t, true, got["valid"])
	assert.NotEmpty(t, got["expiresAt"])
	got = verify(c, *l.URL)
	assert.Equal(t, map[string]any{"valid": true}, got)
	assert.Equal(t, map[string]any{"valid": false}, verify(e.as(keyB, ""), dl), "another workspace's URL")
	assert.Equal(t, map[string]any{"valid": false}, verify(c, "https://example.com/x"))
	assert.Equal(t, map[string]any{"valid": false}, verify(c, strings.Replace(dl, "sig=", "sig=x", 1)))

	c.do(t, http.MethodPost, "/urls/verify", map[string]any{"url": "not a url"}).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
	c.do(t, http.MethodPost, "/urls/verify", map[string]any{}).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
	c.do(t, http.MethodPost, "/urls/verify", map[string]any{"url": 5}).requireError(t, http.StatusBadRequest, attach.CodeInvalidRequest)
	e.as("", "").do(t, http.MethodPost, "/urls/verify", map[string]any{"url": dl}).requireError(t, http.StatusUnauthorized, attach.CodeUnauthorized)
}

// TestInternalErrorLogsNoLinkToken: a 500 on a public link route is logged
// with the route pattern, never with the link's secret token.
func TestInternalErrorLogsNoLinkToken(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	e := newShareEnv(t, nil, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &logs}, nil))
	})
	c := e.as(keyA, "u1")
	f := c.upload(t, "a.png", "image/png", pngFile(t, 4, 4))
	l := c.createLink(t, f.ID, nil)
	u, err := url.Parse(*l.URL)
	require.NoError(t, err)
	token := strings.Split(strings.TrimPrefix(u.Path, "/v1/public/links/"), "/")[0]
	require.NotEmpty(t, token)

	require.NoError(t, e.store.(io.Closer).Close()) // every lookup now fails
	e.fetch(t, http.MethodGet, *l.URL, nil, nil).requireError(t, http.StatusInternalServerError, attach.CodeInternal)
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, logs.String(), "internal error")
	assert.NotContains(t, logs.String(), token)
	assert.Contains(t, logs.String(), "/public/links/{linkId}/{fileName}")
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestLinkGuessingConcurrent: concurrent guesses cannot outrun the miss
// budget: each takes its token before the lookup, so a burst of one lets
// one guess be looked up, however many are in flight.
func TestLinkGuessingConcurrent(t *testing.T) {
	var lookups atomic.Int32
	slow := func(e *env, _ *attach.Options) {
		e.store = &slowLookups{MetaStore: e.store, n: &lookups}
	}
	e := newShareEnv(t, slow, trustLoopback(map[RateClass]Rate{RateLinkMiss: {Limit: rate.Every(time.Hour), Burst: 1}}))
	const n = 64
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		statuses [n]int
	)
	client := e.srv.Client()
	for i := range n {
		wg.Go(func() {
			<-start
			u := e.srv.URL + "/v1/public/links/" + strings.Repeat("C", 31) + string(rune('A'+i%26)) + "/a.png"
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
			if !assert.NoError(t, err) {
				return
			}
			req.Header.Set("X-Forwarded-For", "203.0.113.50")
			resp, err := client.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	var looked, refused int
	for _, s := range statuses {
		switch s {
		case http.StatusNotFound:
			looked++
		case http.StatusTooManyRequests:
			refused++
		}
	}
	assert.Equal(t, 1, looked, "lookups beyond the burst")
	assert.Equal(t, n-1, refused)
	assert.EqualValues(t, 1, lookups.Load())
}

// slowLookups holds every link lookup a moment, so that concurrent
// requests are all in flight at once.
type slowLookups struct {
	driver.MetaStore
	n *atomic.Int32
}

func (s *slowLookups) LinkByToken(ctx context.Context, tokenHash string) (*driver.LinkRecord, *driver.FileRecord, error) {
	s.n.Add(1)
	time.Sleep(50 * time.Millisecond)
	return s.MetaStore.LinkByToken(ctx, tokenHash)
}
