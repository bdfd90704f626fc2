package httpadapter

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta/sqlite"
)

// Test workspaces and their API keys (BearerKeys).
const (
	keyA = "key-a"
	keyB = "key-b"
	wsA  = "ws-a"
)

// env is a real stack: local-disk storage, a SQLite file, an attach.Service
// and the adapter mounted at /v1 on an httptest.Server.
type env struct {
	api     *Handler
	srv     *httptest.Server
	svc     *attach.Service
	storage *blob.Storage
	store   driver.MetaStore
	dir     string // the storage root
	clock   *testClock
	opts    attach.Options // what svc was built with
	// onRequest, when set, sees (and may wrap the body of) every request
	// before the adapter does.
	onRequest atomic.Pointer[func(*http.Request)]
}

type envOptions struct {
	// policy replaces attach.DefaultPolicy().
	policy *attach.Policy
	// wrapStore interposes on the metadata store, to hold a call at a
	// chosen point for a race a real store cannot be made to lose on cue.
	wrapStore func(driver.MetaStore) driver.MetaStore
	// previewer renders thumbnails (attach.Options.Previewer).
	previewer driver.Previewer
}

func newEnv(t testing.TB, o *envOptions) *env {
	t.Helper()
	if o == nil {
		o = &envOptions{}
	}
	e := &env{dir: t.TempDir(), clock: &testClock{}}
	var err error
	e.storage, err = blob.OpenDir(e.dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, e.storage.Close()) })
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "attach.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	e.store = st
	if o.wrapStore != nil {
		e.store = o.wrapStore(st)
	}

	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)

	e.opts = attach.Options{
		Policy:      o.policy,
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef-test")}},
		BaseURL:     e.srv.URL + "/v1/blob",
		Now:         e.clock.Now,
		Previewer:   o.previewer,
	}
	e.svc = e.service(t, 0)
	h, err := New(e.svc, &Options{Prefix: "/v1", Authenticate: BearerKeys(map[string]string{keyA: wsA, keyB: "ws-b"})})
	require.NoError(t, err)
	e.api = h
	mux.Handle("/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := e.onRequest.Load(); f != nil {
			(*f)(r)
		}
		h.ServeHTTP(w, r)
	}))
	return e
}

// service returns another Service over the same storage, store and keys
// whose clock runs skew ahead of the env's (behind when negative).
func (e *env) service(t testing.TB, skew time.Duration) *attach.Service {
	t.Helper()
	o := e.opts
	o.Now = func() time.Time { return e.clock.Now().Add(skew) }
	svc, err := attach.New(e.storage, e.store, &o)
	require.NoError(t, err)
	return svc
}

