// Package loadtest drives the HTTP API with many concurrent clients for a
// fixed time and then reconciles every row, object and byte with the
// operations that succeeded.
package loadtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
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
	"github.com/attachkit/attachkit/httpadapter"
	"github.com/attachkit/attachkit/internal/backendtest"
	"github.com/attachkit/attachkit/internal/pgtest"
	_ "github.com/attachkit/attachkit/meta/postgres"
	_ "github.com/attachkit/attachkit/meta/sqlite"
)

// Load parameters: the 64 clients for 30 seconds; ATTACH_LOAD_TIME
// shortens or lengthens the run (a Go duration).
const clients = 64

func loadTime(t *testing.T) time.Duration {
	if v := os.Getenv("ATTACH_LOAD_TIME"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err)
		return d
	}
	return 30 * time.Second
}

func TestLoadSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: runs without -short")
	}
	runLoad(t, "sqlite://"+filepath.Join(t.TempDir(), "attach.db"))
}

func TestLoadPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: runs without -short")
	}
	backendtest.RequireEnv(t, "ATTACH_POSTGRES_URL", "PostgreSQL")
	runLoad(t, pgtest.FreshURL(t))
}

// stack is the API served over a real directory and the metadata URL.
type stack struct {
	srv     *httptest.Server
	svc     *attach.Service
	storage driver.Storage
	store   driver.MetaStore
	logs    *logRecorder
}

var keys = map[string]string{"key-1": "ws-1", "key-2": "ws-2"}

func newStack(t *testing.T, metaURL string) *stack {
	ctx := context.Background()
	st := &stack{logs: &logRecorder{}}
	mux := http.NewServeMux()
	st.srv = httptest.NewUnstartedServer(mux)
	st.srv.Config.ErrorLog = nil
	st.srv.Start()
	t.Cleanup(st.srv.Close)
	log := slog.New(st.logs)
	var err error
	st.storage, err = blob.OpenDir(filepath.Join(t.TempDir(), "files"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { st.storage.Close() })
	st.store, err = driver.OpenMetaStore(ctx, metaURL)
	require.NoError(t, err)
	t.Cleanup(func() { st.store.Close() })
	st.svc, err = attach.New(st.storage, st.store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("L"), 32)}},
		BaseURL:     st.srv.URL + "/v1/blob",
		Logger:      log,
		Policy:      &attach.Policy{Types: []attach.TypeRule{{MIMEType: "text/plain"}}, MaxSize: 1 << 20},
	})
	require.NoError(t, err)
	h, err := httpadapter.New(st.svc, loadAdapterOptions(log))
	require.NoError(t, err)
	mux.Handle("/v1/", h)
	return st
}

// loadAdapterOptions: the adapter as an app mounts it, with rate limits
// lifted: this test measures the store under load, not the limiter.
func loadAdapterOptions(log *slog.Logger) *httpadapter.Options {
	return &httpadapter.Options{Prefix: "/v1", Authenticate: httpadapter.BearerKeys(keys), Logger: log,
		RateLimit: &httpadapter.RateLimitOptions{Disabled: true}}
}

// logRecorder keeps every log record at warning level or above.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	l.mu.Lock()
	l.msgs = append(l.msgs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// model is what the successful operations say must exist.
type model struct {
	mu    sync.Mutex
	files map[string]*modelFile // live files by id
	gone  map[string]bool       // deleted ids
}

type modelFile struct {
	ws       string
	versions [][32]byte // sha256 of each version's content
	sizes    []int64
	tags     []string
}

// client is one of the concurrent API users. Each works on its own files,
// so no operation it makes can conflict with another client's; reads
// (listing) span the whole workspace.
type client struct {
	t     *testing.T
	st    *stack
	http  *http.Client
	key   string
	ws    string
	rng   *rand.Rand
	mine  []string
	m     *model
	ops   map[string]int
	fails []string
}

func runLoad(t *testing.T, metaURL string) {
	st := newStack(t, metaURL)
	m := &model{files: map[string]*modelFile{}, gone: map[string]bool{}}
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(loadTime(t))
	var wg sync.WaitGroup
	cs := make([]*client, clients)
	var total atomic.Int64
	for i := range cs {
		key := "key-1"
		if i%2 == 1 {
			key = "key-2"
		}
		cs[i] = &client{t: t, st: st, http: hc, key: key, ws: keys[key], rng: rand.New(rand.NewPCG(uint64(i), 7)), m: m, ops: map[string]int{}}
		wg.Add(1)
		go func(c *client) {
			defer wg.Done()
			for time.Now().Before(deadline) {
				c.step()
				total.Add(1)
			}
		}(cs[i])
	}
	wg.Wait()

	ops := map[string]int{}
	var fails []string
	for _, c := range cs {
		for k, v := range c.ops {
			ops[k] += v
		}
		fails = append(fails, c.fails...)
	}
	t.Logf("%d operations by %d clients: %v", total.Load(), clients, ops)
	if len(fails) > 0 {
		t.Fatalf("%d unexpected errors; the first: %q", len(fails), head(fails))
	}
	for _, msg := range st.logs.msgs {
		assert.NotContains(t, strings.ToLower(msg), "locked", "a store call waited on a lock: %s", msg)
		assert.NotContains(t, strings.ToLower(msg), "busy")
	}
	assert.Empty(t, st.logs.msgs, "warnings logged under load")
	reconcile(t, st, m)
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

// step runs one randomly chosen operation.
func (c *client) step() {
	switch n := c.rng.IntN(100); {
	case n < 25 || len(c.mine) == 0:
		c.presigned()
	case n < 40:
		c.multipart()
	case n < 55:
		c.get()
	case n < 65:
		c.list()
	case n < 75:
		c.download()
	case n < 83:
		c.patch()
	case n < 92:
		c.newVersion()
	default:
		c.delete()
	}
}

func (c *client) fail(op string, format string, args ...any) {
	c.fails = append(c.fails, op+": "+fmt.Sprintf(format, args...))
}

// call makes one API request and decodes a JSON answer into out.
func (c *client) call(method, path string, body io.Reader, ct string, out any) (int, []byte) {
	req, err := http.NewRequest(method, c.st.srv.URL+"/v1"+path, body)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return c.do(req, out)
}

func (c *client) do(req *http.Request, out any) (int, []byte) {
	resp, err := c.http.Do(req)
	if err != nil {
		c.fail(req.Method+" "+req.URL.Path, "%v", err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.fail(req.Method+" "+req.URL.Path, "decode: %v", err)
		}
	}
	return resp.StatusCode, b
}

func (c *client) content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + c.rng.IntN(26))
	}
	return b
}

