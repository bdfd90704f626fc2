package preview

import (
	"errors"
	"fmt"
	"image"
	"io"
)

// A JPEG stores each 8×8 block of a component as DCT coefficients, the
// first of which (DC) is eight times the block's mean sample minus 128.
// When a preview is at least 8 times smaller than the source, the block
// means are all a preview needs: decodeJPEGDC entropy-decodes the scan
// (every coefficient must still be read to find the next block) but keeps
// only the DC coefficients and skips the inverse DCT, the full-size sample
// planes and the colour conversion of every pixel. This is what libjpeg's
// "scale 1/8" decoding does. The result is the image at 1/8 scale, one
// pixel per block (a partial block at the right or bottom edge too), with
// the JPEG's own chroma subsampling.

// errJPEGUnsupported reports a JPEG the DC decoder does not handle
// (progressive, arithmetic-coded, 12-bit, CMYK or RGB, separate scans per
// component): the caller decodes it with image/jpeg.
var errJPEGUnsupported = errors.New("preview: JPEG layout not handled by the 1/8 decoder")

// errJPEGCorrupt reports malformed entropy-coded data or tables.
var errJPEGCorrupt = errors.New("preview: corrupt JPEG data")

// JPEG markers.
const (
	mSOF0 = 0xc0 // baseline
	mSOF1 = 0xc1 // extended sequential, Huffman
	mDHT  = 0xc4
	mRST0 = 0xd0
	mRST7 = 0xd7
	mSOI  = 0xd8
	mEOI  = 0xd9
	mSOS  = 0xda
	mDQT  = 0xdb
	mDRI  = 0xdd
	mAPP0 = 0xe0
	mAPPE = 0xee // Adobe: colour transform
)

// huffTable decodes one Huffman table: codes of up to lookBits bits by
// one lookup, longer ones by the canonical code ranges (ITU T.81 F.2.2.3).
type huffTable struct {
	look    [1 << lookBits]uint16 // length<<8 | value; 0 when longer than lookBits
	maxcode [17]int32             // largest code of each length, -1 when none
	mincode [17]int32
	valptr  [17]int32
	vals    [256]byte
	defined bool
}

const lookBits = 9

// build makes the table from the code counts per length (1..16) and the
// values in code order.
func (h *huffTable) build(counts [17]int, vals []byte) error {
	*h = huffTable{defined: true}
	copy(h.vals[:], vals)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		h.mincode[l], h.valptr[l] = code, k
		h.maxcode[l] = -1
		for range counts[l] {
			if code >= 1<<l {
				return errJPEGCorrupt // more codes than the length has room for
			}
			if l <= lookBits {
				base := int(code) << (lookBits - l)
				for i := range 1 << (lookBits - l) {
					h.look[base+i] = uint16(l)<<8 | uint16(vals[k])
				}
			}
			code++
			k++
		}
		if counts[l] > 0 {
			h.maxcode[l] = code - 1
		}
		code <<= 1
	}
	return nil
}

// bitReader reads the entropy-coded data of a scan: bytes with 0xFF00
// unstuffed, into a left-aligned bit buffer. A marker ends the data; after
// it (or after the end of the input) the buffer fills with zero bits, and
// err or marker says why.
type bitReader struct {
	r      io.ByteReader
	acc    uint64 // next bits at the top
	n      uint   // valid bits in acc
	marker byte   // the marker that ended the data, 0 while none
	err    error  // the read error that ended the data
}

// fill tops acc up to at least 57 bits.
func (b *bitReader) fill() {
	for b.n <= 56 {
		var c byte
		if b.marker == 0 && b.err == nil {
			c = b.next()
		}
		b.acc |= uint64(c) << (56 - b.n)
		b.n += 8
	}
}

// next returns the next data byte, or 0 after recording the end of the
// data.
func (b *bitReader) next() byte {
	c, err := b.r.ReadByte()
	if err != nil {
		b.err = err
		return 0
	}
	if c != 0xff {
		return c
	}
	for {
		c2, err := b.r.ReadByte()
		switch {
		case err != nil:
			b.err = err
			return 0
		case c2 == 0x00:
			return 0xff
		case c2 == 0xff: // fill bytes before a marker
			continue
		}
		b.marker = c2
		return 0
	}
}

