package driver

import (
	"context"
	"time"
)

// FileStatus is the lifecycle state of a file.
type FileStatus string

// File lifecycle states.
const (
	StatusPending    FileStatus = "pending"    // ticket issued, bytes not confirmed
	StatusProcessing FileStatus = "processing" // confirmed, background work running
	StatusReady      FileStatus = "ready"      // confirmed and downloadable
	StatusRejected   FileStatus = "rejected"   // verification failed; bytes removed
	StatusFailed     FileStatus = "failed"     // processing failed
)

// UploadStatus is the state of an upload ticket.
type UploadStatus string

// Upload ticket states.
const (
	UploadPending   UploadStatus = "pending"   // accepting bytes, awaiting confirm
	UploadConfirmed UploadStatus = "confirmed" // committed as a version
	UploadRejected  UploadStatus = "rejected"  // verification failed
	UploadExpired   UploadStatus = "expired"   // never confirmed in time
)

// ACL lists the principals granted each right on a file in addition to its
// owner: "user:<id>", or "workspace" for everyone in the workspace.
type ACL struct {
	View   []string `json:"view"`
	Edit   []string `json:"edit"`
	Delete []string `json:"delete"`
}

// FileRecord is a file's row. Content fields (MIMEType through StorageKey)
// describe the current version; they are empty while Version is 0.
type FileRecord struct {
	Workspace string
	ID        string

	FileName string
	Title    string
	MIMEType string
	Kind     string
	Size     int64
	Digest   string // "sha256:<hex>"
	Width    int    // 0 when not applicable
	Height   int    // 0 when not applicable

	Status       FileStatus
	StatusCode   string // error code of a rejection or failure
	StatusReason string // human-readable reason of a rejection or failure
	Source       string
	Version      int // current version; 0 before the first confirm
	StorageKey   string

	Owner         string
	CollectionID  string
	Tags          []string
	Metadata      []byte // JSON object
	AccessControl string
	ACL           ACL

	Persist   bool
	ExpiresAt time.Time // zero: never
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt time.Time // zero: not deleted
}

// VersionRecord is one immutable version of a file's content.
type VersionRecord struct {
	Workspace  string
	FileID     string
	Version    int
	FileName   string
	MIMEType   string
	Kind       string
	Size       int64
	Digest     string
	Width      int
	Height     int
	StorageKey string
	Source     string
	// Status is the version's own verdict: processing until its
	// processing settles (SettleFile), then ready, rejected or failed;
	// only a ready version may be served. CommitUpload and CopyVersion
	// store the status they commit with, whatever this field says. A
	// version superseded while processing is never settled: it stays
	// processing (never served) until restored and processed again.
	Status    FileStatus
	CreatedAt time.Time
	CreatedBy string
}

