package attach_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/preview"
)

// countingPreviewer counts the renders of a real previewer; when panics
// is positive, that many renders panic first.
type countingPreviewer struct {
	driver.Previewer
	renders atomic.Int64
	panics  atomic.Int64
	delay   time.Duration
}

func (c *countingPreviewer) Preview(ctx context.Context, src io.ReaderAt, size int64, mimeType string, spec driver.PreviewSpec, w io.Writer) error {
	c.renders.Add(1)
	if c.panics.Add(-1) >= 0 {
		panic("thumbnailer bug")
	}
	time.Sleep(c.delay)
	return c.Previewer.Preview(ctx, src, size, mimeType, spec, w)
}

// thumbEnv is an env whose Service renders thumbnails with package preview.
func thumbEnv(t *testing.T, mod func(*attach.Options)) (*env, *countingPreviewer) {
	t.Helper()
	p := &countingPreviewer{Previewer: preview.New(nil)}
	e := newEnv(t, func(o *attach.Options) {
		o.Previewer = p
		if mod != nil {
			mod(o)
		}
	})
	return e, p
}

// fetch reads what a library-signed URL serves.
func (e *env) fetch(t *testing.T, u *attach.SignedURL) (*attach.Content, []byte) {
	t.Helper()
	require.NotNil(t, u)
	key, q := splitURL(t, u.URL)
	c, err := e.svc.OpenSigned(context.Background(), key, q)
	require.NoError(t, err)
	defer c.Close()
	data, err := io.ReadAll(c)
	require.NoError(t, err)
	return c, data
}

func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 128, A: 255})
		}
	}
	return img
}

func jpegBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, gradient(w, h), &jpeg.Options{Quality: 90}))
	return b.Bytes()
}

func gradientPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, gradient(w, h)))
	return b.Bytes()
}

func TestThumbnailRendersOnceAndServes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		file       string
		mimeType   string
		data       []byte
		opts       attach.ThumbnailOptions
		wantType   string
		wantFormat string
		w, h       int
	}{
		{name: "png contain", file: "a.png", mimeType: "image/png", data: gradientPNG(t, 600, 400),
			opts: attach.ThumbnailOptions{Width: 256, Fit: attach.FitContain}, wantType: "image/png", wantFormat: "png", w: 256, h: 171},
		{name: "png cover", file: "a.png", mimeType: "image/png", data: gradientPNG(t, 600, 400),
			opts: attach.ThumbnailOptions{Width: 64, Height: 64}, wantType: "image/png", wantFormat: "png", w: 64, h: 64},
		{name: "jpeg wide box", file: "p.jpg", mimeType: "image/jpeg", data: jpegBytes(t, 1200, 900),
			opts: attach.ThumbnailOptions{Width: 1024, Height: 256, Fit: attach.FitCover}, wantType: "image/jpeg", wantFormat: "jpeg", w: 1024, h: 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, p := thumbEnv(t, nil)
			f := e.upload(t, alice, tt.file, tt.mimeType, tt.data)
			require.Equal(t, attach.StatusReady, f.Status)

			e.storage.read.Store(0)
			u, err := e.svc.Thumbnail(ctx, alice, f.ID, &tt.opts)
			require.NoError(t, err)
			require.NotNil(t, u)
			assert.Equal(t, e.clock.Now().Add(time.Hour).UTC(), u.ExpiresAt)
			assert.LessOrEqual(t, e.storage.read.Load(), 2*int64(len(tt.data))+64<<10,
				"the source is streamed from storage: header, then one pass")
			c, data := e.fetch(t, u)
			assert.Equal(t, tt.wantType, c.MIMEType)
			assert.Equal(t, "inline", c.ContentDisposition)
			assert.Equal(t, int64(len(data)), c.Size)
			assert.True(t, c.Private)
			img, format, err := image.Decode(bytes.NewReader(data))
			require.NoError(t, err)
			assert.Equal(t, tt.wantFormat, format)
			assert.Equal(t, image.Pt(tt.w, tt.h), img.Bounds().Size())

			again, err := e.svc.Thumbnail(ctx, alice, f.ID, &tt.opts)
			require.NoError(t, err)
			k1, _ := splitURL(t, u.URL)
			k2, _ := splitURL(t, again.URL)
			assert.Equal(t, k1, k2, "the stored thumbnail is served again")
			assert.Equal(t, int64(1), p.renders.Load(), "rendered once")
			assert.True(t, strings.HasPrefix(k1, "ws-a/"+f.ID+"/v1/"), k1)
			assert.Len(t, e.objects(t), 2, "the file and its thumbnail")

			ds, err := e.store.Derivatives(ctx, "ws-a", f.ID, 1)
			require.NoError(t, err)
			require.Len(t, ds, 1)
			assert.Equal(t, "generated", ds[0].Source)
			assert.Equal(t, k1, ds[0].StorageKey)
			assert.Equal(t, tt.w, ds[0].Width)
			assert.Equal(t, tt.h, ds[0].Height)
		})
	}
}

