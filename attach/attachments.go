package attach

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// Bounds on attachments.
const (
	// MaxAttachments is the most files one record field may hold.
	MaxAttachments = driver.MaxAttachments
	// maxRecordAttachments bounds what Attachments reads of one record.
	maxRecordAttachments = 10 * MaxAttachments
	// maxWhereUsed bounds FileAttachments.
	maxWhereUsed       = 1000
	maxRecordTypeBytes = 64
	maxRecordIDBytes   = 128
	maxFieldBytes      = 64
)

// Record names one of the application's own records that files are
// attached to: its type ("post", "invoice") and id. Type and field names
// are 1 to 64 bytes of [A-Za-z0-9_.-]; ids 1 to 128 bytes of
// [A-Za-z0-9_.:@-].
type Record struct {
	Type string
	ID   string
}

// Attachment links a file to a field of an application's record. A field
// holds an ordered set of files (one for a single-file field).
type Attachment struct {
	RecordType string    `json:"recordType"`
	RecordID   string    `json:"recordId"`
	Field      string    `json:"field"`
	FileID     string    `json:"fileId"`
	Position   int       `json:"position"`
	CreatedBy  string    `json:"createdBy"`
	CreatedAt  time.Time `json:"createdAt"`
}

func attachmentFromRecord(r *driver.AttachmentRecord) *Attachment {
	return &Attachment{RecordType: r.RecordType, RecordID: r.RecordID, Field: r.Field, FileID: r.FileID,
		Position: r.Position, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC()}
}

// SetAttachmentsOptions control SetAttachments and ClearAttachments.
type SetAttachmentsOptions struct {
	// Purge deletes (like Delete) the files the call takes out of the
	// field that are then attached nowhere and were never attached to
	// another record, when the acting user may delete them: the files
	// that existed only for this record. Others are left alone.
	Purge bool
}

// AttachOptions control Attach.
type AttachOptions struct {
	// Position is where the file goes (0-based); nil appends it. A
	// position past the end appends too.
	Position *int
}

// DetachOptions control Detach.
type DetachOptions struct {
	// Purge deletes the file when it is then attached nowhere and was
	// never attached to another record (see SetAttachmentsOptions).
	Purge bool
}

// SetAttachments makes fileIDs, in that order, the files of a record's
// field, replacing its previous set in one transaction; an empty list
// clears the field. It is idempotent: repeating a call changes nothing
// (attachments that stay keep their creation time), so an application
// can call it from its own record handlers and simply retry.
//
// Every file must be a file of the workspace that the acting user may
// view, and ready unless the field holds it already. Duplicate ids, more than MaxAttachments ids, malformed ids and
// ids of unknown (or another workspace's) files are CodeInvalidRequest; a
// file the user may not view is CodeForbidden; a file that is not ready
// is CodeConflict. On any error the field keeps its previous set.
func (s *Service) SetAttachments(ctx context.Context, scope Scope, rec Record, field string, fileIDs []string,
	opts *SetAttachmentsOptions) ([]*Attachment, error) {
	if err := checkAttachmentRef(scope, rec, field); err != nil {
		return nil, err
	}
	if len(fileIDs) > MaxAttachments {
		return nil, errorf(CodeInvalidRequest, "a field holds at most %d files; got %d", MaxAttachments, len(fileIDs))
	}
	seen := make(map[string]bool, len(fileIDs))
	for _, id := range fileIDs {
		if err := checkID("file", id); err != nil {
			return nil, err
		}
		if seen[id] {
			return nil, &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("file %s is listed twice", id),
				Details: map[string]any{"fileId": id}}
		}
		seen[id] = true
	}
	var inField map[string]bool // the field's files, read at the first file not ready
	for _, id := range fileIDs {
		_, err := s.attachable(ctx, scope, id, true)
		if CodeOf(err) == CodeConflict { // visible, not ready
			// A file the field holds already stays, ready or not: a
			// repeated call must not fail while a new version is processed.
			if inField == nil {
				var ferr error
				if inField, ferr = s.fieldFiles(ctx, scope, rec, field); ferr != nil {
					return nil, ferr
				}
			}
			if inField[id] {
				continue
			}
		}
		if err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	ch, err := s.store.SetAttachments(ctx, &driver.AttachmentSet{Workspace: scope.Workspace, RecordType: rec.Type,
		RecordID: rec.ID, Field: field, FileIDs: fileIDs, CreatedBy: scope.User, At: s.now()})
	if errors.Is(err, driver.ErrNotFound) { // deleted since the check
		return nil, &Error{Code: CodeInvalidRequest, Message: "a file of the set no longer exists", Err: err}
	}
	if err != nil {
		return nil, wrap(err, "set attachments")
	}
	if opts != nil && opts.Purge {
		for _, id := range ch.Orphans {
			s.purgeDetached(ctx, scope, rec, id)
		}
	}
	out := make([]*Attachment, 0, len(ch.Attachments))
	for i := range ch.Attachments {
		out = append(out, attachmentFromRecord(&ch.Attachments[i]))
	}
	return out, nil
}

