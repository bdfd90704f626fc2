package attach

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// Versions lists a file's versions, oldest first. Every version that
// became ready stays downloadable (DownloadOptions.Version) until the file
// is deleted; one the scanner or processing rejected or failed, or one
// superseded while it was processing (never scanned), never is.
func (s *Service) Versions(ctx context.Context, scope Scope, id string) ([]Version, error) {
	if _, err := s.fileRecord(ctx, scope, id, rightView); err != nil {
		return nil, err
	}
	recs, err := s.store.Versions(ctx, scope.Workspace, id)
	if err != nil {
		return nil, wrap(err, "list versions")
	}
	vs := make([]Version, len(recs))
	for i := range recs {
		vs[i] = versionFromRecord(&recs[i])
	}
	return vs, nil
}

// VersionUploadRequest asks for an upload ticket for a file's next
// version.
type VersionUploadRequest struct {
	// FileName names the new version; empty keeps the file's name.
	FileName string
	// MIMEType is the declared type; the type detected at confirm must
	// agree with it and be allowed.
	MIMEType string
	// Size is the exact size in bytes.
	Size int64
	// IfVersion, when positive, is the version the client expects the
	// file to be at; any other is CodeVersionConflict.
	IfVersion int
}

// RequestVersionUpload issues a ticket for a new version of an existing
// file, against its current version. Confirm it like a first upload
// (Confirm, or ConfirmTicket when several uploads may be in flight): the
// confirm commits only if the file is still at the version the ticket was
// issued against, so of concurrent writers with the same expectation
// exactly one wins and the others get CodeVersionConflict (their bytes are
// deleted). Readers of the current version keep reading its bytes, which
// a new version never overwrites.
func (s *Service) RequestVersionUpload(ctx context.Context, scope Scope, id string, req VersionUploadRequest) (*Upload, error) {
	_, up, policy, err := s.versionTicket(ctx, scope, id, req.IfVersion, req.FileName, req.Size,
		func(p *Policy) (string, int64, error) { return checkDeclared(p, req.MIMEType, req.Size) })
	if err != nil {
		return nil, err
	}
	t, err := s.ticket(ctx, up)
	if t != nil {
		t.FileLimits = policy.Limits()
	}
	return t, err
}

// versionTicket checks the edit right, the expected version, the name and
// (with check, against the file's policy) the declared type and size of a
// new version, and records its ticket.
func (s *Service) versionTicket(ctx context.Context, scope Scope, id string, ifVersion int, fileName string, size int64,
	check func(*Policy) (string, int64, error)) (*driver.FileRecord, *driver.UploadRecord, *Policy, error) {
	f, err := s.fileRecord(ctx, scope, id, rightEdit)
	if err != nil {
		return nil, nil, nil, err
	}
	base, err := versionBase(f, ifVersion)
	if err != nil {
		return nil, nil, nil, err
	}
	name, err := versionName(f, fileName)
	if err != nil {
		return nil, nil, nil, err
	}
	policy, err := s.filePolicy(ctx, f)
	if err != nil {
		return nil, nil, nil, err
	}
	mimeType, maxSize, err := check(policy)
	if err != nil {
		return nil, nil, nil, err
	}
	up := s.newTicket(scope, id, base+1, base, name, mimeType, size, maxSize, s.opts.UploadExpiry)
	if err := s.createVersionTicket(ctx, f, up); err != nil {
		return nil, nil, nil, err
	}
	return f, up, policy, nil
}

// VersionPutRequest describes a new version whose bytes flow through the
// application.
type VersionPutRequest struct {
	// FileName names the new version; empty keeps the file's name.
	FileName string
	// MIMEType is the declared type; empty means "detect it".
	MIMEType string
	// Size is the exact size when known, or -1.
	Size int64
	// IfVersion, when positive, is the version the client expects the
	// file to be at; any other is CodeVersionConflict.
	IfVersion int
}

// PutVersion stores a new version of a file from a stream and confirms it
// in one call, with the checks of a presigned upload. Without IfVersion the
// version is based on the file's version when the call starts; either way,
// a writer that commits first makes it fail with CodeVersionConflict and
// nothing of it is kept. Memory use does not depend on the size of r.
func (s *Service) PutVersion(ctx context.Context, scope Scope, id string, req VersionPutRequest, r io.Reader) (*File, error) {
	f, up, _, err := s.versionTicket(ctx, scope, id, req.IfVersion, req.FileName, req.Size,
		func(p *Policy) (string, int64, error) { return streamLimit(p, req.MIMEType, req.Size) })
	if err != nil {
		return nil, err
	}
	return s.streamAndConfirm(ctx, scope, f, up, r, SourceUpload, func(ctx context.Context, err error) { s.dropTicket(ctx, up, err) })
}

// versionBase returns the version a new version is based on: the file's
// current one, which must match ifVersion when that is positive.
func versionBase(f *driver.FileRecord, ifVersion int) (int, error) {
	switch {
	case ifVersion < 0:
		return 0, errorf(CodeInvalidRequest, "ifVersion must be a positive version number")
	case f.Version == 0:
		return 0, errorf(CodeConflict, "the file has no confirmed content yet; confirm its first upload")
	case ifVersion > 0 && ifVersion != f.Version:
		return 0, versionConflict(f.Version, ifVersion)
	}
	return f.Version, nil
}

func versionName(f *driver.FileRecord, name string) (string, error) {
	if name == "" {
		return f.FileName, nil
	}
	return CleanFileName(name)
}

