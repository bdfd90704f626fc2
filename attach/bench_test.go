package attach_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/httpadapter"
	"github.com/attachkit/attachkit/meta/sqlite"
)

var uploadSize = flag.Int64("upload-size", 1<<30, "bytes uploaded by BenchmarkUpload")

// BenchmarkLifecycle runs presign + PUT + confirm + get of a 10 KB file on
// SQLite + local disk, alternating with a baseline that performs the same
// SQL transactions and the same synced file write directly, in the same
// process. speed-ratio = baseline time / Attachkit time (target >= 0.5).
func BenchmarkLifecycle(b *testing.B) {
	ctx := context.Background()
	e := newBenchEnv(b)
	base := newBaseline(b)
	body := pdfBytes(10 << 10)
	var lib, direct time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		up, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "a.pdf", MIMEType: "application/pdf", Size: int64(len(body))})
		check(b, err)
		key, q := splitURLB(b, up.URL)
		check(b, e.svc.WriteSigned(ctx, key, q, "application/pdf", int64(len(body)), bytes.NewReader(body)))
		_, err = e.svc.Confirm(ctx, wsA, up.ID)
		check(b, err)
		_, err = e.svc.File(ctx, wsA, up.ID)
		check(b, err)
		t1 := time.Now()
		base.lifecycle(b, i, body)
		lib += t1.Sub(t0)
		direct += time.Since(t1)
	}
	b.ReportMetric(float64(lib.Microseconds())/float64(b.N), "attach-µs/op")
	b.ReportMetric(float64(direct.Microseconds())/float64(b.N), "baseline-µs/op")
	b.ReportMetric(float64(direct)/float64(lib), "speed-ratio")
}

// BenchmarkUpload streams -upload-size bytes (default 1 GiB) through the
// library-signed PUT URL over loopback HTTP, then confirms, alternating with
// a baseline io.Copy of the same bytes into a synced file. It reports both
// throughputs, their ratio (target >= 0.5) and the process's peak RSS during
// the upload (target <= 64 MiB, independent of size).
func BenchmarkUpload(b *testing.B) {
	ctx := context.Background()
	e := newBenchEnv(b)
	srv := httptest.NewUnstartedServer(nil)
	e.svc = newBenchService(b, e, "http://"+srv.Listener.Addr().String()+"/v1/blob")
	api, err := httpadapter.New(e.svc, &httpadapter.Options{Prefix: "/v1",
		Authenticate: httpadapter.BearerKeys(map[string]string{"k": "ws-a"})})
	check(b, err)
	srv.Config.Handler = api
	srv.Start()
	defer srv.Close()
	size := *uploadSize
	dir := b.TempDir()

	var lib, direct, confirm time.Duration
	var peak int64
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		up, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "big.pdf", MIMEType: "application/pdf", Size: size})
		check(b, err)
		resetPeakRSS()
		t0 := time.Now()
		req, _ := http.NewRequest(http.MethodPut, up.URL, newPDFStream(size))
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/pdf")
		resp, err := http.DefaultClient.Do(req)
		check(b, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("PUT: %s", resp.Status)
		}
		lib += time.Since(t0)
		peak = max(peak, peakRSS())
		t1 := time.Now()
		_, err = e.svc.Confirm(ctx, wsA, up.ID)
		check(b, err)
		confirm += time.Since(t1)

		t2 := time.Now()
		baselineCopy(b, filepath.Join(dir, "copy-"+strconv.Itoa(i)), newPDFStream(size))
		direct += time.Since(t2)
		check(b, e.svc.Delete(ctx, wsA, up.ID, nil))
	}
	mbps := func(d time.Duration) float64 { return float64(size*int64(b.N)) / d.Seconds() / (1 << 20) }
	b.ReportMetric(mbps(lib), "attach-MiB/s")
	b.ReportMetric(mbps(direct), "baseline-MiB/s")
	b.ReportMetric(float64(direct)/float64(lib), "speed-ratio")
	b.ReportMetric(float64(confirm.Milliseconds())/float64(b.N), "confirm-ms/op")
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
}

func newBenchEnv(b *testing.B) *env {
	b.Helper()
	dir := b.TempDir()
	st, err := blob.OpenDir(filepath.Join(dir, "files"), nil)
	check(b, err)
	b.Cleanup(func() { st.Close() })
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "attach.db"), nil)
	check(b, err)
	b.Cleanup(func() { store.Close() })
	e := &env{storage: &countingStorage{Storage: st}, store: store}
	e.svc = newBenchService(b, e, baseURL)
	return e
}

func newBenchService(b *testing.B, e *env, base string) *attach.Service {
	p := attach.DefaultPolicy()
	p.MaxSize = 0
	p.Types = []attach.TypeRule{{MIMEType: "application/pdf", MaxSize: 1 << 40}}
	svc, err := attach.New(e.storage.Storage, e.store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}},
		BaseURL:     base, Policy: &p,
	})
	check(b, err)
	return svc
}

