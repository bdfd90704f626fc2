package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// Attachments (migration 0003). A change of one record field takes that
// field's lock (lockOrganize), then locks the rows of the files it attaches (in id
// order) with a no-op update that also checks they are undeleted; a file
// deletion takes the locks of the fields holding the file (sorted), locks
// the file row and then removes its attachments, so an attachment of a
// deleted file can never be written and no field is renumbered by two
// writers at once.

const attachmentColumns = "workspace, record_type, record_id, field, file_id, position, created_by, created_at"

// maxRecordAttachments bounds RecordAttachments.
const maxRecordAttachments = 100000

func scanAttachment(sc scanner) (*driver.AttachmentRecord, error) {
	var (
		a       driver.AttachmentRecord
		created int64
	)
	if err := sc.Scan(&a.Workspace, &a.RecordType, &a.RecordID, &a.Field, &a.FileID, &a.Position, &a.CreatedBy, &created); err != nil {
		return nil, err
	}
	a.CreatedAt = fromMicros(created)
	return &a, nil
}

func fieldLock(recordType, recordID, field string) string {
	return "field\x1f" + recordType + "\x1f" + recordID + "\x1f" + field
}

func checkRecordRef(recordType, recordID, field string) error {
	if recordType == "" || recordID == "" || field == "" {
		return invalid("attachment without a record type, record id or field")
	}
	return nil
}

// lockAttachable locks an undeleted file's row until tx ends, or returns
// sql.ErrNoRows (wrapped with the id) when the workspace has no such file.
func (s *Store) lockAttachable(ctx context.Context, tx *sql.Tx, workspace, id string) error {
	res, err := tx.ExecContext(ctx, s.q(`UPDATE files SET updated_at = updated_at WHERE id = ? AND workspace = ? AND deleted_at = 0`),
		id, workspace)
	if err != nil {
		return err
	}
	if err := oneRow(res); err != nil {
		return fmt.Errorf("file %s: %w", id, driver.ErrNotFound)
	}
	return nil
}

// attachmentRows returns a field's attachments in order.
func (s *Store) attachmentRows(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, workspace, recordType, recordID, field string) ([]driver.AttachmentRecord, error) {
	rows, err := q.QueryContext(ctx, s.q(`SELECT `+attachmentColumns+` FROM attachments
		WHERE workspace = ? AND record_type = ? AND record_id = ? AND field = ? ORDER BY position, file_id`),
		workspace, recordType, recordID, field)
	return scanRows(rows, err, scanAttachment)
}

