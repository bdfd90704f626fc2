package attach

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/signedurl"
)

// Fit says how a thumbnail fills its box.
type Fit = driver.Fit

// Fits.
const (
	FitCover   = driver.FitCover   // fill the box, cropping the overflow
	FitContain = driver.FitContain // fit inside the box, keeping all of the image
)

// ThumbnailSpec is one thumbnail size: a box of Width × Height pixels
// (both from Options.ThumbnailSizes) and how the image fills it.
type ThumbnailSpec struct {
	Width, Height int
	// Fit is FitCover (the default when empty) or FitContain.
	Fit Fit
}

// name is the derivative spec the thumbnail is recorded under.
func (t ThumbnailSpec) name() string {
	return "thumb-" + strconv.Itoa(t.Width) + "x" + strconv.Itoa(t.Height) + "-" + string(t.Fit)
}

// ThumbnailOptions control Thumbnail.
type ThumbnailOptions struct {
	// Width and Height are the box, each one of Options.ThumbnailSizes.
	// One of them may be 0, meaning a square box; not both.
	Width, Height int
	// Fit is FitCover (the default when empty) or FitContain.
	Fit Fit
	// Version picks a version; 0 means the current one. A version that
	// is not ready is CodeConflict, as for DownloadOptions.Version.
	Version int
	// BeforeRender, when set, is called only when the thumbnail does not
	// exist yet and is about to be rendered (a cached thumbnail never
	// calls it). An error it returns is returned as is, and nothing is
	// rendered: it is where a server limits the rate of renders.
	BeforeRender func(ctx context.Context) error
}

// Defaults of the thumbnail options.
const (
	defaultMaxThumbnailBytes = 16 << 20
	thumbnailTimeout         = 2 * time.Minute
	maxThumbnailDimension    = 4096
)

// DefaultThumbnailSizes returns the widths and heights Thumbnail accepts
// by default: 64, 256 and 1024 pixels.
func DefaultThumbnailSizes() []int { return []int{64, 256, 1024} }

// thumbnails is the Service's thumbnail machinery.
type thumbnails struct {
	flights singleflight.Group // one render per key in this process
	pool    chan struct{}      // bounds concurrent renders
}

// initThumbnails checks and defaults the thumbnail options.
func (s *Service) initThumbnails() error {
	o := &s.opts
	if len(o.ThumbnailSizes) == 0 {
		o.ThumbnailSizes = DefaultThumbnailSizes()
	} else {
		o.ThumbnailSizes = slices.Clone(o.ThumbnailSizes)
	}
	for _, n := range o.ThumbnailSizes {
		if n < 1 || n > maxThumbnailDimension {
			return fmt.Errorf("attach: thumbnail size %d is outside 1..%d", n, maxThumbnailDimension)
		}
	}
	if o.ThumbnailWorkers <= 0 {
		o.ThumbnailWorkers = min(runtime.GOMAXPROCS(0), 4)
	}
	if o.MaxThumbnailBytes <= 0 {
		o.MaxThumbnailBytes = defaultMaxThumbnailBytes
	}
	o.EagerThumbnails = slices.Clone(o.EagerThumbnails)
	for i, spec := range o.EagerThumbnails {
		spec, err := s.thumbnailSpec(spec.Width, spec.Height, spec.Fit)
		if err != nil {
			return fmt.Errorf("attach: Options.EagerThumbnails[%d]: %w", i, err)
		}
		o.EagerThumbnails[i] = spec
	}
	s.thumbs = &thumbnails{pool: make(chan struct{}, o.ThumbnailWorkers)}
	return nil
}

