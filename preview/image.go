package preview

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"

	"github.com/attachkit/attachkit/driver"
)

// imageTypes are the types decoded in process.
var imageTypes = []string{"image/gif", "image/jpeg", "image/png", "image/webp"}

// codec decodes one image format.
type codec struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

func codecFor(mimeType string) (codec, bool) {
	switch mimeType {
	case "image/jpeg":
		return codec{jpeg.DecodeConfig, jpeg.Decode}, true
	case "image/png":
		return codec{png.DecodeConfig, png.Decode}, true
	case "image/gif":
		return codec{gif.DecodeConfig, gif.Decode}, true // Decode returns the first frame
	case "image/webp":
		return codec{webp.DecodeConfig, webp.Decode}, true
	}
	return codec{}, false
}

// renderImage is the renderFunc of the in-process image types.
func (r *Renderer) renderImage(ctx context.Context, src io.ReaderAt, size int64, mimeType string, spec driver.PreviewSpec, w io.Writer) error {
	orientation := 1
	if mimeType == "image/jpeg" {
		orientation = jpegOrientation(src, size)
	}
	return r.renderDecoded(ctx, src, size, mimeType, orientation, spec, w)
}

// renderDecoded decodes an image of an in-process type, bounded by
// MaxPixels, and writes its preview to w.
func (r *Renderer) renderDecoded(ctx context.Context, src io.ReaderAt, size int64, mimeType string, orientation int, spec driver.PreviewSpec, w io.Writer) error {
	c, ok := r.codecs(mimeType)
	if !ok {
		return fmt.Errorf("%w: preview: %q is not rendered", driver.ErrNoPreview, mimeType)
	}

	rd := &sourceReader{r: io.NewSectionReader(src, 0, size)}
	var cfg image.Config
	err := decoding(func() (err error) { cfg, err = c.config(rd); return err })
	if err != nil {
		return rd.classify(mimeType, err)
	}
	if err := r.checkPixels(mimeType, cfg.Width, cfg.Height, cfg.ColorModel); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	full := image.Rect(0, 0, cfg.Width, cfg.Height)
	var img image.Image
	if mimeType == "image/jpeg" && eighthScaleSuffices(full, orientation, spec) {
		rd = &sourceReader{r: io.NewSectionReader(src, 0, size)}
		err = decoding(func() (err error) {
			img, err = r.decodeEighth(bufio.NewReaderSize(rd, 64<<10), r.opts.MaxPixels)
			return err
		})
		switch {
		case rd.err != nil:
			return rd.err // the source failed, not the decoder
		case err != nil || img.Bounds() != eighth(full):
			// The 1/8 decoder is an optimisation: what it does not
			// handle or rejects (errJPEGUnsupported, or stricter checks
			// than image/jpeg's) is decoded in full below.
			img = nil
		}
	}
	if img == nil {
		rd = &sourceReader{r: io.NewSectionReader(src, 0, size)}
		err = decoding(func() (err error) { img, err = c.decode(rd); return err })
		if err != nil {
			return rd.classify(mimeType, err)
		}
		b := img.Bounds()
		if err := r.checkPixels(mimeType, b.Dx(), b.Dy(), img.ColorModel()); err != nil {
			return err // decoders keep to their header, but do not rely on it
		}
		full = b
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	thumb := thumbnail(img, full, orientation, spec)

	var buf bytes.Buffer
	if err := r.encode(&buf, thumb, spec.Format); err != nil {
		return fmt.Errorf("preview: encoding %s: %w", spec.Format, err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// decoding runs a decoder and turns its panic into an error: the standard
// library's and golang.org/x/image's decoders have panicked on hostile
// input, which is the input's fault (classify makes it
// driver.ErrInvalidArgument), unlike a panic anywhere else (see safely).
func decoding(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panicked: %v", p)
		}
	}()
	return fn()
}

// budgetBytesPerPixel is the decoded size of a pixel MaxPixels allows
// for: a decoded image takes at most MaxPixels × budgetBytesPerPixel bytes.
const budgetBytesPerPixel = 4

// checkPixels applies MaxPixels to an image's header dimensions and colour
// model: images of more than budgetBytesPerPixel bytes a pixel (16-bit
// PNGs) are capped at proportionally fewer pixels.
func (r *Renderer) checkPixels(mimeType string, w, h int, m color.Model) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: preview: %s has no pixels (%d×%d)", driver.ErrInvalidArgument, mimeType, w, h)
	}
	limit, bpp := r.opts.MaxPixels, bytesPerPixel(m)
	if bpp > budgetBytesPerPixel {
		limit = limit / bpp * budgetBytesPerPixel
	}
	if int64(w) > limit || int64(w)*int64(h) > limit {
		return fmt.Errorf("%w: preview: %s of %d×%d pixels (%d bytes a pixel) exceeds the limit of %d pixels",
			driver.ErrNoPreview, mimeType, w, h, bpp, limit)
	}
	return nil
}

// bytesPerPixel is the size of a pixel of an image of colour model m as
// decoded: 8 for 16-bit colour, 4 for 8-bit colour (and YCbCr and CMYK, at
// most), less for gray and palette images.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.GrayModel, color.AlphaModel:
		return 1
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4
}

