package driver

import (
	"context"
	"errors"
	"io"
)

// ScanResult is a scanner's verdict on some content.
type ScanResult struct {
	// Infected is true when the scanner found malware.
	Infected bool
	// Signature names what was found, when Infected.
	Signature string
}

// Scanner checks content for malware.
//
// Scan reads r until it has a verdict (usually to the end). It must return
// a verdict only when it has one: a scanner it cannot reach, a timeout, a
// protocol error or a size limit it cannot scan past are errors, so that
// the caller can fail closed. Content the scanner will never scan (past its
// size limit) is an error matching ErrScanLimit, so that the caller fails
// it at once rather than retrying. Context errors are returned as they
// are.
type Scanner interface {
	Scan(ctx context.Context, r io.Reader) (*ScanResult, error)
}

// ErrScanLimit reports content a Scanner will not scan, such as content
// past its size limit: no retry gives a verdict.
var ErrScanLimit = errors.New("content exceeds the scanner's size limit")

// Fit says how a preview fills its box.
type Fit string

// Fits.
const (
	FitCover   Fit = "cover"   // fill the box, cropping the overflow
	FitContain Fit = "contain" // fit inside the box, keeping all of the image
)

// PreviewSpec asks for a preview of at most Width × Height pixels.
type PreviewSpec struct {
	Width, Height int
	Fit           Fit
	// Format is the output type: "image/jpeg" or "image/png".
	Format string
}

// ErrNoPreview reports content a Previewer cannot render (an unsupported
// type, or an external tool that is not installed). Callers answer "no
// preview" rather than an error.
var ErrNoPreview = errors.New("no preview for this content")

// Previewer renders previews (thumbnails) of content.
//
// Preview reads the source, which is size bytes of type mimeType, and
// writes a preview per spec to w. Implementations must bound their work
// before decoding (pixel count from the header, file size, time) and
// return ErrNoPreview for what they cannot render. A malformed source is
// an error matching ErrInvalidArgument.
type Previewer interface {
	Accepts(mimeType string) bool
	Preview(ctx context.Context, src io.ReaderAt, size int64, mimeType string, spec PreviewSpec, w io.Writer) error
}
