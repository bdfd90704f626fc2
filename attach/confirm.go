package attach

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gabriel-vasile/mimetype"

	"github.com/attachkit/attachkit/driver"
)

// headSize is how much of an object confirm reads to detect its type.
const headSize = 3072

// Confirm verifies the bytes of a file's pending upload and makes them the
// file's current version. Nothing the client declared is trusted: the
// object must exist (else CodeUploadIncomplete, nothing changes, the
// ticket stays usable), its size must equal the declared size and fit the
// limit (else CodeContentMismatch or CodeFileTooLarge), and the type
// detected from its bytes must be allowed and consistent with the
// declaration (else CodeInvalidFileType or CodeContentMismatch). A failed
// verification rejects the upload and deletes the object. A public upload
// ticket (see RequestPublicUpload) must also meet the public upload
// policy on the detected type.
//
// With Options.Scanner or Options.Processors the confirmed file is
// processing, with a durable job recorded in the same transaction, until
// a Worker makes it ready, rejected or failed; until then it cannot be
// downloaded (CodeConflict).
//
// Confirm is idempotent and safe under concurrency: it is one conditional
// state change, so of any number of concurrent confirms exactly one makes
// the transition and all return the same file.
func (s *Service) Confirm(ctx context.Context, scope Scope, id string) (*File, error) {
	f, err := s.fileRecord(ctx, scope, id, rightEdit)
	if err != nil {
		return nil, err
	}
	up, err := s.store.LatestUpload(ctx, scope.Workspace, id)
	if errors.Is(err, driver.ErrNotFound) && f.Version > 0 {
		return fileFromRecord(f), nil
	}
	if err != nil {
		return nil, wrap(err, "load upload")
	}
	// The state change must finish even if the client disconnects.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	return s.confirmUpload(ctx, scope, f, up, SourceUpload)
}

// confirmUpload verifies and commits a ticket; src is recorded as the new
// version's source (upload, import, edited...).
func (s *Service) confirmUpload(ctx context.Context, scope Scope, f *driver.FileRecord, up *driver.UploadRecord, src Source) (*File, error) {
	switch up.Status {
	case driver.UploadConfirmed:
		if f.Version < up.Version { // read before the winner committed
			return s.settled(ctx, scope, up)
		}
		return fileFromRecord(f), nil
	case driver.UploadRejected:
		return nil, &Error{Code: Code(up.ErrorCode), Message: up.ErrorReason}
	case driver.UploadExpired:
		return nil, errorf(CodeExpired, "the upload ticket expired at %s", up.ExpiresAt.Format(time.RFC3339))
	}
	if s.now().After(up.ExpiresAt.Add(s.opts.ConfirmGrace)) {
		return nil, errorf(CodeExpired, "the upload ticket expired at %s", up.ExpiresAt.Format(time.RFC3339))
	}
	if f.Version != up.BaseVersion { // another version was committed since the ticket was issued
		return nil, s.supersede(ctx, scope, up, f.Version)
	}
	if pp := s.publicPolicy(up); pp != nil { // a public ticket, whichever route confirms it
		if err := s.checkPublicType(ctx, scope, pp, up); err != nil {
			return nil, err
		}
	}
	policy, err := s.filePolicy(ctx, f)
	if err != nil {
		return nil, err
	}
	v, verr := s.verify(ctx, up, policy)
	if verr != nil {
		var e *Error
		if !errors.As(verr, &e) || e.Code == CodeUploadIncomplete || e.Code == CodeInternal {
			return nil, verr // nothing changes; retryable
		}
		return nil, s.reject(ctx, scope, up, e)
	}
	v.Source = string(src)
	// Verification may take minutes: the commit itself re-checks that the
	// ticket is still within its grace, so that it never commits bytes a
	// janitor may have swept meanwhile.
	at := s.now()
	c := &driver.Commit{Workspace: scope.Workspace, UploadID: up.ID, Version: *v, Status: StatusReady, At: at,
		TicketExpiresAfter: at.Add(-s.opts.ConfirmGrace), Jobs: s.processJobs(scope.Workspace, up.FileID, up.Version)}
	if len(c.Jobs) > 0 { // scanning or processors: a Worker settles the file
		c.Status = StatusProcessing
	}
	c.Jobs = append(c.Jobs, s.digestJobs(v)...)
	if !f.Persist {
		c.ExpiresAt = c.At.Add(s.opts.TemporaryTTL)
	}
	rec, err := s.store.CommitUpload(ctx, c)
	if errors.Is(err, driver.ErrPrecondition) {
		return s.settled(ctx, scope, up)
	}
	if err != nil {
		return nil, wrap(err, "commit upload")
	}
	return fileFromRecord(rec), nil
}