// UploadRecord is an upload ticket: the promise of one version's bytes.
type UploadRecord struct {
	Workspace   string
	ID          string
	FileID      string
	Version     int // the version this ticket will create
	BaseVersion int // the file version it was issued against
	StorageKey  string
	FileName    string
	MIMEType    string // declared type
	Size        int64  // declared size
	MaxSize     int64  // the policy limit that applied when it was issued

	Status      UploadStatus
	ErrorCode   string // why it was rejected
	ErrorReason string

	// Written* record what a library-streamed write stored, so confirm can
	// trust the digest without reading the object again when the storage's
	// own MD5 still matches.
	WrittenSize   int64
	WrittenDigest string
	WrittenMD5    []byte

	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// WriteRecord is what a streamed write stored for a ticket.
type WriteRecord struct {
	Size   int64
	Digest string
	MD5    []byte
}

// Commit describes the one conditional change that confirms an upload.
type Commit struct {
	Workspace string
	UploadID  string
	// Version is the new version's row; Version.Version must equal the
	// ticket's Version.
	Version VersionRecord
	// Status is the file status after the commit (ready or processing),
	// and the new version's.
	Status FileStatus
	// ExpiresAt, when non-zero, sets the file's expiry (temporary files).
	ExpiresAt time.Time
	At        time.Time
	// TicketExpiresAfter, when non-zero, is an instant the ticket must
	// expire after (a ticket without expiry always does): otherwise the
	// commit is refused with ErrPrecondition, so that a confirm never
	// commits a ticket a janitor may already have swept.
	TicketExpiresAfter time.Time
	// Jobs are stored in the same transaction (see JobStore.EnqueueJobs):
	// the background work a processing status needs.
	Jobs []JobRecord
}

// MetaStore keeps file metadata. Every method is scoped to a workspace:
// another workspace's ids behave exactly like unknown ids (ErrNotFound).
type MetaStore interface {
	// CreateUpload stores a pending ticket and, when file is non-nil, the
	// new pending file it belongs to, in one transaction. Duplicate ids
	// return an error matching ErrExists. When file is nil the ticket's
	// FileID must name an existing, undeleted file of the workspace whose
	// current version is the ticket's BaseVersion, else ErrNotFound or
	// ErrPrecondition. A new file's CollectionID must name a collection
	// of the workspace, else ErrNotFound: no file is ever stored in a
	// collection DeleteCollection removes.
	CreateUpload(ctx context.Context, file *FileRecord, up *UploadRecord) error

	// File returns an undeleted file of the workspace, or ErrNotFound.
	File(ctx context.Context, workspace, id string) (*FileRecord, error)

	// Upload returns a ticket of the workspace, or ErrNotFound.
	Upload(ctx context.Context, workspace, id string) (*UploadRecord, error)

	// LatestUpload returns the most recently created ticket of a file, or
	// ErrNotFound.
	LatestUpload(ctx context.Context, workspace, fileID string) (*UploadRecord, error)

	// RecordWrite records what a streamed write stored for a pending
	// ticket. A ticket that is not pending returns ErrPrecondition.
	RecordWrite(ctx context.Context, workspace, uploadID string, w WriteRecord) error

	// CommitUpload is the one conditional state change of a confirm: the
	// ticket moves from pending to confirmed, the version row is inserted
	// and the file's current content becomes that version, all only if the
	// ticket is pending and the file is undeleted with current version
	// equal to the ticket's BaseVersion, and the ticket expires after
	// c.TicketExpiresAfter (when set). Otherwise nothing changes and the
	// error matches ErrPrecondition (ErrNotFound for an unknown ticket).
	// The version row takes c.Status. Of any number of concurrent commits
	// of one ticket exactly one wins.
	CommitUpload(ctx context.Context, c *Commit) (*FileRecord, error)

	// RejectUpload moves a pending ticket to rejected with a code and
	// reason; a file without any version becomes rejected too. A ticket
	// that is not pending returns ErrPrecondition.
	RejectUpload(ctx context.Context, workspace, uploadID, code, reason string, at time.Time) error

	// MarkDeleted hides a file at once and removes its attachments to
	// records (see OrganizeStore). An unknown or already deleted file
	// returns ErrNotFound.
	MarkDeleted(ctx context.Context, workspace, id string, at time.Time) error

	// FileKeys returns every storage key a file's versions, tickets and
	// derivatives reference, deleted or not, for removal.
	FileKeys(ctx context.Context, workspace, id string) ([]string, error)

	// PurgeFile removes every row of a file (deleted or not), its
	// derivatives' included. Unknown files return ErrNotFound.
	PurgeFile(ctx context.Context, workspace, id string) error

	// Versions lists an undeleted file's versions, oldest first.
	Versions(ctx context.Context, workspace, fileID string) ([]VersionRecord, error)

	// Version returns one version of an undeleted file, or ErrNotFound.
	Version(ctx context.Context, workspace, fileID string, version int) (*VersionRecord, error)

	// Document management: listing, metadata edits, version restore,
	// retention. The records these methods take are at the end of this
	// file.

	// ListFiles returns one page of a workspace's listed files (see
	// ListQuery) in the query's order, starting after q.After, with at
	// most q.Limit files, and the number of listed files matching the
	// query's filters regardless of After and Limit. The cost of a page
	// must not grow with the depth of After (keyset, not offset). A query
	// without a workspace, with an unknown sort or a Limit outside 1..1000
	// returns ErrInvalidArgument.
	ListFiles(ctx context.Context, q *ListQuery) (*ListPage, error)

	// UpdateFile changes an undeleted file's client-editable metadata:
	// the non-nil fields of u, and UpdatedAt. Tag and access changes are
	// reflected by ListFiles at once. An unknown, deleted or foreign file,
	// or a CollectionID naming no collection of the workspace (checked
	// atomically with DeleteCollection), returns ErrNotFound.
	UpdateFile(ctx context.Context, u *FileUpdate) (*FileRecord, error)

	// CopyVersion makes an existing version's content the file's new
	// current version (BaseVersion+1), sharing its storage key, in one
	// conditional change: only if the file is undeleted and at
	// BaseVersion, else ErrPrecondition (ErrNotFound for an unknown file
	// or version). The new version and the file take c.Status, and c.Jobs
	// are stored in the same transaction. Of concurrent copies with one
	// base exactly one wins.
	// A storage key may therefore be named by several versions; FileKeys
	// returns it once.
	CopyVersion(ctx context.Context, c *VersionCopy) (*FileRecord, error)

	// DeletedFile returns a file marked deleted (and not purged), or
	// ErrNotFound, also for an undeleted file.
	DeletedFile(ctx context.Context, workspace, id string) (*FileRecord, error)

	// Undelete makes a file marked deleted after deletedAfter visible
	// again and returns it. A file that is not deleted, was deleted at or
	// before deletedAfter, or is unknown returns ErrNotFound.
	Undelete(ctx context.Context, workspace, id string, deletedAfter time.Time) (*FileRecord, error)

	// SweepFiles lists, across workspaces, files a janitor should purge:
	// those marked deleted at or before q.DeletedBefore and undeleted ones
	// whose ExpiresAt is at or before q.ExpiredBefore (a zero time selects
	// none of that kind), oldest first, at most q.Limit.
	SweepFiles(ctx context.Context, q *SweepQuery) ([]FileRecord, error)

	// Organisation: collections and attachments (organize.go).
	OrganizeStore

	// Sharing: public links (share.go).
	ShareStore

	// Processing: durable jobs and janitor sweeps (jobs.go).
	JobStore

	// Previews: derivatives tied to versions (derivatives.go).
	DerivativeStore

	// Ping checks the store answers.
	Ping(ctx context.Context) error

	// Close releases the store's resources.
	Close() error
}

// ---------------------------------------------------------------------------
// Document management records: listing, metadata edits, version restore,
// retention sweeps.
// ---------------------------------------------------------------------------

// AccessPublicRead is the AccessControl value that lets every member of a
// file's workspace view it (and anyone holding a public link).
const AccessPublicRead = "public-read"

// ListSort is the order of a listing.
type ListSort string

// Listing orders. Ties are broken by file id in the same direction.
const (
	ListByCreated     ListSort = "createdAt"  // oldest first
	ListByCreatedDesc ListSort = "-createdAt" // newest first
	// ListByName orders by the file name folded to lower case
	// (strings.ToLower), in the database's collation.
	ListByName ListSort = "fileName"
)

// ListKey is a keyset position: the sort values of the last file of the
// previous page. Only the fields of the query's sort are used, plus ID.
type ListKey struct {
	CreatedAt time.Time
	FileName  string // as stored; the store folds it like ListByName
	ID        string
}

// ListQuery selects a page of a workspace's listed files. A file is listed
// when it is undeleted, has a confirmed version (Version > 0; pending and
// rejected first uploads are not listed) and has not expired (ExpiresAt
// zero or after Now). Empty filter fields do not filter.
type ListQuery struct {
	Workspace string
	// Viewer, when set, restricts the listing to the files that user may
	// view: owned by Viewer, AccessControl AccessPublicRead, or whose
	// ACL.View names "workspace" or "user:"+Viewer. Empty lists every
	// file (a workspace administrator).
	Viewer       string
	CollectionID string
	Tag          string // files carrying this exact tag
	Kind         string
	// NameContains matches files whose name contains it, compared
	// case-insensitively (both folded with strings.ToLower); it is a
	// literal, not a pattern.
	NameContains string
	Sort         ListSort
	// After, when non-nil, starts the page after this position.
	After *ListKey
	// Limit is the page size, 1 to 1000.
	Limit int
	// Now decides which temporary files have expired.
	Now time.Time
}

// ListPage is a page of files and the number of files the query's filters
// match in all.
type ListPage struct {
	Files []FileRecord
	Total int64
}

// FileUpdate changes a file's client-editable metadata. Nil fields stay as
// they are. Server-owned fields (content, status, owner, version, times)
// cannot be expressed.
type FileUpdate struct {
	Workspace     string
	ID            string
	FileName      *string
	Title         *string
	CollectionID  *string
	Tags          *[]string
	Metadata      []byte // JSON object; nil leaves it unchanged
	AccessControl *string
	ACL           *ACL
	At            time.Time // becomes UpdatedAt
}

// VersionCopy restores version From of a file as its new current version.
type VersionCopy struct {
	Workspace   string
	FileID      string
	From        int
	BaseVersion int        // the current version the copy expects
	Status      FileStatus // ready or processing: the file's and the new version's
	CreatedBy   string
	At          time.Time
	// Jobs are stored in the same transaction (see JobStore.EnqueueJobs):
	// the background work a processing status needs.
	Jobs []JobRecord
}

// SweepQuery selects files for a janitor; see MetaStore.SweepFiles.
type SweepQuery struct {
	DeletedBefore time.Time
	ExpiredBefore time.Time
	Limit         int
}