// rememberAttachment records that a file was attached to a record.
func (s *Store) rememberAttachment(ctx context.Context, tx *sql.Tx, workspace, fileID, recordType, recordID string) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO attachment_history (workspace, file_id, record_type, record_id)
		VALUES (?, ?, ?, ?) ON CONFLICT (file_id, record_type, record_id) DO NOTHING`), workspace, fileID, recordType, recordID)
	return err
}

// attachmentOrphan reports whether a file is attached nowhere and was never
// attached to a record other than (recordType, recordID).
func (s *Store) attachmentOrphan(ctx context.Context, tx *sql.Tx, fileID, recordType, recordID string) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, s.q(`SELECT
		(SELECT COUNT(*) FROM attachments WHERE file_id = ?) +
		(SELECT COUNT(*) FROM attachment_history WHERE file_id = ? AND NOT (record_type = ? AND record_id = ?))`),
		fileID, fileID, recordType, recordID).Scan(&n)
	return n == 0, err
}

// SetAttachments replaces one record field's files; see
// driver.OrganizeStore.
func (s *Store) SetAttachments(ctx context.Context, set *driver.AttachmentSet) (*driver.AttachmentChange, error) {
	if set == nil {
		return nil, s.fail(ctx, "set attachments", invalid("nil attachment set"))
	}
	op := fmt.Sprintf("set attachments of %s/%s/%s", set.RecordType, set.RecordID, set.Field)
	if err := checkRecordRef(set.RecordType, set.RecordID, set.Field); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	if len(set.FileIDs) > driver.MaxAttachments {
		return nil, s.fail(ctx, op, invalid("%d files; a field holds at most %d", len(set.FileIDs), driver.MaxAttachments))
	}
	if set.At.IsZero() {
		return nil, s.fail(ctx, op, invalid("attachment time not set"))
	}
	want := make(map[string]int, len(set.FileIDs))
	for i, id := range set.FileIDs {
		if _, dup := want[id]; dup {
			return nil, s.fail(ctx, op, invalid("file %s is listed twice", id))
		}
		want[id] = i
	}
	change := &driver.AttachmentChange{}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockOrganize(ctx, tx, set.Workspace, fieldLock(set.RecordType, set.RecordID, set.Field)); err != nil {
			return err
		}
		sorted := slices.Sorted(func(yield func(string) bool) {
			for id := range want {
				if !yield(id) {
					return
				}
			}
		})
		for _, id := range sorted {
			if err := s.lockAttachable(ctx, tx, set.Workspace, id); err != nil {
				return err
			}
		}
		cur, err := s.attachmentRows(ctx, tx, set.Workspace, set.RecordType, set.RecordID, set.Field)
		if err != nil {
			return err
		}
		have := make(map[string]int, len(cur))
		var removed []string
		for _, a := range cur {
			have[a.FileID] = a.Position
			pos, keep := want[a.FileID]
			switch {
			case !keep:
				removed = append(removed, a.FileID)
				_, err = tx.ExecContext(ctx, s.q(`DELETE FROM attachments WHERE workspace = ? AND record_type = ? AND record_id = ?
					AND field = ? AND file_id = ?`), set.Workspace, set.RecordType, set.RecordID, set.Field, a.FileID)
			case pos != a.Position:
				_, err = tx.ExecContext(ctx, s.q(`UPDATE attachments SET position = ? WHERE workspace = ? AND record_type = ?
					AND record_id = ? AND field = ? AND file_id = ?`), pos, set.Workspace, set.RecordType, set.RecordID, set.Field, a.FileID)
			}
			if err != nil {
				return err
			}
		}
		for i, id := range set.FileIDs {
			if _, ok := have[id]; ok {
				continue
			}
			if _, err := tx.ExecContext(ctx, s.q(insertSQL("attachments", attachmentColumns)), set.Workspace, set.RecordType,
				set.RecordID, set.Field, id, i, set.CreatedBy, micros(set.At)); err != nil {
				return err
			}
			if err := s.rememberAttachment(ctx, tx, set.Workspace, id, set.RecordType, set.RecordID); err != nil {
				return err
			}
		}
		for _, id := range removed {
			orphan, err := s.attachmentOrphan(ctx, tx, id, set.RecordType, set.RecordID)
			if err != nil {
				return err
			}
			if orphan {
				change.Orphans = append(change.Orphans, id)
			}
		}
		change.Attachments, err = s.attachmentRows(ctx, tx, set.Workspace, set.RecordType, set.RecordID, set.Field)
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return change, nil
}

// AddAttachment adds or moves one file in a record field; see
// driver.OrganizeStore.
func (s *Store) AddAttachment(ctx context.Context, a *driver.AttachmentRecord) (*driver.AttachmentRecord, bool, error) {
	if a == nil {
		return nil, false, s.fail(ctx, "add attachment", invalid("nil attachment"))
	}
	op := fmt.Sprintf("add %s to %s/%s/%s", a.FileID, a.RecordType, a.RecordID, a.Field)
	if err := checkRecordRef(a.RecordType, a.RecordID, a.Field); err != nil {
		return nil, false, s.fail(ctx, op, err)
	}
	if a.CreatedAt.IsZero() {
		return nil, false, s.fail(ctx, op, invalid("attachment time not set"))
	}
	var (
		out     *driver.AttachmentRecord
		created bool
	)
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockOrganize(ctx, tx, a.Workspace, fieldLock(a.RecordType, a.RecordID, a.Field)); err != nil {
			return err
		}
		if err := s.lockAttachable(ctx, tx, a.Workspace, a.FileID); err != nil {
			return err
		}
		cur, err := s.attachmentRows(ctx, tx, a.Workspace, a.RecordType, a.RecordID, a.Field)
		if err != nil {
			return err
		}
		at := slices.IndexFunc(cur, func(r driver.AttachmentRecord) bool { return r.FileID == a.FileID })
		if at < 0 && len(cur) >= driver.MaxAttachments {
			return invalid("the field already holds %d files", driver.MaxAttachments)
		}
		shift := func(from int, delta int) error {
			_, err := tx.ExecContext(ctx, s.q(`UPDATE attachments SET position = position + ? WHERE workspace = ? AND record_type = ?
				AND record_id = ? AND field = ? AND position >= ?`), delta, a.Workspace, a.RecordType, a.RecordID, a.Field, from)
			return err
		}
		switch {
		case at >= 0 && (a.Position < 0 || a.Position == at):
			// Already there; nothing moves.
		case at >= 0:
			pos := min(a.Position, len(cur)-1)
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM attachments WHERE workspace = ? AND record_type = ? AND record_id = ?
				AND field = ? AND file_id = ?`), a.Workspace, a.RecordType, a.RecordID, a.Field, a.FileID); err != nil {
				return err
			}
			if err := shift(at+1, -1); err != nil {
				return err
			}
			if err := shift(pos, 1); err != nil {
				return err
			}
			old := cur[at]
			if _, err := tx.ExecContext(ctx, s.q(insertSQL("attachments", attachmentColumns)), a.Workspace, a.RecordType,
				a.RecordID, a.Field, a.FileID, pos, old.CreatedBy, micros(old.CreatedAt)); err != nil {
				return err
			}
		default:
			pos := a.Position
			if pos < 0 || pos > len(cur) {
				pos = len(cur)
			}
			if err := shift(pos, 1); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(insertSQL("attachments", attachmentColumns)), a.Workspace, a.RecordType,
				a.RecordID, a.Field, a.FileID, pos, a.CreatedBy, micros(a.CreatedAt)); err != nil {
				return err
			}
			if err := s.rememberAttachment(ctx, tx, a.Workspace, a.FileID, a.RecordType, a.RecordID); err != nil {
				return err
			}
			created = true
		}
		out, err = scanAttachment(tx.QueryRowContext(ctx, s.q(`SELECT `+attachmentColumns+` FROM attachments
			WHERE workspace = ? AND record_type = ? AND record_id = ? AND field = ? AND file_id = ?`),
			a.Workspace, a.RecordType, a.RecordID, a.Field, a.FileID))
		return err
	})
	if err != nil {
		return nil, false, s.fail(ctx, op, err)
	}
	return out, created, nil
}

