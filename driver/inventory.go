package driver

import "context"

// Inventory is an optional MetaStore capability for administration tools
// (cmd/attachctl): walking every file of every workspace, and counting.
// Check for it with a type assertion.
type Inventory interface {
	// WalkFiles calls fn for every file of every workspace, deleted files
	// not yet purged included, in id order, stopping at the first error fn
	// returns (which WalkFiles then returns). Implementations must not hold
	// a transaction or connection open while fn runs.
	WalkFiles(ctx context.Context, fn func(*FileInventory) error) error
	// Stats counts the undeleted files by workspace and kind.
	Stats(ctx context.Context) ([]Stat, error)
}

// FileInventory is one file's row with every row that references its
// bytes: what an administration tool needs to copy, check or count a
// file's objects.
type FileInventory struct {
	// File is the file's row. DeletedAt is set for a file marked deleted
	// whose rows are not purged yet.
	File FileRecord
	// Versions are the file's versions, oldest first.
	Versions []VersionRecord
	// Uploads are the file's tickets in every status, oldest first. A
	// pending ticket's object may or may not exist yet.
	Uploads []UploadRecord
}

// Stat counts the undeleted files of one workspace and kind.
type Stat struct {
	Workspace string
	// Kind is the current version's kind ("image", "document", ...), or
	// empty for files without a confirmed version.
	Kind string
	// Files is the number of undeleted files.
	Files int64
	// Bytes is the total size of their current versions.
	Bytes int64
	// Versions is the number of their versions, current ones included.
	Versions int64
	// VersionBytes is the total size of those versions: the bytes storage
	// holds for these files.
	VersionBytes int64
}
