package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"

	gcblob "gocloud.dev/blob"

	"github.com/attachkit/attachkit/driver"
)

// NewWriter implements driver.Storage. The object becomes visible when
// Close returns nil; cancelling ctx before then aborts the write, and Close
// returns ctx's error. On local disk a nil Close means the object is on
// stable storage.
func (s *Storage) NewWriter(ctx context.Context, key string, opts *driver.WriterOptions) (io.WriteCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validateKey(key); err != nil {
		return nil, err
	}
	var o driver.WriterOptions
	if opts != nil {
		o = *opts
	}
	if o.ContentType != "" {
		if _, _, err := mime.ParseMediaType(o.ContentType); err != nil {
			return nil, fmt.Errorf("blob: write %s: content type %q: %w: %v", quoteKey(key), o.ContentType, driver.ErrInvalidArgument, err)
		}
	}
	if s.uploadOnly {
		return s.newUploadWriter(ctx, key, o), nil
	}
	if s.disk != nil {
		if err := s.disk.prepare(key); err != nil {
			return nil, s.wrap(ctx, opWrite, key, err)
		}
	}

	// wctx lets Close abort the write when the final fsync fails.
	wctx, cancel := context.WithCancel(ctx)
	w := &writer{s: s, ctx: ctx, cancel: cancel, key: key, ifNotExist: o.IfNotExist}
	gw, err := s.bucket.NewWriter(wctx, key, &gcblob.WriterOptions{
		ContentType: o.ContentType,
		IfNotExist:  o.IfNotExist,
		// Record what the caller declared (empty means unknown) and make
		// gocloud open the driver writer now, so that BeforeWrite runs
		// before any byte is written.
		DisableContentTypeDetection: true,
		BeforeWrite: func(as func(any) bool) error {
			if s.disk != nil {
				as(&w.tmp) // fileblob's temporary file
			}
			return nil
		},
	})
	if err != nil {
		cancel()
		return nil, s.wrap(ctx, opWrite, key, err)
	}
	w.w = gw
	return w, nil
}

// writer is the io.WriteCloser NewWriter returns.
type writer struct {
	s *Storage
	// ctx is the caller's context: cancelling it aborts the write. The
	// gocloud writer runs on a child context that cancel also ends.
	ctx    context.Context
	cancel context.CancelFunc
	key    string
	w      *gcblob.Writer
	tmp    *os.File // fileblob's temporary file, on local disk only
	closed bool
	// ifNotExist: the commit fails with driver.ErrExists over an existing
	// object (gocloud reports FailedPrecondition).
	ifNotExist bool
}

// Write writes p, failing fast once ctx is done.
func (w *writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("blob: write %s: %w", quoteKey(w.key), fs.ErrClosed)
	}
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := w.w.Write(p)
	return n, w.s.wrap(w.ctx, opWrite, w.key, err)
}

// Close commits the object, or discards it when ctx is done.
func (w *writer) Close() error {
	if w.closed {
		return fmt.Errorf("blob: write %s: %w", quoteKey(w.key), fs.ErrClosed)
	}
	w.closed = true
	defer w.cancel()
	if err := w.ctx.Err(); err != nil {
		_ = w.w.Close() // gocloud sees the cancelled context and discards the bytes
		return err
	}
	if w.tmp != nil {
		// The bytes must be on disk before the rename makes them visible,
		// or a crash could expose a truncated object under the final name.
		if err := w.tmp.Sync(); err != nil {
			w.cancel()
			_ = w.w.Close()
			return w.s.wrap(w.ctx, opWrite, w.key, err)
		}
	}
	defer w.s.disk.lock(w.key)()
	if err := w.w.Close(); err != nil {
		err = w.s.wrap(w.ctx, opWrite, w.key, err)
		if w.ifNotExist && errors.Is(err, driver.ErrPrecondition) {
			return fmt.Errorf("blob: write %s: %w", quoteKey(w.key), driver.ErrExists)
		}
		return err
	}
	if w.tmp != nil {
		if err := syncCommitted(w.tmp.Name()); err != nil {
			// The rename happened but is not known durable: take the object
			// back so a failed Close never leaves it visible.
			_ = os.Remove(w.s.disk.path(w.key))
			_ = os.Remove(w.s.disk.path(w.key) + ".attrs")
			return w.s.wrap(w.ctx, opWrite, w.key, err)
		}
	}
	return nil
}

