package meta

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// CreateUpload stores a pending ticket and, when file is non-nil, the new
// file it belongs to, in one transaction. The ticket is stored as pending
// whatever up.Status says (empty or pending are accepted); its Version
// must be BaseVersion+1, and a new file's Workspace, ID and Version must
// match the ticket's Workspace, FileID and BaseVersion, else the error
// matches driver.ErrInvalidArgument. A new file's CollectionID must name a
// collection of the workspace (checked under the lock DeleteCollection
// takes), else the error matches driver.ErrNotFound.
func (s *Store) CreateUpload(ctx context.Context, file *driver.FileRecord, up *driver.UploadRecord) error {
	const op = "create upload"
	if err := checkUpload(file, up); err != nil {
		return s.fail(ctx, op, err)
	}
	var fargs []any
	if file != nil {
		var err error
		if fargs, err = fileArgs(file); err != nil {
			return s.fail(ctx, op, err)
		}
	}
	ticket := *up
	ticket.Status = driver.UploadPending
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		if file != nil {
			if file.CollectionID != "" {
				if err := s.lockCollection(ctx, tx, file.Workspace, file.CollectionID); err != nil {
					return err
				}
			}
			fargs = append(fargs, nameKey(file.FileName))
			if _, err := tx.ExecContext(ctx, s.q(insertSQL("files", fileColumns+", name_key")), fargs...); err != nil {
				return err
			}
			if err := s.indexNewFile(ctx, tx, file); err != nil {
				return err
			}
		} else {
			var current int
			err := tx.QueryRowContext(ctx, s.q(`SELECT version FROM files WHERE id = ? AND workspace = ? AND deleted_at = 0`),
				up.FileID, up.Workspace).Scan(&current)
			if err != nil {
				return err
			}
			if current != up.BaseVersion {
				return fmt.Errorf("file %s is at version %d, not %d: %w", up.FileID, current, up.BaseVersion, driver.ErrPrecondition)
			}
		}
		_, err := tx.ExecContext(ctx, s.q(insertSQL("uploads", uploadColumns)), uploadArgs(&ticket)...)
		return err
	})
	return s.fail(ctx, op, err)
}

func checkUpload(file *driver.FileRecord, up *driver.UploadRecord) error {
	switch {
	case up == nil:
		return invalid("nil upload")
	case up.Workspace == "" || up.ID == "" || up.FileID == "":
		return invalid("upload needs a workspace, an id and a file id")
	case up.Status != "" && up.Status != driver.UploadPending:
		return invalid("upload %s: a new ticket is pending, not %q", up.ID, up.Status)
	case up.BaseVersion < 0 || up.Version != up.BaseVersion+1:
		return invalid("upload %s: version %d does not follow base version %d", up.ID, up.Version, up.BaseVersion)
	case file == nil:
		return nil
	case file.Workspace != up.Workspace || file.ID != up.FileID:
		return invalid("upload %s: file %s/%s is not the ticket's file %s/%s",
			up.ID, file.Workspace, file.ID, up.Workspace, up.FileID)
	case file.Version != up.BaseVersion:
		return invalid("upload %s: new file %s is at version %d, ticket base version is %d",
			up.ID, file.ID, file.Version, up.BaseVersion)
	}
	return nil
}

// Upload returns a ticket of the workspace, or an error matching
// driver.ErrNotFound.
func (s *Store) Upload(ctx context.Context, workspace, id string) (*driver.UploadRecord, error) {
	row := s.rdb.QueryRowContext(ctx, s.q(`SELECT `+uploadColumns+` FROM uploads WHERE id = ? AND workspace = ?`), id, workspace)
	u, err := scanUpload(row)
	if err != nil {
		return nil, s.fail(ctx, "upload "+id, err)
	}
	return u, nil
}

