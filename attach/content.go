package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/signedurl"
)

// DownloadOptions control DownloadURL and Open.
type DownloadOptions struct {
	// Version picks a version; 0 means the current one. A version that
	// is not ready (rejected or failed by the scanner or processing, or
	// superseded while processing) is CodeConflict.
	Version int
	// Inline asks for Content-Disposition: inline. It is honoured only for
	// types safe to render (raster images, video, audio, PDF).
	Inline bool
}

// DownloadURL returns a signed URL that serves a file's bytes for
// Options.DownloadExpiry. The URL binds the file, version, type and
// disposition; it stops working when the file is deleted.
func (s *Service) DownloadURL(ctx context.Context, scope Scope, id string, opts *DownloadOptions) (*SignedURL, error) {
	if opts == nil {
		opts = &DownloadOptions{}
	}
	f, v, err := s.readable(ctx, scope, id, opts.Version)
	if err != nil {
		return nil, err
	}
	exp := s.now().Add(s.opts.DownloadExpiry).Truncate(time.Second)
	disp := ContentDisposition(v.FileName, v.MIMEType, opts.Inline)
	if s.getSigner != nil {
		u, err := s.getSigner.SignedURL(ctx, v.StorageKey, &driver.SignOptions{Method: "GET",
			Expiry: exp.Sub(s.now()), ContentType: v.MIMEType, ContentDisposition: disp})
		if err != nil {
			return nil, wrap(err, "sign download url")
		}
		return &SignedURL{URL: u, ExpiresAt: exp}, nil
	}
	u := s.libraryURL(signedurl.Claims{Method: "GET", Key: v.StorageKey, Expires: exp, Type: v.MIMEType,
		File: f.ID, Version: v.Version, Disposition: disp})
	return &SignedURL{URL: u, ExpiresAt: exp}, nil
}

// readable loads a file the scope may view, and the version to serve: the
// file must be ready, and so must the version (see servable), else
// CodeConflict.
func (s *Service) readable(ctx context.Context, scope Scope, id string, version int) (*driver.FileRecord, *driver.VersionRecord, error) {
	f, err := s.fileRecord(ctx, scope, id, rightView)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case f.Status == StatusProcessing:
		return nil, nil, errorf(CodeConflict, "the file is still being processed")
	case f.Status != StatusReady || f.Version == 0:
		return nil, nil, errorf(CodeConflict, "the file is %s and cannot be downloaded", f.Status)
	}
	if version < 0 {
		return nil, nil, errorf(CodeInvalidRequest, "version must be positive")
	}
	if version == 0 {
		version = f.Version
	}
	v, err := s.store.Version(ctx, scope.Workspace, id, version)
	if err != nil {
		return nil, nil, wrap(err, "load version")
	}
	if err := servable(v); err != nil {
		return nil, nil, err
	}
	return f, v, nil
}

// servable refuses a version whose own verdict is not ready: one the
// scanner or processing rejected or failed, or one superseded while it
// was processing (never settled), even while a later version is ready.
func servable(v *driver.VersionRecord) error {
	switch v.Status {
	case StatusReady:
		return nil
	case StatusProcessing:
		return errorf(CodeConflict, "version %d was never processed and cannot be downloaded", v.Version)
	}
	return errorf(CodeConflict, "version %d is %s and cannot be downloaded", v.Version, v.Status)
}

func (s *Service) libraryURL(c signedurl.Claims) string {
	return s.opts.BaseURL + "/" + escapeKey(c.Key) + "?" + s.urls.Sign(c).Encode()
}

func escapeKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// Content is a readable, seekable stream of one version's bytes, with what
// a server needs to serve it. Reads go to storage lazily from the current
// offset, so memory does not grow with the file and seeking is free. Read,
// Seek and Close may be called from different goroutines (http.ServeContent
// reads multi-range responses in its own goroutine).
type Content struct {
	FileID             string
	Version            int
	FileName           string
	MIMEType           string
	Size               int64
	Digest             string
	ModTime            time.Time
	ContentDisposition string
	// Private is true unless the file is public-read.
	Private bool

	ctx     context.Context
	storage driver.Storage
	key     string

	mu     sync.Mutex
	off    int64
	r      io.ReadCloser
	closed bool
}

// ETag is a strong entity tag derived from the content digest.
func (c *Content) ETag() string {
	d := strings.TrimPrefix(c.Digest, "sha256:")
	if len(d) > 32 {
		d = d[:32]
	}
	return `"` + d + `"`
}

// Read implements io.Reader.
func (c *Content) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, os.ErrClosed
	}
	if c.off >= c.Size {
		return 0, io.EOF
	}
	if c.r == nil {
		r, err := c.storage.NewRangeReader(c.ctx, c.key, c.off, -1)
		if err != nil {
			return 0, err
		}
		c.r = r
	}
	n, err := c.r.Read(p)
	c.off += int64(n)
	return n, err
}

// Seek implements io.Seeker.
func (c *Content) Seek(offset int64, whence int) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = c.off + offset
	case io.SeekEnd:
		abs = c.Size + offset
	default:
		return 0, errors.New("attach: invalid whence")
	}
	if abs < 0 {
		return 0, errors.New("attach: negative position")
	}
	if abs != c.off && c.r != nil {
		c.r.Close()
		c.r = nil
	}
	c.off = abs
	return abs, nil
}

// Close releases the underlying reader.
func (c *Content) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.r != nil {
		err := c.r.Close()
		c.r = nil
		return err
	}
	return nil
}