// decode reads one Huffman-coded value.
func (b *bitReader) decode(h *huffTable) (byte, error) {
	if b.n < 32 {
		b.fill()
	}
	if e := h.look[b.acc>>(64-lookBits)]; e != 0 {
		l := uint(e >> 8)
		b.acc <<= l
		b.n -= l
		return byte(e), nil
	}
	for l := lookBits + 1; l <= 16; l++ {
		code := int32(b.acc >> (64 - uint(l)))
		if code <= h.maxcode[l] {
			b.acc <<= uint(l)
			b.n -= uint(l)
			return h.vals[h.valptr[l]+code-h.mincode[l]], nil
		}
	}
	return 0, errJPEGCorrupt
}

// bits reads s (0..16) bits as an unsigned number.
func (b *bitReader) bits(s uint) uint32 {
	if s == 0 {
		return 0
	}
	if b.n < s {
		b.fill()
	}
	v := uint32(b.acc >> (64 - s))
	b.acc <<= s
	b.n -= s
	return v
}

// restart consumes a restart marker at the end of an interval. When fill
// has not reached the marker yet (the interval's data was all buffered),
// it reads on to the marker, past fill bytes and any leftover data.
func (b *bitReader) restart() error {
	b.acc, b.n = 0, 0
	for b.marker == 0 && b.err == nil {
		c, err := b.r.ReadByte()
		if err != nil {
			b.err = err
			break
		}
		if c != 0xff {
			continue // leftover data before the marker
		}
		for c == 0xff { // fill bytes before a marker
			if c, err = b.r.ReadByte(); err != nil {
				b.err = err
				break
			}
		}
		if err == nil && c != 0x00 { // 0xFF00 is stuffed data
			b.marker = c
		}
	}
	if b.marker < mRST0 || b.marker > mRST7 {
		if b.err != nil {
			return io.ErrUnexpectedEOF
		}
		return errJPEGCorrupt
	}
	b.marker = 0
	return nil
}

// jpegComponent is one colour component of a frame.
type jpegComponent struct {
	id     byte
	h, v   int // sampling factors
	tq     int // quantisation table
	td, ta int // Huffman tables of the scan
}

// decodeJPEGDC decodes the JPEG in r at 1/8 scale (see above). It refuses
// frames of more than maxPixels pixels. What it does not handle is
// errJPEGUnsupported; truncated data is io.ErrUnexpectedEOF and malformed
// data another error.
func decodeJPEGDC(r io.Reader, maxPixels int64) (image.Image, error) {
	br, ok := r.(io.ByteReader)
	if !ok {
		return nil, errors.New("preview: decodeJPEGDC needs an io.ByteReader")
	}
	d := &dcDecoder{r: r, br: br}
	return d.decode(maxPixels)
}

type dcDecoder struct {
	r          io.Reader
	br         io.ByteReader
	quant      [4]int32 // DC quantiser of each table
	dc, ac     [4]huffTable
	comps      []jpegComponent
	w, h       int
	restart    int
	adobeRGB   bool
	frameFound bool
	buf        [256]byte
}

func (d *dcDecoder) decode(maxPixels int64) (image.Image, error) {
	var soi [2]byte
	if _, err := io.ReadFull(d.r, soi[:]); err != nil || soi[0] != 0xff || soi[1] != mSOI {
		return nil, errJPEGCorrupt
	}
	for {
		marker, err := d.nextMarker()
		if err != nil {
			return nil, err
		}
		if marker == mEOI {
			return nil, errJPEGCorrupt // no scan
		}
		if mRST0 <= marker && marker <= mRST7 {
			continue // stray restart markers carry no length
		}
		n, err := d.segmentLength()
		if err != nil {
			return nil, err
		}
		switch {
		case marker == mSOF0 || marker == mSOF1:
			if err := d.readSOF(n, maxPixels); err != nil {
				return nil, err
			}
		case marker >= 0xc2 && marker <= 0xcf && marker != mDHT && marker != 0xc8 && marker != 0xcc:
			return nil, errJPEGUnsupported // progressive, lossless, arithmetic, hierarchical
		case marker == 0xcc: // arithmetic conditioning
			return nil, errJPEGUnsupported
		case marker == mDHT:
			if err := d.readDHT(n); err != nil {
				return nil, err
			}
		case marker == mDQT:
			if err := d.readDQT(n); err != nil {
				return nil, err
			}
		case marker == mDRI:
			if n != 2 {
				return nil, errJPEGCorrupt
			}
			if _, err := io.ReadFull(d.r, d.buf[:2]); err != nil {
				return nil, eof(err)
			}
			d.restart = int(d.buf[0])<<8 | int(d.buf[1])
		case marker == mAPPE:
			if err := d.readAdobe(n); err != nil {
				return nil, err
			}
		case marker == mSOS:
			return d.readScan(n)
		default:
			if err := d.skip(n); err != nil {
				return nil, err
			}
		}
	}
}

