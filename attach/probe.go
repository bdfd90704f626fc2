package attach

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"image"
	_ "image/gif"  // header decoder for dimensions
	_ "image/jpeg" // header decoder for dimensions
	_ "image/png"  // header decoder for dimensions
	"io"
)

// maxHeaderScan bounds how far into an image dimensions are looked for
// (JPEG metadata segments can precede the frame header).
const maxHeaderScan = 1 << 20

func isRaster(mimeType string) bool {
	switch mimeType {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		return true
	}
	return false
}

// dimensions reads an image's width and height from its header, without
// decoding pixels. Unknown or malformed headers give 0, 0.
func (s *Service) dimensions(ctx context.Context, key, mimeType string, head []byte) (int, int) {
	if mimeType == "image/webp" {
		return webpSize(head)
	}
	r, err := s.storage.NewRangeReader(ctx, key, 0, maxHeaderScan)
	if err != nil {
		return 0, 0
	}
	defer r.Close()
	cfg, _, err := image.DecodeConfig(bufio.NewReader(io.LimitReader(r, maxHeaderScan)))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0
	}
	return cfg.Width, cfg.Height
}

// webpSize parses the canvas size of a WebP file from its first chunk
// (VP8, VP8L or VP8X).
func webpSize(b []byte) (int, int) {
	if len(b) < 30 || !bytes.Equal(b[0:4], []byte("RIFF")) || !bytes.Equal(b[8:12], []byte("WEBP")) {
		return 0, 0
	}
	chunk, data := string(b[12:16]), b[20:]
	switch chunk {
	case "VP8 ": // lossy: frame tag (3), start code (3), 14-bit width and height
		if len(data) < 10 || !bytes.Equal(data[3:6], []byte{0x9d, 0x01, 0x2a}) {
			return 0, 0
		}
		return int(binary.LittleEndian.Uint16(data[6:8]) & 0x3fff), int(binary.LittleEndian.Uint16(data[8:10]) & 0x3fff)
	case "VP8L": // lossless: signature 0x2f, then 14-bit width-1 and height-1
		if len(data) < 5 || data[0] != 0x2f {
			return 0, 0
		}
		bits := binary.LittleEndian.Uint32(data[1:5])
		return int(bits&0x3fff) + 1, int(bits>>14&0x3fff) + 1
	case "VP8X": // extended: flags (4), 24-bit canvas width-1 and height-1
		if len(data) < 10 {
			return 0, 0
		}
		w := int(data[4]) | int(data[5])<<8 | int(data[6])<<16
		h := int(data[7]) | int(data[8])<<8 | int(data[9])<<16
		return w + 1, h + 1
	}
	return 0, 0
}
