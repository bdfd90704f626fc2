package attach

import (
	"context"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// Undelete brings back a file deleted less than Options.Retention ago,
// with its versions and bytes, and returns it; its public links do not
// come back (deleting a file ends them). It needs the delete right
// on the file. A file deleted longer ago, purged, or deleted while
// retention was off is CodeNotFound.
func (s *Service) Undelete(ctx context.Context, scope Scope, id string) (*File, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	if err := checkID("file", id); err != nil {
		return nil, err
	}
	if s.opts.Retention <= 0 {
		return nil, wrap(driver.ErrNotFound, "load deleted file")
	}
	r, err := s.store.DeletedFile(ctx, scope.Workspace, id)
	if err != nil {
		return nil, wrap(err, "load deleted file")
	}
	if !allowed(scope, r, rightDelete) {
		return nil, errorf(CodeForbidden, "you do not have permission to delete or restore this file")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	// Deleting a file ended its links (they served nothing since): end
	// them for good before the file can be seen again.
	if err := s.store.DeleteFileLinks(ctx, scope.Workspace, id); err != nil {
		return nil, wrap(err, "delete links")
	}
	rec, err := s.store.Undelete(ctx, scope.Workspace, id, s.now().Add(-s.opts.Retention))
	if err != nil {
		return nil, wrap(err, "undelete")
	}
	return fileFromRecord(rec), nil
}

// expired reports whether a temporary file is past its expiry: from then
// on it is invisible (CodeNotFound) and its URLs serve nothing, until a
// sweep removes it.
func expired(r *driver.FileRecord, now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}
