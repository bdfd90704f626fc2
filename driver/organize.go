package driver

import (
	"context"
	"time"
)

// Bounds of the organisation records, enforced by every OrganizeStore.
const (
	// MaxCollectionDepth is the most levels a collection tree may have: a
	// top-level collection is at depth 1.
	MaxCollectionDepth = 16
	// MaxAttachments is the most files one record field may hold.
	MaxAttachments = 1000
)

// CollectionRecord is a collection's row: a named, ordered, optionally
// nested folder of files that may narrow the upload policy.
type CollectionRecord struct {
	Workspace string
	ID        string
	ParentID  string // "" at the top level
	Name      string
	Starred   bool
	Order     int
	// AllowedTypes narrows the types files in the collection may have
	// (exact types or "family/*"); empty does not narrow.
	AllowedTypes []string
	// MaxSize narrows the size of files in the collection; 0 does not.
	MaxSize   int64
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CollectionUpdate changes a collection. Nil fields stay as they are.
type CollectionUpdate struct {
	Workspace    string
	ID           string
	Name         *string
	ParentID     *string // "" moves it to the top level
	Starred      *bool
	Order        *int
	AllowedTypes *[]string
	MaxSize      *int64
	At           time.Time // becomes UpdatedAt
}

// AttachmentRecord links a file to one field of an application's record.
type AttachmentRecord struct {
	Workspace  string
	RecordType string
	RecordID   string
	Field      string
	FileID     string
	Position   int // 0-based, dense within the field
	CreatedBy  string
	CreatedAt  time.Time
}

// AttachmentSet replaces the files of one record field by FileIDs, in
// that order.
type AttachmentSet struct {
	Workspace  string
	RecordType string
	RecordID   string
	Field      string
	FileIDs    []string
	CreatedBy  string    // recorded on the attachments it creates
	At         time.Time // CreatedAt of the attachments it creates
}

// AttachmentChange is the outcome of SetAttachments.
type AttachmentChange struct {
	// Attachments is the field's set after the change, in order.
	Attachments []AttachmentRecord
	// Orphans lists the files the change removed from the field that are
	// now attached nowhere and were never attached to another record
	// (any field of the same record does not count as another).
	Orphans []string
}

// OrganizeStore keeps collections and attachments to records. Like every
// MetaStore method, each is scoped to a workspace: another workspace's ids
// behave exactly like unknown ids (ErrNotFound).
type OrganizeStore interface {
	// CreateCollection stores a new collection. A duplicate id returns
	// ErrExists; a ParentID that is not a collection of the workspace
	// ErrNotFound; a collection deeper than MaxCollectionDepth, an empty
	// name or a zero CreatedAt ErrInvalidArgument.
	CreateCollection(ctx context.Context, c *CollectionRecord) error

	// Collection returns a collection of the workspace, or ErrNotFound.
	Collection(ctx context.Context, workspace, id string) (*CollectionRecord, error)

	// Collections lists the children of parentID ("" for the top level)
	// ordered by Order, then Name (in the database's collation), then ID;
	// at most limit (1 to 1000, else ErrInvalidArgument).
	Collections(ctx context.Context, workspace, parentID string, limit int) ([]CollectionRecord, error)

	// UpdateCollection changes a collection's non-nil fields and returns
	// it. An unknown collection or a new parent that is not a collection
	// of the workspace returns ErrNotFound; a parent that is the
	// collection itself or one of its descendants (a cycle), or a move
	// that makes the tree deeper than MaxCollectionDepth,
	// ErrInvalidArgument. Concurrent moves never make a cycle.
	UpdateCollection(ctx context.Context, u *CollectionUpdate) (*CollectionRecord, error)

	// DeleteCollection removes an empty collection: one without child
	// collections and without undeleted files (in any status). A
	// non-empty collection returns ErrPrecondition and stays; an unknown
	// one ErrNotFound. Deleted (restorable) files that named it are taken
	// out of it.
	DeleteCollection(ctx context.Context, workspace, id string) error

	// CollectionFiles returns up to limit (1 to 1000) undeleted files of a
	// collection in any status, ordered by id, after the id afterID (""
	// for the first page). An unknown collection returns ErrNotFound.
	CollectionFiles(ctx context.Context, workspace, collectionID, afterID string, limit int) ([]FileRecord, error)

	// SetAttachments replaces one record field's files by set.FileIDs, in
	// one transaction: attachments of files that stay keep their
	// CreatedAt and CreatedBy, and a repeated call changes nothing. Every
	// id must name an undeleted file of the workspace, else ErrNotFound;
	// duplicate ids, more than MaxAttachments ids, or an empty record
	// type, record id or field return ErrInvalidArgument. On any error
	// the field keeps its previous set. Concurrent changes of one field
	// are serialised.
	SetAttachments(ctx context.Context, set *AttachmentSet) (*AttachmentChange, error)

	// AddAttachment adds a.FileID to a record field at a.Position (0-based;
	// negative or past the end: at the end), shifting the files after it,
	// and returns the stored attachment with created true. A file already
	// in the field is moved to a.Position when it is not negative (else
	// left where it is) and returned with created false. An unknown or
	// deleted file returns ErrNotFound; a field already holding
	// MaxAttachments files ErrInvalidArgument.
	AddAttachment(ctx context.Context, a *AttachmentRecord) (stored *AttachmentRecord, created bool, err error)

	// RemoveAttachment removes one file from a record field, closing the
	// gap in positions. orphan reports whether the file is now attached
	// nowhere and was never attached to another record. A file not in
	// the field returns ErrNotFound.
	RemoveAttachment(ctx context.Context, workspace, recordType, recordID, field, fileID string) (orphan bool, err error)

	// RecordAttachments lists a record's attachments ordered by field,
	// then position; at most limit (1 to 100000).
	RecordAttachments(ctx context.Context, workspace, recordType, recordID string, limit int) ([]AttachmentRecord, error)

	// FileAttachments lists where an undeleted file is attached, ordered
	// by record type, record id, field; at most limit (1 to 1000). An
	// unknown or deleted file returns ErrNotFound.
	//
	// Deleting a file (MarkDeleted) removes its attachments: an undeleted
	// file is not attached anywhere again. PurgeFile removes its
	// attachment history too.
	FileAttachments(ctx context.Context, workspace, fileID string, limit int) ([]AttachmentRecord, error)

	// FilesByID returns the undeleted files of the workspace among ids
	// (at most MaxAttachments, else ErrInvalidArgument), ordered by id:
	// unknown, deleted and foreign ids are left out. It reads a field's
	// files at once.
	FilesByID(ctx context.Context, workspace string, ids []string) ([]FileRecord, error)

	// MarkOrphanDeleted marks a file deleted, as MarkDeleted does, only
	// when it is attached nowhere and was never attached to a record other
	// than (recordType, recordID); it decides in the transaction that
	// deletes, which excludes any attachment of the file meanwhile.
	// deleted reports whether it did. An unknown or deleted file returns
	// ErrNotFound; a zero at ErrInvalidArgument.
	MarkOrphanDeleted(ctx context.Context, workspace, id, recordType, recordID string, at time.Time) (deleted bool, err error)
}
