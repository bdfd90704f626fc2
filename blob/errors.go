package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"syscall"

	"gocloud.dev/gcerrors"

	"github.com/attachkit/attachkit/driver"
)

// Operation names used in error messages; opWrite also selects how a
// local-disk path collision is classified.
const (
	opRead   = "read"
	opWrite  = "write"
	opDelete = "delete"
	opList   = "list"
)

// wrap is the one place Storage classifies errors. It returns context
// errors and io.EOF as they are, maps gocloud error codes to the driver
// sentinels, and keeps err in the chain so that logs show the cause and
// errors.As still reaches it (*os.PathError, gcerrors.Code, ...).
func (s *Storage) wrap(ctx context.Context, op, key string, err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	what := "blob: " + op
	if key != "" {
		what += " " + quoteKey(key)
	}
	if kind := classify(op, err); kind != nil {
		return fmt.Errorf("%s: %w: %w", what, kind, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// classify returns the driver sentinel err belongs to, or nil.
func classify(op string, err error) error {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return driver.ErrNotFound
	case gcerrors.AlreadyExists:
		return driver.ErrExists
	case gcerrors.FailedPrecondition:
		return driver.ErrPrecondition
	case gcerrors.InvalidArgument:
		return driver.ErrInvalidArgument
	case gcerrors.Unimplemented:
		return driver.ErrUnimplemented
	}
	// Errors of local-disk code that gocloud did not classify. A key can
	// collide with the directory of another key ("a/b" cannot be stored
	// while "a" is a file, nor "a" while "a/" is a directory), or have a
	// segment longer than the file system allows. There is no such object
	// to read, and no way to write it.
	collision := errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) ||
		errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.ENAMETOOLONG)
	switch {
	case op == opWrite && (collision || errors.Is(err, syscall.EEXIST)):
		return driver.ErrInvalidArgument
	case op != opWrite && (collision || errors.Is(err, fs.ErrNotExist)):
		return driver.ErrNotFound
	}
	return nil
}
