package preview

import (
	"bufio"
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// smooth is a w×h image of soft gradients: no block of it clips when
// coded, so the mean of a decoded block and its DC coefficient agree.
func smooth(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{R: uint8(40 + 170*x/w), G: uint8(40 + 170*y/h), B: uint8(200 - 150*(x+y)/(w+h)), A: 255})
		}
	}
	return img
}

// converted re-encodes a JPEG with an external tool.
func converted(t *testing.T, tool string, data []byte, args func(in, out string) []string) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.jpg"), filepath.Join(dir, "out.jpg")
	require.NoError(t, os.WriteFile(in, data, 0o600))
	msg, err := exec.Command(tool, args(in, out)...).CombinedOutput()
	require.NoError(t, err, "%s", msg)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	return b
}

// blockMeans is the reference: the full decode's mean colour of each 8×8
// block (clipped at the edges).
func blockMeans(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(eighth(b))
	for by := 0; by < out.Rect.Dy(); by++ {
		for bx := 0; bx < out.Rect.Dx(); bx++ {
			var r, g, bl, n uint32
			for y := by * 8; y < min(by*8+8, b.Dy()); y++ {
				for x := bx * 8; x < min(bx*8+8, b.Dx()); x++ {
					cr, cg, cb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
					r, g, bl, n = r+cr>>8, g+cg>>8, bl+cb>>8, n+1
				}
			}
			out.SetRGBA(bx, by, color.RGBA{uint8(r / n), uint8(g / n), uint8(bl / n), 255})
		}
	}
	return out
}

func TestJPEGDCMatchesFullDecode(t *testing.T) {
	var gray bytes.Buffer
	g := image.NewGray(image.Rect(0, 0, 333, 250))
	for i := range g.Pix {
		g.Pix[i] = uint8(30 + (i%333)*190/333)
	}
	require.NoError(t, jpeg.Encode(&gray, g, &jpeg.Options{Quality: 90}))
	color420 := encodeJPEG(t, smooth(1001, 757))

	tests := []struct {
		name  string
		data  func(t *testing.T) []byte
		ratio image.YCbCrSubsampleRatio
		gray  bool
	}{
		{name: "4:2:0, odd size", data: func(*testing.T) []byte { return color420 }, ratio: image.YCbCrSubsampleRatio420},
		{name: "grayscale", data: func(*testing.T) []byte { return gray.Bytes() }, gray: true},
		{name: "4:4:4 with restart markers", ratio: image.YCbCrSubsampleRatio444, data: func(t *testing.T) []byte {
			vips := requireTool(t, "vips")
			return converted(t, vips, color420, func(in, out string) []string {
				return []string{"jpegsave", in, out, "--Q", "90", "--subsample-mode", "off", "--restart-interval", "3"}
			})
		}},
		{name: "4:2:0 with restart markers", ratio: image.YCbCrSubsampleRatio420, data: func(t *testing.T) []byte {
			vips := requireTool(t, "vips")
			return converted(t, vips, color420, func(in, out string) []string {
				return []string{"jpegsave", in, out, "--Q", "85", "--subsample-mode", "on", "--restart-interval", "1"}
			})
		}},
		{name: "4:2:2", ratio: image.YCbCrSubsampleRatio422, data: func(t *testing.T) []byte {
			ffmpeg := requireTool(t, "ffmpeg")
			return converted(t, ffmpeg, color420, func(in, out string) []string {
				return []string{"-nostdin", "-loglevel", "error", "-i", in, "-pix_fmt", "yuvj422p", "-q:v", "2", out}
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data(t)
			got, err := decodeJPEGDC(bufio.NewReader(bytes.NewReader(data)), 1<<30)
			require.NoError(t, err)
			full, err := jpeg.Decode(bytes.NewReader(data))
			require.NoError(t, err)
			require.Equal(t, eighth(full.Bounds()), got.Bounds())
			if tt.gray {
				require.IsType(t, &image.Gray{}, got)
			} else {
				require.IsType(t, &image.YCbCr{}, got)
				assert.Equal(t, tt.ratio, got.(*image.YCbCr).SubsampleRatio)
			}
			want := blockMeans(full)
			var sum, worst int
			b := got.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					r, g, bl, _ := got.At(x, y).RGBA()
					w := want.RGBAAt(x, y)
					for _, d := range []int{int(r>>8) - int(w.R), int(g>>8) - int(w.G), int(bl>>8) - int(w.B)} {
						d = max(d, -d)
						sum += d
						worst = max(worst, d)
					}
				}
			}
			mean := float64(sum) / float64(3*b.Dx()*b.Dy())
			assert.Less(t, mean, 2.0, "mean difference per channel")
			assert.LessOrEqual(t, worst, 12, "largest difference")
		})
	}
}

