package meta

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// DeletedFile returns a file marked deleted and not yet purged, or an
// error matching driver.ErrNotFound (also for an undeleted file).
func (s *Store) DeletedFile(ctx context.Context, workspace, id string) (*driver.FileRecord, error) {
	row := s.rdb.QueryRowContext(ctx, s.q(`SELECT `+fileColumns+` FROM files WHERE id = ? AND workspace = ? AND deleted_at > 0`),
		id, workspace)
	f, err := scanFile(row)
	if err != nil {
		return nil, s.fail(ctx, "deleted file "+id, err)
	}
	return f, nil
}

// Undelete clears the deletion mark of a file deleted after deletedAfter
// and returns the file, counted as listed again. A file that is not
// deleted, was deleted at or before deletedAfter, or is unknown returns an
// error matching driver.ErrNotFound.
func (s *Store) Undelete(ctx context.Context, workspace, id string, deletedAfter time.Time) (*driver.FileRecord, error) {
	op := "undelete " + id
	var file *driver.FileRecord
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		var version int
		err := tx.QueryRowContext(ctx, s.q(`UPDATE files SET deleted_at = 0 WHERE id = ? AND workspace = ? AND deleted_at > ?
			RETURNING version`), id, workspace, max(micros(deletedAfter), 0)).Scan(&version)
		if err != nil {
			return err
		}
		if version > 0 {
			if err := s.countListed(ctx, tx, workspace, id, 1); err != nil {
				return err
			}
		}
		if err := s.syncViewers(ctx, tx, id); err != nil {
			return err
		}
		file, err = scanFile(tx.QueryRowContext(ctx, s.q(`SELECT `+fileColumns+` FROM files WHERE id = ? AND workspace = ?`),
			id, workspace))
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return file, nil
}

// SweepFiles lists, across workspaces, the files marked deleted at or
// before q.DeletedBefore and the undeleted files that expired at or before
// q.ExpiredBefore, oldest (by that time) first, at most q.Limit (1 to
// 1000, else driver.ErrInvalidArgument). Both are index range scans.
func (s *Store) SweepFiles(ctx context.Context, q *driver.SweepQuery) ([]driver.FileRecord, error) {
	const op = "sweep files"
	if q == nil || q.Limit < 1 || q.Limit > maxListLimit {
		return nil, s.fail(ctx, op, invalid("sweep limit must be 1..%d", maxListLimit))
	}
	type found struct {
		at time.Time
		f  driver.FileRecord
	}
	var all []found
	run := func(query string, cutoff time.Time, at func(*driver.FileRecord) time.Time) error {
		if cutoff.IsZero() {
			return nil
		}
		rows, err := s.rdb.QueryContext(ctx, s.q(query), micros(cutoff), q.Limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			f, err := scanFile(rows)
			if err != nil {
				return err
			}
			all = append(all, found{at(f), *f})
		}
		return rows.Err()
	}
	err := run(`SELECT `+fileColumns+` FROM files WHERE deleted_at > 0 AND deleted_at <= ? ORDER BY deleted_at, id LIMIT ?`,
		q.DeletedBefore, func(f *driver.FileRecord) time.Time { return f.DeletedAt })
	if err == nil {
		err = run(`SELECT `+fileColumns+` FROM files WHERE expires_at > 0 AND expires_at <= ? AND deleted_at = 0
			ORDER BY expires_at, id LIMIT ?`,
			q.ExpiredBefore, func(f *driver.FileRecord) time.Time { return f.ExpiresAt })
	}
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	slices.SortStableFunc(all, func(a, b found) int { return a.at.Compare(b.at) })
	out := make([]driver.FileRecord, 0, min(len(all), q.Limit))
	for _, x := range all[:min(len(all), q.Limit)] {
		out = append(out, x.f)
	}
	return out, nil
}