// fieldFiles returns the ids of the files a record's field holds.
func (s *Service) fieldFiles(ctx context.Context, scope Scope, rec Record, field string) (map[string]bool, error) {
	as, err := s.store.RecordAttachments(ctx, scope.Workspace, rec.Type, rec.ID, maxRecordAttachments)
	if err != nil {
		return nil, wrap(err, "record attachments")
	}
	ids := map[string]bool{}
	for _, a := range as {
		if a.Field == field {
			ids[a.FileID] = true
		}
	}
	return ids, nil
}

// ClearAttachments empties every field of a record, as SetAttachments
// with an empty list does for one: call it when the application deletes
// the record, with opts.Purge to delete the files that existed only for
// it.
func (s *Service) ClearAttachments(ctx context.Context, scope Scope, rec Record, opts *SetAttachmentsOptions) error {
	if err := checkAttachmentRef(scope, rec, "x"); err != nil {
		return err
	}
	// One field per round; writers adding fields meanwhile cannot keep it
	// going for ever.
	for range maxRecordAttachments {
		as, err := s.store.RecordAttachments(ctx, scope.Workspace, rec.Type, rec.ID, 1)
		if err != nil {
			return wrap(err, "record attachments")
		}
		if len(as) == 0 {
			return nil
		}
		if _, err := s.SetAttachments(ctx, scope, rec, as[0].Field, nil, opts); err != nil {
			return err
		}
	}
	return errorf(CodeConflict, "the record's attachments kept changing; retry")
}

// Attach adds one file to a record's field, at opts.Position (default:
// the end), and reports whether it was added (false: it was already
// there, and is moved when a position is given). The file must be a ready
// file the acting user may view: an unknown or foreign id is CodeNotFound,
// an invisible one CodeForbidden, one that is not ready CodeConflict. A
// field already holding MaxAttachments files is CodeInvalidRequest.
func (s *Service) Attach(ctx context.Context, scope Scope, rec Record, field, fileID string, opts *AttachOptions) (*Attachment, bool, error) {
	if err := checkAttachmentRef(scope, rec, field); err != nil {
		return nil, false, err
	}
	pos := -1
	if opts != nil && opts.Position != nil {
		if *opts.Position < 0 {
			return nil, false, errorf(CodeInvalidRequest, "position must not be negative")
		}
		pos = min(*opts.Position, MaxAttachments)
	}
	if _, err := s.attachable(ctx, scope, fileID, false); err != nil {
		return nil, false, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	a, created, err := s.store.AddAttachment(ctx, &driver.AttachmentRecord{Workspace: scope.Workspace, RecordType: rec.Type,
		RecordID: rec.ID, Field: field, FileID: fileID, Position: pos, CreatedBy: scope.User, CreatedAt: s.now()})
	if errors.Is(err, driver.ErrInvalidArgument) {
		return nil, false, &Error{Code: CodeInvalidRequest, Err: err,
			Message: fmt.Sprintf("the field already holds %d files", MaxAttachments)}
	}
	if err != nil {
		return nil, false, wrap(err, "attach")
	}
	return attachmentFromRecord(a), created, nil
}

// Detach removes one file from a record's field. It needs the view right
// on the file (an unknown or foreign file is CodeNotFound); a file that
// is not in the field is CodeNotFound.
func (s *Service) Detach(ctx context.Context, scope Scope, rec Record, field, fileID string, opts *DetachOptions) error {
	if err := checkAttachmentRef(scope, rec, field); err != nil {
		return err
	}
	if _, err := s.fileRecord(ctx, scope, fileID, rightView); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	orphan, err := s.store.RemoveAttachment(ctx, scope.Workspace, rec.Type, rec.ID, field, fileID)
	if errors.Is(err, driver.ErrNotFound) {
		return &Error{Code: CodeNotFound, Message: "the file is not attached to this field", Err: err}
	}
	if err != nil {
		return wrap(err, "detach")
	}
	if orphan && opts != nil && opts.Purge {
		s.purgeDetached(ctx, scope, rec, fileID)
	}
	return nil
}

// Attachments returns a record's files by field, each field in order.
// Files the acting user may not view are left out, as are files deleted
// or expired; a record without attachments has no fields. A record with
// more than 10,000 attachments in all is CodeConflict.
func (s *Service) Attachments(ctx context.Context, scope Scope, rec Record) (map[string][]*File, error) {
	if err := checkAttachmentRef(scope, rec, "x"); err != nil {
		return nil, err
	}
	as, err := s.store.RecordAttachments(ctx, scope.Workspace, rec.Type, rec.ID, maxRecordAttachments+1)
	if err != nil {
		return nil, wrap(err, "record attachments")
	}
	if len(as) > maxRecordAttachments {
		return nil, errorf(CodeConflict, "the record has more than %d attachments, more than one answer holds; clear some of its fields",
			maxRecordAttachments)
	}
	out := map[string][]*File{}
	now := s.now()
	// One read per field (a field holds at most MaxAttachments files).
	for start := 0; start < len(as); {
		end := start + 1
		for end < len(as) && as[end].Field == as[start].Field {
			end++
		}
		ids := make([]string, 0, end-start)
		for _, a := range as[start:end] {
			ids = append(ids, a.FileID)
		}
		rs, err := s.store.FilesByID(ctx, scope.Workspace, ids)
		if err != nil {
			return nil, wrap(err, "load files")
		}
		byID := make(map[string]*driver.FileRecord, len(rs))
		for i := range rs {
			byID[rs[i].ID] = &rs[i]
		}
		for _, a := range as[start:end] {
			r := byID[a.FileID]
			if r == nil || expired(r, now) || !allowed(scope, r, rightView) {
				continue // deleted since, expired or invisible
			}
			out[a.Field] = append(out[a.Field], fileFromRecord(r))
		}
		start = end
	}
	return out, nil
}

// FileAttachments lists where a file is attached (at most 1000 places),
// ordered by record type, record id and field. It needs the view right on
// the file.
func (s *Service) FileAttachments(ctx context.Context, scope Scope, fileID string) ([]*Attachment, error) {
	if _, err := s.fileRecord(ctx, scope, fileID, rightView); err != nil {
		return nil, err
	}
	as, err := s.store.FileAttachments(ctx, scope.Workspace, fileID, maxWhereUsed)
	if err != nil {
		return nil, wrap(err, "file attachments")
	}
	out := make([]*Attachment, 0, len(as))
	for i := range as {
		out = append(out, attachmentFromRecord(&as[i]))
	}
	return out, nil
}

// attachable checks that a file may be attached by the acting user: it
// exists in the workspace (else CodeInvalidRequest when inSet, for a
// member of a PUT's set, or CodeNotFound), the user may view it
// (CodeForbidden) and it is ready (CodeConflict).
func (s *Service) attachable(ctx context.Context, scope Scope, id string, inSet bool) (*driver.FileRecord, error) {
	r, err := s.fileRecord(ctx, scope, id, rightView)
	if err != nil {
		if inSet && errors.Is(err, ErrNotFound) {
			return nil, &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("file %s does not exist", id),
				Details: map[string]any{"fileId": id}, Err: err}
		}
		return nil, err
	}
	if r.Status != StatusReady {
		return nil, &Error{Code: CodeConflict, Message: fmt.Sprintf("file %s is %s, not ready", id, r.Status),
			Details: map[string]any{"fileId": id}}
	}
	return r, nil
}

