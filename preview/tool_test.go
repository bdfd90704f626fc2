package preview

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// onePagePDF writes a valid PDF by hand, with a correct cross-reference
// table: page 1 is 200×100 points, its left half red and its right half
// white; page 2 is all blue (and must not be the one previewed).
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

// testVideo makes a one-second video of ffmpeg's test pattern.
func testVideo(t testing.TB, ffmpeg, ext string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "testsrc"+ext)
	out, err := exec.Command(ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=1",
		"-c:v", "mpeg4", "-pix_fmt", "yuv420p", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

func TestPDFPreview(t *testing.T) {
	t.Parallel()
	requireTool(t, "pdftoppm")
	tmp := t.TempDir()
	r := New(&Options{TempDir: tmp, FFmpeg: "/nonexistent/ffmpeg"})
	require.True(t, r.Accepts("application/pdf"))
	assert.Contains(t, r.Capabilities(), "application/pdf")
	pdf := onePagePDF()

	tests := []struct {
		name         string
		data         []byte
		spec         driver.PreviewSpec
		wantW, wantH int
		checks       []check
		wantErr      error
	}{
		{name: "first page contain", data: pdf, spec: driver.PreviewSpec{Width: 256, Height: 256, Fit: driver.FitContain},
			wantW: 256, wantH: 128, checks: []check{{0.25, 0.5, red}, {0.75, 0.5, white}}},
		{name: "first page cover png", data: pdf, spec: driver.PreviewSpec{Width: 64, Height: 64, Format: "image/png"},
			wantW: 64, wantH: 64, checks: []check{{0.2, 0.5, red}, {0.8, 0.5, white}}},
		{name: "malformed", data: []byte("%PDF-1.4\nthis is not a PDF\n%%EOF\n"),
			spec: driver.PreviewSpec{Width: 64, Height: 64}, wantErr: driver.ErrInvalidArgument},
		{name: "empty", data: nil, spec: driver.PreviewSpec{Width: 64, Height: 64}, wantErr: driver.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := preview(t, r, tt.data, "application/pdf", tt.spec)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, [2]int{tt.wantW, tt.wantH}, [2]int{img.Bounds().Dx(), img.Bounds().Dy()})
			for _, c := range tt.checks {
				assert.Truef(t, near(at(img, c.fx, c.fy), c.want, 48), "at (%.2f, %.2f): %v", c.fx, c.fy, at(img, c.fx, c.fy))
			}
		})
	}
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, entries, "temporary copies are removed")
}

func TestVideoPreview(t *testing.T) {
	t.Parallel()
	ffmpeg := requireTool(t, "ffmpeg")
	tmp := t.TempDir()
	r := New(&Options{TempDir: tmp, Pdftoppm: "/nonexistent/pdftoppm"})
	assert.Contains(t, r.Capabilities(), "video/mp4")
	assert.NotContains(t, r.Capabilities(), "application/pdf")

	tests := []struct {
		name     string
		ext      string
		mimeType string
	}{
		{name: "mp4", ext: ".mp4", mimeType: "video/mp4"},
		{name: "matroska", ext: ".mkv", mimeType: "video/x-matroska"},
		{name: "avi", ext: ".avi", mimeType: "video/x-msvideo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := testVideo(t, ffmpeg, tt.ext)
			img, err := preview(t, r, data, tt.mimeType, driver.PreviewSpec{Width: 256, Height: 256, Fit: driver.FitContain})
			require.NoError(t, err)
			assert.Equal(t, [2]int{256, 192}, [2]int{img.Bounds().Dx(), img.Bounds().Dy()})
			// testsrc is colourful: the poster frame is not one flat colour.
			assert.NotEqual(t, fmt.Sprint(at(img, 0.1, 0.3)), fmt.Sprint(at(img, 0.9, 0.3)))
		})
	}

	t.Run("content that is not the named type", func(t *testing.T) {
		_, err := preview(t, r, onePagePDF(), "video/mp4", driver.PreviewSpec{Width: 64, Height: 64})
		require.ErrorIs(t, err, driver.ErrInvalidArgument)
	})
	t.Run("mkv labelled mp4 is not probed", func(t *testing.T) {
		_, err := preview(t, r, testVideo(t, ffmpeg, ".mkv"), "video/mp4", driver.PreviewSpec{Width: 64, Height: 64})
		require.ErrorIs(t, err, driver.ErrInvalidArgument)
	})
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, entries, "temporary copies are removed")
}

func TestToolBounds(t *testing.T) {
	t.Parallel()
	requireTool(t, "pdftoppm")
	pdf := onePagePDF()
	spec := driver.PreviewSpec{Width: 1024, Height: 1024}
	run := func(r *Renderer, ctx context.Context, data []byte) error {
		return r.Preview(ctx, bytes.NewReader(data), int64(len(data)), "application/pdf", spec, io.Discard)
	}

	t.Run("output limit", func(t *testing.T) {
		err := run(New(&Options{MaxToolOutput: 1000}), context.Background(), pdf)
		require.Error(t, err)
		assert.ErrorContains(t, err, "wrote more than 1000 bytes")
		assert.NotErrorIs(t, err, driver.ErrInvalidArgument)
	})
	t.Run("input limit", func(t *testing.T) {
		err := run(New(&Options{MaxToolInput: 100}), context.Background(), pdf)
		require.ErrorIs(t, err, driver.ErrNoPreview)
	})
	t.Run("timeout", func(t *testing.T) {
		err := run(New(&Options{ToolTimeout: time.Nanosecond}), context.Background(), pdf)
		require.Error(t, err)
		assert.ErrorContains(t, err, "did not finish")
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "the caller's ctx did not end")
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.Equal(t, context.Canceled, run(New(nil), ctx, pdf))
	})
	t.Run("disabled", func(t *testing.T) {
		r := New(&Options{DisableTools: true})
		assert.False(t, r.Accepts("application/pdf"))
		require.ErrorIs(t, run(r, context.Background(), pdf), driver.ErrNoPreview)
	})
}
