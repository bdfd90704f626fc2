package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/benchkit"
	"github.com/attachkit/attachkit/meta/sqlite"
	"github.com/attachkit/attachkit/preview"
)

// runThumbnail measures thumbnails: through the Service (a stored
// thumbnail served again, and the peak RSS of 100 concurrent first
// requests of 24-megapixel JPEGs), then package preview rendering a
// 4000×3000 JPEG to 256 px, alternating with vipsthumbnail run as a
// process per thumbnail (as a server shelling out to it would), as
// preview's BenchmarkThumbnail4000x3000.
func runThumbnail(ctx context.Context, b *bench) error {
	data, err := benchkit.PhotoJPEG(4000, 3000)
	if err != nil {
		return err
	}
	if err := thumbnailService(ctx, b, data); err != nil {
		return err
	}
	if b.peers.Vips == "" {
		return skipError{"vipsthumbnail is not on PATH (Debian: libvips-tools)"}
	}
	dir := filepath.Join(b.dir, "thumbnail")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	src := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		return err
	}
	r := preview.New(nil)
	spec := driver.PreviewSpec{Width: 256, Height: 256, Fit: driver.FitContain}
	ours := func() (float64, error) {
		t0 := time.Now()
		err := r.Preview(ctx, bytes.NewReader(data), int64(len(data)), "image/jpeg", spec, io.Discard)
		return float64(time.Since(t0).Microseconds()) / 1000, err
	}
	theirs := func() (float64, error) {
		t0 := time.Now()
		cmd := exec.CommandContext(ctx, b.peers.Vips, src, "--size", "256x256", "-o", filepath.Join(dir, "thumb.jpg[Q=85]"))
		if msg, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("vipsthumbnail: %v: %s", err, msg)
		}
		return float64(time.Since(t0).Microseconds()) / 1000, nil
	}
	as, bs, err := alternate(b.profile(7, 15), ours, theirs)
	if err != nil {
		return err
	}
	b.add(&Result{Scenario: "thumbnail 4000x3000 JPEG to 256px", Unit: "ms", Samples: as, BSamples: bs,
		Versus: "vipsthumbnail (a process each)", Target: "<= 1.5"})
	return nil
}

// thumbnailService measures Service.Thumbnail on SQLite and local disk
// with package preview as its previewer.
func thumbnailService(ctx context.Context, b *bench, photo []byte) error {
	dir := filepath.Join(b.dir, "thumbnail-service")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	st, err := blob.OpenDir(filepath.Join(dir, "files"), nil)
	if err != nil {
		return err
	}
	defer st.Close()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "attach.db"), nil)
	if err != nil {
		return err
	}
	defer store.Close()
	svc, err := attach.New(st, store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}},
		BaseURL:     "http://127.0.0.1/v1/blob", Previewer: preview.New(nil),
	})
	if err != nil {
		return err
	}
	put := func(data []byte) (*attach.File, error) {
		return svc.Put(ctx, scope, attach.PutRequest{FileName: "photo.jpg", MIMEType: "image/jpeg", Size: int64(len(data))},
			bytes.NewReader(data))
	}

	// A stored thumbnail, asked for again: rights, lookup and signing.
	f, err := put(photo)
	if err != nil {
		return err
	}
	opts := &attach.ThumbnailOptions{Width: 256}
	if _, err := svc.Thumbnail(ctx, scope, f.ID, opts); err != nil {
		return err
	}
	var samples []float64
	for range b.profile(200, 2000) {
		t0 := time.Now()
		u, err := svc.Thumbnail(ctx, scope, f.ID, opts)
		if err != nil || u == nil {
			return fmt.Errorf("cached thumbnail: %v (%v)", err, u)
		}
		samples = append(samples, float64(time.Since(t0).Microseconds())/1000)
	}
	b.add(&Result{Scenario: "thumbnail cached (Service)", Unit: "ms", Samples: samples, Target: "<= 2",
		Note: "Service.Thumbnail of a stored 256 px thumbnail on SQLite + disk: the median"})

	// 100 concurrent first requests: 25 files of 24 megapixels, 4 sizes
	// each (the 1024 px ones decode in full, the others at 1/8 scale).
	big, err := benchkit.PhotoJPEG(6000, 4000)
	if err != nil {
		return err
	}
	var ids []string
	for range 25 {
		f, err := put(big)
		if err != nil {
			return err
		}
		ids = append(ids, f.ID)
	}
	specs := []attach.ThumbnailOptions{{Width: 64}, {Width: 256}, {Width: 256, Fit: attach.FitContain}, {Width: 1024, Fit: attach.FitContain}}
	debug.FreeOSMemory()
	idle := benchkit.ReadRSS("VmRSS:")
	benchkit.ResetPeakRSS()
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			o := specs[i/25]
			if u, err := svc.Thumbnail(ctx, scope, ids[i%25], &o); err != nil || u == nil {
				errs <- fmt.Errorf("first thumbnail: %v (%v)", err, u)
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	b.add(&Result{Scenario: "thumbnail 100x24MP first requests RSS", Unit: "MiB", Attachkit: float64(benchkit.PeakRSS()) / (1 << 20),
		Target: "<= 512", Note: fmt.Sprintf("VmHWM of the whole process; idle RSS before %.1f MiB; %s for the 100 renders",
			float64(idle)/(1<<20), time.Since(t0).Round(time.Millisecond))})
	return nil
}
