package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/benchkit"
	"github.com/attachkit/attachkit/preview"
)

// runThumbnail renders a 4000×3000 JPEG to 256 px with package preview,
// alternating with vipsthumbnail run as a process per thumbnail (as a
// server shelling out to it would), as preview's BenchmarkThumbnail4000x3000.
func runThumbnail(ctx context.Context, b *bench) error {
	if b.peers.Vips == "" {
		return skipError{"vipsthumbnail is not on PATH (Debian: libvips-tools)"}
	}
	data, err := benchkit.PhotoJPEG(4000, 3000)
	if err != nil {
		return err
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