// testClock is the wall clock moved by Advance.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// response is an HTTP answer with its body read.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object.
func (r *response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// requireError asserts the API error shape with status and code and
// returns the details.
func (r *response) requireError(t *testing.T, status int, code attach.Code) map[string]any {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	var body struct {
		Error *struct {
			Code    *string         `json:"code"`
			Message *string         `json:"message"`
			Details *map[string]any `json:"details"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&body), "body: %s", r.Body)
	require.NotNil(t, body.Error, "body: %s", r.Body)
	require.NotNil(t, body.Error.Code)
	require.NotNil(t, body.Error.Message)
	require.NotNil(t, body.Error.Details, "details must be an object, never null: %s", r.Body)
	assert.Equal(t, string(code), *body.Error.Code, "body: %s", r.Body)
	assert.NotEmpty(t, *body.Error.Message)
	return *body.Error.Details
}

// decode unmarshals the body into v.
func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

// caller makes authenticated API calls with a key and an optional acting
// user.
type caller struct {
	e         *env
	key, user string
}

func (e *env) as(key, user string) caller { return caller{e: e, key: key, user: user} }

// do calls the API at path (relative to /v1). body is sent as is when it
// is a string or []byte, as JSON otherwise, and not at all when nil.
func (c caller) do(t *testing.T, method, path string, body any) *response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
	}
	h := map[string]string{}
	if c.key != "" {
		h["Authorization"] = "Bearer " + c.key
	}
	if c.user != "" {
		h[UserHeader] = c.user
	}
	if rd != nil {
		h["Content-Type"] = "application/json"
	}
	return c.e.fetch(t, method, c.e.srv.URL+"/v1"+path, h, rd)
}

// fetch sends a request to an absolute URL without following redirects.
func (e *env) fetch(t *testing.T, method, rawURL string, headers map[string]string, body io.Reader) *response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, body)
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := *e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// ticket is the answer to POST /files/upload-url.
type ticket struct {
	ID         string            `json:"id"`
	UploadID   string            `json:"uploadId"`
	UploadURL  string            `json:"uploadUrl"`
	Method     string            `json:"method"`
	Headers    map[string]string `json:"headers"`
	ExpiresAt  time.Time         `json:"expiresAt"`
	Key        string            `json:"key"`
	FileLimits attach.FileLimits `json:"fileLimits"`
}

func (c caller) requestUpload(t *testing.T, name, mimeType string, size int) ticket {
	t.Helper()
	r := c.do(t, http.MethodPost, "/files/upload-url", map[string]any{"fileName": name, "mimeType": mimeType, "fileSize": size})
	require.Equal(t, http.StatusCreated, r.Status, "body: %s", r.Body)
	var tk ticket
	r.decode(t, &tk)
	return tk
}

// put sends data to a ticket's URL with the ticket's headers.
func (e *env) put(t *testing.T, tk ticket, data []byte) *response {
	t.Helper()
	return e.fetch(t, tk.Method, tk.UploadURL, tk.Headers, bytes.NewReader(data))
}

// upload runs the whole presigned flow and returns the confirmed file.
func (c caller) upload(t *testing.T, name, mimeType string, data []byte) attach.File {
	t.Helper()
	tk := c.requestUpload(t, name, mimeType, len(data))
	r := c.e.put(t, tk, data)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	r = c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var f attach.File
	r.decode(t, &f)
	require.Equal(t, attach.StatusReady, f.Status)
	return f
}

// downloadURL returns a signed URL for a file; query is appended as is.
func (c caller) downloadURL(t *testing.T, id, query string) string {
	t.Helper()
	r := c.do(t, http.MethodGet, "/files/"+id+"/download"+query, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var u attach.SignedURL
	r.decode(t, &u)
	require.NotEmpty(t, u.URL)
	return u.URL
}

// stored returns the bytes storage holds at key, or an error matching
// driver.ErrNotFound.
func (e *env) stored(t *testing.T, key string) ([]byte, error) {
	t.Helper()
	r, err := e.storage.NewRangeReader(t.Context(), key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Real files, made in the test.

func testImage(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 13), uint8(x ^ y), 255})
		}
	}
	return img
}

func pngFile(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, testImage(w, h)))
	return b.Bytes()
}

func jpegFile(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, testImage(w, h), nil))
	return b.Bytes()
}

func gifFile(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, gif.Encode(&b, testImage(w, h), nil))
	return b.Bytes()
}

// pdfFile is a minimal PDF padded to exactly n bytes (n >= 64).
func pdfFile(n int) []byte {
	head := "%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\n"
	tail := "\ntrailer <</Root 1 0 R>>\n%%EOF\n"
	var b strings.Builder
	b.WriteString(head)
	for i := 0; b.Len() < n-len(tail); i++ {
		fmt.Fprintf(&b, "%% padding line %d\n", i)
	}
	s := b.String()[:n-len(tail)] + tail
	return []byte(s)
}

const (
	htmlFile = "<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(document.cookie)</script></body></html>\n"
	svgFile  = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>`
	xmlFile  = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<note><to>you</to><body>hi</body></note>\n"
)
