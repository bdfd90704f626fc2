package driver

import (
	"context"
	"time"
)

// DerivativeRecord is a rendition the library generated from one version
// of a file, such as a thumbnail. It belongs to that version: it is never
// shared with another version (a restored version gets its own), and it
// goes when the file is purged.
type DerivativeRecord struct {
	Workspace string
	FileID    string
	Version   int
	// Spec names the rendition within its version, e.g.
	// "thumb-256x256-cover"; at most one derivative exists per (file,
	// version, spec). 1 to 128 bytes.
	Spec       string
	StorageKey string
	MIMEType   string
	Size       int64
	Digest     string // "sha256:<hex>"
	Width      int
	Height     int
	Source     string // "generated"
	CreatedAt  time.Time
}

// DerivativeStore keeps preview derivatives tied to versions.
type DerivativeStore interface {
	// CreateDerivative records a derivative of an existing version of an
	// undeleted file. A second derivative with the same (file, version,
	// spec) returns an error matching ErrExists and changes nothing (of
	// concurrent creators exactly one wins); an unknown, deleted or
	// foreign file, or an unknown version, returns ErrNotFound; an empty
	// Spec or StorageKey, or a zero CreatedAt, ErrInvalidArgument.
	// Recording is serialised with MarkDeleted and PurgeFile, so a
	// derivative recorded before a file is deleted is in its FileKeys, and
	// none is recorded after.
	CreateDerivative(ctx context.Context, d *DerivativeRecord) error

	// Derivative returns one derivative of an undeleted file's version,
	// or ErrNotFound.
	Derivative(ctx context.Context, workspace, fileID string, version int, spec string) (*DerivativeRecord, error)

	// Derivatives lists the derivatives of one version of an undeleted
	// file, ordered by spec; none is an empty list. An unknown, deleted or
	// foreign file returns ErrNotFound.
	Derivatives(ctx context.Context, workspace, fileID string, version int) ([]DerivativeRecord, error)
}