// RemoveAttachment removes one file from a record field; see
// driver.OrganizeStore.
func (s *Store) RemoveAttachment(ctx context.Context, workspace, recordType, recordID, field, fileID string) (bool, error) {
	op := fmt.Sprintf("remove %s from %s/%s/%s", fileID, recordType, recordID, field)
	if err := checkRecordRef(recordType, recordID, field); err != nil {
		return false, s.fail(ctx, op, err)
	}
	var orphan bool
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockOrganize(ctx, tx, workspace, fieldLock(recordType, recordID, field)); err != nil {
			return err
		}
		var pos int
		err := tx.QueryRowContext(ctx, s.q(`DELETE FROM attachments WHERE workspace = ? AND record_type = ? AND record_id = ?
			AND field = ? AND file_id = ? RETURNING position`), workspace, recordType, recordID, field, fileID).Scan(&pos)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE attachments SET position = position - 1 WHERE workspace = ? AND record_type = ?
			AND record_id = ? AND field = ? AND position > ?`), workspace, recordType, recordID, field, pos); err != nil {
			return err
		}
		orphan, err = s.attachmentOrphan(ctx, tx, fileID, recordType, recordID)
		return err
	})
	if err != nil {
		return false, s.fail(ctx, op, err)
	}
	return orphan, nil
}

// RecordAttachments lists a record's attachments by field and position.
func (s *Store) RecordAttachments(ctx context.Context, workspace, recordType, recordID string, limit int) ([]driver.AttachmentRecord, error) {
	op := fmt.Sprintf("attachments of %s/%s", recordType, recordID)
	if limit < 1 || limit > maxRecordAttachments {
		return nil, s.fail(ctx, op, invalid("limit %d is not in 1..%d", limit, maxRecordAttachments))
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+attachmentColumns+` FROM attachments
		WHERE workspace = ? AND record_type = ? AND record_id = ? ORDER BY field, position, file_id LIMIT ?`),
		workspace, recordType, recordID, limit)
	return s.attachmentList(ctx, op, rows, err)
}

// FileAttachments lists where an undeleted file is attached.
func (s *Store) FileAttachments(ctx context.Context, workspace, fileID string, limit int) ([]driver.AttachmentRecord, error) {
	op := "attachments of file " + fileID
	if limit < 1 || limit > maxCollectionList {
		return nil, s.fail(ctx, op, invalid("limit %d is not in 1..%d", limit, maxCollectionList))
	}
	if err := s.exists(ctx, workspace, fileID, true); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+attachmentColumns+` FROM attachments
		WHERE file_id = ? AND workspace = ? ORDER BY record_type, record_id, field LIMIT ?`), fileID, workspace, limit)
	return s.attachmentList(ctx, op, rows, err)
}

func (s *Store) attachmentList(ctx context.Context, op string, rows *sql.Rows, err error) ([]driver.AttachmentRecord, error) {
	out, err := scanRows(rows, err, scanAttachment)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// FilesByID returns the undeleted files of the workspace among ids; see
// driver.OrganizeStore.
func (s *Store) FilesByID(ctx context.Context, workspace string, ids []string) ([]driver.FileRecord, error) {
	const op = "files by id"
	if len(ids) > driver.MaxAttachments {
		return nil, s.fail(ctx, op, invalid("%d ids; at most %d", len(ids), driver.MaxAttachments))
	}
	out := []driver.FileRecord{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, workspace)
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+fileColumns+` FROM files WHERE workspace = ? AND deleted_at = 0
		AND id IN (?`+strings.Repeat(", ?", len(ids)-1)+`) ORDER BY id`), args...)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		out = append(out, *f)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// MarkOrphanDeleted marks a file deleted when it is an orphan of a record;
// see driver.OrganizeStore.
func (s *Store) MarkOrphanDeleted(ctx context.Context, workspace, id, recordType, recordID string, at time.Time) (bool, error) {
	op := "mark orphan deleted " + id
	if at.IsZero() {
		return false, s.fail(ctx, op, invalid("file %s: deletion time not set", id))
	}
	deleted := false
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		// The row lock excludes attaching the file until the end.
		if err := s.lockAttachable(ctx, tx, workspace, id); err != nil {
			return err
		}
		orphan, err := s.attachmentOrphan(ctx, tx, id, recordType, recordID)
		if err != nil || !orphan {
			return err
		}
		// Attached nowhere: there is nothing to detach.
		var version int
		err = tx.QueryRowContext(ctx, s.q(`UPDATE files SET deleted_at = ? WHERE id = ? AND workspace = ? AND deleted_at = 0
			RETURNING version`), micros(at), id, workspace).Scan(&version)
		if err != nil {
			return err
		}
		deleted = true
		if version == 0 {
			return nil
		}
		if err := s.countListed(ctx, tx, workspace, id, -1); err != nil {
			return err
		}
		return s.syncViewers(ctx, tx, id)
	})
	if err != nil {
		return false, s.fail(ctx, op, err)
	}
	return deleted, nil
}

// errFieldsMoved aborts a deletion's transaction that found the file in a
// field it had not locked: inDetachTx retries it.
var errFieldsMoved = errors.New("the file was attached to another field meanwhile")

// inDetachTx runs a file deletion's transaction, fn, which must lock the
// file's row first and then call detach once. Before fn it takes the
// organize locks of the fields that hold the file, in sorted order (the
// order of the fields' writers: field, then file), so closing the gaps in
// those fields cannot race with their writers; when the file was attached
// to another field before its row was locked, the transaction is retried.
func (s *Store) inDetachTx(ctx context.Context, workspace, id string, fn func(tx *sql.Tx, detach func(history bool) error) error) error {
	for try := 0; ; try++ {
		err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
			locked, err := s.lockFileFields(ctx, tx, workspace, id)
			if err != nil {
				return err
			}
			return fn(tx, func(history bool) error { return s.detachFile(ctx, tx, workspace, id, history, locked) })
		})
		if !errors.Is(err, errFieldsMoved) || try >= 100 {
			return err
		}
	}
}

// lockFileFields takes the locks of the fields holding a file, in sorted
// order, and returns their names.
func (s *Store) lockFileFields(ctx context.Context, tx *sql.Tx, workspace, id string) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT DISTINCT record_type, record_id, field FROM attachments
		WHERE file_id = ? AND workspace = ?`), id, workspace)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var rt, rid, f string
		if err := rows.Scan(&rt, &rid, &f); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, fieldLock(rt, rid, f))
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	slices.Sort(names)
	locked := make(map[string]bool, len(names))
	for _, n := range names {
		if err := s.lockOrganize(ctx, tx, workspace, n); err != nil {
			return nil, err
		}
		locked[n] = true
	}
	return locked, nil
}

