package preview

import (
	"bufio"
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// Benchmarks of the performance targets of issue 6:
//
//	go test -run '^$' -bench . -benchtime 20x ./preview
//
// BenchmarkThumbnail4000x3000/ratio reports attachkit/vips, the ratio of
// the in-process thumbnail time to vipsthumbnail's (a process per
// thumbnail, as a server shelling out to it would run) on the same file
// (target ≤ 1.5). The memory benchmarks report peak heap growth; run
// BenchmarkConcurrent24MP alone for a meaningful peak RSS.

var (
	jpegCache   = map[[2]int][]byte{}
	jpegCacheMu sync.Mutex
)

// photoJPEG returns a w×h photo-like JPEG (quality 90, 4:2:0), made once.
func photoJPEG(b *testing.B, w, h int) []byte {
	b.Helper()
	jpegCacheMu.Lock()
	defer jpegCacheMu.Unlock()
	if data, ok := jpegCache[[2]int{w, h}]; ok {
		return data
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, photo(w, h), &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	jpegCache[[2]int{w, h}] = buf.Bytes()
	return buf.Bytes()
}

func BenchmarkThumbnail4000x3000(b *testing.B) {
	data := photoJPEG(b, 4000, 3000)
	spec := driver.PreviewSpec{Width: 256, Height: 256, Fit: driver.FitContain}
	r := New(nil)
	ours := func(b *testing.B) {
		if err := r.Preview(context.Background(), bytes.NewReader(data), int64(len(data)), "image/jpeg", spec, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("attachkit", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for range b.N {
			ours(b)
		}
	})

	vips, err := exec.LookPath("vipsthumbnail")
	if err != nil {
		b.Log("vipsthumbnail is not on PATH (Debian: libvips-tools): no comparison")
		return
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		b.Fatal(err)
	}
	theirs := func(b *testing.B) {
		cmd := exec.Command(vips, src, "--size", "256x256", "-o", filepath.Join(dir, "thumb.jpg[Q=85]"))
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, msg)
		}
	}
	b.Run("vipsthumbnail", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for range b.N {
			theirs(b)
		}
	})
	// Alternating the two in one loop keeps the ratio fair on a machine
	// whose load changes during the run.
	b.Run("ratio", func(b *testing.B) {
		var a, v time.Duration
		for range b.N {
			t0 := time.Now()
			ours(b)
			t1 := time.Now()
			theirs(b)
			a, v = a+t1.Sub(t0), v+time.Since(t1)
		}
		b.ReportMetric(float64(a.Microseconds())/1000/float64(b.N), "attachkit-ms")
		b.ReportMetric(float64(v.Microseconds())/1000/float64(b.N), "vips-ms")
		b.ReportMetric(float64(a)/float64(v), "attachkit/vips")
	})
}

// BenchmarkDecode24MP renders one 6000×4000 JPEG at a time and reports the
// heap it needs at its peak.
func BenchmarkDecode24MP(b *testing.B) {
	data := photoJPEG(b, 6000, 4000)
	r := New(nil)
	spec := driver.PreviewSpec{Width: 256, Height: 256}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak := sampleHeap(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := r.Preview(context.Background(), bytes.NewReader(data), int64(len(data)), "image/jpeg", spec, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(peak()-min(peak(), base.HeapInuse))/(1<<20), "peak-heap-MiB")
}

// BenchmarkConcurrent24MP starts 100 concurrent previews of a 6000×4000
// JPEG with the default options and reports peak heap growth and the
// process's peak RSS (VmHWM: run this benchmark alone).
func BenchmarkConcurrent24MP(b *testing.B) {
	data := photoJPEG(b, 6000, 4000)
	r := New(nil)
	spec := driver.PreviewSpec{Width: 256, Height: 256}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak := sampleHeap(b)
	b.ResetTimer()
	for range b.N {
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if err := r.Preview(context.Background(), bytes.NewReader(data), int64(len(data)), "image/jpeg", spec, io.Discard); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(peak()-min(peak(), base.HeapInuse))/(1<<20), "peak-heap-MiB")
	if hwm := vmHWM(); hwm > 0 {
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
	}
}

// vmHWM returns the process's peak resident set size in bytes, or 0 where
// /proc does not tell.
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
