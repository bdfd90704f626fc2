package preview

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/backendtest"
	"github.com/attachkit/attachkit/internal/benchkit"
)

// Colours of the quadrant test image, far apart so that JPEG compression
// and scaling cannot confuse them.
var (
	red   = color.RGBA{255, 0, 0, 255}
	green = color.RGBA{0, 255, 0, 255}
	blue  = color.RGBA{0, 0, 255, 255}
	white = color.RGBA{255, 255, 255, 255}
)

// quadrants returns a w×h image: red top left, green top right, blue
// bottom left, white bottom right.
func quadrants(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := red
			switch {
			case x >= w/2 && y < h/2:
				c = green
			case x < w/2 && y >= h/2:
				c = blue
			case x >= w/2 && y >= h/2:
				c = white
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// stripes returns a w×h image of n vertical stripes of the given colours.
func stripes(w, h int, colors ...color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, colors[x*len(colors)/w])
		}
	}
	return img
}

// photo is benchkit's photo-like picture, shared with attachbench.
func photo(w, h int) *image.RGBA { return benchkit.Photo(w, h) }

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}))
	return b.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// encodeGIF writes an animation with one frame per colour.
func encodeGIF(t testing.TB, w, h int, colors ...color.RGBA) []byte {
	t.Helper()
	pal := color.Palette{}
	anim := &gif.GIF{}
	for _, c := range colors {
		pal = append(pal, c)
	}
	for i := range colors {
		fr := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		for p := range fr.Pix {
			fr.Pix[p] = uint8(i)
		}
		anim.Image = append(anim.Image, fr)
		anim.Delay = append(anim.Delay, 10)
	}
	var b bytes.Buffer
	require.NoError(t, gif.EncodeAll(&b, anim))
	return b.Bytes()
}

// bitWriter packs bits least significant first, as VP8L does.
type bitWriter struct {
	buf   []byte
	acc   uint64
	nbits uint
}