func TestJPEGDCRefuses(t *testing.T) {
	data := encodeJPEG(t, smooth(320, 240))
	progressive := func(t *testing.T) []byte {
		vips := requireTool(t, "vips")
		return converted(t, vips, data, func(in, out string) []string {
			return []string{"jpegsave", in, out, "--interlace"}
		})
	}
	tests := []struct {
		name string
		data func(t *testing.T) []byte
		want error
	}{
		{"truncated scan", func(*testing.T) []byte { return data[:len(data)*2/3] }, io.ErrUnexpectedEOF},
		{"truncated header", func(*testing.T) []byte { return data[:300] }, io.ErrUnexpectedEOF},
		{"not a JPEG", func(*testing.T) []byte { return []byte("GIF89a....") }, errJPEGCorrupt},
		{"no scan", func(*testing.T) []byte { return []byte{0xff, 0xd8, 0xff, 0xd9} }, errJPEGCorrupt},
		{"progressive", progressive, errJPEGUnsupported},
		{"pixel flood", func(t *testing.T) []byte { return jpegFlood(t, 60000, 60000) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeJPEGDC(bufio.NewReader(bytes.NewReader(tt.data(t))), 50_000_000)
			require.Error(t, err)
			if tt.want != nil {
				assert.True(t, errors.Is(err, tt.want), "got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestPreviewEighthScale checks that a preview made from a 1/8 decode
// matches one made from the full decode.
func TestPreviewEighthScale(t *testing.T) {
	src := quadrants(2400, 1600)
	data := encodeJPEG(t, src)
	spec := driver.PreviewSpec{Width: 256, Height: 256, Fit: driver.FitContain}
	full := image.Rect(0, 0, 2400, 1600)
	require.True(t, eighthScaleSuffices(full, 1, spec))
	r := New(nil)
	got, err := preview(t, r, data, "image/jpeg", spec)
	require.NoError(t, err)
	assert.Equal(t, image.Pt(256, 171), got.Bounds().Size())

	dec, err := jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	want := thumbnail(dec, dec.Bounds(), 1, spec)
	var sum int
	for y := range 171 {
		for x := range 256 {
			r, g, bl, _ := got.At(x, y).RGBA()
			w := want.RGBAAt(x, y)
			sum += abs(int(r>>8)-int(w.R)) + abs(int(g>>8)-int(w.G)) + abs(int(bl>>8)-int(w.B))
		}
	}
	assert.Less(t, float64(sum)/(3*256*171), 3.0, "the 1/8 decode previews like the full one")
	assert.False(t, eighthScaleSuffices(full, 1, driver.PreviewSpec{Width: 1024, Height: 1024, Fit: driver.FitContain}),
		"a large preview decodes in full")
}

func abs(v int) int { return max(v, -v) }

func FuzzJPEGDC(f *testing.F) {
	f.Add(encodeJPEG(f, smooth(40, 24)))
	g := image.NewGray(image.Rect(0, 0, 17, 9))
	f.Add(encodeJPEG(f, g))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := decodeJPEGDC(bufio.NewReader(bytes.NewReader(data)), 1<<20)
		if err != nil {
			return
		}
		b := img.Bounds()
		if b.Dx() <= 0 || b.Dy() <= 0 || int64(b.Dx())*int64(b.Dy()) > 1<<20 {
			t.Fatalf("bounds %v", b)
		}
		for y := b.Min.Y; y < b.Max.Y; y++ { // every pixel is addressable
			for x := b.Min.X; x < b.Max.X; x++ {
				img.At(x, y)
			}
		}
	})
}