// createVersionTicket stores a ticket against the file's version; a file
// that moved on since it was read is a version conflict.
func (s *Service) createVersionTicket(ctx context.Context, f *driver.FileRecord, up *driver.UploadRecord) error {
	err := s.store.CreateUpload(ctx, nil, up)
	if errors.Is(err, driver.ErrPrecondition) {
		cur, rerr := s.store.File(ctx, up.Workspace, f.ID)
		if rerr != nil {
			return wrap(rerr, "reload file")
		}
		return versionConflict(cur.Version, up.BaseVersion)
	}
	return wrap(err, "create version upload")
}

// dropTicket rejects a direct version upload whose bytes were not stored,
// so that it is not mistaken for one awaiting confirmation.
func (s *Service) dropTicket(ctx context.Context, up *driver.UploadRecord, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	code := CodeOf(cause)
	if code == "" {
		code = CodeInternal
	}
	if err := s.store.RejectUpload(ctx, up.Workspace, up.ID, string(code), "the upload did not complete", s.now()); err != nil {
		s.log.WarnContext(ctx, "attach: drop failed version upload; will be swept", "upload", up.ID, "err", err)
	}
}

// RestoreOptions control RestoreVersion.
type RestoreOptions struct {
	// IfVersion, when positive, is the version the client expects the
	// file to be at; any other is CodeVersionConflict.
	IfVersion int
}

// RestoreVersion makes an old version's content the file's new current
// version (the history is kept: restoring version 2 of a file at version 5
// creates version 6 with version 2's bytes, which it shares in storage).
// It needs the edit right. Without IfVersion a concurrent change is
// retried; with it, it is CodeVersionConflict.
//
// The restored content must meet the file's policy (its collection's
// included) like a new upload, else CodeInvalidFileType or
// CodeFileTooLarge. A version the scanner or processing rejected or
// failed cannot be restored (CodeConflict). With Options.Scanner or
// Options.Processors the new version is processing, with a durable job
// recorded in the same change, until a Worker settles it, as after
// Confirm; so is a version superseded while it was processing (never
// scanned), which without them cannot be restored (CodeConflict).
func (s *Service) RestoreVersion(ctx context.Context, scope Scope, id string, version int, opts *RestoreOptions) (*File, error) {
	var o RestoreOptions
	if opts != nil {
		o = *opts
	}
	f, err := s.fileRecord(ctx, scope, id, rightEdit)
	if err != nil {
		return nil, err
	}
	if version <= 0 {
		return nil, errorf(CodeInvalidRequest, "version must be a positive integer")
	}
	if err := s.restorable(ctx, f, version); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for attempt := 1; ; attempt++ {
		base, err := versionBase(f, o.IfVersion)
		if err != nil {
			return nil, err
		}
		c := &driver.VersionCopy{Workspace: scope.Workspace, FileID: id, From: version,
			BaseVersion: base, Status: StatusReady, CreatedBy: scope.User, At: s.now(),
			Jobs: s.processJobs(scope.Workspace, id, base+1)}
		if len(c.Jobs) > 0 { // scanning or processors: a Worker settles the file
			c.Status = StatusProcessing
		}
		rec, err := s.store.CopyVersion(ctx, c)
		if !errors.Is(err, driver.ErrPrecondition) {
			if err != nil {
				return nil, wrap(err, "restore version")
			}
			return fileFromRecord(rec), nil
		}
		if f, err = s.store.File(ctx, scope.Workspace, id); err != nil {
			return nil, wrap(err, "reload file")
		}
		if o.IfVersion > 0 || attempt == 3 {
			return nil, versionConflict(f.Version, base)
		}
	}
}

// restorable checks that version of f may become its new current version:
// its verdict is clean (or, with processing configured, pending: the copy
// is processed again) and its content meets the file's policy.
func (s *Service) restorable(ctx context.Context, f *driver.FileRecord, version int) error {
	v, err := s.store.Version(ctx, f.Workspace, f.ID, version)
	if err != nil {
		return wrap(err, "load version")
	}
	switch {
	case v.Status == StatusReady:
	case v.Status == StatusProcessing && s.processing():
	case v.Status == StatusProcessing:
		return errorf(CodeConflict, "version %d was never processed and cannot be restored", version)
	default:
		return errorf(CodeConflict, "version %d is %s and cannot be restored", version, v.Status)
	}
	policy, err := s.filePolicy(ctx, f)
	if err != nil {
		return err
	}
	max, ok := policy.Allow(v.MIMEType)
	if !ok {
		return typeNotAllowedBy(policy, v.MIMEType)
	}
	if max > 0 && v.Size > max {
		return tooLarge(max, v.Size)
	}
	return nil
}

// ConfirmTicket confirms one upload ticket of a file, named by its
// UploadID. Confirm confirms the file's most recent ticket; use
// ConfirmTicket when several version uploads of one file may be in flight.
// It is idempotent, like Confirm.
func (s *Service) ConfirmTicket(ctx context.Context, scope Scope, fileID, uploadID string) (*File, error) {
	f, err := s.fileRecord(ctx, scope, fileID, rightEdit)
	if err != nil {
		return nil, err
	}
	if err := checkID("upl", uploadID); err != nil {
		return nil, err
	}
	up, err := s.store.Upload(ctx, scope.Workspace, uploadID)
	if err != nil {
		return nil, wrap(err, "load upload")
	}
	if up.FileID != fileID {
		return nil, wrap(driver.ErrNotFound, "load upload")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	return s.confirmUpload(ctx, scope, f, up, SourceUpload)
}