func (w *bitWriter) write(v uint64, n uint) {
	w.acc |= v << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

func (w *bitWriter) bytes() []byte {
	if w.nbits > 0 {
		w.buf = append(w.buf, byte(w.acc))
	}
	return w.buf
}

// webpSolid returns a lossless WebP (VP8L) of w×h pixels of one colour, at
// most 16384 pixels a side: each prefix code has a single symbol, so the
// pixels take no bits and any size is a few dozen bytes.
func webpSolid(w, h int, c color.NRGBA) []byte {
	var bw bitWriter
	bw.write(0x2f, 8)                                    // VP8L signature
	bw.write(uint64(w-1), 14)                            // width - 1
	bw.write(uint64(h-1), 14)                            // height - 1
	bw.write(1, 1)                                       // alpha is used
	bw.write(0, 3)                                       // version
	bw.write(0, 1)                                       // no transform
	bw.write(0, 1)                                       // no colour cache
	bw.write(0, 1)                                       // no meta prefix codes
	for _, sym := range []uint8{c.G, c.R, c.B, c.A, 0} { // green, red, blue, alpha, distance
		bw.write(1, 1) // simple code
		bw.write(0, 1) // one symbol
		bw.write(1, 1) // of 8 bits
		bw.write(uint64(sym), 8)
	}
	data := bw.bytes()
	n := len(data)
	if n%2 == 1 {
		data = append(data, 0)
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(4+8+len(data)))
	b.WriteString("WEBPVP8L")
	binary.Write(&b, binary.LittleEndian, uint32(n))
	b.Write(data)
	return b.Bytes()
}

// pngChunk appends one PNG chunk with its CRC.
func pngChunk(b *bytes.Buffer, typ string, data []byte) {
	binary.Write(b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	binary.Write(b, binary.BigEndian, crc.Sum32())
}

// pngFlood returns a PNG whose header claims w×h 8-bit RGB pixels,
// followed by a tiny IDAT (a zlib stream of one empty stored block) and
// IEND: a pixel flood of a few dozen bytes.
func pngFlood(w, h uint32) []byte { return pngFloodOf(w, h, 8, 2) }

// pngFloodOf is pngFlood with the given bit depth and colour type (0 gray,
// 2 RGB, 4 gray and alpha, 6 RGBA).
func pngFloodOf(w, h uint32, depth, colorType byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, depth, colorType, 0, 0, 0) // deflate, no filter method, no interlace
	pngChunk(&b, "IHDR", ihdr)
	pngChunk(&b, "IDAT", []byte{0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01})
	pngChunk(&b, "IEND", nil)
	return b.Bytes()
}

// jpegFlood returns a small valid JPEG with its frame header patched to
// claim w×h pixels.
func jpegFlood(t testing.TB, w, h uint16) []byte {
	t.Helper()
	b := encodeJPEG(t, image.NewGray(image.Rect(0, 0, 8, 8)))
	i := bytes.Index(b, []byte{0xff, 0xc0})
	require.Positive(t, i)
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

// gifFlood returns a small valid GIF whose logical screen claims w×h.
func gifFlood(t testing.TB, w, h uint16) []byte {
	t.Helper()
	b := encodeGIF(t, 4, 4, red)
	binary.LittleEndian.PutUint16(b[6:], w)
	binary.LittleEndian.PutUint16(b[8:], h)
	return b
}

// byteOrder is binary.BigEndian or binary.LittleEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// withOrientation inserts an Exif APP1 segment with the given orientation
// (in the given byte order) after the SOI marker of a JPEG.
func withOrientation(jpg []byte, o uint16, order byteOrder) []byte {
	tiff := []byte("MM")
	if order.String() == binary.LittleEndian.String() {
		tiff = []byte("II")
	}
	tiff = order.AppendUint16(tiff, 42)
	tiff = order.AppendUint32(tiff, 8) // IFD0 right after the header
	tiff = order.AppendUint16(tiff, 2) // two entries
	// An unrelated tag first (ImageWidth, LONG), then Orientation.
	tiff = order.AppendUint16(tiff, 0x0100)
	tiff = order.AppendUint16(tiff, 4)
	tiff = order.AppendUint32(tiff, 1)
	tiff = order.AppendUint32(tiff, 640)
	tiff = order.AppendUint16(tiff, 0x0112)
	tiff = order.AppendUint16(tiff, 3)
	tiff = order.AppendUint32(tiff, 1)
	tiff = order.AppendUint16(tiff, o)
	tiff = order.AppendUint16(tiff, 0)
	tiff = order.AppendUint32(tiff, 0) // no next IFD
	payload := append([]byte(exifHeader), tiff...)

	seg := []byte{0xff, 0xe1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// preview renders data with r and decodes the result.
func preview(t testing.TB, r *Renderer, data []byte, mimeType string, spec driver.PreviewSpec) (image.Image, error) {
	t.Helper()
	var out bytes.Buffer
	err := r.Preview(context.Background(), bytes.NewReader(data), int64(len(data)), mimeType, spec, &out)
	if err != nil {
		require.Zero(t, out.Len(), "nothing is written on error")
		return nil, err
	}
	img, format, err := image.Decode(&out)
	require.NoError(t, err)
	want := "jpeg"
	if spec.Format == "image/png" {
		want = "png"
	}
	require.Equal(t, want, format)
	return img, nil
}

// near reports whether two colours are within tol on each channel.
func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, b uint8) bool { return math.Abs(float64(int(a>>8)-int(b))) <= float64(tol) }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

// at returns the colour at the fractional position (fx, fy) of img.
func at(img image.Image, fx, fy float64) color.Color {
	b := img.Bounds()
	return img.At(b.Min.X+int(fx*float64(b.Dx())), b.Min.Y+int(fy*float64(b.Dy())))
}

// requireTool returns the path of an external program, or skips the test
// (fails it under ATTACH_REQUIRE_BACKENDS) when it is not installed.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		backendtest.Missing(t, name+" is not on PATH (Debian: .ci/lib/previewtools.sh installs it)")
	}
	return p
}
