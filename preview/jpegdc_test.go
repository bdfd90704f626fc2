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

// restartJPEG returns an 8n×8 grayscale baseline JPEG, one block per DC
// value in dcs (each 64 ≤ |dc| ≤ 127), with a restart marker after every
// block. Its Huffman tables make each interval's data exactly eight bytes
// whose last code and bits take 25 bits, decoded with 32 bits buffered: the
// bit reader has read the whole interval but not the marker after it when
// the interval ends, so restart reads the marker itself.
func restartJPEG(t testing.TB, dcs ...int) []byte {
	t.Helper()
	seg := func(b *bytes.Buffer, marker byte, payload ...byte) {
		b.Write([]byte{0xff, marker, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)})
		b.Write(payload)
	}
	var b bytes.Buffer
	b.Write([]byte{0xff, mSOI})
	dqt := make([]byte, 65)
	for i := range dqt {
		dqt[i] = 1
	}
	dqt[0], dqt[1] = 0, 4 // table 0; DC quantiser 4
	seg(&b, mDQT, dqt...)
	w := 8 * len(dcs)
	seg(&b, mSOF0, 8, 0, 8, byte(w>>8), byte(w), 1, 1, 0x11, 0)
	seg(&b, mDRI, 0, 1)
	// DC: twelve 4-bit codes, for sizes 0..11.
	dht := []byte{0x00, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	seg(&b, mDHT, append(dht, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)...)
	// AC: one code of each length 1..16, the code of length l being l-1
	// ones and a zero; ZRL has length 7 and (run 14, size 9) length 16.
	dht = []byte{0x10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	seg(&b, mDHT, append(dht, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0xf0, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0xe9)...)
	seg(&b, mSOS, 1, 1, 0x00, 0, 63, 0)
	for i, dc := range dcs {
		require.True(t, 64 <= abs(dc) && abs(dc) <= 127)
		var acc uint64
		var n uint
		put := func(v uint64, bits uint) { acc, n = acc<<bits|v&(1<<bits-1), n+bits }
		put(7, 4) // DC size 7
		if dc < 0 {
			dc += 127
		}
		put(uint64(dc), 7)
		for range 3 {
			put(0x7e, 7) // ZRL: coefficients 1..48 are zero
		}
		put(0xfffe, 16) // run 14, size 9: coefficient 63
		put(256, 9)     // is 256
		put(0x7f, 7)    // padding to the byte boundary
		require.Equal(t, uint(64), n)
		for k := 56; k >= 0; k -= 8 {
			c := byte(acc >> k)
			b.WriteByte(c)
			if c == 0xff {
				b.WriteByte(0) // stuffed
			}
		}
		if i < len(dcs)-1 {
			b.Write([]byte{0xff, mRST0 + byte(i%8)})
		}
	}
	b.Write([]byte{0xff, mEOI})
	return b.Bytes()
}

func TestJPEGDCRestartAfterWholeInterval(t *testing.T) {
	dcs := []int{100, -90, 70, -120, 127, -64, 80, -100, 90, 110}
	data := restartJPEG(t, dcs...)
	full, err := jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err, "a valid JPEG")
	got, err := decodeJPEGDC(bufio.NewReader(bytes.NewReader(data)), 1<<20)
	require.NoError(t, err)
	require.Equal(t, eighth(full.Bounds()), got.Bounds())
	want := blockMeans(full)
	for i, dc := range dcs {
		g := got.(*image.Gray).GrayAt(i, 0).Y
		assert.Equal(t, dcSample(int32(dc), 4), g, "block %d", i)
		assert.InDelta(t, int(want.RGBAAt(i, 0).R), int(g), 2, "block %d against the full decode", i)
	}

	// Through Preview, at 1/8 scale.
	spec := driver.PreviewSpec{Width: len(dcs), Height: 1, Fit: driver.FitContain, Format: "image/png"}
	require.True(t, eighthScaleSuffices(full.Bounds(), 1, spec))
	img, err := preview(t, New(nil), data, "image/jpeg", spec)
	require.NoError(t, err)
	assert.Equal(t, image.Pt(len(dcs), 1), img.Bounds().Size())
}

func TestBitReaderRestart(t *testing.T) {
	for _, in := range [][]byte{
		{0xff, 0xd0, 0x12, 0x34, 0x56},
		{0xff, 0xff, 0xff, 0xd3, 0x12, 0x34, 0x56},       // fill bytes before the marker
		{0xab, 0xff, 0x00, 0xff, 0xd7, 0x12, 0x34, 0x56}, // padding and stuffed data before it
	} {
		br := &bitReader{r: bytes.NewReader(in)}
		require.NoError(t, br.restart(), "% x", in)
		assert.Equal(t, uint32(0x123456), br.bits(16)<<8|br.bits(8), "% x", in)
	}
	br := &bitReader{r: bytes.NewReader([]byte{0xff, 0xd9})}
	assert.ErrorIs(t, br.restart(), errJPEGCorrupt, "EOI is not a restart marker")
}

// TestPreviewEighthScaleFallsBack checks that a JPEG the 1/8 decoder
// rejects, but image/jpeg decodes, is previewed from the full decode.
func TestPreviewEighthScaleFallsBack(t *testing.T) {
	data := encodeJPEG(t, quadrants(640, 480))
	// A stray byte between segments: libjpeg warns and image/jpeg skips it.
	data = append([]byte{0xff, mSOI, 0x00}, data[2:]...)
	_, err := decodeJPEGDC(bufio.NewReader(bytes.NewReader(data)), 1<<30)
	require.ErrorIs(t, err, errJPEGCorrupt)
	_, err = jpeg.Decode(bytes.NewReader(data))
	require.NoError(t, err)

	spec := driver.PreviewSpec{Width: 64, Height: 64, Fit: driver.FitContain}
	require.True(t, eighthScaleSuffices(image.Rect(0, 0, 640, 480), 1, spec))
	img, err := preview(t, New(nil), data, "image/jpeg", spec)
	require.NoError(t, err)
	assert.Equal(t, image.Pt(64, 48), img.Bounds().Size())
	assert.True(t, near(at(img, 0.25, 0.25), red, 24))
	assert.True(t, near(at(img, 0.75, 0.75), white, 24))
}
