package meta

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/attachkit/attachkit/driver"
)

const linkColumns = "workspace, id, file_id, token_hash, sealed, created_by, created_at, expires_at, last_accessed_at"

func scanLink(sc scanner) (*driver.LinkRecord, error) {
	var (
		l                        driver.LinkRecord
		created, expires, access int64
	)
	if err := sc.Scan(&l.Workspace, &l.ID, &l.FileID, &l.TokenHash, &l.Sealed, &l.CreatedBy,
		&created, &expires, &access); err != nil {
		return nil, err
	}
	l.CreatedAt, l.ExpiresAt, l.LastAccessedAt = fromMicros(created), fromMicros(expires), fromMicros(access)
	return &l, nil
}

// joined scans a row holding columns before those the wrapped scan reads.
type joined struct {
	row    scanner
	before []any
}

func (j joined) Scan(dest ...any) error { return j.row.Scan(append(j.before, dest...)...) }

// CreateLink stores a new link of an undeleted file of the link's
// workspace, within maxLive live links; see driver.ShareStore. The file's
// row is locked first (PostgreSQL: FOR UPDATE; SQLite's write
// transaction excludes other writers), so concurrent creates count one
// after the other.
func (s *Store) CreateLink(ctx context.Context, l *driver.LinkRecord, maxLive int) error {
	const op = "create link"
	if l == nil || l.Workspace == "" || l.ID == "" || l.FileID == "" || l.TokenHash == "" || l.CreatedAt.IsZero() {
		return s.fail(ctx, op, invalid("a link needs a workspace, an id, a file, a token hash and a creation time"))
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM files WHERE id = ? AND workspace = ? AND deleted_at = 0`+s.forUpdate()),
			l.FileID, l.Workspace).Scan(&one)
		if err != nil {
			return err
		}
		if maxLive > 0 {
			var live int
			err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM links WHERE workspace = ? AND file_id = ?
				AND (expires_at = 0 OR expires_at > ?)`), l.Workspace, l.FileID, micros(l.CreatedAt)).Scan(&live)
			if err != nil {
				return err
			}
			if live >= maxLive {
				return fmt.Errorf("the file has %d live links: %w", live, driver.ErrPrecondition)
			}
		}
		_, err = tx.ExecContext(ctx, s.q(insertSQL("links", linkColumns)), l.Workspace, l.ID, l.FileID, l.TokenHash,
			l.Sealed, l.CreatedBy, micros(l.CreatedAt), micros(l.ExpiresAt), micros(l.LastAccessedAt))
		return err
	})
	return s.fail(ctx, op, err)
}

// forUpdate is the row-locking clause of a select whose row the
// transaction goes on to depend on: PostgreSQL locks it; SQLite's
// immediate write transaction already serialises writers.
func (s *Store) forUpdate() string {
	if s.d.Name() == "postgres" {
		return " FOR UPDATE"
	}
	return ""
}

// Links lists an undeleted file's links, oldest first.
func (s *Store) Links(ctx context.Context, workspace, fileID string) ([]driver.LinkRecord, error) {
	op := "links of " + fileID
	if err := s.exists(ctx, workspace, fileID, true); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+linkColumns+` FROM links
		WHERE workspace = ? AND file_id = ? ORDER BY created_at, id`), workspace, fileID)
	out, err := scanRows(rows, err, scanLink)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// Link returns a link of the workspace whose file is not deleted.
func (s *Store) Link(ctx context.Context, workspace, id string) (*driver.LinkRecord, error) {
	row := s.rdb.QueryRowContext(ctx, s.q(`SELECT `+prefixed("l", linkColumns)+` FROM links l
		JOIN files f ON f.id = l.file_id AND f.workspace = l.workspace
		WHERE l.id = ? AND l.workspace = ? AND f.deleted_at = 0`), id, workspace)
	l, err := scanLink(row)
	if err != nil {
		return nil, s.fail(ctx, "link "+id, err)
	}
	return l, nil
}

// LinkByToken finds a link by its token hash, with its undeleted file, in
// one query on the unique token index.
func (s *Store) LinkByToken(ctx context.Context, tokenHash string) (*driver.LinkRecord, *driver.FileRecord, error) {
	row := s.rdb.QueryRowContext(ctx, s.q(`SELECT `+prefixed("l", linkColumns)+`, `+prefixed("f", fileColumns)+` FROM links l
		JOIN files f ON f.id = l.file_id AND f.workspace = l.workspace
		WHERE l.token_hash = ? AND f.deleted_at = 0`), tokenHash)
	var (
		l                        driver.LinkRecord
		created, expires, access int64
	)
	f, err := scanFile(joined{row: row, before: []any{&l.Workspace, &l.ID, &l.FileID, &l.TokenHash, &l.Sealed,
		&l.CreatedBy, &created, &expires, &access}})
	if err != nil {
		return nil, nil, s.fail(ctx, "link by token", err)
	}
	l.CreatedAt, l.ExpiresAt, l.LastAccessedAt = fromMicros(created), fromMicros(expires), fromMicros(access)
	return &l, f, nil
}

// DeleteLink removes a link of the workspace.
func (s *Store) DeleteLink(ctx context.Context, workspace, id string) error {
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM links WHERE id = ? AND workspace = ?`), id, workspace)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	return s.fail(ctx, "delete link "+id, err)
}

// DeleteFileLinks removes every link of a file, deleted or not.
func (s *Store) DeleteFileLinks(ctx context.Context, workspace, fileID string) error {
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`DELETE FROM links WHERE workspace = ? AND file_id = ?`), workspace, fileID)
		return err
	})
	return s.fail(ctx, "delete links of "+fileID, err)
}

// TouchLink records an access when the last recorded one is before
// staleBefore.
func (s *Store) TouchLink(ctx context.Context, workspace, id string, at, staleBefore time.Time) (bool, error) {
	op := "touch link " + id
	changed := false
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE links SET last_accessed_at = ?
			WHERE id = ? AND workspace = ? AND last_accessed_at < ?`), micros(at), id, workspace, micros(staleBefore))
		if err != nil {
			return err
		}
		if err := oneRow(res); err == nil {
			changed = true
			return nil
		}
		var one int
		return tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM links WHERE id = ? AND workspace = ?`), id, workspace).Scan(&one)
	})
	if err != nil {
		return false, s.fail(ctx, op, err)
	}
	return changed, nil
}

// PublicFile returns an undeleted public-read file by id, in any
// workspace.
func (s *Store) PublicFile(ctx context.Context, id string) (*driver.FileRecord, error) {
	row := s.rdb.QueryRowContext(ctx, s.q(`SELECT `+fileColumns+` FROM files
		WHERE id = ? AND deleted_at = 0 AND access_control = ?`), id, driver.AccessPublicRead)
	f, err := scanFile(row)
	if err != nil {
		return nil, s.fail(ctx, "public file "+id, err)
	}
	return f, nil
}
