package driver

import (
	"context"
	"time"
)

// LinkRecord is a public link: an anonymous, revocable URL serving a
// file's current version. The URL's secret token is never stored; the
// store keeps its SHA-256 (TokenHash) to find the link, and Sealed, the
// token encrypted by the service for listing, opaque to the store.
type LinkRecord struct {
	Workspace string
	ID        string // "lnk_<uuid>": names the link in lists and revocation
	FileID    string
	TokenHash string // lower-case hex SHA-256 of the URL's secret token
	Sealed    string // opaque; may be empty
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	// LastAccessedAt is when the link last served bytes, at the precision
	// the service chooses to record it (zero: never).
	LastAccessedAt time.Time
}

// ShareStore keeps public links and answers the anonymous lookups of
// public links and public-read files.
type ShareStore interface {
	// CreateLink stores a new link of an undeleted file of l.Workspace
	// (else ErrNotFound). A duplicate ID or TokenHash returns ErrExists; a
	// link without workspace, id, file, token hash or creation time
	// ErrInvalidArgument. When maxLive > 0 and the file already has
	// maxLive live links (without expiry, or expiring after l.CreatedAt),
	// it returns ErrPrecondition and stores nothing; the count and the
	// insert are one transaction, so concurrent creates never overshoot.
	CreateLink(ctx context.Context, l *LinkRecord, maxLive int) error

	// Links lists an undeleted file's links, oldest first. An unknown,
	// deleted or foreign file returns ErrNotFound.
	Links(ctx context.Context, workspace, fileID string) ([]LinkRecord, error)

	// Link returns a link of the workspace, or ErrNotFound (also when its
	// file is deleted).
	Link(ctx context.Context, workspace, id string) (*LinkRecord, error)

	// LinkByToken finds a link by the hash of its token, across
	// workspaces, with its file. A link that does not exist, or whose file
	// is deleted, returns ErrNotFound. It is one indexed lookup whether it
	// finds something or not.
	LinkByToken(ctx context.Context, tokenHash string) (*LinkRecord, *FileRecord, error)

	// DeleteLink removes a link of the workspace at once; the next
	// LinkByToken no longer finds it. Unknown links return ErrNotFound.
	DeleteLink(ctx context.Context, workspace, id string) error

	// DeleteFileLinks removes every link of a file of the workspace,
	// whether the file is deleted or not (the service ends a deleted
	// file's links before it can come back); a file without links, or an
	// unknown one, is not an error.
	DeleteFileLinks(ctx context.Context, workspace, fileID string) error

	// TouchLink sets a link's LastAccessedAt to at, only if it is before
	// staleBefore (so that concurrent readers write it at most once per
	// period), and reports whether it changed. Unknown links return
	// ErrNotFound.
	TouchLink(ctx context.Context, workspace, id string, at, staleBefore time.Time) (bool, error)

	// PublicFile returns an undeleted file whose AccessControl is
	// AccessPublicRead, across workspaces, by id; any other file
	// (unknown, deleted, private) returns ErrNotFound.
	PublicFile(ctx context.Context, id string) (*FileRecord, error)
}