// nextMarker finds the next marker, skipping fill bytes.
func (d *dcDecoder) nextMarker() (byte, error) {
	c, err := d.br.ReadByte()
	if err != nil {
		return 0, eof(err)
	}
	if c != 0xff {
		return 0, errJPEGCorrupt
	}
	for c == 0xff {
		if c, err = d.br.ReadByte(); err != nil {
			return 0, eof(err)
		}
	}
	if c == 0 {
		return 0, errJPEGCorrupt
	}
	return c, nil
}

// segmentLength reads a segment's length and returns the bytes after it.
func (d *dcDecoder) segmentLength() (int, error) {
	if _, err := io.ReadFull(d.r, d.buf[:2]); err != nil {
		return 0, eof(err)
	}
	n := int(d.buf[0])<<8 | int(d.buf[1]) - 2
	if n < 0 {
		return 0, errJPEGCorrupt
	}
	return n, nil
}

func (d *dcDecoder) skip(n int) error {
	for n > 0 {
		k := min(n, len(d.buf))
		if _, err := io.ReadFull(d.r, d.buf[:k]); err != nil {
			return eof(err)
		}
		n -= k
	}
	return nil
}

func (d *dcDecoder) readSOF(n int, maxPixels int64) error {
	if d.frameFound {
		return errJPEGCorrupt
	}
	d.frameFound = true
	if n < 6 || n > len(d.buf) {
		return errJPEGCorrupt
	}
	if _, err := io.ReadFull(d.r, d.buf[:n]); err != nil {
		return eof(err)
	}
	b := d.buf[:n]
	if b[0] != 8 {
		return errJPEGUnsupported // 12-bit samples
	}
	d.h, d.w = int(b[1])<<8|int(b[2]), int(b[3])<<8|int(b[4])
	nc := int(b[5])
	if d.w <= 0 || d.h <= 0 {
		return errJPEGUnsupported // height defined later by DNL
	}
	if int64(d.w)*int64(d.h) > maxPixels {
		return fmt.Errorf("preview: %d×%d JPEG exceeds the pixel limit", d.w, d.h)
	}
	if nc != 1 && nc != 3 {
		return errJPEGUnsupported // CMYK and others
	}
	if n != 6+3*nc {
		return errJPEGCorrupt
	}
	for i := range nc {
		c := jpegComponent{id: b[6+3*i], h: int(b[7+3*i] >> 4), v: int(b[7+3*i] & 15), tq: int(b[8+3*i])}
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 || c.tq > 3 {
			return errJPEGCorrupt
		}
		d.comps = append(d.comps, c)
	}
	if nc == 1 {
		d.comps[0].h, d.comps[0].v = 1, 1 // a single component's factors do not matter
	}
	return nil
}

func (d *dcDecoder) readDQT(n int) error {
	for n > 0 {
		if _, err := io.ReadFull(d.r, d.buf[:1]); err != nil {
			return eof(err)
		}
		pq, tq := d.buf[0]>>4, d.buf[0]&15
		size := 64
		if pq == 1 {
			size = 128
		}
		if pq > 1 || tq > 3 || n < 1+size {
			return errJPEGCorrupt
		}
		if _, err := io.ReadFull(d.r, d.buf[:size]); err != nil {
			return eof(err)
		}
		q := int32(d.buf[0])
		if pq == 1 {
			q = int32(d.buf[0])<<8 | int32(d.buf[1])
		}
		d.quant[tq] = q
		n -= 1 + size
	}
	return nil
}

