package preview

import (
	"context"
	"fmt"
	"image"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// Options configure a Renderer. A nil *Options, and every zero field, means
// the documented default.
type Options struct {
	// MaxPixels caps width × height of a source image, and of a page or
	// frame an external tool renders. It is checked from the image header
	// before decoding; larger images get an error matching
	// driver.ErrNoPreview. It also budgets 4 bytes a decoded pixel:
	// images that decode to more (16-bit PNGs, 8 bytes a pixel) are capped
	// at proportionally fewer pixels, so a decoded image takes at most
	// 4 × MaxPixels bytes. Default 50_000_000.
	MaxPixels int64
	// MaxDimension caps the width and height a PreviewSpec may ask for;
	// larger specs are refused with driver.ErrInvalidArgument. Default 4096.
	MaxDimension int
	// MaxConcurrent bounds how many decodes and external tool runs the
	// Renderer performs at once, across all callers; the others wait for
	// a turn or for their ctx. Default runtime.GOMAXPROCS(0), at most 4.
	MaxConcurrent int
	// JPEGQuality is the quality of JPEG previews, 1 to 100. Default 85.
	JPEGQuality int
	// DisableTools turns PDF and video previews off even when pdftoppm and
	// ffmpeg are installed. Default false.
	DisableTools bool
	// Pdftoppm is the poppler-utils program that renders PDF pages: a path,
	// or a name New looks up on PATH. When it is not found, PDFs get
	// ErrNoPreview. Default "pdftoppm".
	Pdftoppm string
	// FFmpeg is the program that renders video poster frames: a path, or a
	// name New looks up on PATH. When it is not found, videos get
	// ErrNoPreview. Default "ffmpeg".
	FFmpeg string
	// ToolTimeout bounds one run of an external tool (ctx may end it
	// sooner). Default 30 seconds.
	ToolTimeout time.Duration
	// MaxToolInput is the largest source handed to an external tool;
	// larger PDFs and videos get ErrNoPreview. Default 1 GiB.
	MaxToolInput int64
	// MaxToolOutput bounds the bytes one external tool run may write; a run
	// that writes more is stopped and fails. Default 64 MiB.
	MaxToolOutput int64
	// TempDir is the directory for the temporary copies of sources that
	// external tools read. Default os.TempDir().
	TempDir string
}

// Defaults.
const (
	defaultMaxPixels     = 50_000_000
	defaultMaxDimension  = 4096
	defaultJPEGQuality   = 85
	defaultToolTimeout   = 30 * time.Second
	defaultMaxToolInput  = 1 << 30
	defaultMaxToolOutput = 64 << 20
)

// renderFunc renders one type. It runs with a concurrency slot held and
// with panics recovered by Preview.
type renderFunc func(ctx context.Context, src io.ReaderAt, size int64, mimeType string, spec driver.PreviewSpec, w io.Writer) error

// Renderer renders previews. It implements driver.Previewer and is safe for
// concurrent use.
type Renderer struct {
	opts     Options
	sem      chan struct{}
	pdftoppm string // resolved path, or "" when PDFs are not rendered
	ffmpeg   string // resolved path, or "" when videos are not rendered
	render   map[string]renderFunc

	// Decoders, replaced by tests: codecFor and decodeJPEGDC.
	codecs       func(mimeType string) (codec, bool)
	decodeEighth func(r io.Reader, maxPixels int64) (image.Image, error)
}

var _ driver.Previewer = (*Renderer)(nil)

// New returns a Renderer configured by opts (nil means defaults). It looks
// up the external tools once; Capabilities reports what it found.
func New(opts *Options) *Renderer {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = defaultMaxPixels
	}
	if o.MaxDimension <= 0 {
		o.MaxDimension = defaultMaxDimension
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = min(runtime.GOMAXPROCS(0), 4)
	}
	if o.JPEGQuality <= 0 {
		o.JPEGQuality = defaultJPEGQuality
	}
	o.JPEGQuality = min(o.JPEGQuality, 100)
	if o.Pdftoppm == "" {
		o.Pdftoppm = "pdftoppm"
	}
	if o.FFmpeg == "" {
		o.FFmpeg = "ffmpeg"
	}
	if o.ToolTimeout <= 0 {
		o.ToolTimeout = defaultToolTimeout
	}
	if o.MaxToolInput <= 0 {
		o.MaxToolInput = defaultMaxToolInput
	}
	if o.MaxToolOutput <= 0 {
		o.MaxToolOutput = defaultMaxToolOutput
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if abs, err := filepath.Abs(o.TempDir); err == nil {
		o.TempDir = abs // a relative path could start with "-" and read as an option
	}

	r := &Renderer{opts: o, sem: make(chan struct{}, o.MaxConcurrent), render: map[string]renderFunc{},
		codecs: codecFor, decodeEighth: decodeJPEGDC}
	for _, t := range imageTypes {
		r.render[t] = r.renderImage
	}
	if !o.DisableTools {
		r.pdftoppm = lookTool(o.Pdftoppm)
		r.ffmpeg = lookTool(o.FFmpeg)
	}
	if r.pdftoppm != "" {
		r.render["application/pdf"] = r.renderPDF
	}
	if r.ffmpeg != "" {
		for t := range videoDemuxers {
			r.render[t] = r.renderVideo
		}
	}
	return r
}

// lookTool resolves a program name or path, or returns "" when it is not
// an executable.
func lookTool(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p
}

// Capabilities returns the MIME types the Renderer renders, sorted: the
// image types always, application/pdf when pdftoppm was found, and video
// types when ffmpeg was found.
func (r *Renderer) Capabilities() []string {
	types := make([]string, 0, len(r.render))
	for t := range r.render {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Accepts reports whether the Renderer renders previews of mimeType.
// Parameters ("; charset=...") and letter case are ignored.
func (r *Renderer) Accepts(mimeType string) bool {
	_, ok := r.render[normalizeType(mimeType)]
	return ok
}

// Preview reads the source, size bytes of type mimeType, and writes a
// preview per spec to w. It writes to w only once the preview is complete,
// in one Write.
//
// A type the Renderer does not render, an image past Options.MaxPixels,
// and a PDF or video without its tool get an error matching
// driver.ErrNoPreview. A spec outside 1..Options.MaxDimension, an unknown
// Fit or Format, and a truncated or malformed source give an error matching
// driver.ErrInvalidArgument. An empty Fit means FitCover and an empty Format
// "image/jpeg". Context errors and read errors of src are returned as they
// are. A panic is recovered: in a decoder it is a malformed source, anywhere
// else an internal error matching neither sentinel.
func (r *Renderer) Preview(ctx context.Context, src io.ReaderAt, size int64, mimeType string, spec driver.PreviewSpec, w io.Writer) error {
	mt := normalizeType(mimeType)
	fn, ok := r.render[mt]
	if !ok {
		return fmt.Errorf("%w: preview: %q is not rendered", driver.ErrNoPreview, clip(mimeType))
	}
	spec, err := r.checkSpec(spec)
	if err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("%w: preview: negative size %d", driver.ErrInvalidArgument, size)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.sem }()
	return safely(mt, func() error { return fn(ctx, src, size, mt, spec, w) })
}

// safely runs fn and turns a panic into an error. Decoders recover their
// own panics (see decoding), so a panic that reaches safely is a bug of the
// Renderer, not a fault of the input: its error matches neither
// driver.ErrInvalidArgument nor driver.ErrNoPreview.
func safely(mimeType string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("preview: rendering %s panicked: %v", mimeType, p)
		}
	}()
	return fn()
}