func TestThumbnailPDF(t *testing.T) {
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		t.Skip("pdftoppm (poppler-utils) is not on PATH")
	}
	ctx := context.Background()
	e, _ := thumbEnv(t, nil)
	f := e.upload(t, alice, "doc.pdf", "application/pdf", onePagePDF())
	u, err := e.svc.Thumbnail(ctx, alice, f.ID, &attach.ThumbnailOptions{Width: 256, Fit: attach.FitContain})
	require.NoError(t, err)
	require.NotNil(t, u, "a PDF has a first-page thumbnail where poppler is installed")
	c, data := e.fetch(t, u)
	assert.Equal(t, "image/jpeg", c.MIMEType)
	img, err := jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, image.Pt(256, 128), img.Bounds().Size(), "page 1 is 200×100 points")
	r, g, b, _ := img.At(32, 64).RGBA()
	assert.True(t, r>>8 > 200 && g>>8 < 60 && b>>8 < 60, "the left half of page 1 is red, got %d,%d,%d", r>>8, g>>8, b>>8)
}

func TestThumbnailVideo(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg is not on PATH")
	}
	path := filepath.Join(t.TempDir(), "clip.mp4")
	out, err := exec.Command(ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "lavfi",
		"-i", "testsrc=size=320x240:rate=10:duration=1", "-c:v", "mpeg4", "-pix_fmt", "yuv420p", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	clip, err := os.ReadFile(path)
	require.NoError(t, err)

	ctx := context.Background()
	e, _ := thumbEnv(t, nil)
	f := e.upload(t, alice, "clip.mp4", "video/mp4", clip)
	u, err := e.svc.Thumbnail(ctx, alice, f.ID, &attach.ThumbnailOptions{Width: 64, Height: 64})
	require.NoError(t, err)
	require.NotNil(t, u, "a video gets a poster frame where ffmpeg is installed")
	c, data := e.fetch(t, u)
	assert.Equal(t, "image/jpeg", c.MIMEType)
	img, err := jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, image.Pt(64, 64), img.Bounds().Size())
}

