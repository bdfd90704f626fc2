package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/attachkit/attachkit/driver"
)

// UpdateFile changes an undeleted file's client-editable metadata (the
// non-nil fields of u) and sets updated_at to u.At, in one transaction
// that also rewrites the file's tag and viewer rows and, for a listed file
// whose access changed, the viewer counters. An unknown, deleted or
// foreign file, or a u.CollectionID naming no collection of the workspace
// (checked under the lock DeleteCollection takes), returns an error
// matching driver.ErrNotFound; a zero u.At
// or metadata that is not a JSON object driver.ErrInvalidArgument.
func (s *Store) UpdateFile(ctx context.Context, u *driver.FileUpdate) (*driver.FileRecord, error) {
	if u == nil {
		return nil, s.fail(ctx, "update file", invalid("nil update"))
	}
	op := "update file " + u.ID
	sets := []string{`updated_at = ?`}
	args := []any{micros(u.At)}
	add := func(set string, a ...any) {
		sets = append(sets, set)
		args = append(args, a...)
	}
	if u.At.IsZero() {
		return nil, s.fail(ctx, op, invalid("file %s: update time not set", u.ID))
	}
	if u.FileName != nil {
		add(`file_name = ?, name_key = ?`, *u.FileName, nameKey(*u.FileName))
	}
	if u.Title != nil {
		add(`title = ?`, *u.Title)
	}
	if u.CollectionID != nil {
		add(`collection_id = ?`, *u.CollectionID)
	}
	if u.Tags != nil {
		tags := *u.Tags
		if tags == nil {
			tags = []string{}
		}
		b, err := json.Marshal(tags)
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		add(`tags = ?`, string(b))
	}
	if u.Metadata != nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(u.Metadata, &obj) != nil || obj == nil {
			return nil, s.fail(ctx, op, invalid("file %s: metadata is not a JSON object", u.ID))
		}
		add(`metadata = ?`, string(u.Metadata))
	}
	if u.AccessControl != nil {
		add(`access_control = ?`, *u.AccessControl)
	}
	if u.ACL != nil {
		b, err := json.Marshal(u.ACL)
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		add(`acl = ?`, string(b))
	}
	args = append(args, u.ID, u.Workspace)

	var file *driver.FileRecord
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		if u.CollectionID != nil && *u.CollectionID != "" {
			if err := s.lockCollection(ctx, tx, u.Workspace, *u.CollectionID); err != nil {
				return err
			}
		}
		var version int
		err := tx.QueryRowContext(ctx, s.q(`UPDATE files SET `+strings.Join(sets, ", ")+`
			WHERE id = ? AND workspace = ? AND deleted_at = 0 RETURNING version`), args...).Scan(&version)
		if err != nil {
			return err
		}
		file, err = scanFile(tx.QueryRowContext(ctx, s.q(`SELECT `+fileColumns+` FROM files WHERE id = ? AND workspace = ?`),
			u.ID, u.Workspace))
		if err != nil {
			return err
		}
		if u.Tags != nil {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM file_tags WHERE file_id = ?`), u.ID); err != nil {
				return err
			}
			if err := s.insertTags(ctx, tx, u.Workspace, u.ID, file.Tags); err != nil {
				return err
			}
		}
		if u.AccessControl != nil || u.ACL != nil {
			return s.reindexViewers(ctx, tx, file)
		}
		if u.FileName != nil {
			return s.syncViewers(ctx, tx, u.ID)
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return file, nil
}

// reindexViewers replaces a file's viewer rows by those its access now
// gives, moving its counts from the old principals to the new ones when it
// is listed.
func (s *Store) reindexViewers(ctx context.Context, tx *sql.Tx, f *driver.FileRecord) error {
	isListed := listed(f.Version, micros(f.DeletedAt))
	if isListed {
		if err := s.countListed(ctx, tx, f.Workspace, f.ID, -1); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM file_viewers WHERE file_id = ?`), f.ID); err != nil {
		return err
	}
	ps := principals(f.Owner, f.AccessControl, f.ACL)
	if err := s.insertViewers(ctx, tx, f, ps); err != nil {
		return err
	}
	if isListed {
		return s.addCounts(ctx, tx, f.Workspace, f.ID, ps, 1)
	}
	return nil
}

// CopyVersion makes version c.From of an undeleted file its new current
// version c.BaseVersion+1, in one transaction: the version row is copied
// (same content and storage key, CreatedAt c.At, CreatedBy c.CreatedBy,
// Status c.Status), the file takes its content and c.Status and c.Jobs
// are stored, only if the file is still at c.BaseVersion; otherwise
// nothing changes and the error matches
// driver.ErrPrecondition. An unknown, deleted or foreign file or an unknown
// version returns driver.ErrNotFound; a status other than ready or
// processing, or a zero c.At, driver.ErrInvalidArgument.
func (s *Store) CopyVersion(ctx context.Context, c *driver.VersionCopy) (*driver.FileRecord, error) {
	if c == nil {
		return nil, s.fail(ctx, "copy version", invalid("nil version copy"))
	}
	op := fmt.Sprintf("copy version %d of %s", c.From, c.FileID)
	switch {
	case c.Status != driver.StatusReady && c.Status != driver.StatusProcessing:
		return nil, s.fail(ctx, op, invalid("copy status %q is not ready or processing", c.Status))
	case c.At.IsZero():
		return nil, s.fail(ctx, op, invalid("copy time not set"))
	}
	var file *driver.FileRecord
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		v, err := scanVersion(tx.QueryRowContext(ctx, s.q(`SELECT `+prefixed("v", versionColumns)+`
			FROM versions v JOIN files f ON f.id = v.file_id
			WHERE v.file_id = ? AND v.workspace = ? AND v.version = ? AND f.workspace = v.workspace AND f.deleted_at = 0`),
			c.FileID, c.Workspace, c.From))
		if err != nil {
			return err
		}
		v.Version, v.CreatedAt, v.CreatedBy, v.Status = c.BaseVersion+1, c.At, c.CreatedBy, c.Status
		res, err := tx.ExecContext(ctx, s.q(`UPDATE files SET file_name = ?, name_key = ?, mime_type = ?, kind = ?, size = ?,
			digest = ?, width = ?, height = ?, storage_key = ?, version = ?, status = ?, status_code = '', status_reason = '',
			source = ?, updated_at = ?
			WHERE id = ? AND workspace = ? AND deleted_at = 0 AND version = ?`),
			v.FileName, nameKey(v.FileName), v.MIMEType, v.Kind, v.Size, v.Digest, v.Width, v.Height, v.StorageKey, v.Version,
			string(c.Status), v.Source, micros(c.At), c.FileID, c.Workspace, c.BaseVersion)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("file %s is deleted or no longer at version %d: %w", c.FileID, c.BaseVersion, driver.ErrPrecondition)
		}
		if _, err := tx.ExecContext(ctx, s.q(insertSQL("versions", versionColumns)), versionArgs(v)...); err != nil {
			return err
		}
		if err := s.syncViewers(ctx, tx, c.FileID); err != nil {
			return err
		}
		if err := s.insertJobs(ctx, tx, c.Jobs, c.At); err != nil {
			return err
		}
		file, err = scanFile(tx.QueryRowContext(ctx, s.q(`SELECT `+fileColumns+` FROM files WHERE id = ? AND workspace = ?`),
			c.FileID, c.Workspace))
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return file, nil
}