// thumbnailSpec validates a requested box against the allowed sizes.
func (s *Service) thumbnailSpec(w, h int, fit Fit) (ThumbnailSpec, error) {
	if w == 0 {
		w = h
	}
	if h == 0 {
		h = w
	}
	if w == 0 {
		return ThumbnailSpec{}, errorf(CodeInvalidRequest, "a thumbnail width or height is required")
	}
	for _, n := range []int{w, h} {
		if !slices.Contains(s.opts.ThumbnailSizes, n) {
			return ThumbnailSpec{}, &Error{Code: CodeInvalidRequest,
				Message: fmt.Sprintf("thumbnail size %d is not one of the allowed sizes %v", n, s.opts.ThumbnailSizes),
				Details: map[string]any{"allowedSizes": slices.Clone(s.opts.ThumbnailSizes)}}
		}
	}
	switch fit {
	case "":
		fit = FitCover
	case FitCover, FitContain:
	default:
		return ThumbnailSpec{}, errorf(CodeInvalidRequest, "fit %.32q is not cover or contain", string(fit))
	}
	return ThumbnailSpec{Width: w, Height: h, Fit: fit}, nil
}

// Thumbnail returns a signed URL of a thumbnail of a file's version (the
// current one unless opts.Version is set), or nil when no thumbnail exists
// for its type: no Options.Previewer, a type the previewer does not
// render (SVG is never rasterised by package preview), or an image past
// the previewer's pixel cap. The caller needs the view right, and the file
// must be ready (CodeConflict while processing). Sizes must come from
// Options.ThumbnailSizes (CodeInvalidRequest otherwise).
//
// The first request of a (version, size, fit) renders the thumbnail: once
// in this process however many ask at the same time, in a pool of
// Options.ThumbnailWorkers, reading the source from storage as it goes.
// The result is stored as a derivative of the version (source
// "generated"), served to every later request from storage, and removed
// with the file. Content the previewer cannot decode (truncated or
// malformed) is CodeContentMismatch; it is not remembered, so a later
// request tries again.
//
// The URL serves the thumbnail inline (JPEG or PNG) for
// Options.DownloadExpiry, signed like DownloadURL's.
func (s *Service) Thumbnail(ctx context.Context, scope Scope, id string, opts *ThumbnailOptions) (*SignedURL, error) {
	if opts == nil {
		opts = &ThumbnailOptions{}
	}
	spec, err := s.thumbnailSpec(opts.Width, opts.Height, opts.Fit)
	if err != nil {
		return nil, err
	}
	f, v, err := s.readable(ctx, scope, id, opts.Version)
	if err != nil {
		return nil, err
	}
	if s.opts.Previewer == nil || !s.opts.Previewer.Accepts(v.MIMEType) {
		return nil, nil
	}
	d, err := s.derivative(ctx, v, spec, opts.BeforeRender)
	if err != nil || d == nil {
		return nil, err
	}
	return s.signDerivative(ctx, f, v, d)
}