// uploadWriter streams an object through gcblob.Bucket.Upload, fed by a
// pipe, rather than through a gcblob.Writer. Azure storages use it: the
// Writer path of gocloud's azureblob (v0.47.0) panics when an upload fails
// after Close began. Its writer.Close registers a deferred w.pr.Close()
// while w.pr is set, then waits for the upload goroutine, which on failure
// sets w.pr to nil; the deferred call then dereferences the nil
// *io.PipeReader. Small objects are sent in one request after the last
// byte, so any rejected upload panics this way: a missing container, an
// IfNotExist condition that fails, an outage during Close. A failure
// before Close is no better: the goroutine's write of w.pr races with
// Close's read. Bucket.Upload takes the driver's Upload path instead,
// whose Close only waits for the goroutine and returns its error. The call
// runs in a goroutine of ours, which also recovers a panic into an error.
type uploadWriter struct {
	s   *Storage
	ctx context.Context // the caller's: cancelling it aborts the upload
	key string
	pw  *io.PipeWriter
	// cancel ends the upload's context, a child of ctx.
	cancel context.CancelFunc
	// done is closed when the upload has returned; err is its result,
	// written before done closes.
	done       chan struct{}
	err        error
	closed     bool
	ifNotExist bool
}

// errUploadEnded is what Write returns when the upload ended without an
// error before Close (which only a misbehaving driver does).
var errUploadEnded = errors.New("upload ended before the writer was closed")

func (s *Storage) newUploadWriter(ctx context.Context, key string, o driver.WriterOptions) *uploadWriter {
	uctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	w := &uploadWriter{s: s, ctx: ctx, key: key, pw: pw, cancel: cancel, done: make(chan struct{}), ifNotExist: o.IfNotExist}
	// Bucket.Upload requires a content type; application/octet-stream is
	// what Azure records for a blob written without one.
	ct := o.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	go func() {
		defer close(w.done)
		err := upload(uctx, s.bucket, key, pr, &gcblob.WriterOptions{ContentType: ct, IfNotExist: o.IfNotExist})
		if err != nil {
			pr.CloseWithError(err) // unblocks Write
		} else {
			pr.CloseWithError(errUploadEnded)
		}
		w.err = err
	}()
	return w
}

// upload runs b.Upload, turning a panic into an error.
func upload(ctx context.Context, b *gcblob.Bucket, key string, r io.Reader, opts *gcblob.WriterOptions) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("upload panicked: %v", p)
		}
	}()
	return b.Upload(ctx, key, r, opts)
}

// Write feeds p to the upload, failing fast once ctx is done or the
// upload has failed.
func (w *uploadWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("blob: write %s: %w", quoteKey(w.key), fs.ErrClosed)
	}
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := w.pw.Write(p)
	return n, w.s.wrap(w.ctx, opWrite, w.key, err)
}

// Close ends the body, so that the upload commits, and returns the
// upload's result; when ctx is done it fails the body instead, so that
// nothing is committed.
func (w *uploadWriter) Close() error {
	if w.closed {
		return fmt.Errorf("blob: write %s: %w", quoteKey(w.key), fs.ErrClosed)
	}
	w.closed = true
	defer w.cancel()
	if err := w.ctx.Err(); err != nil {
		_ = w.pw.CloseWithError(err)
		<-w.done
		return err
	}
	_ = w.pw.Close()
	<-w.done
	if w.err == nil {
		return nil
	}
	err := w.s.wrap(w.ctx, opWrite, w.key, w.err)
	if w.ifNotExist && errors.Is(err, driver.ErrPrecondition) {
		return fmt.Errorf("blob: write %s: %w", quoteKey(w.key), driver.ErrExists)
	}
	return err
}