type fileJSON struct {
	ID       string   `json:"id"`
	FileSize int64    `json:"fileSize"`
	Digest   string   `json:"digest"`
	Version  int      `json:"version"`
	Tags     []string `json:"tags"`
	Status   string   `json:"status"`
}

func (c *client) created(f *fileJSON, body []byte) {
	c.mine = append(c.mine, f.ID)
	c.m.mu.Lock()
	c.m.files[f.ID] = &modelFile{ws: c.ws, versions: [][32]byte{sha256.Sum256(body)}, sizes: []int64{int64(len(body))}}
	c.m.mu.Unlock()
}

func (c *client) presigned() {
	c.ops["presigned"]++
	body := c.content(1 + c.rng.IntN(64<<10))
	var tk struct {
		ID        string            `json:"id"`
		UploadURL string            `json:"uploadUrl"`
		Headers   map[string]string `json:"headers"`
	}
	req, _ := json.Marshal(map[string]any{"fileName": "load.txt", "mimeType": "text/plain", "fileSize": len(body)})
	if s, b := c.call("POST", "/files/upload-url", bytes.NewReader(req), "application/json", &tk); s != 201 {
		c.fail("presign", "%d %s", s, b)
		return
	}
	put, _ := http.NewRequest("PUT", tk.UploadURL, bytes.NewReader(body))
	for k, v := range tk.Headers {
		put.Header.Set(k, v)
	}
	if s, b := c.do(put, nil); s != 200 && s != 201 {
		c.fail("put", "%d %s", s, b)
		return
	}
	var f fileJSON
	if s, b := c.call("POST", "/files/"+tk.ID+"/confirm", nil, "", &f); s != 200 {
		c.fail("confirm", "%d %s", s, b)
		return
	}
	c.created(&f, body)
}

func (c *client) multipart() {
	c.ops["multipart"]++
	body := c.content(1 + c.rng.IntN(32<<10))
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "part.txt")
	fw.Write(body)
	mw.Close()
	var f fileJSON
	if s, b := c.call("POST", "/files", &buf, mw.FormDataContentType(), &f); s != 201 {
		c.fail("multipart", "%d %s", s, b)
		return
	}
	c.created(&f, body)
}

func (c *client) pick() string { return c.mine[c.rng.IntN(len(c.mine))] }

func (c *client) get() {
	c.ops["get"]++
	id := c.pick()
	var f fileJSON
	if s, b := c.call("GET", "/files/"+id, nil, "", &f); s != 200 {
		c.fail("get", "%d %s", s, b)
		return
	}
	c.m.mu.Lock()
	want := c.m.files[id]
	c.m.mu.Unlock()
	if f.Version != len(want.versions) || f.FileSize != want.sizes[len(want.sizes)-1] {
		c.fail("get", "file %s: version %d size %d, want %d %d", id, f.Version, f.FileSize, len(want.versions), want.sizes[len(want.sizes)-1])
	}
}

func (c *client) list() {
	c.ops["list"]++
	var page struct {
		Items []fileJSON `json:"items"`
	}
	if s, b := c.call("GET", "/files?limit=50&sort=-createdAt", nil, "", &page); s != 200 {
		c.fail("list", "%d %s", s, b)
	}
}