// GenerateThumbnails renders Options.EagerThumbnails of a file's version
// (0: the current one) that do not exist yet, for a background worker to
// call after confirm. It is idempotent: thumbnails that exist are kept,
// and a type without previews does nothing. It does not check any user's
// rights and also runs while the file is processing.
func (s *Service) GenerateThumbnails(ctx context.Context, workspace, fileID string, version int) error {
	if s.opts.Previewer == nil || len(s.opts.EagerThumbnails) == 0 {
		return nil
	}
	if version == 0 {
		f, err := s.store.File(ctx, workspace, fileID)
		if err != nil {
			return wrap(err, "load file")
		}
		version = f.Version
	}
	v, err := s.store.Version(ctx, workspace, fileID, version)
	if err != nil {
		return wrap(err, "load version")
	}
	if !s.opts.Previewer.Accepts(v.MIMEType) {
		return nil
	}
	var errs []error
	for _, spec := range s.opts.EagerThumbnails {
		if _, err := s.derivative(ctx, v, spec, nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// derivative returns the thumbnail of v per spec, rendering it when it
// does not exist yet, or nil when there is no preview for v's content.
func (s *Service) derivative(ctx context.Context, v *driver.VersionRecord, spec ThumbnailSpec, before func(context.Context) error) (*driver.DerivativeRecord, error) {
	d, err := s.store.Derivative(ctx, v.Workspace, v.FileID, v.Version, spec.name())
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, driver.ErrNotFound) {
		return nil, wrap(err, "load thumbnail")
	}
	if before != nil {
		if err := before(ctx); err != nil {
			return nil, err
		}
	}
	key := fmt.Sprintf("%s/%s/v%d/%s", v.Workspace, v.FileID, v.Version, spec.name())
	// The render is shared by every caller of the key, so it runs on its
	// own context: one caller going away does not fail the others.
	ch := s.thumbs.flights.DoChan(key, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), thumbnailTimeout)
		defer cancel()
		return s.render(rctx, v, spec)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*driver.DerivativeRecord), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// render renders, stores and records one thumbnail, or returns nil when
// the previewer has none for the content.
func (s *Service) render(ctx context.Context, v *driver.VersionRecord, spec ThumbnailSpec) (*driver.DerivativeRecord, error) {
	// A flight that just ended, or another replica, may have made it.
	if d, err := s.store.Derivative(ctx, v.Workspace, v.FileID, v.Version, spec.name()); err == nil {
		return d, nil
	}
	format := thumbnailFormat(v.MIMEType)
	buf, err := s.renderPooled(ctx, v, driver.PreviewSpec{Width: spec.Width, Height: spec.Height, Fit: spec.Fit, Format: format})
	switch {
	case errors.Is(err, driver.ErrNoPreview):
		return nil, nil
	case err != nil:
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "internal error", Err: fmt.Errorf("previewer wrote an undecodable %s: %w", format, err)}
	}

	key := storageKey(v.Workspace, v.FileID, v.Version)
	w, err := s.writeObject(ctx, key, format, int64(buf.Len()), true, bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, wrap(err, "store thumbnail")
	}
	d := &driver.DerivativeRecord{Workspace: v.Workspace, FileID: v.FileID, Version: v.Version, Spec: spec.name(),
		StorageKey: key, MIMEType: format, Size: w.size, Digest: w.digest, Width: cfg.Width, Height: cfg.Height,
		Source: string(SourceGenerated), CreatedAt: s.now()}
	err = s.store.CreateDerivative(ctx, d)
	if err == nil {
		return d, nil
	}
	s.deleteQuietly(ctx, key)
	if errors.Is(err, driver.ErrExists) { // another replica won: use theirs
		d, err := s.store.Derivative(ctx, v.Workspace, v.FileID, v.Version, spec.name())
		return d, wrap(err, "load thumbnail")
	}
	return nil, wrap(err, "record thumbnail")
}

// renderPooled runs the previewer in the pool, on the source read from
// storage as it goes, into a buffer of at most Options.MaxThumbnailBytes.
func (s *Service) renderPooled(ctx context.Context, v *driver.VersionRecord, spec driver.PreviewSpec) (*bytes.Buffer, error) {
	select {
	case s.thumbs.pool <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.thumbs.pool }()

	src := &storageReaderAt{ctx: ctx, storage: s.storage, key: v.StorageKey, size: v.Size}
	defer src.Close()
	out := &cappedBuffer{max: s.opts.MaxThumbnailBytes}
	err := s.preview(ctx, src, v, spec, out)
	var e *Error
	switch {
	case err == nil:
		return &out.Buffer, nil
	case errors.Is(err, driver.ErrNoPreview), errors.As(err, &e),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, err
	case src.err != nil: // the storage failed, not the content
		return nil, wrap(src.err, "read source")
	case errors.Is(err, errTooLong):
		return nil, &Error{Code: CodeInternal, Message: "internal error",
			Err: fmt.Errorf("thumbnail of %s v%d is larger than %d bytes", v.FileID, v.Version, s.opts.MaxThumbnailBytes)}
	case errors.Is(err, driver.ErrInvalidArgument):
		return nil, &Error{Code: CodeContentMismatch, Err: err,
			Message: fmt.Sprintf("the file's content cannot be decoded as %s, so it has no thumbnail", v.MIMEType)}
	}
	return nil, wrap(err, "render thumbnail")
}

// preview calls the previewer, turning a panic into an internal error: a
// previewer bug must not take the process down.
func (s *Service) preview(ctx context.Context, src io.ReaderAt, v *driver.VersionRecord, spec driver.PreviewSpec, w io.Writer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.ErrorContext(ctx, "attach: previewer panicked", "file", v.FileID, "version", v.Version,
				"type", v.MIMEType, "panic", p)
			err = &Error{Code: CodeInternal, Message: "internal error", Err: fmt.Errorf("previewer panicked: %v", p)}
		}
	}()
	return s.opts.Previewer.Preview(ctx, src, v.Size, v.MIMEType, spec, w)
}

