package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/internal/benchkit"
)

// profile picks the quick or the full value.
func (b *bench) profile(quick, full int) int {
	if b.full {
		return full
	}
	return quick
}

// runLifecycle: presign + PUT + confirm + get of 10 KB, in process and
// over HTTP, vs the baseline's direct SQL and synced writes, each client
// count measured in alternating windows.
func runLifecycle(ctx context.Context, b *bench) error {
	e, err := newEnv(ctx, filepath.Join(b.dir, "lifecycle"), "")
	if err != nil {
		return err
	}
	defer e.Close()
	base, err := benchkit.NewBaseline(filepath.Join(b.dir, "lifecycle"))
	if err != nil {
		return err
	}
	defer base.Close()
	body := benchkit.PDFBytes(10_000)
	rounds := b.profile(5, 9)
	window := time.Duration(b.profile(300, 1000)) * time.Millisecond
	clients := []int{1, 8}
	if b.full {
		clients = []int{1, 2, 4, 8, 16}
	}
	direct := func(n int) func() (float64, error) {
		return func() (float64, error) { return throughput(n, window, func() error { return base.Lifecycle(body) }) }
	}
	for _, mode := range []string{"in-process", "HTTP"} {
		for _, n := range clients {
			op := func() error { return e.lifecycleInProcess(ctx, body) }
			if mode == "HTTP" {
				op = func() error { return e.lifecycleHTTP(body) }
			}
			as, bs, err := alternate(rounds, func() (float64, error) { return throughput(n, window, op) }, direct(n))
			if err != nil {
				return err
			}
			r := &Result{Scenario: fmt.Sprintf("lifecycle 10KB %s, %d client(s)", mode, n), Unit: "ops/s",
				Samples: as, BSamples: bs, Versus: "direct SQL + synced write"}
			if n == 1 || n == 8 {
				r.Target = ">= 0.5"
			}
			b.add(r)
			b.curve("throughput", "Attachkit "+mode, float64(n), r.Attachkit)
			if mode == "in-process" {
				b.curve("throughput", "baseline (direct SQL + synced write)", float64(n), r.Baseline)
			}
		}
	}
	return nil
}

// runUpload streams a large file through the signed PUT over loopback
// HTTP, alternating with io.Copy of the same bytes into a synced file, and
// reads the process's peak RSS during the PUT. Client and server share
// the process, so VmHWM is an upper bound of the server's.
func runUpload(ctx context.Context, b *bench) error {
	size := int64(64 << 20)
	if b.full {
		size = 1 << 30
	}
	e, err := newEnv(ctx, filepath.Join(b.dir, "upload"), "")
	if err != nil {
		return err
	}
	defer e.Close()
	copies := filepath.Join(b.dir, "upload", "copies")
	if err := os.MkdirAll(copies, 0o750); err != nil {
		return err
	}
	var peak, idle int64
	i := 0
	ours := func() (float64, error) {
		up, err := e.svc.RequestUpload(ctx, scope, attach.UploadRequest{FileName: "big.pdf", MIMEType: "application/pdf", Size: size})
		if err != nil {
			return 0, err
		}
		debug.FreeOSMemory()
		idle = max(idle, benchkit.ReadRSS("VmRSS:"))
		benchkit.ResetPeakRSS()
		t0 := time.Now()
		if err := e.put(up.URL, up.Headers, benchkit.NewPDFStream(size), size); err != nil {
			return 0, err
		}
		d := time.Since(t0)
		peak = max(peak, benchkit.PeakRSS())
		if _, err := e.svc.Confirm(ctx, scope, up.ID); err != nil {
			return 0, err
		}
		return float64(size) / (1 << 20) / d.Seconds(), e.svc.Delete(ctx, scope, up.ID, nil)
	}
	theirs := func() (float64, error) {
		i++
		path := filepath.Join(copies, "copy-"+strconv.Itoa(i))
		t0 := time.Now()
		if err := benchkit.SyncedCopy(path, benchkit.NewPDFStream(size)); err != nil {
			return 0, err
		}
		d := time.Since(t0)
		return float64(size) / (1 << 20) / d.Seconds(), os.Remove(path)
	}
	as, bs, err := alternate(b.profile(3, 3), ours, theirs)
	if err != nil {
		return err
	}
	label := sizeName(size)
	b.add(&Result{Scenario: "signed PUT " + label, Unit: "MiB/s", Samples: as, BSamples: bs,
		Versus: "io.Copy to a synced file", Target: ">= 0.5"})
	b.add(&Result{Scenario: "signed PUT " + label + " peak RSS", Unit: "MiB", Attachkit: float64(peak) / (1 << 20),
		Target: "<= 64", Note: fmt.Sprintf("VmHWM of the whole process (server and client); idle RSS before the PUT %.1f MiB", float64(idle)/(1<<20))})
	return nil
}

// runConfirm confirms objects of growing size uploaded to local disk (and
// to S3 when ATTACH_S3_URL is set) and compares the largest's confirm
// time with the 10 KB one's, measured alternately.
func runConfirm(ctx context.Context, b *bench) error {
	sizes := []int64{10_000, 1 << 20, 64 << 20}
	if b.full {
		sizes = append(sizes, 1<<30)
	}
	stores := []struct{ name, url string }{{"local", ""}}
	if b.peers.S3URL != "" {
		stores = append(stores, struct{ name, url string }{"S3", b.peers.S3URL})
	}
	for _, st := range stores {
		e, err := newEnv(ctx, filepath.Join(b.dir, "confirm-"+st.name), st.url)
		if err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		err = confirmSizes(ctx, b, e, st.name, sizes)
		e.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	return nil
}

func confirmSizes(ctx context.Context, b *bench, e *env, name string, sizes []int64) error {
	confirm := func(size int64) (float64, error) {
		up, err := e.svc.RequestUpload(ctx, scope, attach.UploadRequest{FileName: "c.pdf", MIMEType: "application/pdf", Size: size})
		if err != nil {
			return 0, err
		}
		if err := e.put(up.URL, up.Headers, benchkit.NewPDFStream(size), size); err != nil {
			return 0, err
		}
		t0 := time.Now()
		if _, err := e.svc.Confirm(ctx, scope, up.ID); err != nil {
			return 0, err
		}
		d := time.Since(t0)
		return float64(d.Microseconds()) / 1000, e.svc.Delete(ctx, scope, up.ID, nil)
	}
	rounds := b.profile(5, 5)
	small := sizes[0]
	for _, size := range sizes[1:] {
		as, bs, err := alternate(rounds, func() (float64, error) { return confirm(size) }, func() (float64, error) { return confirm(small) })
		if err != nil {
			return err
		}
		r := &Result{Scenario: fmt.Sprintf("confirm %s %s vs 10KB", name, sizeName(size)), Unit: "ms", Samples: as, BSamples: bs, Versus: "confirm of 10 KB"}
		if size == sizes[len(sizes)-1] {
			r.Target = "<= 2"
		}
		b.add(r)
		if size == sizes[1] {
			b.curve("confirm", name, float64(small), r.Baseline)
		}
		b.curve("confirm", name, float64(size), r.Attachkit)
	}
	return nil
}

func sizeName(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKB", n/1000)
}
