package preview

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image/color"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// TestEXIFOrientation stores the quadrant image under each orientation and
// checks where each stored corner is shown. The table is the EXIF
// definition (where the 0th row and the 0th column of the stored image
// belong), independent of the code under test.
func TestEXIFOrientation(t *testing.T) {
	t.Parallel()
	const (
		TL = iota
		TR
		BL
		BR
	)
	// Stored corners (red TL, green TR, blue BL, white BR) -> shown corners.
	tests := []struct {
		o                  uint16
		row0, col0         string // EXIF: the sides the 0th row and column are on
		red, green, blue   int
		transposedWithSwap bool
	}{
		{o: 1, row0: "top", col0: "left", red: TL, green: TR, blue: BL},
		{o: 2, row0: "top", col0: "right", red: TR, green: TL, blue: BR},
		{o: 3, row0: "bottom", col0: "right", red: BR, green: BL, blue: TR},
		{o: 4, row0: "bottom", col0: "left", red: BL, green: BR, blue: TL},
		{o: 5, row0: "left", col0: "top", red: TL, green: BL, blue: TR, transposedWithSwap: true},
		{o: 6, row0: "right", col0: "top", red: TR, green: BR, blue: TL, transposedWithSwap: true},
		{o: 7, row0: "right", col0: "bottom", red: BR, green: TR, blue: BL, transposedWithSwap: true},
		{o: 8, row0: "left", col0: "bottom", red: BL, green: TL, blue: BR, transposedWithSwap: true},
	}
	corner := [4][2]float64{TL: {0.25, 0.25}, TR: {0.75, 0.25}, BL: {0.25, 0.75}, BR: {0.75, 0.75}}
	stored := encodeJPEG(t, quadrants(128, 64))
	r := New(&Options{DisableTools: true})
	for _, tt := range tests {
		for _, order := range []byteOrder{binary.BigEndian, binary.LittleEndian} {
			t.Run(fmt.Sprintf("%d %s", tt.o, order), func(t *testing.T) {
				t.Parallel()
				data := withOrientation(stored, tt.o, order)
				require.Equal(t, int(tt.o), jpegOrientation(bytes.NewReader(data), int64(len(data))))

				// A 64×32 box: orientations 5-8 show a 64 wide, 128 tall
				// image, which fits as 16×32.
				img, err := preview(t, r, data, "image/jpeg", driver.PreviewSpec{Width: 64, Height: 32, Fit: driver.FitContain})
				require.NoError(t, err)
				wantW, wantH := 64, 32
				if tt.transposedWithSwap {
					wantW, wantH = 16, 32
				}
				assert.Equal(t, [2]int{wantW, wantH}, [2]int{img.Bounds().Dx(), img.Bounds().Dy()})
				for _, c := range []struct {
					where int
					want  color.RGBA
				}{{tt.red, red}, {tt.green, green}, {tt.blue, blue}, {tt.red ^ tt.green ^ tt.blue, white}} { // TL^TR^BL^BR == 0
					p := corner[c.where]
					got := at(img, p[0], p[1])
					assert.Truef(t, near(got, c.want, 60), "row 0 %s, column 0 %s: corner %d is %v, want %v",
						tt.row0, tt.col0, c.where, got, c.want)
				}
			})
		}
	}
}

func TestJPEGOrientationIgnoresOddInput(t *testing.T) {
	t.Parallel()
	plain := encodeJPEG(t, quadrants(16, 16))
	withSix := withOrientation(plain, 6, binary.BigEndian)
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{name: "no exif", data: plain, want: 1},
		{name: "orientation 6", data: withSix, want: 6},
		{name: "orientation out of range", data: withOrientation(plain, 9, binary.BigEndian), want: 1},
		{name: "orientation zero", data: withOrientation(plain, 0, binary.LittleEndian), want: 1},
		{name: "not a jpeg", data: []byte("GIF89a......"), want: 1},
		{name: "empty", data: nil, want: 1},
		{name: "segment cut short", data: withSix[:30], want: 1},
		{name: "bad byte order", data: bytes.Replace(withSix, []byte("MM\x00\x2a"), []byte("XX\x00\x2a"), 1), want: 1},
		{name: "bad magic", data: bytes.Replace(withSix, []byte("MM\x00\x2a"), []byte("MM\x00\x2b"), 1), want: 1},
		{name: "exif after the frame is not read", data: append(plain[:len(plain)-2:len(plain)-2], withSix[2:]...), want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, jpegOrientation(bytes.NewReader(tt.data), int64(len(tt.data))))
		})
	}
}

// FuzzJPEGOrientation feeds arbitrary bytes to the JPEG segment walker and
// the TIFF directory parser: they must not panic and must answer 1 to 8.
func FuzzJPEGOrientation(f *testing.F) {
	plain := encodeJPEG(f, quadrants(8, 8))
	for o := range uint16(10) {
		f.Add(withOrientation(plain, o, binary.BigEndian))
		f.Add(withOrientation(plain, o, binary.LittleEndian)[:40])
	}
	f.Add([]byte{0xff, 0xd8, 0xff, 0xe1, 0x00, 0x10, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		o := jpegOrientation(bytes.NewReader(data), int64(len(data)))
		if o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		if len(data) > 2 {
			if v := exifOrientation(data[2:]); v < 1 || v > 8 {
				t.Fatalf("exif orientation %d", v)
			}
		}
	})
}
