package preview

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

func TestPreviewImages(t *testing.T) {
	t.Parallel()
	r := New(&Options{DisableTools: true})
	tests := []struct {
		name         string
		data         []byte
		mimeType     string
		spec         driver.PreviewSpec
		wantW, wantH int
		// checks are colours expected at fractional positions of the preview.
		checks []check
	}{
		{
			name: "jpeg contain", data: encodeJPEG(t, quadrants(800, 600)), mimeType: "image/jpeg",
			spec:  driver.PreviewSpec{Width: 256, Height: 256, Fit: driver.FitContain},
			wantW: 256, wantH: 192, checks: quadrantChecks(),
		},
		{
			name: "jpeg cover keeps the middle", data: encodeJPEG(t, stripes(900, 300, red, green, blue)), mimeType: "image/jpeg",
			spec:  driver.PreviewSpec{Width: 64, Height: 64, Fit: driver.FitCover},
			wantW: 64, wantH: 64, checks: []check{{0.1, 0.5, green}, {0.5, 0.5, green}, {0.9, 0.5, green}},
		},
		{
			name: "png contain to png", data: encodePNG(t, quadrants(1000, 500)), mimeType: "image/png",
			spec:  driver.PreviewSpec{Width: 64, Height: 64, Fit: driver.FitContain, Format: "image/png"},
			wantW: 64, wantH: 32, checks: quadrantChecks(),
		},
		{
			name: "png cover of a tall image", data: encodePNG(t, quadrants(300, 1200)), mimeType: "image/png",
			spec:  driver.PreviewSpec{Width: 256, Height: 64, Fit: driver.FitCover},
			wantW: 256, wantH: 64, checks: []check{{0.25, 0.2, red}, {0.75, 0.2, green}, {0.25, 0.8, blue}, {0.75, 0.8, white}},
		},
		{
			name: "small image is not enlarged", data: encodePNG(t, quadrants(100, 50)), mimeType: "image/png",
			spec:  driver.PreviewSpec{Width: 256, Height: 256, Fit: driver.FitContain},
			wantW: 100, wantH: 50, checks: quadrantChecks(),
		},
		{
			name: "small image cover keeps the box aspect", data: encodePNG(t, stripes(300, 100, red, green, blue)), mimeType: "image/png",
			spec:  driver.PreviewSpec{Width: 256, Height: 256, Fit: driver.FitCover},
			wantW: 100, wantH: 100, checks: []check{{0.5, 0.5, green}},
		},
		{
			name: "gif first frame", data: encodeGIF(t, 400, 200, red, blue), mimeType: "image/gif",
			spec:  driver.PreviewSpec{Width: 64, Height: 64, Fit: driver.FitContain},
			wantW: 64, wantH: 32, checks: []check{{0.5, 0.5, red}},
		},
		{
			name: "webp", data: webpSolid(1024, 512, color.NRGBA{0, 0, 255, 255}), mimeType: "image/webp",
			spec:  driver.PreviewSpec{Width: 256, Height: 256, Fit: driver.FitContain},
			wantW: 256, wantH: 128, checks: []check{{0.5, 0.5, blue}},
		},
		{
			name: "transparent webp to jpeg is over white", data: webpSolid(64, 64, color.NRGBA{0, 0, 0, 0}), mimeType: "image/webp",
			spec:  driver.PreviewSpec{Width: 64, Height: 64},
			wantW: 64, wantH: 64, checks: []check{{0.5, 0.5, white}},
		},
		{
			name: "gray jpeg", data: encodeJPEG(t, grayHalves(600, 300)), mimeType: "image/jpeg",
			spec:  driver.PreviewSpec{Width: 64, Height: 64, Fit: driver.FitContain},
			wantW: 64, wantH: 32, checks: []check{{0.25, 0.5, color.RGBA{0, 0, 0, 255}}, {0.75, 0.5, white}},
		},
		{
			name: "type parameters and case are ignored", data: encodePNG(t, quadrants(64, 64)), mimeType: "Image/PNG; charset=binary",
			spec:  driver.PreviewSpec{Width: 64, Height: 64},
			wantW: 64, wantH: 64, checks: quadrantChecks(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img, err := preview(t, r, tt.data, tt.mimeType, tt.spec)
			require.NoError(t, err)
			assert.Equal(t, tt.wantW, img.Bounds().Dx(), "width")
			assert.Equal(t, tt.wantH, img.Bounds().Dy(), "height")
			for _, c := range tt.checks {
				assert.Truef(t, near(at(img, c.fx, c.fy), c.want, 48), "at (%.2f, %.2f): got %v, want %v",
					c.fx, c.fy, at(img, c.fx, c.fy), c.want)
			}
		})
	}
}

