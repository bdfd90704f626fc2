package preview

import (
	"encoding/binary"
	"image"
	"io"
)

// Bounds of the EXIF search: the Exif segment comes right after the start
// of a JPEG (after JFIF at most), so a few segments suffice.
const (
	maxJPEGSegments = 16
	exifHeader      = "Exif\x00\x00"
	tagOrientation  = 0x0112
	typeShort       = 3
)

// jpegOrientation returns the EXIF orientation (1 to 8) of the JPEG in r,
// or 1 when it has none or it cannot be read. It walks at most
// maxJPEGSegments marker segments before the image data and reads at most
// one segment (64 KiB) into memory.
func jpegOrientation(r io.ReaderAt, size int64) int {
	var hdr [4]byte
	if size < 4 {
		return 1
	}
	if _, err := r.ReadAt(hdr[:2], 0); err != nil || hdr[0] != 0xff || hdr[1] != 0xd8 {
		return 1
	}
	off := int64(2)
	for range maxJPEGSegments {
		if off > size-4 {
			return 1
		}
		if _, err := r.ReadAt(hdr[:], off); err != nil || hdr[0] != 0xff {
			return 1
		}
		marker := hdr[1]
		switch {
		case marker == 0xff: // fill byte
			off++
			continue
		case marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7): // no length
			off += 2
			continue
		case marker == 0xda || marker == 0xd9 || isSOF(marker):
			return 1 // image data or frame: no Exif before it
		}
		length := int64(binary.BigEndian.Uint16(hdr[2:]))
		if length < 2 || off+2+length > size {
			return 1
		}
		if marker == 0xe1 && length-2 > int64(len(exifHeader)) {
			seg := make([]byte, length-2)
			if _, err := r.ReadAt(seg, off+4); err != nil {
				return 1
			}
			if string(seg[:len(exifHeader)]) == exifHeader {
				return exifOrientation(seg[len(exifHeader):])
			}
		}
		off += 2 + length
	}
	return 1
}

// isSOF reports whether marker starts a frame (SOF0 to SOF15, which
// excludes DHT, JPG and DAC).
func isSOF(marker byte) bool {
	return marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc
}

// exifOrientation reads the Orientation tag from the first image file
// directory of a TIFF structure (an Exif payload without its header). It
// returns 1 when the tag is missing or anything is out of place.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 1
	}
	var order binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 1
	}
	if order.Uint16(tiff[2:]) != 42 {
		return 1
	}
	ifd := int64(order.Uint32(tiff[4:]))
	if ifd < 8 || ifd > int64(len(tiff))-2 {
		return 1
	}
	count := int64(order.Uint16(tiff[ifd:]))
	entries := tiff[ifd+2:]
	count = min(count, int64(len(entries))/12)
	for i := range count {
		e := entries[12*i : 12*i+12]
		if order.Uint16(e) != tagOrientation {
			continue
		}
		if order.Uint16(e[2:]) != typeShort || order.Uint32(e[4:]) != 1 {
			return 1
		}
		if v := int(order.Uint16(e[8:])); v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}

// orient turns a decoded image as stored into the image as it is meant to
// be seen, per EXIF orientation o:
//
//	1 as stored        5 transposed (mirrored along the main diagonal)
//	2 mirrored         6 rotated 90° clockwise
//	3 rotated 180°     7 transversed (mirrored along the other diagonal)
//	4 flipped          8 rotated 90° counterclockwise
func orient(src *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return src
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			}
			si := src.PixOffset(src.Rect.Min.X+sx, src.Rect.Min.Y+sy)
			di := y*dst.Stride + 4*x
			copy(dst.Pix[di:di+4], src.Pix[si:si+4])
		}
	}
	return dst
}
