package meta

import (
	"context"
	"database/sql"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// ExpiredUploads lists, across workspaces, pending tickets that expired at
// or before before, oldest first, at most limit (1 to 1000, else
// driver.ErrInvalidArgument). It is a range scan of uploads_status_expires.
func (s *Store) ExpiredUploads(ctx context.Context, before time.Time, limit int) ([]driver.UploadRecord, error) {
	const op = "expired uploads"
	if limit < 1 || limit > maxListLimit {
		return nil, s.fail(ctx, op, invalid("limit must be 1..%d", maxListLimit))
	}
	if before.IsZero() {
		return nil, nil
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+uploadColumns+` FROM uploads
		WHERE status = ? AND expires_at > 0 AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`),
		string(driver.UploadPending), micros(before), limit)
	out, err := scanRows(rows, err, scanUpload)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// ExpireUpload moves a pending ticket to expired. A ticket that is not
// pending returns an error matching driver.ErrPrecondition, an unknown one
// driver.ErrNotFound.
func (s *Store) ExpireUpload(ctx context.Context, workspace, uploadID string) error {
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE uploads SET status = ? WHERE id = ? AND workspace = ? AND status = ?`),
			string(driver.UploadExpired), uploadID, workspace, string(driver.UploadPending))
		if err != nil {
			return err
		}
		return s.changedOne(ctx, tx, res, workspace, uploadID)
	})
	return s.fail(ctx, "expire upload "+uploadID, err)
}

// TryLease takes or renews a named lease; see driver.JobStore. One upsert:
// the row is written only when absent, expired or already owner's.
func (s *Store) TryLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error) {
	const op = "try lease"
	if name == "" || owner == "" || now.IsZero() || !until.After(now) {
		return false, s.fail(ctx, op, invalid("a lease needs a name, an owner and an end after now"))
	}
	var held bool
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO leases (name, owner, lease_until) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
			WHERE leases.lease_until <= ? OR leases.owner = ?`), name, owner, micros(until), micros(now), owner)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		held = n > 0
		return err
	})
	if err != nil {
		return false, s.fail(ctx, op, err)
	}
	return held, nil
}
