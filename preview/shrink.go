package preview

import (
	"image"
	"image/color"
)

// shrink reduces the rectangle r of src by the integer factor k with a box
// filter: each output pixel is the mean of a k×k block (premultiplied
// alpha). A remainder of fewer than k rows or columns is dropped. It reads
// every source pixel once, which makes it much cheaper than a Catmull-Rom
// kernel stretched over a large reduction.
func shrink(src image.Image, r image.Rectangle, k int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, r.Dx()/k, r.Dy()/k))
	switch s := src.(type) {
	case *image.YCbCr:
		shrinkYCbCr(dst, s, r, k)
	case *image.RGBA:
		shrinkPix(dst, s.Pix, s.Stride, s.PixOffset(r.Min.X, r.Min.Y), k, false)
	case *image.NRGBA:
		shrinkPix(dst, s.Pix, s.Stride, s.PixOffset(r.Min.X, r.Min.Y), k, true)
	case *image.Gray:
		shrinkGray(dst, s, r, k)
	default:
		shrinkAny(dst, src, r, k)
	}
	return dst
}

// shrinkPix box-filters 8-bit RGBA or NRGBA pixels starting at offset off.
func shrinkPix(dst *image.RGBA, pix []uint8, stride, off, k int, nonPremultiplied bool) {
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	n := uint32(k * k)
	sums := make([]uint32, 4*dw)
	for oy := range dh {
		clear(sums)
		for j := range k {
			row := pix[off+(oy*k+j)*stride:]
			i := 0
			for ox := range dw {
				s := sums[4*ox : 4*ox+4 : 4*ox+4]
				for range k {
					p := row[i : i+4 : i+4]
					r, g, b, a := uint32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3])
					if nonPremultiplied && a != 0xff {
						r, g, b = (r*a+127)/255, (g*a+127)/255, (b*a+127)/255
					}
					s[0] += r
					s[1] += g
					s[2] += b
					s[3] += a
					i += 4
				}
			}
		}
		out := dst.Pix[oy*dst.Stride:]
		for i, s := range sums {
			out[i] = uint8((s + n/2) / n)
		}
	}
}

// shrinkGray box-filters a grayscale image.
func shrinkGray(dst *image.RGBA, s *image.Gray, r image.Rectangle, k int) {
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	n := uint32(k * k)
	sums := make([]uint32, dw)
	for oy := range dh {
		clear(sums)
		for j := range k {
			row := s.Pix[s.PixOffset(r.Min.X, r.Min.Y+oy*k+j):]
			i := 0
			for ox := range dw {
				for range k {
					sums[ox] += uint32(row[i])
					i++
				}
			}
		}
		out := dst.Pix[oy*dst.Stride:]
		for ox, sum := range sums {
			v := uint8((sum + n/2) / n)
			out[4*ox], out[4*ox+1], out[4*ox+2], out[4*ox+3] = v, v, v, 0xff
		}
	}
}

// shrinkYCbCr box-filters the luma and chroma planes separately (both are
// linear in the samples) and converts each mean to RGB.
func shrinkYCbCr(dst *image.RGBA, s *image.YCbCr, r image.Rectangle, k int) {
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	hx, vy := chromaFactors(s.SubsampleRatio)
	cx := func(x int) int { return x/hx - s.Rect.Min.X/hx } // as image.YCbCr.COffset
	cy := func(y int) int { return y/vy - s.Rect.Min.Y/vy }
	n := uint32(k * k)
	ys := make([]uint32, dw)
	for oy := range dh {
		clear(ys)
		y0 := r.Min.Y + oy*k
		for j := range k {
			row := s.Y[s.YOffset(r.Min.X, y0+j):]
			i := 0
			for ox := range dw {
				for range k {
					ys[ox] += uint32(row[i])
					i++
				}
			}
		}
		cy0, cy1 := cy(y0), cy(y0+k-1)
		out := dst.Pix[oy*dst.Stride:]
		for ox := range dw {
			x0 := r.Min.X + ox*k
			cx0, cx1 := cx(x0), cx(x0+k-1)
			var cb, cr, cn uint32
			for c := cy0; c <= cy1; c++ {
				base := c * s.CStride
				for i := base + cx0; i <= base+cx1; i++ {
					cb += uint32(s.Cb[i])
					cr += uint32(s.Cr[i])
				}
				cn += uint32(cx1 - cx0 + 1)
			}
			yy := uint8((ys[ox] + n/2) / n)
			rr, gg, bb := color.YCbCrToRGB(yy, uint8((cb+cn/2)/cn), uint8((cr+cn/2)/cn))
			out[4*ox], out[4*ox+1], out[4*ox+2], out[4*ox+3] = rr, gg, bb, 0xff
		}
	}
}

// chromaFactors returns how many luma columns and rows share one chroma
// sample.
func chromaFactors(r image.YCbCrSubsampleRatio) (hx, vy int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio440:
		return 1, 2
	case image.YCbCrSubsampleRatio411:
		return 4, 1
	case image.YCbCrSubsampleRatio410:
		return 4, 2
	}
	return 1, 1
}

// shrinkAny box-filters any image through its color model: slower, for
// the less common layouts (paletted GIF frames, CMYK JPEGs, 16-bit PNGs,
// WebP with alpha).
func shrinkAny(dst *image.RGBA, src image.Image, r image.Rectangle, k int) {
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	n := uint64(k * k)
	sums := make([]uint64, 4*dw)
	for oy := range dh {
		clear(sums)
		for j := range k {
			y := r.Min.Y + oy*k + j
			for ox := range dw {
				x0 := r.Min.X + ox*k
				for x := x0; x < x0+k; x++ {
					cr, cg, cb, ca := src.At(x, y).RGBA()
					sums[4*ox] += uint64(cr)
					sums[4*ox+1] += uint64(cg)
					sums[4*ox+2] += uint64(cb)
					sums[4*ox+3] += uint64(ca)
				}
			}
		}
		out := dst.Pix[oy*dst.Stride:]
		for i, s := range sums {
			out[i] = uint8(((s + n/2) / n) >> 8)
		}
	}
}