func check(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

func splitURLB(b *testing.B, raw string) (string, url.Values) {
	i := strings.Index(raw, "/v1/blob/")
	j := strings.IndexByte(raw, '?')
	q, err := url.ParseQuery(raw[j+1:])
	check(b, err)
	return raw[i+len("/v1/blob/") : j], q
}

// baseline does, without the library, what one lifecycle does: the same
// three write transactions, the same synced file write, one read.
type baseline struct {
	db  *sql.DB
	dir string
}

func newBaseline(b *testing.B) *baseline {
	dir := b.TempDir()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "base.db")+"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=10000&_txlock=immediate")
	check(b, err)
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { db.Close() })
	for _, s := range []string{
		`CREATE TABLE files (id TEXT PRIMARY KEY, workspace TEXT, file_name TEXT, mime_type TEXT, size BIGINT, digest TEXT, status TEXT, version BIGINT, storage_key TEXT, created_at BIGINT, updated_at BIGINT)`,
		`CREATE TABLE uploads (id TEXT PRIMARY KEY, workspace TEXT, file_id TEXT, storage_key TEXT, size BIGINT, status TEXT, written_digest TEXT, expires_at BIGINT)`,
		`CREATE TABLE versions (file_id TEXT, version BIGINT, size BIGINT, digest TEXT, storage_key TEXT, created_at BIGINT, PRIMARY KEY (file_id, version))`,
	} {
		_, err := db.Exec(s)
		check(b, err)
	}
	return &baseline{db: db, dir: filepath.Join(dir, "files")}
}

func (s *baseline) tx(b *testing.B, stmts ...string) {
	tx, err := s.db.Begin()
	check(b, err)
	for _, st := range stmts {
		_, err := tx.Exec(st)
		check(b, err)
	}
	check(b, tx.Commit())
}

func (s *baseline) lifecycle(b *testing.B, i int, body []byte) {
	id, now := fmt.Sprintf("f%d", i), time.Now().UnixMicro()
	key := filepath.Join("ws", id, "v1", "obj")
	s.tx(b, fmt.Sprintf(`INSERT INTO files VALUES ('%s','ws','a.pdf','',0,'','pending',0,'',%d,%d)`, id, now, now),
		fmt.Sprintf(`INSERT INTO uploads VALUES ('u%s','ws','%s','%s',%d,'pending','',%d)`, id, id, key, len(body), now))
	path := filepath.Join(s.dir, key)
	check(b, os.MkdirAll(filepath.Dir(path), 0o750))
	baselineCopy(b, path, bytes.NewReader(body))
	s.tx(b, fmt.Sprintf(`UPDATE uploads SET written_digest='x' WHERE id='u%s' AND status='pending'`, id))
	s.tx(b, fmt.Sprintf(`UPDATE uploads SET status='confirmed' WHERE id='u%s' AND status='pending'`, id),
		fmt.Sprintf(`UPDATE files SET status='ready', version=1, size=%d WHERE id='%s' AND version=0`, len(body), id),
		fmt.Sprintf(`INSERT INTO versions VALUES ('%s',1,%d,'x','%s',%d)`, id, len(body), key, now))
	var name string
	check(b, s.db.QueryRow(`SELECT file_name FROM files WHERE id=? AND workspace='ws'`, id).Scan(&name))
}

// baselineCopy is a plain durable write: temp file, io.Copy, fsync, rename,
// fsync of the directory.
func baselineCopy(b *testing.B, path string, r io.Reader) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	check(b, err)
	_, err = io.Copy(f, r)
	check(b, err)
	check(b, f.Sync())
	check(b, f.Close())
	check(b, os.Rename(f.Name(), path))
	d, err := os.Open(filepath.Dir(path))
	check(b, err)
	check(b, d.Sync())
	check(b, d.Close())
}

// pdfStream yields size bytes that start like a PDF, without holding them.
type pdfStream struct {
	left int64
	head []byte
	fill [64 << 10]byte
}

func newPDFStream(size int64) *pdfStream {
	s := &pdfStream{left: size, head: []byte("%PDF-1.4\n%")}
	for i := range s.fill {
		s.fill[i] = byte('a' + i%26)
	}
	return s
}

func (s *pdfStream) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	var n int
	if len(s.head) > 0 {
		n = copy(p, s.head)
		s.head = s.head[n:]
	} else {
		n = copy(p, s.fill[:])
	}
	if int64(n) > s.left {
		n = int(s.left)
	}
	s.left -= int64(n)
	return n, nil
}

// resetPeakRSS resets the kernel's peak-RSS counter for this process.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns the process's peak resident set size in bytes (VmHWM).
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