// settled answers a confirm that lost the race: whatever the winner made
// of the ticket is the answer.
func (s *Service) settled(ctx context.Context, scope Scope, up *driver.UploadRecord) (*File, error) {
	cur, err := s.store.Upload(ctx, scope.Workspace, up.ID)
	if err != nil {
		return nil, wrap(err, "reload upload")
	}
	f, err := s.store.File(ctx, scope.Workspace, up.FileID)
	if err != nil {
		return nil, wrap(err, "reload file")
	}
	switch cur.Status {
	case driver.UploadConfirmed:
		return fileFromRecord(f), nil
	case driver.UploadRejected:
		return nil, &Error{Code: Code(cur.ErrorCode), Message: cur.ErrorReason}
	case driver.UploadPending:
		if f.Version != up.BaseVersion {
			return nil, s.supersede(ctx, scope, up, f.Version)
		}
		if !cur.ExpiresAt.IsZero() && !cur.ExpiresAt.After(s.now().Add(-s.opts.ConfirmGrace)) { // expired while verified
			return nil, errorf(CodeExpired, "the upload ticket expired at %s", cur.ExpiresAt.Format(time.RFC3339))
		}
	}
	return nil, errorf(CodeConflict, "the upload changed state concurrently; retry")
}

// supersede rejects a pending ticket whose base version is no longer the
// file's (another writer won) with CodeVersionConflict, and deletes its
// bytes: they can never become a version.
func (s *Service) supersede(ctx context.Context, scope Scope, up *driver.UploadRecord, current int) error {
	e := versionConflict(current, up.BaseVersion)
	e.Message = fmt.Sprintf("the file is at version %d; this upload was based on version %d", current, up.BaseVersion)
	err := s.store.RejectUpload(ctx, scope.Workspace, up.ID, string(e.Code), e.Message, s.now())
	switch {
	case err == nil:
		if err := s.storage.Delete(ctx, up.StorageKey); err != nil && !errors.Is(err, driver.ErrNotFound) {
			s.log.WarnContext(ctx, "attach: delete superseded object failed; will be swept", "key", up.StorageKey, "err", err)
		}
	case !errors.Is(err, driver.ErrPrecondition): // already settled by a concurrent confirm
		s.log.WarnContext(ctx, "attach: reject superseded upload failed", "upload", up.ID, "err", err)
	}
	return e
}

// reject records a failed verification, then deletes the object (after, so
// a PUT refused for a non-pending ticket cannot race the delete).
func (s *Service) reject(ctx context.Context, scope Scope, up *driver.UploadRecord, e *Error) error {
	err := s.store.RejectUpload(ctx, scope.Workspace, up.ID, string(e.Code), e.Message, s.now())
	if errors.Is(err, driver.ErrPrecondition) {
		_, err := s.settled(ctx, scope, up)
		return err
	}
	if err != nil {
		return wrap(err, "reject upload")
	}
	if err := s.storage.Delete(ctx, up.StorageKey); err != nil && !errors.Is(err, driver.ErrNotFound) {
		s.log.WarnContext(ctx, "attach: delete rejected object failed; will be swept", "key", up.StorageKey, "err", err)
	}
	return e
}

