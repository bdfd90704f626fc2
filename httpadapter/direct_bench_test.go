package httpadapter

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/internal/benchkit"
	"github.com/attachkit/attachkit/meta/sqlite"
)

var (
	multipartSize = flag.Int64("multipart-size", 256<<20, "bytes BenchmarkMultipartUpload streams through POST /files")
	dataURISize   = flag.Int64("data-uri-size", 48<<20, "decoded bytes BenchmarkDataURIUpload sends as a data URI (at most 64 MiB)")
)

// BenchmarkMultipartUpload streams -multipart-size bytes (default 256 MiB;
// -args -multipart-size=1073741824 for 1 GiB) as the file part of a
// multipart/form-data POST /files over loopback HTTP, generated as it is
// sent, and reports the process's peak RSS during the upload (target <= 64
// MiB, independent of size) and the throughput.
func BenchmarkMultipartUpload(b *testing.B) {
	size := *multipartSize
	url := newDirectBench(b, 1<<40)
	var peak, base int64
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			part, err := mw.CreateFormFile("file", "big.pdf")
			if err == nil {
				_, err = io.Copy(part, benchkit.NewPDFStream(size))
			}
			if err == nil {
				err = mw.Close()
			}
			pw.CloseWithError(err)
		}()
		p, r := benchUpload(b, url, mw.FormDataContentType(), pr)
		peak, base = max(peak, p), max(base, r)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(base)/(1<<20), "idle-RSS-MiB")
	b.ReportMetric(float64(size)/(1<<20), "file-MiB")
}

// BenchmarkDataURIUpload sends -data-uri-size decoded bytes (default 48
// MiB) as a JSON data-URI POST /files, generated as it is sent, and
// reports the peak RSS: the handler holds the base64 body (4/3 of the
// data) and nothing proportional besides.
func BenchmarkDataURIUpload(b *testing.B) {
	size := *dataURISize
	url := newDirectBench(b, maxDataURISize)
	var peak, base int64
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pr, pw := io.Pipe()
		go func() {
			_, err := io.WriteString(pw, `{"fileName":"big.pdf","data":"data:application/pdf;base64,`)
			if err == nil {
				enc := base64.NewEncoder(base64.StdEncoding, pw)
				if _, err = io.Copy(enc, benchkit.NewPDFStream(size)); err == nil {
					err = enc.Close()
				}
			}
			if err == nil {
				_, err = io.WriteString(pw, `"}`)
			}
			pw.CloseWithError(err)
		}()
		p, r := benchUpload(b, url, "application/json", pr)
		peak, base = max(peak, p), max(base, r)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(base)/(1<<20), "idle-RSS-MiB")
	b.ReportMetric(float64(peak-base)/float64(size), "RSS-growth/data")
	b.ReportMetric(float64(size)/(1<<20), "data-MiB")
	b.ReportMetric(float64(size*4/3)/(1<<20), "body-MiB")
}

// newDirectBench serves the adapter over a real SQLite file and local
// disk, with a policy allowing PDFs up to maxSize, and returns the URL of
// POST /files.
func newDirectBench(b *testing.B, maxSize int64) string {
	b.Helper()
	dir := b.TempDir()
	st, err := blob.OpenDir(filepath.Join(dir, "files"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "attach.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	srv := httptest.NewUnstartedServer(nil)
	svc, err := attach.New(st, store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}},
		BaseURL:     "http://" + srv.Listener.Addr().String() + "/v1/blob",
		Policy:      &attach.Policy{Types: []attach.TypeRule{{MIMEType: "application/pdf", MaxSize: maxSize}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	h, err := New(svc, &Options{Prefix: "/v1", Authenticate: BearerKeys(map[string]string{"k": "ws-a"})})
	if err != nil {
		b.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	b.Cleanup(srv.Close)
	return srv.URL + "/v1/files"
}

// benchUpload posts body and returns the peak RSS while it ran, and the
// RSS just before.
func benchUpload(b *testing.B, url, contentType string, body io.Reader) (peak, idle int64) {
	b.Helper()
	debug.FreeOSMemory() // earlier iterations' garbage does not count
	benchkit.ResetPeakRSS()
	idle = benchkit.ReadRSS("VmRSS:")
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("POST /files: %s: %s", resp.Status, msg)
	}
	return benchkit.ReadRSS("VmHWM:"), idle
}
