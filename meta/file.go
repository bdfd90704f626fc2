package meta

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// File returns an undeleted file of the workspace, or an error matching
// driver.ErrNotFound.
func (s *Store) File(ctx context.Context, workspace, id string) (*driver.FileRecord, error) {
	row := s.rdb.QueryRowContext(ctx, s.q(`SELECT `+fileColumns+` FROM files WHERE id = ? AND workspace = ? AND deleted_at = 0`),
		id, workspace)
	f, err := scanFile(row)
	if err != nil {
		return nil, s.fail(ctx, "file "+id, err)
	}
	return f, nil
}

// MarkDeleted sets an undeleted file's deleted_at to at, hiding it from
// every read but FileKeys, and removes its attachments to records (closing
// the gaps in their fields). An unknown or already deleted file returns an
// error matching driver.ErrNotFound; a zero at driver.ErrInvalidArgument.
func (s *Store) MarkDeleted(ctx context.Context, workspace, id string, at time.Time) error {
	op := "mark deleted " + id
	if at.IsZero() {
		return s.fail(ctx, op, invalid("file %s: deletion time not set", id))
	}
	err := s.inDetachTx(ctx, workspace, id, func(tx *sql.Tx, detach func(history bool) error) error {
		var version int
		err := tx.QueryRowContext(ctx, s.q(`UPDATE files SET deleted_at = ? WHERE id = ? AND workspace = ? AND deleted_at = 0
			RETURNING version`), micros(at), id, workspace).Scan(&version)
		if err != nil {
			return err
		}
		if err := detach(false); err != nil {
			return err
		}
		if version == 0 {
			return nil
		}
		if err := s.countListed(ctx, tx, workspace, id, -1); err != nil {
			return err
		}
		return s.syncViewers(ctx, tx, id)
	})
	return s.fail(ctx, op, err)
}

// FileKeys returns the distinct, non-empty storage keys of a file's
// versions, tickets and derivatives, deleted or not, in lexical order. An unknown file
// returns an error matching driver.ErrNotFound.
func (s *Store) FileKeys(ctx context.Context, workspace, id string) ([]string, error) {
	op := "file keys " + id
	if err := s.exists(ctx, workspace, id, false); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT storage_key FROM versions WHERE file_id = ? AND workspace = ? AND storage_key <> ''
		UNION SELECT storage_key FROM uploads WHERE file_id = ? AND workspace = ? AND storage_key <> ''
		UNION SELECT storage_key FROM files WHERE id = ? AND workspace = ? AND storage_key <> ''
		UNION SELECT storage_key FROM derivatives WHERE file_id = ? AND workspace = ? AND storage_key <> ''
		ORDER BY 1`), id, workspace, id, workspace, id, workspace, id, workspace)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, s.fail(ctx, op, err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return keys, nil
}

// PurgeFile removes a file's derivatives, versions, tickets, links,
// attachments, attachment history and row, deleted or not, in one
// transaction. An unknown file returns an error matching driver.ErrNotFound.
func (s *Store) PurgeFile(ctx context.Context, workspace, id string) error {
	err := s.inDetachTx(ctx, workspace, id, func(tx *sql.Tx, detach func(history bool) error) error {
		// Lock the row first (its update waits for, or excludes, any other
		// change of the file), and learn whether it was listed.
		var version int
		var deleted int64
		err := tx.QueryRowContext(ctx, s.q(`UPDATE files SET updated_at = updated_at WHERE id = ? AND workspace = ?
			RETURNING version, deleted_at`), id, workspace).Scan(&version, &deleted)
		if err != nil {
			return err
		}
		if listed(version, deleted) {
			if err := s.countListed(ctx, tx, workspace, id, -1); err != nil {
				return err
			}
		}
		if err := detach(true); err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM derivatives WHERE file_id = ? AND workspace = ?`,
			`DELETE FROM versions WHERE file_id = ? AND workspace = ?`,
			`DELETE FROM uploads WHERE file_id = ? AND workspace = ?`,
			`DELETE FROM file_tags WHERE file_id = ? AND workspace = ?`,
			`DELETE FROM file_viewers WHERE file_id = ? AND workspace = ?`,
			`DELETE FROM links WHERE file_id = ? AND workspace = ?`,
		} {
			if _, err := tx.ExecContext(ctx, s.q(q), id, workspace); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM files WHERE id = ? AND workspace = ?`), id, workspace)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	return s.fail(ctx, "purge file "+id, err)
}

// Versions lists an undeleted file's versions, oldest first; a file
// without versions yields an empty list. An unknown or deleted file returns
// an error matching driver.ErrNotFound.
func (s *Store) Versions(ctx context.Context, workspace, fileID string) ([]driver.VersionRecord, error) {
	op := "versions of " + fileID
	if err := s.exists(ctx, workspace, fileID, true); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+versionColumns+` FROM versions
		WHERE file_id = ? AND workspace = ? ORDER BY version`), fileID, workspace)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	vs := []driver.VersionRecord{}
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		vs = append(vs, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return vs, nil
}

// Version returns one version of an undeleted file, or an error matching
// driver.ErrNotFound.
func (s *Store) Version(ctx context.Context, workspace, fileID string, version int) (*driver.VersionRecord, error) {
	row := s.rdb.QueryRowContext(ctx, s.q(`SELECT `+prefixed("v", versionColumns)+`
		FROM versions v JOIN files f ON f.id = v.file_id
		WHERE v.file_id = ? AND v.workspace = ? AND v.version = ? AND f.workspace = v.workspace AND f.deleted_at = 0`),
		fileID, workspace, version)
	v, err := scanVersion(row)
	if err != nil {
		return nil, s.fail(ctx, fmt.Sprintf("version %d of %s", version, fileID), err)
	}
	return v, nil
}

// exists returns sql.ErrNoRows unless the workspace has the file (and,
// when undeleted is set, it is not deleted).
func (s *Store) exists(ctx context.Context, workspace, id string, undeleted bool) error {
	q := `SELECT 1 FROM files WHERE id = ? AND workspace = ?`
	if undeleted {
		q += ` AND deleted_at = 0`
	}
	var one int
	return s.rdb.QueryRowContext(ctx, s.q(q), id, workspace).Scan(&one)
}

// oneRow returns sql.ErrNoRows when res changed no row.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return err
}