// verify checks the stored object against the ticket and policy (the
// service's, narrowed by the file's collection) and returns the version
// it would become.
func (s *Service) verify(ctx context.Context, up *driver.UploadRecord, policy *Policy) (*driver.VersionRecord, error) {
	attrs, err := s.storage.Attributes(ctx, up.StorageKey)
	if errors.Is(err, driver.ErrNotFound) {
		return nil, errorf(CodeUploadIncomplete, "no bytes have been uploaded for this file yet")
	}
	if err != nil {
		return nil, wrap(err, "stat upload")
	}
	if up.MaxSize > 0 && attrs.Size > up.MaxSize {
		return nil, tooLarge(up.MaxSize, attrs.Size)
	}
	if up.Size >= 0 && attrs.Size != up.Size {
		return nil, &Error{Code: CodeContentMismatch, ActualSize: attrs.Size,
			Message: fmt.Sprintf("uploaded %d bytes; declared %d", attrs.Size, up.Size)}
	}
	head, err := s.readHead(ctx, up.StorageKey, headSize)
	if err != nil {
		return nil, err
	}
	mimeType, err := checkType(policy, up.MIMEType, head)
	if err != nil {
		return nil, err
	}
	// The detected type's own limit applies too: a ticket without a
	// declared type was only bounded by the policy's largest.
	if max, _ := policy.Allow(mimeType); max > 0 && attrs.Size > max {
		return nil, tooLarge(max, attrs.Size)
	}
	digest, err := s.digest(ctx, up, attrs)
	if err != nil {
		return nil, err
	}
	v := &driver.VersionRecord{
		Workspace: up.Workspace, FileID: up.FileID, Version: up.Version, FileName: up.FileName,
		MIMEType: mimeType, Kind: string(KindOf(mimeType)), Size: attrs.Size, Digest: digest,
		StorageKey: up.StorageKey, Source: string(SourceUpload), CreatedAt: s.now(), CreatedBy: up.CreatedBy,
	}
	if isRaster(mimeType) {
		v.Width, v.Height = s.dimensions(ctx, up.StorageKey, mimeType, head)
	}
	return v, nil
}

// digest returns the content digest without reading the object when it
// can: the SHA-256 the library computed while streaming its create-only
// write (trusted while size and the storage's MD5 still match what the
// storage reported right after that write), or,
// for bytes sent straight to an object store, the MD5 the store computed
// ("md5:<hex>"), so confirm cost does not grow with object size. Only a
// storage that reports neither is hashed in full.
func (s *Service) digest(ctx context.Context, up *driver.UploadRecord, attrs *driver.Attributes) (string, error) {
	if up.WrittenDigest != "" && up.WrittenSize == attrs.Size && bytes.Equal(attrs.MD5, up.WrittenMD5) {
		return up.WrittenDigest, nil
	}
	if len(attrs.MD5) == md5.Size {
		return "md5:" + hex.EncodeToString(attrs.MD5), nil
	}
	return s.hashObject(ctx, up.StorageKey)
}

// checkType detects the content's type and checks it against the
// declaration (if any) and the policy. It returns the type to record.
func checkType(p *Policy, declared string, head []byte) (string, error) {
	detected := mimetype.Detect(head)
	effective := baseType(detected.String())
	if declared != "" {
		switch {
		case descends(detected, declared):
			// Declared a parent (zip for docx): keep the precise type, but
			// a policy that allows the declared family allows it.
			if _, ok := p.Allow(effective); !ok {
				effective = declared
			}
		case effective == "text/plain" && strings.HasPrefix(declared, "text/") && declared != "text/html":
			effective = declared
		default:
			return "", &Error{Code: CodeContentMismatch,
				Message: fmt.Sprintf("the content looks like %s, not the declared %s", effective, declared)}
		}
	}
	if _, ok := p.Allow(effective); !ok {
		return "", typeNotAllowedBy(p, effective)
	}
	return effective, nil
}

// descends reports whether declared is the detected type, an alias of it
// or one of its ancestors.
func descends(detected *mimetype.MIME, declared string) bool {
	for m := detected; m != nil; m = m.Parent() {
		if m.Is(declared) {
			return true
		}
	}
	return false
}

// readHead reads up to n bytes from the start of an object.
func (s *Service) readHead(ctx context.Context, key string, n int64) ([]byte, error) {
	r, err := s.storage.NewRangeReader(ctx, key, 0, n)
	if err != nil {
		return nil, wrap(err, "read head")
	}
	defer r.Close()
	head, err := io.ReadAll(io.LimitReader(r, n))
	if err != nil {
		return nil, wrap(err, "read head")
	}
	return head, nil
}

// hashObject streams an object through SHA-256.
func (s *Service) hashObject(ctx context.Context, key string) (string, error) {
	r, err := s.storage.NewRangeReader(ctx, key, 0, -1)
	if err != nil {
		return "", wrap(err, "open for digest")
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, r, make([]byte, 256<<10)); err != nil {
		return "", wrap(err, "digest")
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
