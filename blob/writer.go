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
			return w.s.wrap(w.ctx, opWrite, w.key, err)
		}
	}
	return nil
}
