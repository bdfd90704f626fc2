package attach

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// SweepReport says what one Sweep removed.
type SweepReport struct {
	// ExpiredTickets are upload tickets never confirmed in time; their
	// pending first-version files are removed with them.
	ExpiredTickets int `json:"expiredTickets"`
	// TemporaryFiles are temporary (persist: false) files past expiry.
	TemporaryFiles int `json:"temporaryFiles"`
	// DeletedFiles are deleted files purged after the retention window.
	DeletedFiles int `json:"deletedFiles"`
	// Objects are the stored objects removed with the tickets and files
	// above.
	Objects int `json:"objects"`
	// Orphans are stored objects no row references, older than
	// Options.OrphanGrace.
	Orphans int `json:"orphans"`
	// TempFiles are temporary files that writes cut short by a crash
	// left behind (local disk; see driver.TempSweeper), older than
	// Options.OrphanGrace.
	TempFiles int `json:"tempFiles"`
}

// Total is the number of things removed.
func (r *SweepReport) Total() int {
	return r.ExpiredTickets + r.TemporaryFiles + r.DeletedFiles + r.Objects + r.Orphans + r.TempFiles
}

// Janitor bounds: one Sweep removes at most this many of each kind; the
// next Sweep continues.
const (
	sweepBatch   = 100
	sweepBatches = 10
	maxOrphans   = 1000
	// sweepMargin is added to every grace period, for clock skew between
	// replicas.
	sweepMargin = 5 * time.Minute
)

// Sweep removes what no longer has a use, and reports it:
//
//   - upload tickets never confirmed, once they can no longer be confirmed
//     (Options.ConfirmGrace after expiry), with any object they left and a
//     first-version file that never got content;
//   - temporary files past their expiry (Options.TemporaryTTL after
//     confirmation), rows and bytes;
//   - deleted files past Options.Retention (and a margin for clock skew
//     between replicas), rows and bytes;
//   - objects under the library's key layout that no row references and
//     that are older than Options.OrphanGrace, and the temporary files
//     of writes a crash cut short (driver.TempSweeper) as old.
//
// An upload in progress is never touched: its ticket is referenced and
// still confirmable. Quarantined (rejected) files are kept. Every removal
// is idempotent, so Sweeps may run in several replicas at once (a Worker
// runs it periodically under a lease so that usually only one does).
// Sweep works through bounded batches; what is left waits for the next
// Sweep.
func (s *Service) Sweep(ctx context.Context) (*SweepReport, error) {
	r := &SweepReport{}
	now := s.now()
	if err := s.sweepTickets(ctx, r, now.Add(-s.opts.ConfirmGrace-sweepMargin)); err != nil {
		return r, err
	}
	if err := s.sweepFiles(ctx, r, now); err != nil {
		return r, err
	}
	if s.opts.OrphanGrace > 0 {
		before := now.Add(-s.opts.OrphanGrace - sweepMargin)
		if err := s.sweepOrphans(ctx, r, before); err != nil {
			return r, err
		}
		if ts, ok := s.storage.(driver.TempSweeper); ok {
			n, err := ts.SweepTemp(ctx, before)
			r.TempFiles += n
			if err != nil {
				return r, wrap(err, "sweep temporary files")
			}
		}
	}
	return r, nil
}

func (s *Service) sweepTickets(ctx context.Context, r *SweepReport, before time.Time) error {
	for range sweepBatches {
		ups, err := s.store.ExpiredUploads(ctx, before, sweepBatch)
		if err != nil {
			return wrap(err, "expired uploads")
		}
		progress := false
		for _, up := range ups {
			// Bytes first, rows last: a step that fails leaves the ticket
			// pending, so the next Sweep finds it and finishes. Nothing can
			// write or confirm it any more (it is past expiry and grace).
			if s.removeObject(ctx, up.StorageKey) {
				r.Objects++
			}
			if up.BaseVersion == 0 {
				dropped, err := s.dropContentless(ctx, &up)
				if err != nil {
					s.log.WarnContext(ctx, "attach: sweep: purging a contentless file failed; will retry", "file", up.FileID, "err", err)
					continue
				}
				if dropped {
					r.ExpiredTickets++
					progress = true
					continue
				}
			}
			err := s.store.ExpireUpload(ctx, up.Workspace, up.ID)
			if errors.Is(err, driver.ErrPrecondition) || errors.Is(err, driver.ErrNotFound) {
				progress = true
				continue // settled meanwhile, or swept by another replica
			}
			if err != nil {
				return wrap(err, "expire upload")
			}
			r.ExpiredTickets++
			progress = true
		}
		if len(ups) < sweepBatch || !progress {
			return nil // done, or the same failing tickets again: the next Sweep retries
		}
	}
	return nil
}