// checkSpec validates spec and fills in its defaults.
func (r *Renderer) checkSpec(spec driver.PreviewSpec) (driver.PreviewSpec, error) {
	if spec.Width < 1 || spec.Height < 1 || spec.Width > r.opts.MaxDimension || spec.Height > r.opts.MaxDimension {
		return spec, fmt.Errorf("%w: preview: size %d×%d is outside 1..%d", driver.ErrInvalidArgument,
			spec.Width, spec.Height, r.opts.MaxDimension)
	}
	switch spec.Fit {
	case "":
		spec.Fit = driver.FitCover
	case driver.FitCover, driver.FitContain:
	default:
		return spec, fmt.Errorf("%w: preview: unknown fit %q", driver.ErrInvalidArgument, clip(string(spec.Fit)))
	}
	switch spec.Format {
	case "":
		spec.Format = "image/jpeg"
	case "image/jpeg", "image/png":
	default:
		return spec, fmt.Errorf("%w: preview: unknown format %q (want image/jpeg or image/png)",
			driver.ErrInvalidArgument, clip(spec.Format))
	}
	return spec, nil
}

// normalizeType lowercases a MIME type and drops its parameters.
func normalizeType(mimeType string) string {
	if i := strings.IndexByte(mimeType, ';'); i >= 0 {
		mimeType = mimeType[:i]
	}
	return strings.ToLower(strings.TrimSpace(mimeType))
}

// clip bounds untrusted text quoted in error messages.
func clip(s string) string {
	const max = 48
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
