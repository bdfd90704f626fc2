package attach

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
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

// writeObject streams r into a new object at key, computing SHA-256 and MD5
// on the way. More than limit bytes aborts the write (errTooLong); with
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
	sha, sum := sha256.New(), md5.New()
	n, err := io.CopyBuffer(io.MultiWriter(w, hashWriter{sha, sum}), io.LimitReader(r, limit+1), make([]byte, copyBufferSize))
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
	return &written{size: n, digest: "sha256:" + hex.EncodeToString(sha.Sum(nil)), md5: sum.Sum(nil)}, nil
}

// hashWriter feeds two hashes; hash writes never fail.
type hashWriter struct{ a, b hash.Hash }

func (h hashWriter) Write(p []byte) (int, error) {
	h.a.Write(p)
	h.b.Write(p)
	return len(p), nil
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
}

// Put stores a file from a stream and confirms it, in one call. It goes
// through the same lifecycle as a presigned upload (a pending row first,
// then the bytes, then verification), so the same checks apply. Memory use
// does not depend on the size of r.
func (s *Service) Put(ctx context.Context, scope Scope, req PutRequest, r io.Reader) (*File, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	name, err := CleanFileName(req.FileName)
	if err != nil {
		return nil, err
	}
	maxSize := s.policy.Limits().MaxSize
	mimeType := ""
	if req.MIMEType != "" {
		if mimeType = baseType(req.MIMEType); mimeType == "" {
			return nil, errorf(CodeInvalidRequest, "mimeType %q is not a valid media type", req.MIMEType)
		}
		var ok bool
		if maxSize, ok = s.policy.Allow(mimeType); !ok {
			return nil, s.typeNotAllowed(mimeType)
		}
	}
	if req.Size == 0 || req.Size < -1 {
		return nil, errorf(CodeInvalidRequest, "size must be positive, or -1 when unknown")
	}
	f, up, err := s.createPending(ctx, scope, name, mimeType, req.Size, maxSize,
		req.Title, req.CollectionID, req.Tags, req.Metadata, req.Persist)
	if err != nil {
		return nil, err
	}
	limit, exact := req.Size, true
	if req.Size < 0 {
		limit, exact = maxSize, false
		if limit <= 0 {
			limit = math.MaxInt64 / 2 // no policy cap
		}
	}
	w, err := s.writeObject(ctx, up.StorageKey, mimeType, limit, exact, r)
	if err != nil {
		s.abandon(ctx, scope, up)
		switch {
		case errors.Is(err, errTooLong) && req.Size < 0:
			return nil, &Error{Code: CodeFileTooLarge, MaxSize: maxSize, Message: "file is larger than the limit"}
		case errors.Is(err, errTooLong):
			return nil, errorf(CodeContentMismatch, "body is longer than the declared %d bytes", req.Size)
		case errors.Is(err, errTooShort):
			return nil, errorf(CodeContentMismatch, "body is shorter than the declared %d bytes", req.Size)
		}
		return nil, err
	}
	if up.Size < 0 {
		up.Size = w.size
	}
	if err := s.recordWrite(ctx, up, w); err != nil {
		return nil, err
	}
	up.WrittenSize, up.WrittenDigest, up.WrittenMD5 = w.size, w.digest, w.md5
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	return s.confirmUpload(ctx, scope, f, up)
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
