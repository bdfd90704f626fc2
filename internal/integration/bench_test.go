package integration_test

import (
	"context"
	"flag"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/internal/backendtest"
	"github.com/attachkit/attachkit/internal/benchkit"
)

var bigSize = flag.Int64("big-size", 1<<30, "bytes of the large object in BenchmarkConfirmBySize")

func benchReplica(b *testing.B) (*replica, attach.Scope) {
	pg := backendtest.RequireEnv(b, "ATTACH_POSTGRES_URL", "PostgreSQL")
	s3 := backendtest.RequireEnv(b, "ATTACH_S3_URL", "an S3-compatible server")
	r := newReplicaB(b, s3, pg)
	return r, attach.Scope{Workspace: "bench-" + time.Now().Format("150405.000000")}
}

func newReplicaB(b *testing.B, storageURL, metaURL string) *replica {
	svc, err := attach.Open(context.Background(), storageURL, metaURL, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: secret}}, BaseURL: "http://127.0.0.1:1/v1/blob",
		Policy: &attach.Policy{Types: []attach.TypeRule{{MIMEType: "application/pdf", MaxSize: 1 << 40}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { svc.Close() })
	return &replica{svc: svc}
}

// upload requests a ticket and PUTs n bytes to the store's presigned URL.
func upload(b *testing.B, r *replica, scope attach.Scope, n int64) string {
	up, err := r.svc.RequestUpload(context.Background(), scope, attach.UploadRequest{FileName: "x.pdf", MIMEType: "application/pdf", Size: n})
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, up.URL, benchkit.NewPDFStream(n))
	req.ContentLength = n
	for k, v := range up.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		b.Fatalf("PUT: %s", resp.Status)
	}
	return up.ID
}

// BenchmarkConfirmBySize measures confirm on S3 for a 10 KB and a large
// (-big-size, default 1 GiB) object uploaded straight to the store.
// size-ratio = large confirm time / small confirm time (target <= 2: the
// cost of confirm does not grow with the object).
func BenchmarkConfirmBySize(b *testing.B) {
	r, scope := benchReplica(b)
	ctx := context.Background()
	var small, big time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, l := upload(b, r, scope, 10<<10), upload(b, r, scope, *bigSize)
		b.StartTimer()
		t0 := time.Now()
		if _, err := r.svc.Confirm(ctx, scope, s); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := r.svc.Confirm(ctx, scope, l); err != nil {
			b.Fatal(err)
		}
		small += t1.Sub(t0)
		big += time.Since(t1)
	}
	b.ReportMetric(float64(small.Microseconds())/float64(b.N), "small-µs/op")
	b.ReportMetric(float64(big.Microseconds())/float64(b.N), "large-µs/op")
	b.ReportMetric(float64(big)/float64(small), "size-ratio")
}

// BenchmarkLifecycleParallel runs presign + PUT + confirm + get of 10 KB
// on PostgreSQL + S3 with 8 concurrent clients.
func BenchmarkLifecycleParallel(b *testing.B) {
	r, scope := benchReplica(b)
	ctx := context.Background()
	// RunParallel starts parallelism × GOMAXPROCS goroutines: make it 8.
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((8 + procs - 1) / procs)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := upload(b, r, scope, 10<<10)
			if _, err := r.svc.Confirm(ctx, scope, id); err != nil {
				b.Error(err)
				return
			}
			if _, err := r.svc.File(ctx, scope, id); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lifecycles/s")
}