func (d *dcDecoder) readDHT(n int) error {
	for n > 0 {
		if n < 17 {
			return errJPEGCorrupt
		}
		if _, err := io.ReadFull(d.r, d.buf[:17]); err != nil {
			return eof(err)
		}
		tc, th := d.buf[0]>>4, d.buf[0]&15
		if tc > 1 || th > 3 {
			return errJPEGCorrupt
		}
		var counts [17]int
		total := 0
		for l := 1; l <= 16; l++ {
			counts[l] = int(d.buf[l])
			total += counts[l]
		}
		if total == 0 || total > 256 || n < 17+total {
			return errJPEGCorrupt
		}
		var vals [256]byte
		if _, err := io.ReadFull(d.r, vals[:total]); err != nil {
			return eof(err)
		}
		t := &d.dc[th]
		if tc == 1 {
			t = &d.ac[th]
		}
		if err := t.build(counts, vals[:total]); err != nil {
			return err
		}
		n -= 17 + total
	}
	return nil
}

// readAdobe notes an Adobe segment saying the components are RGB rather
// than YCbCr.
func (d *dcDecoder) readAdobe(n int) error {
	if n >= 12 && n <= len(d.buf) {
		if _, err := io.ReadFull(d.r, d.buf[:n]); err != nil {
			return eof(err)
		}
		if string(d.buf[:5]) == "Adobe" && d.buf[11] == 0 {
			d.adobeRGB = true
		}
		return nil
	}
	return d.skip(n)
}

// readScan reads the first scan's header and decodes it.
func (d *dcDecoder) readScan(n int) (image.Image, error) {
	nc := len(d.comps)
	if nc == 0 {
		return nil, errJPEGCorrupt // no frame header
	}
	if nc == 3 && (d.adobeRGB || d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B') {
		return nil, errJPEGUnsupported
	}
	if n < 1 || n > len(d.buf) {
		return nil, errJPEGCorrupt
	}
	if _, err := io.ReadFull(d.r, d.buf[:n]); err != nil {
		return nil, eof(err)
	}
	b := d.buf[:n]
	if int(b[0]) != nc || n != 4+2*nc {
		return nil, errJPEGUnsupported // one scan per component
	}
	order := make([]int, nc)
	for i := range nc {
		id, tables := b[1+2*i], b[2+2*i]
		j := 0
		for j < nc && d.comps[j].id != id {
			j++
		}
		if j == nc {
			return nil, errJPEGCorrupt
		}
		order[i] = j
		d.comps[j].td, d.comps[j].ta = int(tables>>4), int(tables&15)
		if d.comps[j].td > 3 || d.comps[j].ta > 3 || !d.dc[d.comps[j].td].defined || !d.ac[d.comps[j].ta].defined {
			return nil, errJPEGCorrupt
		}
	}
	if ss, se, ahl := b[1+2*nc], b[2+2*nc], b[3+2*nc]; ss != 0 || se != 63 || ahl != 0 {
		return nil, errJPEGUnsupported
	}
	return d.decodeScan(order)
}