// detachFile removes a file's attachments, closing the gaps they leave in
// their fields, inside a deletion's transaction (inDetachTx, which has
// locked the fields in locked and then the file's row). A field not in
// locked returns errFieldsMoved. With history set it forgets where the
// file was ever attached too (a purge).
func (s *Store) detachFile(ctx context.Context, tx *sql.Tx, workspace, id string, history bool, locked map[string]bool) error {
	rows, err := tx.QueryContext(ctx, s.q(`DELETE FROM attachments WHERE file_id = ? AND workspace = ?
		RETURNING record_type, record_id, field, position`), id, workspace)
	if err != nil {
		return err
	}
	type gap struct {
		recordType, recordID, field string
		position                    int
	}
	var gaps []gap
	for rows.Next() {
		var g gap
		if err := rows.Scan(&g.recordType, &g.recordID, &g.field, &g.position); err != nil {
			rows.Close()
			return err
		}
		gaps = append(gaps, g)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, g := range gaps {
		if !locked[fieldLock(g.recordType, g.recordID, g.field)] {
			return errFieldsMoved
		}
	}
	for _, g := range gaps {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE attachments SET position = position - 1 WHERE workspace = ? AND record_type = ?
			AND record_id = ? AND field = ? AND position > ?`), workspace, g.recordType, g.recordID, g.field, g.position); err != nil {
			return err
		}
	}
	if history {
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM attachment_history WHERE file_id = ? AND workspace = ?`), id, workspace)
	}
	return err
}
