// Package preview renders thumbnails of images, PDFs and videos. It
// implements driver.Previewer with thumbnailers keyed by MIME type behind
// one entry point:
//
//	r := preview.New(nil) // defaults; safe for concurrent use
//	spec, err := preview.ParseSpec(q.Get("w"), q.Get("h"), q.Get("fit"), nil)
//	if err != nil { ... } // matches driver.ErrInvalidArgument
//	err = r.Preview(ctx, src, size, "image/jpeg", spec, w)
//
// # Types
//
// JPEG, PNG, GIF (its first frame) and WebP are decoded in process with the
// standard library and golang.org/x/image. PDFs (first page) and videos
// (a poster frame) are rendered by poppler's pdftoppm and by ffmpeg when
// those programs are installed; New looks them up once, and
// Renderer.Capabilities lists the types the Renderer can render. SVG is
// never rasterised: it is not accepted, and Preview answers ErrNoPreview,
// like it does for every other type it does not render.
//
// # Sizes
//
// A preview fits a box of the caller's width and height: FitCover fills the
// box and crops the overflow around the centre, FitContain keeps the whole
// image inside the box. Previews never enlarge a source: a small image
// yields a preview smaller than the box (with the box's aspect ratio for
// FitCover). Sizes come from callers, usually from query parameters:
// ParseSpec validates those against an allow-list (DefaultSizes: 64, 256
// and 1024 pixels).
//
// EXIF orientation is applied to JPEGs, so a photo taken in portrait is
// previewed upright. A baseline JPEG at least 8 times larger than its
// preview is decoded at 1/8 scale, keeping only each 8×8 block's mean
// (its DC coefficient) without an inverse DCT, as libjpeg's scaled
// decoding does; progressive JPEGs and larger previews are decoded in
// full. Scaling shrinks by an integer factor with a box
// filter to between one and two times the preview size and resamples the
// rest with Catmull-Rom (the approach of libvips), which costs a fraction
// of Catmull-Rom over the whole reduction in time and memory. Previews are JPEG
// (transparent areas over white) or PNG, as PreviewSpec.Format asks.
//
// # Bounds
//
// Every source is untrusted. The pixel count of an image is read from its
// header and checked against Options.MaxPixels before any pixel is decoded,
// so a small file that claims to be 20000×20000 pixels costs nothing; it
// gets an error matching driver.ErrNoPreview. Decoding memory is about 1.5
// to 4 bytes a pixel (more for progressive JPEGs; a JPEG decoded at 1/8
// scale needs 1/64 of that); images that decode to more (16-bit PNGs, 8
// bytes a pixel) are capped at proportionally fewer pixels, so a decoded
// image stays within 4 × MaxPixels bytes. Options.MaxConcurrent
// bounds how many decodes and external tool runs happen at once across
// all callers, so memory stays bounded however many previews are asked for
// concurrently. Truncated or malformed sources give errors matching
// driver.ErrInvalidArgument; a decoder panic is recovered and reported the
// same way (a panic of the 1/8 JPEG decoder falls back to the full decode).
// A panic anywhere else is a bug of the Renderer: it is recovered and
// returned as an internal error, matching neither driver.ErrInvalidArgument
// nor driver.ErrNoPreview. Read errors of the source itself are returned as
// they are.
//
// # External tools
//
// pdftoppm and ffmpeg run without a shell, with fixed arguments (only the
// preview size, a number, varies), on a copy of the source in a temporary
// file the Renderer names itself ("attachkit-preview-*") and removes after
// the run. The video demuxer is chosen from the MIME type and input
// protocols are restricted to plain files, so a source cannot make ffmpeg
// read other files or the network. Each run is bounded in time
// (Options.ToolTimeout and ctx), input size (Options.MaxToolInput) and
// output size (Options.MaxToolOutput), and what the tool renders goes
// through the same pixel cap and scaler as an uploaded image. The tools'
// own memory use is not limited by the Renderer; run it where the
// process's memory is limited (a container, a cgroup) when that matters,
// or set Options.DisableTools.
package preview