// grayHalves returns a grayscale image, black on the left, white on the
// right.
func grayHalves(w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := w / 2; x < w; x++ {
			img.Pix[img.PixOffset(x, y)] = 0xff
		}
	}
	return img
}

// check expects a colour at a fractional position of a preview.
type check struct {
	fx, fy float64
	want   color.RGBA
}

func quadrantChecks() []check {
	return []check{{0.25, 0.25, red}, {0.75, 0.25, green}, {0.25, 0.75, blue}, {0.75, 0.75, white}}
}

func TestPreviewRefuses(t *testing.T) {
	t.Parallel()
	r := New(&Options{DisableTools: true})
	jpg := encodeJPEG(t, quadrants(64, 64))
	pngData := encodePNG(t, photo(64, 64))
	gifData := encodeGIF(t, 64, 64, red, blue)
	webpData := webpSolid(64, 64, color.NRGBA{255, 0, 0, 255})
	ok := driver.PreviewSpec{Width: 64, Height: 64}
	tests := []struct {
		name     string
		data     []byte
		mimeType string
		spec     driver.PreviewSpec
		want     error
	}{
		{name: "svg with script is never rasterised", mimeType: "image/svg+xml", spec: ok, want: driver.ErrNoPreview,
			data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>`)},
		{name: "unknown type", data: jpg, mimeType: "application/octet-stream", spec: ok, want: driver.ErrNoPreview},
		{name: "pdf without tools", data: []byte("%PDF-1.4"), mimeType: "application/pdf", spec: ok, want: driver.ErrNoPreview},
		{name: "video without tools", data: []byte("...."), mimeType: "video/mp4", spec: ok, want: driver.ErrNoPreview},
		{name: "empty", data: nil, mimeType: "image/png", spec: ok, want: driver.ErrInvalidArgument},
		{name: "truncated jpeg", data: jpg[:len(jpg)/2], mimeType: "image/jpeg", spec: ok, want: driver.ErrInvalidArgument},
		{name: "truncated png", data: pngData[:len(pngData)/2], mimeType: "image/png", spec: ok, want: driver.ErrInvalidArgument},
		{name: "truncated gif", data: gifData[:len(gifData)/2], mimeType: "image/gif", spec: ok, want: driver.ErrInvalidArgument},
		{name: "truncated webp", data: webpData[:len(webpData)-8], mimeType: "image/webp", spec: ok, want: driver.ErrInvalidArgument},
		{name: "png labelled jpeg", data: pngData, mimeType: "image/jpeg", spec: ok, want: driver.ErrInvalidArgument},
		{name: "garbage after a png signature", data: append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0xa5}, 100)...),
			mimeType: "image/png", spec: ok, want: driver.ErrInvalidArgument},
		{name: "zero size", data: jpg, mimeType: "image/jpeg", spec: driver.PreviewSpec{Width: 0, Height: 64}, want: driver.ErrInvalidArgument},
		{name: "too large a box", data: jpg, mimeType: "image/jpeg", spec: driver.PreviewSpec{Width: 64, Height: 5000}, want: driver.ErrInvalidArgument},
		{name: "unknown fit", data: jpg, mimeType: "image/jpeg", spec: driver.PreviewSpec{Width: 64, Height: 64, Fit: "fill"}, want: driver.ErrInvalidArgument},
		{name: "unknown format", data: jpg, mimeType: "image/jpeg", spec: driver.PreviewSpec{Width: 64, Height: 64, Format: "image/gif"}, want: driver.ErrInvalidArgument},
		// Pixel floods: headers that claim more than MaxPixels.
		{name: "png flood", data: pngFlood(20000, 20000), mimeType: "image/png", spec: ok, want: driver.ErrNoPreview},
		{name: "jpeg flood", data: jpegFlood(t, 65000, 65000), mimeType: "image/jpeg", spec: ok, want: driver.ErrNoPreview},
		{name: "gif flood", data: gifFlood(t, 65535, 65535), mimeType: "image/gif", spec: ok, want: driver.ErrNoPreview},
		{name: "webp flood", data: webpSolid(16384, 16384, color.NRGBA{1, 2, 3, 255}), mimeType: "image/webp", spec: ok, want: driver.ErrNoPreview},
		{name: "png wider than the cap", data: pngFlood(60_000_000, 1), mimeType: "image/png", spec: ok, want: driver.ErrNoPreview},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := preview(t, r, tt.data, tt.mimeType, tt.spec)
			require.ErrorIs(t, err, tt.want)
			other := driver.ErrNoPreview
			if tt.want == driver.ErrNoPreview {
				other = driver.ErrInvalidArgument
			}
			assert.NotErrorIs(t, err, other)
		})
	}
}

func TestPixelFloodFailsFastWithBoundedMemory(t *testing.T) {
	r := New(nil)
	data := pngFlood(20000, 20000) // 400 megapixels: 1.2 GB decoded
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := r.Preview(context.Background(), bytes.NewReader(data), int64(len(data)), "image/png",
		driver.PreviewSpec{Width: 256, Height: 256}, io.Discard)
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, driver.ErrNoPreview)
	assert.ErrorContains(t, err, "20000×20000")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "bytes allocated while refusing the flood")
}

// TestPixelCapCountsBytesPerPixel checks that images decoding to more
// than 4 bytes a pixel (16-bit PNGs: 8) get a proportionally lower pixel
// cap, refused from the header like any pixel flood.
func TestPixelCapCountsBytesPerPixel(t *testing.T) {
	t.Run("default cap", func(t *testing.T) {
		data := pngFloodOf(6000, 5000, 16, 2) // 30 megapixels of RGBA64: 240 MB decoded
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := New(nil).Preview(context.Background(), bytes.NewReader(data), int64(len(data)), "image/png",
			driver.PreviewSpec{Width: 256, Height: 256}, io.Discard)
		runtime.ReadMemStats(&after)
		require.ErrorIs(t, err, driver.ErrNoPreview)
		assert.ErrorContains(t, err, "6000×5000")
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "bytes allocated while refusing the image")
	})

	t.Run("at the cap", func(t *testing.T) {
		t.Parallel()
		r := New(&Options{MaxPixels: 10_000, DisableTools: true}) // a budget of 40000 bytes
		spec := driver.PreviewSpec{Width: 64, Height: 64}
		rgba64 := func(w, h int) []byte {
			img := image.NewNRGBA64(image.Rect(0, 0, w, h))
			for i := range img.Pix {
				img.Pix[i] = byte(i * 7)
			}
			return encodePNG(t, img)
		}
		gray16 := func(w, h int) []byte { return encodePNG(t, image.NewGray16(image.Rect(0, 0, w, h))) }
		for _, tt := range []struct {
			name string
			data []byte
			want error
		}{
			{"16-bit RGBA, 8000 pixels", rgba64(100, 80), driver.ErrNoPreview},
			{"16-bit RGBA, 5000 pixels", rgba64(100, 50), nil},
			{"16-bit RGB flood", pngFloodOf(100, 51, 16, 2), driver.ErrNoPreview},
			{"16-bit gray and alpha flood", pngFloodOf(100, 51, 16, 4), driver.ErrNoPreview},
			{"16-bit gray, 8000 pixels", gray16(100, 80), nil},
			{"8-bit RGBA, 8000 pixels", encodePNG(t, photo(100, 80)), nil},
		} {
			_, err := preview(t, r, tt.data, "image/png", spec)
			if tt.want == nil {
				assert.NoError(t, err, tt.name)
			} else {
				assert.ErrorIs(t, err, tt.want, tt.name)
			}
		}
	})
}

func TestPreviewLimitsAreOptions(t *testing.T) {
	t.Parallel()
	data := encodePNG(t, quadrants(200, 100)) // 20000 pixels
	spec := driver.PreviewSpec{Width: 64, Height: 64}

	_, err := preview(t, New(&Options{MaxPixels: 19_999}), data, "image/png", spec)
	require.ErrorIs(t, err, driver.ErrNoPreview)
	_, err = preview(t, New(&Options{MaxPixels: 20_000}), data, "image/png", spec)
	require.NoError(t, err)

	_, err = preview(t, New(&Options{MaxDimension: 32}), data, "image/png", spec)
	require.ErrorIs(t, err, driver.ErrInvalidArgument)
}

// failingReaderAt fails every read after the first n bytes.
type failingReaderAt struct {
	data []byte
	n    int64
	err  error
}

func (f *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.n {
		return 0, f.err
	}
	return copy(p, f.data[off:]), nil
}

func TestPreviewReturnsSourceErrors(t *testing.T) {
	t.Parallel()
	errStore := errors.New("store unavailable")
	data := encodePNG(t, photo(200, 200))
	for _, n := range []int64{0, 100, int64(len(data)) / 2} {
		src := &failingReaderAt{data: data, n: n, err: errStore}
		err := New(nil).Preview(context.Background(), src, int64(len(data)), "image/png",
			driver.PreviewSpec{Width: 64, Height: 64}, io.Discard)
		require.ErrorIs(t, err, errStore)
		assert.NotErrorIs(t, err, driver.ErrInvalidArgument, "a read error is not bad input")
	}
}

func TestPreviewContext(t *testing.T) {
	t.Parallel()
	data := encodePNG(t, quadrants(64, 64))
	spec := driver.PreviewSpec{Width: 64, Height: 64}

	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := New(nil).Preview(ctx, bytes.NewReader(data), int64(len(data)), "image/png", spec, io.Discard)
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, context.Canceled, err, "context errors are returned as they are")
	})

	t.Run("cancelled while waiting for a turn", func(t *testing.T) {
		r := New(&Options{MaxConcurrent: 1})
		entered, release := make(chan struct{}), make(chan struct{})
		r.render["image/png"] = func(context.Context, io.ReaderAt, int64, string, driver.PreviewSpec, io.Writer) error {
			close(entered)
			<-release
			return nil
		}
		first := make(chan error, 1)
		go func() {
			first <- r.Preview(context.Background(), bytes.NewReader(data), int64(len(data)), "image/png", spec, io.Discard)
		}()
		<-entered // the only slot is taken

		ctx, cancel := context.WithCancel(context.Background())
		second := make(chan error, 1)
		go func() {
			second <- r.Preview(ctx, bytes.NewReader(data), int64(len(data)), "image/png", spec, io.Discard)
		}()
		cancel()
		require.Equal(t, context.Canceled, <-second)
		close(release)
		require.NoError(t, <-first)
	})
}

// panicImage is an image whose pixels cannot be read: a stand-in for a bug
// in the scaler, which reads them after decoding.
type panicImage struct{ r image.Rectangle }

func (panicImage) ColorModel() color.Model   { return color.RGBAModel }
func (p panicImage) Bounds() image.Rectangle { return p.r }
func (panicImage) At(x, y int) color.Color   { panic("scaler bug") }

// TestPanicsAreClassified checks that a panic while decoding the source
// is the source's fault (ErrInvalidArgument) and any other panic an
// internal error, and that both release the concurrency slot.
func TestPanicsAreClassified(t *testing.T) {
	t.Parallel()
	data := encodePNG(t, quadrants(80, 80))
	spec := driver.PreviewSpec{Width: 64, Height: 64}
	pngDecode := func(r io.Reader) (image.Image, error) {
		cfg, err := png.DecodeConfig(r)
		return panicImage{image.Rect(0, 0, cfg.Width, cfg.Height)}, err
	}
	panicking := func(io.Reader) (image.Config, error) { panic("index out of range") }
	tests := []struct {
		name     string
		codec    codec
		render   renderFunc
		badInput bool
	}{
		{name: "in DecodeConfig", codec: codec{config: panicking, decode: png.Decode}, badInput: true},
		{name: "in Decode", codec: codec{config: png.DecodeConfig, decode: func(io.Reader) (image.Image, error) { panic("hostile input") }}, badInput: true},
		{name: "in the scaler", codec: codec{config: png.DecodeConfig, decode: pngDecode}},
		{name: "in a thumbnailer", render: func(context.Context, io.ReaderAt, int64, string, driver.PreviewSpec, io.Writer) error {
			var m map[string]int
			m["boom"]++
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(&Options{MaxConcurrent: 1, DisableTools: true})
			if tt.render != nil {
				r.render["image/png"] = tt.render
			} else {
				r.codecs = func(mimeType string) (codec, bool) {
					if mimeType == "image/png" {
						return tt.codec, true
					}
					return codecFor(mimeType)
				}
			}
			for range 2 { // the second call proves the slot was released
				err := r.Preview(context.Background(), bytes.NewReader(data), int64(len(data)), "image/png", spec, io.Discard)
				require.Error(t, err)
				assert.ErrorContains(t, err, "panic")
				assert.NotErrorIs(t, err, driver.ErrNoPreview)
				if tt.badInput {
					assert.ErrorIs(t, err, driver.ErrInvalidArgument, "a decoder panic is the input's fault")
				} else {
					assert.NotErrorIs(t, err, driver.ErrInvalidArgument, "a bug is not the client's fault")
				}
			}
			img, err := preview(t, r, encodeJPEG(t, quadrants(64, 64)), "image/jpeg", spec)
			require.NoError(t, err)
			assert.Equal(t, 64, img.Bounds().Dx())
		})
	}
}

// TestEighthScalePanicFallsBack checks that a panic in the 1/8 JPEG
// decoder, which is an optimisation, falls back to the full decode.
func TestEighthScalePanicFallsBack(t *testing.T) {
	t.Parallel()
	r := New(&Options{DisableTools: true})
	r.decodeEighth = func(io.Reader, int64) (image.Image, error) { panic("1/8 decoder bug") }
	spec := driver.PreviewSpec{Width: 64, Height: 64, Fit: driver.FitContain}
	img, err := preview(t, r, encodeJPEG(t, quadrants(640, 480)), "image/jpeg", spec)
	require.NoError(t, err)
	assert.Equal(t, image.Pt(64, 48), img.Bounds().Size())
	assert.True(t, near(at(img, 0.25, 0.25), red, 24))
}

func TestConcurrentPreviewsKeepMemoryBounded(t *testing.T) {
	const limit = 2
	n := 100
	if testing.Short() {
		n = 20
	}
	// 800×600: about 1 MB allocated a preview (0.7 MB of YCbCr 4:2:0 and
	// the scaled copies), so n unbounded previews would hold about n MB at
	// once (measured: 90 MiB for 100). Small enough to stay quick under
	// the race detector.
	data := encodeJPEG(t, photo(800, 600))
	r := New(&Options{MaxConcurrent: limit})
	var inside, most atomic.Int64
	decode := r.render["image/jpeg"]
	r.render["image/jpeg"] = func(ctx context.Context, src io.ReaderAt, size int64, mt string, spec driver.PreviewSpec, w io.Writer) error {
		now := inside.Add(1)
		defer inside.Add(-1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		return decode(ctx, src, size, mt, spec, w)
	}

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	peak := sampleHeap(t)

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			var out bytes.Buffer
			errs <- r.Preview(context.Background(), bytes.NewReader(data), int64(len(data)), "image/jpeg",
				driver.PreviewSpec{Width: 256, Height: 256}, &out)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	grown := int64(peak()) - int64(base.HeapInuse)
	t.Logf("%d previews, at most %d at once, heap in use grew by at most %.1f MiB", n, most.Load(), float64(grown)/(1<<20))
	assert.LessOrEqual(t, most.Load(), int64(limit))
	assert.Less(t, grown, int64(40<<20), "unbounded, %d previews would hold about %d MiB", n, n)
}

// sampleHeap samples HeapInuse until the returned function is called, which
// returns the highest value seen.
func sampleHeap(t testing.TB) (stop func() uint64) {
	t.Helper()
	done := make(chan struct{})
	result := make(chan uint64, 1)
	go func() {
		var ms runtime.MemStats
		var peak uint64
		tick := time.NewTicker(time.Millisecond) // ReadMemStats stops the world: not too often
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				result <- peak
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	var peak uint64
	stop = func() uint64 {
		once.Do(func() { close(done); peak = <-result })
		return peak
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestCapabilities(t *testing.T) {
	t.Parallel()
	r := New(&Options{Pdftoppm: "/nonexistent/pdftoppm", FFmpeg: "/nonexistent/ffmpeg"})
	assert.Equal(t, []string{"image/gif", "image/jpeg", "image/png", "image/webp"}, r.Capabilities())
	for _, mt := range []string{"image/jpeg", "IMAGE/PNG", "image/gif; x=y", "image/webp"} {
		assert.True(t, r.Accepts(mt), mt)
	}
	for _, mt := range []string{"image/svg+xml", "application/pdf", "video/mp4", "text/plain", ""} {
		assert.False(t, r.Accepts(mt), mt)
	}
}

func TestPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		w, h         int
		bw, bh       int
		fit          driver.Fit
		wantCrop     image.Rectangle
		wantW, wantH int
	}{
		{name: "contain landscape", w: 4000, h: 3000, bw: 256, bh: 256, fit: driver.FitContain,
			wantCrop: image.Rect(0, 0, 4000, 3000), wantW: 256, wantH: 192},
		{name: "contain portrait", w: 3000, h: 4000, bw: 256, bh: 256, fit: driver.FitContain,
			wantCrop: image.Rect(0, 0, 3000, 4000), wantW: 192, wantH: 256},
		{name: "contain extreme", w: 10000, h: 10, bw: 64, bh: 64, fit: driver.FitContain,
			wantCrop: image.Rect(0, 0, 10000, 10), wantW: 64, wantH: 1},
		{name: "cover landscape", w: 4000, h: 3000, bw: 256, bh: 256, fit: driver.FitCover,
			wantCrop: image.Rect(500, 0, 3500, 3000), wantW: 256, wantH: 256},
		{name: "cover wide box", w: 1000, h: 1000, bw: 1024, bh: 64, fit: driver.FitCover,
			wantCrop: image.Rect(0, 468, 1000, 531), wantW: 1000, wantH: 63},
		{name: "cover small", w: 300, h: 100, bw: 64, bh: 256, fit: driver.FitCover,
			wantCrop: image.Rect(137, 0, 162, 100), wantW: 25, wantH: 100},
		{name: "cover 1 pixel", w: 1, h: 1, bw: 64, bh: 64, fit: driver.FitCover,
			wantCrop: image.Rect(0, 0, 1, 1), wantW: 1, wantH: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crop, w, h := plan(image.Rect(0, 0, tt.w, tt.h), tt.bw, tt.bh, tt.fit)
			assert.Equal(t, tt.wantCrop, crop)
			assert.Equal(t, [2]int{tt.wantW, tt.wantH}, [2]int{w, h})
		})
	}
}

// FuzzPreviewImage feeds arbitrary bytes to the image decoders and the
// scaler under every image type: no panic escapes (renderImage recovers
// the decoders' panics; one of our own code fails the fuzzer), and every
// error is classified.
func FuzzPreviewImage(f *testing.F) {
	f.Add(encodeJPEG(f, quadrants(16, 8)), uint8(0))
	f.Add(withOrientation(encodeJPEG(f, quadrants(8, 16)), 6, binary.BigEndian), uint8(0))
	f.Add(encodePNG(f, quadrants(9, 5)), uint8(1))
	f.Add(encodeGIF(f, 7, 3, red, green), uint8(2))
	f.Add(webpSolid(5, 9, color.NRGBA{1, 2, 3, 4}), uint8(3))
	f.Add(pngFlood(20000, 20000), uint8(1))
	r := New(&Options{MaxPixels: 1 << 20, DisableTools: true})
	spec := driver.PreviewSpec{Width: 7, Height: 5, Fit: driver.FitCover}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		mt := imageTypes[int(kind)%len(imageTypes)]
		var out bytes.Buffer // renderImage, not Preview: a panic outside the decoders fails the fuzzer
		err := r.renderImage(context.Background(), bytes.NewReader(data), int64(len(data)), mt, spec, &out)
		if err != nil {
			if !errors.Is(err, driver.ErrInvalidArgument) && !errors.Is(err, driver.ErrNoPreview) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		cfg, _, err := image.DecodeConfig(&out)
		if err != nil || cfg.Width < 1 || cfg.Height < 1 || cfg.Width > 7 || cfg.Height > 5 {
			t.Fatalf("preview %+v, %v", cfg, err)
		}
	})
}
