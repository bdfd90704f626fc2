package attach_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta/sqlite"
)

const baseURL = "http://files.test/v1/blob"

var (
	wsA   = attach.Scope{Workspace: "ws-a"}
	wsB   = attach.Scope{Workspace: "ws-b"}
	alice = attach.Scope{Workspace: "ws-a", User: "alice"}
	bob   = attach.Scope{Workspace: "ws-a", User: "bob"}
)

// clock is an adjustable time source for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingStorage counts the bytes read through it: instrumentation on a
// real storage, to prove what confirm reads.
type countingStorage struct {
	driver.Storage
	read  atomic.Int64
	noMD5 atomic.Bool // report no MD5, as some object stores do
}

func (c *countingStorage) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	a, err := c.Storage.Attributes(ctx, key)
	if err == nil && c.noMD5.Load() {
		a.MD5 = nil
	}
	return a, err
}

func (c *countingStorage) NewRangeReader(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	r, err := c.Storage.NewRangeReader(ctx, key, off, n)
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: r, n: &c.read}, nil
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

type env struct {
	svc     *attach.Service
	storage *countingStorage
	store   driver.MetaStore
	clock   *clock
}

// newEnv builds a Service on a real SQLite file and a real directory.
func newEnv(t testing.TB, mod func(*attach.Options)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := blob.OpenDir(filepath.Join(dir, "files"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	store, err := sqlite.Open(ctx, filepath.Join(dir, "attach.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	e := &env{storage: &countingStorage{Storage: st}, store: store,
		clock: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	return e.with(t, mod)
}

// with returns an env with another Service over the same storage, store
// and clock, its options changed by mod.
func (e *env) with(t testing.TB, mod func(*attach.Options)) *env {
	t.Helper()
	opts := &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}},
		BaseURL:     baseURL,
		Now:         e.clock.Now,
	}
	if mod != nil {
		mod(opts)
	}
	n := *e
	var err error
	n.svc, err = attach.New(e.storage, e.store, opts)
	require.NoError(t, err)
	return &n
}

// put sends body to a ticket's URL the way httpadapter does.
func (e *env) put(t testing.TB, up *attach.Upload, contentType string, body []byte) error {
	t.Helper()
	key, q := splitURL(t, up.URL)
	return e.svc.WriteSigned(context.Background(), key, q, contentType, int64(len(body)), bytes.NewReader(body))
}

// upload runs request → put → confirm.
func (e *env) upload(t testing.TB, scope attach.Scope, name, mimeType string, body []byte) *attach.File {
	t.Helper()
	ctx := context.Background()
	up, err := e.svc.RequestUpload(ctx, scope, attach.UploadRequest{FileName: name, MIMEType: mimeType, Size: int64(len(body))})
	require.NoError(t, err)
	require.NoError(t, e.put(t, up, mimeType, body))
	f, err := e.svc.Confirm(ctx, scope, up.ID)
	require.NoError(t, err)
	return f
}

func (e *env) objects(t *testing.T) []string {
	t.Helper()
	var keys []string
	require.NoError(t, e.storage.List(context.Background(), "", func(o driver.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}))
	return keys
}

func splitURL(t testing.TB, raw string) (string, url.Values) {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	key, ok := strings.CutPrefix(u.Path, "/v1/blob/")
	require.True(t, ok, raw)
	return key, u.Query()
}

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		img.Set(x, 0, color.RGBA{R: uint8(x), A: 255})
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// pdfBytes is a small valid PDF padded to at least n bytes with a comment.
func pdfBytes(n int) []byte {
	b := []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%")
	tail := []byte("\n%%EOF\n")
	for len(b) < n-len(tail) {
		b = append(b, 'x')
	}
	return append(b, tail...)
}

var htmlBytes = []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