// sourceReader remembers a read error of the source itself, so that a
// failing store is not mistaken for a malformed image.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// classify turns a decoder's error into the error Preview returns.
func (s *sourceReader) classify(mimeType string, err error) error {
	if s.err != nil {
		return s.err
	}
	return fmt.Errorf("%w: preview: decoding %s: %v", driver.ErrInvalidArgument, mimeType, err)
}

// thumbnail scales (and for FitCover crops) img to fit spec, then applies
// the EXIF orientation. full is the source image's bounds: img.Bounds(),
// or eighth(full) for an image decoded at 1/8 scale.
func thumbnail(img image.Image, full image.Rectangle, orientation int, spec driver.PreviewSpec) *image.RGBA {
	crop, ow, oh := planFor(full, orientation, spec)
	if img.Bounds() != full { // decoded at 1/8 scale: the same part, in blocks
		crop = image.Rect(crop.Min.X/8, crop.Min.Y/8, max(crop.Min.X/8+1, crop.Max.X/8), max(crop.Min.Y/8+1, crop.Max.Y/8)).
			Intersect(img.Bounds())
	}
	return orient(scale(img, crop, ow, oh), orientation)
}

// planFor is plan for a source of bounds full shown with an EXIF
// orientation.
func planFor(full image.Rectangle, orientation int, spec driver.PreviewSpec) (crop image.Rectangle, ow, oh int) {
	bw, bh := spec.Width, spec.Height
	if orientation >= 5 { // the image is stored transposed: plan in its own axes
		bw, bh = bh, bw
	}
	return plan(full, bw, bh, spec.Fit)
}

// eighthScaleSuffices reports whether the preview of a source of bounds
// full is at least 8 times smaller than the part of the source it shows,
// so that a JPEG decoded at 1/8 scale loses nothing the preview keeps.
func eighthScaleSuffices(full image.Rectangle, orientation int, spec driver.PreviewSpec) bool {
	crop, ow, oh := planFor(full, orientation, spec)
	return min(crop.Dx()/ow, crop.Dy()/oh) >= 8
}

// eighth is the bounds of an image decoded at 1/8 scale.
func eighth(full image.Rectangle) image.Rectangle {
	return image.Rect(0, 0, (full.Dx()+7)/8, (full.Dy()+7)/8)
}

// plan returns the part of bounds to show and the size of the preview for
// a box of bw×bh. It never enlarges.
func plan(bounds image.Rectangle, bw, bh int, fit driver.Fit) (crop image.Rectangle, ow, oh int) {
	sw, sh := bounds.Dx(), bounds.Dy()
	if fit == driver.FitContain {
		s := math.Min(1, math.Min(float64(bw)/float64(sw), float64(bh)/float64(sh)))
		ow = max(1, int(math.Round(float64(sw)*s)))
		oh = max(1, int(math.Round(float64(sh)*s)))
		return bounds, ow, oh
	}
	// Cover: the largest centred part of the image with the box's aspect.
	cw, ch := sw, sh
	if int64(sw)*int64(bh) >= int64(sh)*int64(bw) { // wider than the box
		cw = max(1, min(sw, int(math.Round(float64(sh)*float64(bw)/float64(bh)))))
	} else {
		ch = max(1, min(sh, int(math.Round(float64(sw)*float64(bh)/float64(bw)))))
	}
	x0 := bounds.Min.X + (sw-cw)/2
	y0 := bounds.Min.Y + (sh-ch)/2
	crop = image.Rect(x0, y0, x0+cw, y0+ch)
	if cw <= bw && ch <= bh { // smaller than the box: show the crop as it is
		return crop, cw, ch
	}
	return crop, bw, bh
}

// scale resizes the crop of img to ow×oh. Like libvips, it first shrinks
// by the largest integer factor that keeps at least ow×oh pixels, with a
// box filter that reads each source pixel once, and resamples the rest
// (less than 2×) with Catmull-Rom. Besides speed, the shrink bounds
// Catmull-Rom's scratch memory (32 bytes × ow × source rows) to
// 64 bytes × ow × oh.
func scale(img image.Image, crop image.Rectangle, ow, oh int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, ow, oh))
	if crop.Dx() == ow && crop.Dy() == oh {
		draw.Draw(dst, dst.Bounds(), img, crop.Min, draw.Src)
		return dst
	}
	if k := min(crop.Dx()/ow, crop.Dy()/oh); k >= 2 {
		small := shrink(img, crop, k)
		img, crop = small, small.Bounds()
	}
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, crop, draw.Src, nil)
	return dst
}

// encode writes img as format, JPEG over a white background.
func (r *Renderer) encode(w io.Writer, img *image.RGBA, format string) error {
	if format == "image/png" {
		return (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(w, img)
	}
	if !img.Opaque() {
		bg := image.NewRGBA(img.Bounds())
		draw.Draw(bg, bg.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
		draw.Draw(bg, bg.Bounds(), img, img.Bounds().Min, draw.Over)
		img = bg
	}
	return jpeg.Encode(w, img, &jpeg.Options{Quality: r.opts.JPEGQuality})
}