// dropContentless removes the rows of a file (its tickets included) whose
// latest ticket expired before the file ever had content, or that was
// deleted (kept for Options.Retention) before it had any, and reports
// whether it did; false means the ticket alone is to expire.
func (s *Service) dropContentless(ctx context.Context, up *driver.UploadRecord) (bool, error) {
	deleted := false
	f, err := s.store.File(ctx, up.Workspace, up.FileID)
	if errors.Is(err, driver.ErrNotFound) {
		deleted = true
		f, err = s.store.DeletedFile(ctx, up.Workspace, up.FileID)
	}
	if errors.Is(err, driver.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if f.Version != 0 {
		return false, nil
	}
	if !deleted {
		// A deleted file has no live ticket (and LatestUpload does not see
		// it): it goes with any expired one. A live file goes with its
		// latest only.
		latest, err := s.store.LatestUpload(ctx, up.Workspace, up.FileID)
		if err != nil {
			return false, err
		}
		if latest.ID != up.ID {
			return false, nil
		}
	}
	err = s.store.PurgeFile(ctx, up.Workspace, up.FileID)
	if errors.Is(err, driver.ErrNotFound) {
		return false, nil // another replica's Sweep took it
	}
	return err == nil, err
}

func (s *Service) sweepFiles(ctx context.Context, r *SweepReport, now time.Time) error {
	deletedBefore := now
	if s.opts.Retention > 0 {
		// Undelete (maybe on another replica, by its clock) allows the
		// whole window; the margin keeps what it may still restore.
		deletedBefore = now.Add(-s.opts.Retention - sweepMargin)
	}
	q := &driver.SweepQuery{DeletedBefore: deletedBefore, ExpiredBefore: now, Limit: sweepBatch}
	for range sweepBatches {
		files, err := s.store.SweepFiles(ctx, q)
		if err != nil {
			return wrap(err, "sweep files")
		}
		progress := false
		for _, f := range files {
			objects, purged, err := s.sweepFile(ctx, &f)
			if err != nil {
				return err
			}
			r.Objects += objects
			if purged {
				progress = true
				if f.DeletedAt.IsZero() {
					r.TemporaryFiles++
				} else {
					r.DeletedFiles++
				}
			}
		}
		if len(files) < sweepBatch || !progress {
			return nil
		}
	}
	return nil
}

// sweepFile hides a file (an expired temporary one is still visible),
// removes its objects, then its rows; it reports the objects this call
// removed and whether it removed the rows. A step that fails leaves the
// rows, invisible, for the next Sweep: no visible row ever points at
// removed bytes.
func (s *Service) sweepFile(ctx context.Context, f *driver.FileRecord) (int, bool, error) {
	if f.DeletedAt.IsZero() {
		// Marked as deleted when it expired, so a retention window does
		// not keep it longer than its expiry said.
		err := s.store.MarkDeleted(ctx, f.Workspace, f.ID, f.ExpiresAt)
		if err != nil && !errors.Is(err, driver.ErrNotFound) {
			return 0, false, wrap(err, "mark expired file deleted")
		}
	}
	keys, err := s.store.FileKeys(ctx, f.Workspace, f.ID)
	if errors.Is(err, driver.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, wrap(err, "file keys")
	}
	n := 0
	for _, k := range keys {
		err := s.storage.Delete(ctx, k)
		switch {
		case err == nil:
			n++
		case !errors.Is(err, driver.ErrNotFound):
			s.log.WarnContext(ctx, "attach: sweep: delete object failed; will retry", "key", k, "err", err)
			return n, false, nil
		}
	}
	err = s.store.PurgeFile(ctx, f.Workspace, f.ID)
	if errors.Is(err, driver.ErrNotFound) {
		return n, false, nil
	}
	if err != nil {
		return n, false, wrap(err, "purge file")
	}
	return n, true, nil
}

// removeObject deletes an object, reporting whether this call removed it.
func (s *Service) removeObject(ctx context.Context, key string) bool {
	err := s.storage.Delete(ctx, key)
	if err != nil && !errors.Is(err, driver.ErrNotFound) {
		s.log.WarnContext(ctx, "attach: sweep: delete object failed; will retry", "key", key, "err", err)
	}
	return err == nil
}

// errEnough stops a listing that found enough.
var errEnough = errors.New("enough")

// sweepOrphans removes objects of the key layout older than before whose
// file has no row naming them. A file's keys are listed together, so the
// rows of one file are read once.
func (s *Service) sweepOrphans(ctx context.Context, r *SweepReport, before time.Time) error {
	var (
		orphans  []string
		lastFile string
		known    map[string]bool // keys of lastFile; nil: no rows
	)
	err := s.storage.List(ctx, "", func(o driver.ObjectInfo) error {
		ws, fileID, ok := layoutKey(o.Key)
		if !ok || o.ModTime.IsZero() || !o.ModTime.Before(before) {
			return nil
		}
		if ws+"/"+fileID != lastFile {
			lastFile = ws + "/" + fileID
			keys, err := s.store.FileKeys(ctx, ws, fileID)
			switch {
			case errors.Is(err, driver.ErrNotFound):
				known = nil
			case err != nil:
				return wrap(err, "file keys")
			default:
				known = make(map[string]bool, len(keys))
				for _, k := range keys {
					known[k] = true
				}
			}
		}
		if !known[o.Key] {
			orphans = append(orphans, o.Key)
			if len(orphans) >= maxOrphans {
				return errEnough
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return wrap(err, "list objects")
	}
	for _, k := range orphans {
		if s.removeObject(ctx, k) {
			r.Orphans++
		}
	}
	return nil
}

// layoutKey parses a storage key of the library's layout,
// {workspace}/{fileID}/v{n}/{random hex}, and nothing else: objects other
// code stores beside the library's are never the janitor's.
func layoutKey(key string) (workspace, fileID string, ok bool) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 || checkScope(Scope{Workspace: parts[0]}) != nil || checkID("file", parts[1]) != nil {
		return "", "", false
	}
	var n int
	if _, err := fmt.Sscanf(parts[2], "v%d", &n); err != nil || n < 1 || parts[2] != fmt.Sprintf("v%d", n) {
		return "", "", false
	}
	if len(parts[3]) != 24 || strings.Trim(parts[3], "0123456789abcdef") != "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}