// Open returns a file version's bytes as a seekable stream. The caller
// must Close it.
func (s *Service) Open(ctx context.Context, scope Scope, id string, opts *DownloadOptions) (*Content, error) {
	if opts == nil {
		opts = &DownloadOptions{}
	}
	f, v, err := s.readable(ctx, scope, id, opts.Version)
	if err != nil {
		return nil, err
	}
	return s.content(ctx, f, v, ContentDisposition(v.FileName, v.MIMEType, opts.Inline)), nil
}

func (s *Service) content(ctx context.Context, f *driver.FileRecord, v *driver.VersionRecord, disp string) *Content {
	return &Content{FileID: f.ID, Version: v.Version, FileName: v.FileName, MIMEType: v.MIMEType,
		Size: v.Size, Digest: v.Digest, ModTime: v.CreatedAt, ContentDisposition: disp,
		Private: f.AccessControl != AccessPublicRead, ctx: ctx, storage: s.storage, key: v.StorageKey}
}

// OpenSigned serves a library-signed GET URL: key is the URL's path below
// BaseURL (unescaped) and q its query. A tampered URL is CodeForbidden, an
// expired one CodeExpired; a deleted file or version is CodeNotFound even
// while the URL is otherwise valid, and a version that is not ready (see
// readable) CodeConflict.
func (s *Service) OpenSigned(ctx context.Context, key string, q url.Values) (*Content, error) {
	c, err := s.verifyURL("GET", key, q)
	if err != nil {
		return nil, err
	}
	ws, _, _ := strings.Cut(key, "/")
	f, err := s.store.File(ctx, ws, c.File)
	if err != nil {
		return nil, wrap(err, "load file")
	}
	v, err := s.store.Version(ctx, ws, c.File, c.Version)
	if err != nil {
		return nil, wrap(err, "load version")
	}
	if f.Status != StatusReady || expired(f, s.now()) {
		return nil, errorf(CodeNotFound, "not found")
	}
	if err := servable(v); err != nil {
		return nil, err
	}
	if v.StorageKey != key {
		return s.openDerivative(ctx, f, v, key, c.Disposition) // a thumbnail of the version, or not found
	}
	return s.content(ctx, f, v, c.Disposition), nil
}

func (s *Service) verifyURL(method, key string, q url.Values) (signedurl.Claims, error) {
	if s.urls == nil {
		return signedurl.Claims{}, errorf(CodeNotFound, "this service does not issue library-signed URLs")
	}
	c, err := s.urls.Verify(method, key, q, s.now())
	switch {
	case errors.Is(err, signedurl.ErrExpired):
		return c, errorf(CodeExpired, "the URL expired at %s", c.Expires.UTC().Format(time.RFC3339))
	case err != nil:
		return c, errorf(CodeForbidden, "invalid or tampered signature")
	}
	return c, nil
}

// WriteSigned stores the body of a PUT to a library-signed upload URL. The
// URL binds the key, ticket, exact size and type: a body of another type is
// refused before reading, a longer body is refused while streaming
// (CodePayloadTooLarge) and a shorter one at its end, in both cases with
// nothing stored and the ticket still usable. A ticket accepts its bytes
// once: a PUT after a stored one is CodeConflict and changes nothing. The
// SHA-256 digest is computed while writing, so confirm need not read the
// object again.
// contentLength is the request's declared length, or -1 when unknown.
func (s *Service) WriteSigned(ctx context.Context, key string, q url.Values, contentType string, contentLength int64, body io.Reader) error {
	c, err := s.verifyURL("PUT", key, q)
	if err != nil {
		return err
	}
	ws, _, _ := strings.Cut(key, "/")
	up, err := s.store.Upload(ctx, ws, c.Upload)
	if err != nil {
		return wrap(err, "load upload")
	}
	switch {
	case up.StorageKey != key:
		return errorf(CodeForbidden, "invalid or tampered signature")
	case up.Status != driver.UploadPending:
		return errorf(CodeConflict, "this upload is already %s", up.Status)
	case baseType(contentType) != baseType(c.Type):
		return errorf(CodeInvalidRequest, "Content-Type must be %s", c.Type)
	case contentLength > c.Size:
		return &Error{Code: CodePayloadTooLarge, MaxSize: c.Size, ActualSize: contentLength,
			Message: fmt.Sprintf("body is %d bytes; the upload was declared as %d", contentLength, c.Size)}
	case contentLength >= 0 && contentLength < c.Size:
		return errorf(CodeInvalidRequest, "body is %d bytes; the upload was declared as %d", contentLength, c.Size)
	}
	w, err := s.writeObject(ctx, key, c.Type, c.Size, true, body)
	switch {
	case errors.Is(err, errTooLong):
		return &Error{Code: CodePayloadTooLarge, MaxSize: c.Size,
			Message: fmt.Sprintf("body is longer than the declared %d bytes", c.Size)}
	case errors.Is(err, errTooShort):
		return errorf(CodeInvalidRequest, "body is shorter than the declared %d bytes", c.Size)
	case err != nil:
		return err
	}
	return s.recordWrite(ctx, up, w)
}

func (s *Service) recordWrite(ctx context.Context, up *driver.UploadRecord, w *written) error {
	err := s.store.RecordWrite(ctx, up.Workspace, up.ID, driver.WriteRecord{Size: w.size, Digest: w.digest, MD5: w.md5})
	if errors.Is(err, driver.ErrPrecondition) {
		return errorf(CodeConflict, "the upload was confirmed or rejected while it was written")
	}
	return wrap(err, "record write")
}

func (s *Service) deleteQuietly(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := s.storage.Delete(ctx, key); err != nil && !errors.Is(err, driver.ErrNotFound) {
		s.log.WarnContext(ctx, "attach: delete failed; will be swept", "key", key, "err", err)
	}
}
