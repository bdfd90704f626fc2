package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/attachkit/attachkit/driver"
)

// backfillDocuments is the Go half of migration 0002: it fills name_key,
// file_tags, file_viewers and file_counts for the files that existed before
// it, which needs the tags and access lists decoded from JSON. The
// migration leaves a marker row; the transaction that deletes it does the
// work, so concurrent openers backfill exactly once, and later opens cost
// one small query.
func (s *Store) backfillDocuments(ctx context.Context) error {
	const marker = "0002_documents"
	var pending int
	if err := s.wdb.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM meta_backfills WHERE name = ?`), marker).Scan(&pending); err != nil {
		return err
	}
	if pending == 0 {
		return nil
	}
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM meta_backfills WHERE name = ?`), marker)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // another opener did it
		}
		after := ""
		for {
			batch, err := s.backfillBatch(ctx, tx, after)
			if err != nil || len(batch) == 0 {
				return err
			}
			for i := range batch {
				f := &batch[i]
				if _, err := tx.ExecContext(ctx, s.q(`UPDATE files SET name_key = ? WHERE id = ?`), nameKey(f.FileName), f.ID); err != nil {
					return err
				}
				if err := s.indexNewFile(ctx, tx, f); err != nil {
					return err
				}
			}
			after = batch[len(batch)-1].ID
		}
	})
	if err != nil {
		return fmt.Errorf("backfill %s: %w", marker, err)
	}
	s.log.InfoContext(ctx, "meta: backfilled document indexes", "dialect", s.d.Name(), "marker", marker)
	return nil
}

// backfillBatch reads the next files by id, fully, before any write (a
// PostgreSQL connection cannot write while a result set is open).
func (s *Store) backfillBatch(ctx context.Context, tx *sql.Tx, after string) ([]driver.FileRecord, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT workspace, id, file_name, version, created_at, expires_at, deleted_at,
		owner, tags, access_control, acl FROM files WHERE id > ? ORDER BY id LIMIT 500`), after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []driver.FileRecord
	for rows.Next() {
		var (
			f                         driver.FileRecord
			created, expires, deleted int64
			tags, acl                 string
		)
		if err := rows.Scan(&f.Workspace, &f.ID, &f.FileName, &f.Version, &created, &expires, &deleted,
			&f.Owner, &tags, &f.AccessControl, &acl); err != nil {
			return nil, err
		}
		f.CreatedAt, f.ExpiresAt, f.DeletedAt = fromMicros(created), fromMicros(expires), fromMicros(deleted)
		if tags != "" {
			if err := json.Unmarshal([]byte(tags), &f.Tags); err != nil {
				return nil, fmt.Errorf("file %s: tags: %w", f.ID, err)
			}
		}
		if acl != "" {
			if err := json.Unmarshal([]byte(acl), &f.ACL); err != nil {
				return nil, fmt.Errorf("file %s: acl: %w", f.ID, err)
			}
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
