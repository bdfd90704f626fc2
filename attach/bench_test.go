package attach_test

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/httpadapter"
	"github.com/attachkit/attachkit/internal/benchkit"
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
	base, err := benchkit.NewBaseline(b.TempDir())
	check(b, err)
	defer base.Close()
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
		check(b, base.Lifecycle(body))
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
		benchkit.ResetPeakRSS()
		t0 := time.Now()
		req, _ := http.NewRequest(http.MethodPut, up.URL, benchkit.NewPDFStream(size))
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/pdf")
		resp, err := http.DefaultClient.Do(req)
		check(b, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("PUT: %s", resp.Status)
		}
		lib += time.Since(t0)
		peak = max(peak, benchkit.PeakRSS())
		t1 := time.Now()
		_, err = e.svc.Confirm(ctx, wsA, up.ID)
		check(b, err)
		confirm += time.Since(t1)

		t2 := time.Now()
		check(b, benchkit.SyncedCopy(filepath.Join(dir, "copy-"+strconv.Itoa(i)), benchkit.NewPDFStream(size)))
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