func (c *client) download() {
	c.ops["download"]++
	id := c.pick()
	var u struct {
		URL string `json:"url"`
	}
	if s, b := c.call("GET", "/files/"+id+"/download", nil, "", &u); s != 200 {
		c.fail("download", "%d %s", s, b)
		return
	}
	req, _ := http.NewRequest("GET", u.URL, nil)
	s, b := c.do(req, nil)
	c.m.mu.Lock()
	want := c.m.files[id]
	c.m.mu.Unlock()
	if s != 200 || sha256.Sum256(b) != want.versions[len(want.versions)-1] {
		c.fail("download", "file %s: status %d, %d bytes not the current version", id, s, len(b))
	}
}

func (c *client) patch() {
	c.ops["patch"]++
	id := c.pick()
	tag := "t" + strconv.Itoa(c.rng.IntN(5))
	req, _ := json.Marshal(map[string]any{"tags": []string{tag}})
	var f fileJSON
	if s, b := c.call("PATCH", "/files/"+id, bytes.NewReader(req), "application/json", &f); s != 200 {
		c.fail("patch", "%d %s", s, b)
		return
	}
	c.m.mu.Lock()
	c.m.files[id].tags = []string{tag}
	c.m.mu.Unlock()
}

func (c *client) newVersion() {
	c.ops["version"]++
	id := c.pick()
	c.m.mu.Lock()
	cur := len(c.m.files[id].versions)
	c.m.mu.Unlock()
	body := c.content(1 + c.rng.IntN(32<<10))
	req, _ := http.NewRequest("PUT", c.st.srv.URL+"/v1/files/"+id+"/content", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("If-Match", fmt.Sprintf(`"%d"`, cur))
	var f fileJSON
	if s, b := c.do(req, &f); s != 201 {
		c.fail("version", "%d %s", s, b)
		return
	}
	c.m.mu.Lock()
	mf := c.m.files[id]
	mf.versions = append(mf.versions, sha256.Sum256(body))
	mf.sizes = append(mf.sizes, int64(len(body)))
	c.m.mu.Unlock()
}

func (c *client) delete() {
	c.ops["delete"]++
	i := c.rng.IntN(len(c.mine))
	id := c.mine[i]
	if s, b := c.call("DELETE", "/files/"+id, nil, "", nil); s != 204 {
		c.fail("delete", "%d %s", s, b)
		return
	}
	c.mine = append(c.mine[:i], c.mine[i+1:]...)
	c.m.mu.Lock()
	delete(c.m.files, id)
	c.m.gone[id] = true
	c.m.mu.Unlock()
}

// reconcile checks the final state against the model: the listed files of
// each workspace are exactly the live ones, each with its versions' sizes
// and digests; storage holds exactly one object per version, with exactly
// the versions' bytes; deleted files are gone.
func reconcile(t *testing.T, st *stack, m *model) {
	ctx := context.Background()
	for key, ws := range keys {
		c := &client{t: t, st: st, http: st.srv.Client(), key: key, ws: ws}
		listed := map[string]fileJSON{}
		cursor := ""
		for {
			var page struct {
				Items      []fileJSON `json:"items"`
				NextCursor string     `json:"nextCursor"`
				Total      int        `json:"total"`
			}
			s, b := c.call("GET", "/files?limit=100&cursor="+url.QueryEscape(cursor), nil, "", &page)
			require.Equal(t, 200, s, "%s", b)
			for _, f := range page.Items {
				listed[f.ID] = f
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		want := 0
		for id, mf := range m.files {
			if mf.ws != ws {
				continue
			}
			want++
			f, ok := listed[id]
			if !assert.True(t, ok, "live file %s is not listed", id) {
				continue
			}
			assert.Equal(t, len(mf.versions), f.Version, "file %s version", id)
			assert.Equal(t, mf.sizes[len(mf.sizes)-1], f.FileSize, "file %s size", id)
			cur := mf.versions[len(mf.versions)-1]
			assert.Equal(t, "sha256:"+hex.EncodeToString(cur[:]), f.Digest, "file %s digest", id)
			if mf.tags != nil {
				assert.Equal(t, mf.tags, f.Tags, "file %s tags", id)
			}
		}
		assert.Len(t, listed, want, "workspace %s lists exactly its live files", ws)
		for id := range m.gone {
			_, ok := listed[id]
			assert.False(t, ok, "deleted file %s is listed", id)
		}
	}

	var wantObjects, wantBytes int64
	for _, mf := range m.files {
		wantObjects += int64(len(mf.versions))
		for _, n := range mf.sizes {
			wantBytes += n
		}
	}
	var objects, size int64
	require.NoError(t, st.storage.List(ctx, "", func(o driver.ObjectInfo) error {
		objects++
		size += o.Size
		return nil
	}))
	assert.Equal(t, wantObjects, objects, "one object per live version, nothing else")
	assert.Equal(t, wantBytes, size, "stored bytes are the live versions' bytes")

	stats, err := st.store.(driver.Inventory).Stats(ctx)
	require.NoError(t, err)
	var files, versions, vbytes int64
	for _, s := range stats {
		files += s.Files
		versions += s.Versions
		vbytes += s.VersionBytes
	}
	assert.Equal(t, int64(len(m.files)), files, "file rows")
	assert.Equal(t, wantObjects, versions, "version rows")
	assert.Equal(t, wantBytes, vbytes, "version bytes")
}
