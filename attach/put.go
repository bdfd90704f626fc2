package attach

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"time"

	"github.com/attachkit/attachkit/driver"
)

var (
	errTooLong  = errors.New("attach: body longer than allowed")
	errTooShort = errors.New("attach: body shorter than declared")
)

// copyBufferSize is the streaming buffer: large enough for throughput,
// small and constant so memory never grows with file size.
const copyBufferSize = 256 << 10

// written is what writeObject stored.
type written struct {
	size   int64
	digest string // "sha256:<hex>"
	md5    []byte
}

// writeObject streams r into a new object at key, computing SHA-256 on the
// way, and records the MD5 the storage reports for what it stored. More than limit bytes aborts the write (errTooLong); with
// exact, fewer than limit bytes aborts it too (errTooShort). An aborted
// write stores nothing. The write is create-only: keys are never reused,
// so an existing object means the ticket already received its bytes, and
// they are never replaced (a confirm may be verifying them).
func (s *Service) writeObject(ctx context.Context, key, contentType string, limit int64, exact bool, r io.Reader) (*written, error) {
	wctx, abort := context.WithCancel(ctx)
	defer abort()
	w, err := s.storage.NewWriter(wctx, key, &driver.WriterOptions{ContentType: contentType, Size: limit, IfNotExist: true})
	if err != nil {
		return nil, wrap(err, "open writer")
	}
	sha := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(w, sha), io.LimitReader(r, limit+1), make([]byte, copyBufferSize))
	switch {
	case err == nil && n > limit:
		err = errTooLong
	case err == nil && exact && n < limit:
		err = errTooShort
	}
	if err != nil {
		abort()
		_ = w.Close()
		return nil, err
	}
	if err := w.Close(); err != nil {
		if errors.Is(err, driver.ErrExists) {
			return nil, errorf(CodeConflict, "bytes were already uploaded for this ticket: confirm it, or request a new upload URL")
		}
		return nil, wrap(err, "store object")
	}
	out := &written{size: n, digest: "sha256:" + hex.EncodeToString(sha.Sum(nil))}
	// The write was create-only, so the object cannot change after it: the
	// storage's MD5 of it now is a fingerprint confirm can compare, without
	// hashing the bytes a second time here.
	if a, err := s.storage.Attributes(ctx, key); err == nil {
		out.md5 = a.MD5
	}
	return out, nil
}

// PutRequest describes a direct upload: bytes that flow through the app
// rather than straight to storage.
type PutRequest struct {
	FileName string
	// MIMEType is the declared type; empty means "detect it". Either way
	// the detected type must be allowed.
	MIMEType string
	// Size is the exact size when known, or -1.
	Size         int64
	Title        string
	Persist      *bool
	CollectionID string
	Tags         []string
	Metadata     json.RawMessage
	// Source says where the bytes come from, and becomes the version's
	// and the file's source: SourceUpload (the default when empty),
	// SourceImport, SourceGenerated or SourceEdited.
	Source Source
}

// Put stores a file from a stream and confirms it, in one call. It goes
// through the same lifecycle as a presigned upload (a pending row first,
// then the bytes, then verification), so the same checks apply. Memory use
// does not depend on the size of r.
func (s *Service) Put(ctx context.Context, scope Scope, req PutRequest, r io.Reader) (*File, error) {
	src, err := checkSource(req.Source)
	if err != nil {
		return nil, err
	}
	d, err := s.draftFile(ctx, scope, req.FileName, req.CollectionID,
		func(p *Policy) (string, int64, error) { return streamLimit(p, req.MIMEType, req.Size) })
	if err != nil {
		return nil, err
	}
	f, up, err := s.createPending(ctx, scope, d.name, d.mimeType, req.Size, d.maxSize,
		req.Title, req.CollectionID, req.Tags, req.Metadata, req.Persist)
	if err != nil {
		return nil, err
	}
	return s.streamAndConfirm(ctx, scope, f, up, r, src, func(ctx context.Context, _ error) { s.abandon(ctx, scope, up) })
}

// streamLimit checks a streamed upload's declared type (optional) and size
// (-1 when unknown) and returns the type and the size limit that apply.
func streamLimit(p *Policy, declared string, size int64) (string, int64, error) {
	maxSize := p.Limits().MaxSize
	mimeType := ""
	if declared != "" {
		if mimeType = baseType(declared); mimeType == "" {
			return "", 0, errorf(CodeInvalidRequest, "mimeType %q is not a valid media type", declared)
		}
		var ok bool
		if maxSize, ok = p.Allow(mimeType); !ok {
			return "", 0, typeNotAllowedBy(p, mimeType)
		}
	}
	switch {
	case size == 0 || size < -1:
		return "", 0, errorf(CodeInvalidRequest, "size must be positive, or -1 when unknown")
	case maxSize > 0 && size > maxSize:
		return "", 0, tooLarge(maxSize, size)
	}
	return mimeType, maxSize, nil
}

// streamAndConfirm writes r into a fresh ticket's object with a hard cap
// (the declared size exactly, or the ticket's limit), records the write and
// confirms it with src as the source. When the write fails, undo removes
// what the ticket left (a new file, or a version ticket) before the error
// is returned.
func (s *Service) streamAndConfirm(ctx context.Context, scope Scope, f *driver.FileRecord, up *driver.UploadRecord,
	r io.Reader, src Source, undo func(context.Context, error)) (*File, error) {
	declared := up.Size
	limit, exact := declared, true
	if declared < 0 {
		limit, exact = up.MaxSize, false
		if limit <= 0 {
			limit = math.MaxInt64 / 2 // no policy cap
		}
	}
	w, err := s.writeObject(ctx, up.StorageKey, up.MIMEType, limit, exact, r)
	if err != nil {
		switch {
		case errors.Is(err, errTooLong) && declared < 0:
			err = &Error{Code: CodeFileTooLarge, MaxSize: up.MaxSize, Message: "file is larger than the limit"}
		case errors.Is(err, errTooLong):
			err = errorf(CodeContentMismatch, "body is longer than the declared %d bytes", declared)
		case errors.Is(err, errTooShort):
			err = errorf(CodeContentMismatch, "body is shorter than the declared %d bytes", declared)
		}
		undo(ctx, err)
		return nil, err
	}
	if up.Size < 0 {
		up.Size = w.size
	}
	if err := s.recordWrite(ctx, up, w); err != nil {
		if CodeOf(err) == CodeConflict { // a confirm settled the ticket meanwhile
			return s.settled(ctx, scope, up)
		}
		return nil, err
	}
	up.WrittenSize, up.WrittenDigest, up.WrittenMD5 = w.size, w.digest, w.md5
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	return s.confirmUpload(ctx, scope, f, up, src)
}

// abandon removes the pending file of a direct upload that failed before
// any bytes were stored.
func (s *Service) abandon(ctx context.Context, scope Scope, up *driver.UploadRecord) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := s.store.MarkDeleted(ctx, scope.Workspace, up.FileID, s.now()); err == nil {
		_ = s.purge(ctx, scope.Workspace, up.FileID)
	}
}