// purgeDetached deletes a file rec let go of, when the acting user may
// delete it and it is still attached nowhere and was never attached to
// another record (decided by the store as it deletes); failures are
// logged (the file stays, unattached).
func (s *Service) purgeDetached(ctx context.Context, scope Scope, rec Record, id string) {
	r, err := s.store.File(ctx, scope.Workspace, id)
	if err != nil || expired(r, s.now()) || !allowed(scope, r, rightDelete) {
		return
	}
	deleted, err := s.store.MarkOrphanDeleted(ctx, scope.Workspace, id, rec.Type, rec.ID, s.now())
	if err != nil && !errors.Is(err, driver.ErrNotFound) {
		s.log.WarnContext(ctx, "attach: purge detached file failed", "file", id, "err", err)
	}
	if !deleted {
		return
	}
	s.enqueueDeleted(ctx, r) // Options.OnDeleted, run by a Worker
	if s.opts.Retention > 0 {
		return // kept for the retention window, invisible
	}
	if err := s.purge(ctx, scope.Workspace, id); err != nil {
		s.log.WarnContext(ctx, "attach: purge detached file failed", "file", id, "err", err)
	}
}

// checkAttachmentRef validates the scope and a record's type, id and
// field name.
func checkAttachmentRef(scope Scope, rec Record, field string) error {
	if err := checkScope(scope); err != nil {
		return err
	}
	name := func(v string, max int, extra string) bool {
		if v == "" || len(v) > max {
			return false
		}
		for i := 0; i < len(v); i++ {
			c := v[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' ||
				slices.Contains([]byte(extra), c)) {
				return false
			}
		}
		return true
	}
	switch {
	case !name(rec.Type, maxRecordTypeBytes, ""):
		return errorf(CodeInvalidRequest, "record type must be 1 to %d characters of [A-Za-z0-9_.-]", maxRecordTypeBytes)
	case !name(rec.ID, maxRecordIDBytes, ":@"):
		return errorf(CodeInvalidRequest, "record id must be 1 to %d characters of [A-Za-z0-9_.:@-]", maxRecordIDBytes)
	case !name(field, maxFieldBytes, ""):
		return errorf(CodeInvalidRequest, "field must be 1 to %d characters of [A-Za-z0-9_.-]", maxFieldBytes)
	}
	return nil
}
