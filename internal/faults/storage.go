package faults

import (
	"context"
	"io"

	"github.com/attachkit/attachkit/driver"
)

// Storage is a driver.Storage whose calls pass through an Injector. It
// hides the wrapped storage's optional capabilities (native signing), so
// the library signs its own URLs over it, which is what the tests want:
// every byte then flows through the wrapper.
type Storage struct {
	S  driver.Storage
	In *Injector
}

var _ driver.Storage = (*Storage)(nil)

// Attributes implements driver.Storage.
func (s *Storage) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	v, _, err := call(ctx, s.In, "Attributes", func(ctx context.Context) (*driver.Attributes, error) {
		return s.S.Attributes(ctx, key)
	})
	return v, err
}

// NewRangeReader implements driver.Storage; a FailAfterBytes fault cuts
// the stream.
func (s *Storage) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	r, f, err := call(ctx, s.In, "NewRangeReader", func(ctx context.Context) (io.ReadCloser, error) {
		return s.S.NewRangeReader(ctx, key, offset, length)
	})
	if err != nil || f == nil || f.Kind != FailAfterBytes {
		return r, err
	}
	return &cutReader{ReadCloser: r, left: f.Bytes, err: f.err()}, nil
}

// NewWriter implements driver.Storage; a FailAfterBytes fault fails the
// write that crosses the limit, and the writer is then closed with a
// cancelled context so no partial object is committed, like a connection
// that dies mid-upload.
func (s *Storage) NewWriter(ctx context.Context, key string, opts *driver.WriterOptions) (io.WriteCloser, error) {
	f := s.In.hit("NewWriter")
	if f == nil || f.Kind == FailAfterBytes {
		wctx, cancel := context.WithCancel(ctx)
		w, err := s.S.NewWriter(wctx, key, opts)
		if err != nil {
			cancel()
			return nil, err
		}
		cw := &cutWriter{w: w, cancel: cancel, left: -1}
		if f != nil {
			cw.left, cw.err = f.Bytes, f.err()
		}
		return cw, nil
	}
	switch f.Kind {
	case Fail:
		return nil, f.err()
	case Stall:
		return nil, f.stall(ctx)
	case Cancel:
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		return s.S.NewWriter(cctx, key, opts)
	}
	w, err := s.S.NewWriter(ctx, key, opts)
	if err != nil {
		return nil, err
	}
	return &lostAckWriter{WriteCloser: w, err: f.err()}, nil
}

// Delete implements driver.Storage.
func (s *Storage) Delete(ctx context.Context, key string) error {
	return call0(ctx, s.In, "Delete", func(ctx context.Context) error { return s.S.Delete(ctx, key) })
}

// List implements driver.Storage.
func (s *Storage) List(ctx context.Context, prefix string, fn func(driver.ObjectInfo) error) error {
	return call0(ctx, s.In, "List", func(ctx context.Context) error { return s.S.List(ctx, prefix, fn) })
}

// Close implements driver.Storage; it does not close the wrapped storage.
func (s *Storage) Close() error { return nil }

// cutReader returns err once left bytes have been read.
type cutReader struct {
	io.ReadCloser
	left int64
	err  error
}

func (r *cutReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, r.err
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.ReadCloser.Read(p)
	r.left -= int64(n)
	return n, err
}

// cutWriter fails the write that goes past left bytes (left < 0: never)
// and then aborts the object.
type cutWriter struct {
	w      io.WriteCloser
	cancel context.CancelFunc
	left   int64
	err    error
	failed bool
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if w.failed {
		return 0, w.err
	}
	if w.left >= 0 && int64(len(p)) > w.left {
		n, _ := w.w.Write(p[:w.left])
		w.left = 0
		w.failed = true
		return n, w.err
	}
	n, err := w.w.Write(p)
	if w.left >= 0 {
		w.left -= int64(n)
	}
	return n, err
}

func (w *cutWriter) Close() error {
	if w.failed {
		w.cancel() // abort: the storage must not commit a partial object
		_ = w.w.Close()
		return w.err
	}
	defer w.cancel()
	return w.w.Close()
}

// lostAckWriter commits the object but reports a failure on Close.
type lostAckWriter struct {
	io.WriteCloser
	err error
}

func (w *lostAckWriter) Close() error {
	if err := w.WriteCloser.Close(); err != nil {
		return err
	}
	return w.err
}