// thumbnailFormat is JPEG for photos, documents and video frames, and PNG
// for the image types that may be transparent.
func thumbnailFormat(mimeType string) string {
	switch mimeType {
	case "image/png", "image/gif", "image/webp":
		return "image/png"
	}
	return "image/jpeg"
}

// signDerivative returns a URL serving a derivative inline.
func (s *Service) signDerivative(ctx context.Context, f *driver.FileRecord, v *driver.VersionRecord, d *driver.DerivativeRecord) (*SignedURL, error) {
	exp := s.now().Add(s.opts.DownloadExpiry).Truncate(time.Second)
	disp := ContentDisposition("", d.MIMEType, true)
	if s.getSigner != nil {
		u, err := s.getSigner.SignedURL(ctx, d.StorageKey, &driver.SignOptions{Method: "GET",
			Expiry: exp.Sub(s.now()), ContentType: d.MIMEType, ContentDisposition: disp})
		if err != nil {
			return nil, wrap(err, "sign thumbnail url")
		}
		return &SignedURL{URL: u, ExpiresAt: exp}, nil
	}
	u := s.libraryURL(signedurl.Claims{Method: "GET", Key: d.StorageKey, Expires: exp, Type: d.MIMEType,
		File: f.ID, Version: v.Version, Disposition: disp})
	return &SignedURL{URL: u, ExpiresAt: exp}, nil
}

// openDerivative serves a library-signed URL of a derivative of v.
func (s *Service) openDerivative(ctx context.Context, f *driver.FileRecord, v *driver.VersionRecord, key, disp string) (*Content, error) {
	ds, err := s.store.Derivatives(ctx, f.Workspace, f.ID, v.Version)
	if err != nil {
		return nil, wrap(err, "load thumbnails")
	}
	for _, d := range ds {
		if d.StorageKey == key {
			return &Content{FileID: f.ID, Version: v.Version, MIMEType: d.MIMEType, Size: d.Size, Digest: d.Digest,
				ModTime: d.CreatedAt, ContentDisposition: disp, Private: f.AccessControl != AccessPublicRead,
				ctx: ctx, storage: s.storage, key: key}, nil
		}
	}
	return nil, errorf(CodeNotFound, "not found")
}

// storageReaderAt reads an object as an io.ReaderAt. Decoders read mostly
// forward, so it keeps one range reader open and reuses it while reads
// continue where the last one ended; a read elsewhere opens a new one.
// Memory does not grow with the object.
type storageReaderAt struct {
	ctx     context.Context
	storage driver.Storage
	key     string
	size    int64

	mu  sync.Mutex
	r   io.ReadCloser
	off int64 // offset of r
	err error // the first error of the storage itself
}

// ReadAt implements io.ReaderAt.
func (s *storageReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("attach: negative offset")
	}
	if off >= s.size {
		return 0, io.EOF
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r != nil && s.off != off {
		s.r.Close()
		s.r = nil
	}
	if s.r == nil {
		r, err := s.storage.NewRangeReader(s.ctx, s.key, off, -1)
		if err != nil {
			s.fail(err)
			return 0, err
		}
		s.r, s.off = r, off
	}
	want := int(min(int64(len(p)), s.size-off))
	n, err := io.ReadFull(s.r, p[:want])
	s.off += int64(n)
	if err != nil {
		s.r.Close()
		s.r = nil
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("attach: object %s is shorter than its recorded %d bytes", s.key, s.size)
		}
		s.fail(err)
		return n, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (s *storageReaderAt) fail(err error) {
	if s.err == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		s.err = err
	}
}

// Close releases the open range reader.
func (s *storageReaderAt) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.r != nil {
		err := s.r.Close()
		s.r = nil
		return err
	}
	return nil
}

// cappedBuffer is a bytes.Buffer that refuses to grow past max bytes.
type cappedBuffer struct {
	bytes.Buffer
	max int64
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if int64(b.Len())+int64(len(p)) > b.max {
		return 0, errTooLong
	}
	return b.Buffer.Write(p)
}