// LatestUpload returns the most recently created ticket of an undeleted
// file, or an error matching driver.ErrNotFound. Tickets created in the
// same microsecond are ordered by version, then id.
func (s *Store) LatestUpload(ctx context.Context, workspace, fileID string) (*driver.UploadRecord, error) {
	row := s.rdb.QueryRowContext(ctx, s.q(`SELECT `+prefixed("u", uploadColumns)+`
		FROM uploads u JOIN files f ON f.id = u.file_id
		WHERE u.file_id = ? AND u.workspace = ? AND f.workspace = u.workspace AND f.deleted_at = 0
		ORDER BY u.created_at DESC, u.version DESC, u.id DESC
		LIMIT 1`), fileID, workspace)
	u, err := scanUpload(row)
	if err != nil {
		return nil, s.fail(ctx, "latest upload of "+fileID, err)
	}
	return u, nil
}

// RecordWrite records what a streamed write stored for a pending ticket.
// A ticket that is not pending returns an error matching
// driver.ErrPrecondition, an unknown one driver.ErrNotFound.
func (s *Store) RecordWrite(ctx context.Context, workspace, uploadID string, w driver.WriteRecord) error {
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE uploads SET written_size = ?, written_digest = ?, written_md5 = ?
			WHERE id = ? AND workspace = ? AND status = ?`),
			w.Size, w.Digest, hex.EncodeToString(w.MD5), uploadID, workspace, string(driver.UploadPending))
		if err != nil {
			return err
		}
		return s.changedOne(ctx, tx, res, workspace, uploadID)
	})
	return s.fail(ctx, "record write of "+uploadID, err)
}

// changedOne returns nil when res changed a row, and otherwise tells an
// unknown ticket (sql.ErrNoRows) from one whose state moved on or that
// expired (driver.ErrPrecondition).
func (s *Store) changedOne(ctx context.Context, tx *sql.Tx, res sql.Result, workspace, uploadID string) error {
	n, err := res.RowsAffected()
	if err != nil || n > 0 {
		return err
	}
	var status string
	err = tx.QueryRowContext(ctx, s.q(`SELECT status FROM uploads WHERE id = ? AND workspace = ?`), uploadID, workspace).Scan(&status)
	if err != nil {
		return err
	}
	if status == string(driver.UploadPending) { // a commit's expiry condition
		return fmt.Errorf("upload %s expired: %w", uploadID, driver.ErrPrecondition)
	}
	return fmt.Errorf("upload %s is %s, not pending: %w", uploadID, status, driver.ErrPrecondition)
}

// CommitUpload confirms a pending ticket as the file's new current version,
// in one transaction: the ticket moves from pending to confirmed, the file
// (undeleted, at the ticket's base version) takes the version's content and
// c.Status, and the version row is inserted. Otherwise nothing changes and
// the error matches driver.ErrPrecondition (driver.ErrNotFound for an
// unknown ticket); so does a ticket that expires at or before
// c.TicketExpiresAfter (when set). c.Version.Version must be the ticket's
// Version, c.Status ready or processing, and c.At set, else the error
// matches driver.ErrInvalidArgument. The version's Workspace and FileID
// are the ticket's and its Status c.Status; a zero CreatedAt becomes c.At
// and an empty CreatedBy the ticket's CreatedBy. c.Jobs are stored in the
// same transaction.
func (s *Store) CommitUpload(ctx context.Context, c *driver.Commit) (*driver.FileRecord, error) {
	if c == nil {
		return nil, s.fail(ctx, "commit upload", invalid("nil commit"))
	}
	op := "commit upload " + c.UploadID
	switch {
	case c.Status != driver.StatusReady && c.Status != driver.StatusProcessing:
		return nil, s.fail(ctx, op, invalid("upload %s: commit status %q is not ready or processing", c.UploadID, c.Status))
	case c.At.IsZero():
		return nil, s.fail(ctx, op, invalid("upload %s: commit time not set", c.UploadID))
	}
	var file *driver.FileRecord
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		var (
			fileID, createdBy string
			version, base     int
		)
		err := tx.QueryRowContext(ctx, s.q(`SELECT file_id, version, base_version, created_by FROM uploads WHERE id = ? AND workspace = ?`),
			c.UploadID, c.Workspace).Scan(&fileID, &version, &base, &createdBy)
		if err != nil {
			return err
		}
		v := c.Version
		switch {
		case v.Version != version:
			return invalid("upload %s creates version %d, commit says %d", c.UploadID, version, v.Version)
		case v.FileID != "" && v.FileID != fileID:
			return invalid("upload %s belongs to file %s, commit says %s", c.UploadID, fileID, v.FileID)
		}
		v.Workspace, v.FileID, v.Status = c.Workspace, fileID, c.Status
		if v.CreatedAt.IsZero() {
			v.CreatedAt = c.At
		}
		if v.CreatedBy == "" {
			v.CreatedBy = createdBy
		}

		res, err := tx.ExecContext(ctx, s.q(`UPDATE uploads SET status = ? WHERE id = ? AND workspace = ? AND status = ?
			AND (expires_at = 0 OR expires_at > ?)`),
			string(driver.UploadConfirmed), c.UploadID, c.Workspace, string(driver.UploadPending), micros(c.TicketExpiresAfter))
		if err != nil {
			return err
		}
		if err := s.changedOne(ctx, tx, res, c.Workspace, c.UploadID); err != nil {
			return err
		}

		expires := ""
		args := []any{v.FileName, nameKey(v.FileName), v.MIMEType, v.Kind, v.Size, v.Digest, v.Width, v.Height, v.StorageKey, v.Version,
			string(c.Status), v.Source, micros(c.At)}
		if !c.ExpiresAt.IsZero() {
			expires = ", expires_at = ?"
			args = append(args, micros(c.ExpiresAt))
		}
		args = append(args, fileID, c.Workspace, base)
		res, err = tx.ExecContext(ctx, s.q(`UPDATE files SET file_name = ?, name_key = ?, mime_type = ?, kind = ?, size = ?, digest = ?,
			width = ?, height = ?, storage_key = ?, version = ?, status = ?, status_code = '', status_reason = '',
			source = ?, updated_at = ?`+expires+`
			WHERE id = ? AND workspace = ? AND deleted_at = 0 AND version = ?`), args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("file %s is deleted or no longer at version %d: %w", fileID, base, driver.ErrPrecondition)
		}
		if base == 0 { // the file's first version: it is listed from now on
			if err := s.countListed(ctx, tx, c.Workspace, fileID, 1); err != nil {
				return err
			}
		}
		if err := s.syncViewers(ctx, tx, fileID); err != nil {
			return err
		}

		if _, err := tx.ExecContext(ctx, s.q(insertSQL("versions", versionColumns)), versionArgs(&v)...); err != nil {
			return err
		}
		if err := s.insertJobs(ctx, tx, c.Jobs, c.At); err != nil {
			return err
		}
		file, err = scanFile(tx.QueryRowContext(ctx, s.q(`SELECT `+fileColumns+` FROM files WHERE id = ? AND workspace = ?`),
			fileID, c.Workspace))
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return file, nil
}

// RejectUpload moves a pending ticket to rejected with a code and reason. A
// file still at version 0 becomes rejected too, with the same code and
// reason and updated_at set to at. A ticket that is not pending returns an
// error matching driver.ErrPrecondition, an unknown one driver.ErrNotFound.
func (s *Store) RejectUpload(ctx context.Context, workspace, uploadID, code, reason string, at time.Time) error {
	return s.endUpload(ctx, "reject upload "+uploadID, workspace, uploadID, code, reason, at, driver.StatusRejected)
}

// endUpload moves a pending ticket to rejected with a code and reason, and
// a file still at version 0 to fileStatus with the same code and reason:
// the change of RejectUpload and FailUpload.
func (s *Store) endUpload(ctx context.Context, op, workspace, uploadID, code, reason string, at time.Time, fileStatus driver.FileStatus) error {
	if at.IsZero() {
		return s.fail(ctx, op, invalid("upload %s: time not set", uploadID))
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE uploads SET status = ?, error_code = ?, error_reason = ?
			WHERE id = ? AND workspace = ? AND status = ?`),
			string(driver.UploadRejected), code, reason, uploadID, workspace, string(driver.UploadPending))
		if err != nil {
			return err
		}
		if err := s.changedOne(ctx, tx, res, workspace, uploadID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE files SET status = ?, status_code = ?, status_reason = ?, updated_at = ?
			WHERE workspace = ? AND version = 0 AND id = (SELECT file_id FROM uploads WHERE id = ? AND workspace = ?)`),
			string(fileStatus), code, reason, micros(at), workspace, uploadID, workspace)
		return err
	})
	return s.fail(ctx, op, err)
}