// decodeScan decodes the interleaved (or single-component) scan and
// returns the block means as an image.
func (d *dcDecoder) decodeScan(order []int) (image.Image, error) {
	hmax, vmax := 1, 1
	for _, c := range d.comps {
		hmax, vmax = max(hmax, c.h), max(vmax, c.v)
	}
	ratio, err := d.subsampling(hmax, vmax)
	if err != nil {
		return nil, err
	}
	mcusX := (d.w + 8*hmax - 1) / (8 * hmax)
	mcusY := (d.h + 8*vmax - 1) / (8 * vmax)
	if len(d.comps) == 1 {
		mcusX, mcusY = (d.w+7)/8, (d.h+7)/8 // a non-interleaved scan: one block per MCU
	}
	planes := make([][]byte, len(d.comps))
	strides := make([]int, len(d.comps))
	for i, c := range d.comps {
		strides[i] = mcusX * c.h
		planes[i] = make([]byte, strides[i]*mcusY*c.v)
	}

	br := &bitReader{r: d.br}
	var pred [3]int32
	total := mcusX * mcusY
	for m := range total {
		if d.restart > 0 && m > 0 && m%d.restart == 0 {
			if err := br.restart(); err != nil {
				return nil, err
			}
			pred = [3]int32{}
		}
		mx, my := m%mcusX, m/mcusX
		for _, ci := range order {
			c := &d.comps[ci]
			q := d.quant[c.tq]
			for v := range c.v {
				for h := range c.h {
					dc, err := decodeBlock(br, &d.dc[c.td], &d.ac[c.ta])
					if err != nil {
						return nil, err
					}
					pred[ci] += dc
					planes[ci][(my*c.v+v)*strides[ci]+mx*c.h+h] = dcSample(pred[ci], q)
				}
			}
		}
		if br.err != nil {
			return nil, eof(br.err) // the data ended before the last block
		}
	}

	rect := image.Rect(0, 0, (d.w+7)/8, (d.h+7)/8)
	if len(d.comps) == 1 {
		return &image.Gray{Pix: planes[0], Stride: strides[0], Rect: rect}, nil
	}
	return &image.YCbCr{Y: planes[0], Cb: planes[1], Cr: planes[2], YStride: strides[0], CStride: strides[1],
		SubsampleRatio: ratio, Rect: rect}, nil
}

// subsampling maps the frame's sampling factors to an image.YCbCr ratio.
func (d *dcDecoder) subsampling(hmax, vmax int) (image.YCbCrSubsampleRatio, error) {
	if len(d.comps) == 1 {
		return image.YCbCrSubsampleRatio444, nil
	}
	y, cb, cr := d.comps[0], d.comps[1], d.comps[2]
	if cb.h != cr.h || cb.v != cr.v || y.h != hmax || y.v != vmax || y.h%cb.h != 0 || y.v%cb.v != 0 {
		return 0, errJPEGUnsupported
	}
	switch [2]int{y.h / cb.h, y.v / cb.v} {
	case [2]int{1, 1}:
		return image.YCbCrSubsampleRatio444, nil
	case [2]int{2, 1}:
		return image.YCbCrSubsampleRatio422, nil
	case [2]int{2, 2}:
		return image.YCbCrSubsampleRatio420, nil
	case [2]int{1, 2}:
		return image.YCbCrSubsampleRatio440, nil
	case [2]int{4, 1}:
		return image.YCbCrSubsampleRatio411, nil
	case [2]int{4, 2}:
		return image.YCbCrSubsampleRatio410, nil
	}
	return 0, errJPEGUnsupported
}

// decodeBlock reads one block and returns its DC difference; the AC
// coefficients are read past.
func decodeBlock(br *bitReader, dc, ac *huffTable) (int32, error) {
	t, err := br.decode(dc)
	if err != nil {
		return 0, err
	}
	if t > 11 {
		return 0, errJPEGCorrupt
	}
	diff := extend(br.bits(uint(t)), uint(t))
	for k := 1; k < 64; {
		rs, err := br.decode(ac)
		if err != nil {
			return 0, err
		}
		r, s := int(rs>>4), uint(rs&15)
		if s == 0 {
			if r != 15 {
				break // end of block
			}
			k += 16
			continue
		}
		k += r
		br.bits(s)
		k++
		if k > 64 {
			return 0, errJPEGCorrupt
		}
	}
	return diff, nil
}

// extend turns s bits read as v into the signed value they code.
func extend(v uint32, s uint) int32 {
	if s == 0 {
		return 0
	}
	if v < 1<<(s-1) {
		return int32(v) - (1 << s) + 1
	}
	return int32(v)
}

// dcSample is the mean sample of a block whose DC coefficient is dc
// (quantised by q): 128 + dc×q/8, rounded and clamped.
func dcSample(dc, q int32) byte {
	v := dc * q
	if v >= 0 {
		v = (v + 4) >> 3
	} else {
		v = -((-v + 4) >> 3)
	}
	return byte(min(max(v+128, 0), 255))
}

// eof turns the end of the input into io.ErrUnexpectedEOF.
func eof(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
