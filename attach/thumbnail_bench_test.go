package attach_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/meta/sqlite"
	"github.com/attachkit/attachkit/preview"
)

// BenchmarkThumbnailCached serves a stored thumbnail again (rights,
// derivative lookup, signing) on SQLite and local disk, and reports the
// median (target ≤ 2 ms):
//
//	go test -run '^$' -bench ThumbnailCached ./attach
func BenchmarkThumbnailCached(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := blob.OpenDir(filepath.Join(dir, "files"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "attach.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc, err := attach.New(st, store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}},
		BaseURL:     baseURL, Previewer: preview.New(nil),
	})
	if err != nil {
		b.Fatal(err)
	}
	photo := jpegBytes(b, 4000, 3000)
	f, err := svc.Put(ctx, alice, attach.PutRequest{FileName: "photo.jpg", Size: int64(len(photo))}, bytes.NewReader(photo))
	if err != nil {
		b.Fatal(err)
	}
	opts := &attach.ThumbnailOptions{Width: 256}
	if _, err := svc.Thumbnail(ctx, alice, f.ID, opts); err != nil {
		b.Fatal(err)
	}
	samples := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		u, err := svc.Thumbnail(ctx, alice, f.ID, opts)
		if err != nil || u == nil {
			b.Fatal(err, u)
		}
		samples = append(samples, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "p50-ms")
}