func TestThumbnailNull(t *testing.T) {
	ctx := context.Background()
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>`)
	tests := []struct {
		name, file, mimeType string
		data                 []byte
		noPreviewer          bool
	}{
		{name: "svg with script is never rasterised", file: "x.svg", mimeType: "image/svg+xml", data: svg},
		{name: "pixel flood", file: "flood.png", mimeType: "image/png", data: pngFlood(20000, 20000)},
		{name: "text", file: "a.txt", mimeType: "text/plain", data: []byte("hello, world\n")},
		{name: "no previewer", file: "a.png", mimeType: "image/png", data: gradientPNG(t, 40, 30), noPreviewer: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, p := thumbEnv(t, func(o *attach.Options) {
				o.Policy = withText()
				if tt.noPreviewer {
					o.Previewer = nil
				}
			})
			f := e.upload(t, alice, tt.file, tt.mimeType, tt.data)
			start := time.Now()
			u, err := e.svc.Thumbnail(ctx, alice, f.ID, &attach.ThumbnailOptions{Width: 256})
			require.NoError(t, err)
			assert.Nil(t, u)
			assert.Less(t, time.Since(start), 5*time.Second, "refused from the header, not decoded")
			if tt.mimeType != "image/png" {
				assert.Zero(t, p.renders.Load(), "a type the previewer does not accept is not read")
			}
			assert.Len(t, e.objects(t), 1, "nothing was stored")
		})
	}
}

// withText is the default policy plus text/plain.
func withText() *attach.Policy {
	p := attach.DefaultPolicy()
	p.Types = append(p.Types, attach.TypeRule{MIMEType: "text/plain"})
	return &p
}

// pngFlood is a PNG header claiming w×h pixels, followed by nothing.
func pngFlood(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	ihdr[0], ihdr[1], ihdr[2], ihdr[3] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
	ihdr[4], ihdr[5], ihdr[6], ihdr[7] = byte(h>>24), byte(h>>16), byte(h>>8), byte(h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk(&b, "IHDR", ihdr)
	chunk(&b, "IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk(&b, "IEND", nil)
	return b.Bytes()
}

func chunk(b *bytes.Buffer, typ string, data []byte) {
	n := len(data)
	b.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	b.WriteString(typ)
	b.Write(data)
	sum := crc32.NewIEEE()
	sum.Write([]byte(typ))
	sum.Write(data)
	c := sum.Sum32()
	b.Write([]byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)})
}

func TestThumbnailBadInput(t *testing.T) {
	ctx := context.Background()
	e, p := thumbEnv(t, func(o *attach.Options) { o.Policy = withText() })
	good := e.upload(t, alice, "a.png", "image/png", gradientPNG(t, 300, 200))
	full := jpegBytes(t, 800, 600)
	truncated := e.upload(t, alice, "cut.jpg", "image/jpeg", full[:len(full)/2])
	pngFull := gradientPNG(t, 300, 200)
	malformed := append(append([]byte(nil), pngFull[:60]...), bytes.Repeat([]byte{0xAB}, 200)...)
	broken := e.upload(t, alice, "broken.png", "image/png", malformed)

	tests := []struct {
		name  string
		scope attach.Scope
		id    string
		opts  *attach.ThumbnailOptions
		code  attach.Code
	}{
		{"size not allowed", alice, good.ID, &attach.ThumbnailOptions{Width: 100}, attach.CodeInvalidRequest},
		{"height not allowed", alice, good.ID, &attach.ThumbnailOptions{Width: 64, Height: 65}, attach.CodeInvalidRequest},
		{"no size", alice, good.ID, &attach.ThumbnailOptions{}, attach.CodeInvalidRequest},
		{"nil options", alice, good.ID, nil, attach.CodeInvalidRequest},
		{"negative size", alice, good.ID, &attach.ThumbnailOptions{Width: -64}, attach.CodeInvalidRequest},
		{"bad fit", alice, good.ID, &attach.ThumbnailOptions{Width: 64, Fit: "stretch"}, attach.CodeInvalidRequest},
		{"bad id", alice, "file_nope", &attach.ThumbnailOptions{Width: 64}, attach.CodeInvalidRequest},
		{"other workspace", wsB, good.ID, &attach.ThumbnailOptions{Width: 64}, attach.CodeNotFound},
		{"no right", bob, good.ID, &attach.ThumbnailOptions{Width: 64}, attach.CodeForbidden},
		{"unknown version", alice, good.ID, &attach.ThumbnailOptions{Width: 64, Version: 7}, attach.CodeNotFound},
		{"truncated jpeg", alice, truncated.ID, &attach.ThumbnailOptions{Width: 64}, attach.CodeContentMismatch},
		{"malformed png", alice, broken.ID, &attach.ThumbnailOptions{Width: 64}, attach.CodeContentMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := e.svc.Thumbnail(ctx, tt.scope, tt.id, tt.opts)
			assert.Nil(t, u)
			assert.Equal(t, tt.code, attach.CodeOf(err), "%v", err)
		})
	}
	assert.Equal(t, int64(2), p.renders.Load(), "only the undecodable files reached the previewer")
	assert.Len(t, e.objects(t), 3, "no thumbnail was stored")
}

func TestThumbnailConcurrentFirstRequests(t *testing.T) {
	ctx := context.Background()
	e, p := thumbEnv(t, func(o *attach.Options) { o.ThumbnailWorkers = 2 })
	p.delay = 50 * time.Millisecond // keep the flight open while the others arrive
	f := e.upload(t, alice, "big.jpg", "image/jpeg", jpegBytes(t, 2000, 1500))
	other := e.upload(t, alice, "other.png", "image/png", gradientPNG(t, 500, 500))

	const n = 100
	urls := make([]*attach.SignedURL, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			id, opts := f.ID, &attach.ThumbnailOptions{Width: 256}
			if i%4 == 3 { // a second key in the same burst
				id, opts = other.ID, &attach.ThumbnailOptions{Width: 64, Fit: attach.FitContain}
			}
			urls[i], errs[i] = e.svc.Thumbnail(ctx, alice, id, opts)
		})
	}
	close(start)
	wg.Wait()
	keys := map[string]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		require.NotNil(t, urls[i])
		k, _ := splitURL(t, urls[i].URL)
		keys[k] = true
	}
	assert.Len(t, keys, 2, "every caller of a key got the same thumbnail")
	assert.Equal(t, int64(2), p.renders.Load(), "one decode per key")
	for _, id := range []string{f.ID, other.ID} {
		ds, err := e.store.Derivatives(ctx, "ws-a", id, 1)
		require.NoError(t, err)
		assert.Len(t, ds, 1, "one derivative row")
	}
	assert.Len(t, e.objects(t), 4, "two files, two thumbnails, no leftovers")
}

func TestThumbnailPanickingPreviewer(t *testing.T) {
	ctx := context.Background()
	e, p := thumbEnv(t, nil)
	p.panics.Store(1)
	f := e.upload(t, alice, "a.png", "image/png", gradientPNG(t, 300, 200))
	u, err := e.svc.Thumbnail(ctx, alice, f.ID, &attach.ThumbnailOptions{Width: 64})
	assert.Nil(t, u)
	require.Error(t, err)
	assert.Equal(t, attach.CodeInternal, attach.CodeOf(err))
	assert.NotContains(t, err.(*attach.Error).Message, "thumbnailer bug", "the panic stays in logs")

	// The service keeps working, and the failure was not remembered.
	_, err = e.svc.DownloadURL(ctx, alice, f.ID, nil)
	require.NoError(t, err)
	u, err = e.svc.Thumbnail(ctx, alice, f.ID, &attach.ThumbnailOptions{Width: 64})
	require.NoError(t, err)
	require.NotNil(t, u)
	assert.Equal(t, int64(2), p.renders.Load())
}

func TestThumbnailGoesWithItsVersion(t *testing.T) {
	ctx := context.Background()
	e, p := thumbEnv(t, nil)
	f := e.upload(t, alice, "a.png", "image/png", gradientPNG(t, 300, 200))
	opts := &attach.ThumbnailOptions{Width: 64}
	u1, err := e.svc.Thumbnail(ctx, alice, f.ID, opts)
	require.NoError(t, err)
	k1, q1 := splitURL(t, u1.URL)

	// A restored version is a new version with its own thumbnail.
	g, err := e.svc.RestoreVersion(ctx, alice, f.ID, 1, nil)
	require.NoError(t, err)
	require.Equal(t, 2, g.Version)
	u2, err := e.svc.Thumbnail(ctx, alice, f.ID, opts)
	require.NoError(t, err)
	k2, _ := splitURL(t, u2.URL)
	assert.NotEqual(t, k1, k2)
	assert.True(t, strings.HasPrefix(k2, "ws-a/"+f.ID+"/v2/"), k2)
	assert.Equal(t, int64(2), p.renders.Load())
	old, err := e.svc.Thumbnail(ctx, alice, f.ID, &attach.ThumbnailOptions{Width: 64, Version: 1})
	require.NoError(t, err)
	ko, _ := splitURL(t, old.URL)
	assert.Equal(t, k1, ko, "version 1 keeps its thumbnail")

	// A URL signed for one version does not serve another version's key.
	tampered := q1
	tampered.Set("v", "2")
	_, err = e.svc.OpenSigned(ctx, k1, tampered)
	assert.Equal(t, attach.CodeForbidden, attach.CodeOf(err))

	require.Len(t, e.objects(t), 3)
	require.NoError(t, e.svc.Delete(ctx, alice, f.ID, nil))
	assert.Empty(t, e.objects(t), "deleting the file removed its thumbnails' objects")
	_, err = e.svc.OpenSigned(ctx, k1, func() map[string][]string { _, q := splitURL(t, u1.URL); return q }())
	assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err), "a deleted file's thumbnail URL stops working")
}

func TestGenerateThumbnails(t *testing.T) {
	ctx := context.Background()
	eager := []attach.ThumbnailSpec{{Width: 64, Height: 64}, {Width: 256, Height: 256, Fit: attach.FitContain}}
	e, p := thumbEnv(t, func(o *attach.Options) { o.EagerThumbnails = eager })
	f := e.upload(t, alice, "a.jpg", "image/jpeg", jpegBytes(t, 640, 480))
	assert.Equal(t, attach.StatusProcessing, f.Status, "eager thumbnails are rendered before the file is ready")
	_, err := attach.NewWorker(e.svc, nil).RunDue(ctx)
	require.NoError(t, err)
	got, err := e.svc.File(ctx, alice, f.ID)
	require.NoError(t, err)
	assert.Equal(t, attach.StatusReady, got.Status)
	assert.Equal(t, int64(2), p.renders.Load(), "the worker rendered both")
	for range 2 {
		require.NoError(t, e.svc.GenerateThumbnails(ctx, "ws-a", f.ID, 0))
	}
	assert.Equal(t, int64(2), p.renders.Load(), "idempotent: each thumbnail rendered once")
	ds, err := e.store.Derivatives(ctx, "ws-a", f.ID, 1)
	require.NoError(t, err)
	require.Len(t, ds, 2)

	var limited atomic.Int64
	opts := &attach.ThumbnailOptions{Width: 256, Fit: attach.FitContain, BeforeRender: func(context.Context) error {
		limited.Add(1)
		return errors.New("not reached")
	}}
	u, err := e.svc.Thumbnail(ctx, alice, f.ID, opts)
	require.NoError(t, err)
	require.NotNil(t, u)
	assert.Zero(t, limited.Load(), "a stored thumbnail is served without a render")

	// A miss asks BeforeRender first; its error stops the render.
	opts.Width, opts.Height = 1024, 1024
	opts.BeforeRender = func(context.Context) error { return &attach.Error{Code: attach.CodeRateLimited, Message: "slow down"} }
	_, err = e.svc.Thumbnail(ctx, alice, f.ID, opts)
	assert.Equal(t, attach.CodeRateLimited, attach.CodeOf(err))
	assert.Equal(t, int64(2), p.renders.Load())

	svg := e.upload(t, alice, "x.svg", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`))
	require.NoError(t, e.svc.GenerateThumbnails(ctx, "ws-a", svg.ID, 1), "no preview for the type is not an error")
	assert.Equal(t, attach.CodeNotFound, attach.CodeOf(e.svc.GenerateThumbnails(ctx, "ws-a", "file_unknown", 1)))

	_, err = attach.New(e.storage, e.store, &attach.Options{SigningKeys: []attach.SigningKey{{ID: "k", Secret: bytes.Repeat([]byte("s"), 32)}},
		BaseURL: baseURL, EagerThumbnails: []attach.ThumbnailSpec{{Width: 100}}})
	assert.Error(t, err, "an eager size outside the allowed sizes is a wiring mistake")
}

// onePagePDF writes a valid two-page PDF: page 1 is 200×100 points, its
// left half red; page 2 is blue.
func onePagePDF() []byte {
	page := func(content string) string {
		return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content)
	}
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << >> >>",
		page("1 0 0 rg 0 0 100 100 re f"),
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 6 0 R /Resources << >> >>",
		page("0 0 1 rg 0 0 200 100 re f"),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}
