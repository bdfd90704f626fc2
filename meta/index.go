package meta

import (
	"context"
	"database/sql"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/attachkit/attachkit/driver"
)

// The side tables of migration 0002 (file_tags, file_viewers, file_counts)
// mirror what the files row records as JSON, so listings can filter by tag
// and viewer through indexes and read totals without counting. Every
// change of a file's tags, access or listed state goes through the
// functions below, inside the transaction that changes the row.

// nameKey folds a file name for case-insensitive order and search.
func nameKey(name string) string { return strings.ToLower(name) }

// countSlots spreads a workspace's counters over rows, so that concurrent
// writers (PostgreSQL) rarely wait on the same one.
const countSlots = 16

func slotOf(fileID string) int {
	h := fnv.New32a()
	h.Write([]byte(fileID))
	return int(h.Sum32() % countSlots)
}

// Viewer principals.
const principalWorkspace = "workspace"

func userPrincipal(user string) string { return "user:" + user }

// principals returns a file's canonical viewers: "workspace" alone when
// every member may view it, else its owner and the users of its view list,
// each once.
func principals(owner, access string, acl driver.ACL) []string {
	if access == driver.AccessPublicRead || slices.Contains(acl.View, principalWorkspace) {
		return []string{principalWorkspace}
	}
	var ps []string
	if owner != "" {
		ps = append(ps, userPrincipal(owner))
	}
	for _, p := range acl.View {
		if p != "" && !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// listed reports whether a row in this state appears in listings (expiry
// aside, which totals subtract at read time).
func listed(version int, deletedAt int64) bool { return version > 0 && deletedAt == 0 }

// insertTags stores a file's tags, each once.
func (s *Store) insertTags(ctx context.Context, tx *sql.Tx, workspace, id string, tags []string) error {
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if seen[t] {
			continue
		}
		seen[t] = true
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO file_tags (workspace, file_id, tag) VALUES (?, ?, ?)`),
			workspace, id, t); err != nil {
			return err
		}
	}
	return nil
}

// insertViewers stores a file's canonical viewers with its sort keys,
// expiry and listed state.
func (s *Store) insertViewers(ctx context.Context, tx *sql.Tx, f *driver.FileRecord, ps []string) error {
	isListed := boolInt(listed(f.Version, micros(f.DeletedAt)))
	for _, p := range ps {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO file_viewers (workspace, file_id, principal, created_at, name_key,
			expires_at, listed) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			f.Workspace, f.ID, p, micros(f.CreatedAt), nameKey(f.FileName), micros(f.ExpiresAt), isListed); err != nil {
			return err
		}
	}
	return nil
}

// syncViewers copies a file's sort keys, expiry and listed state to its
// viewer rows, after a change of any of them.
func (s *Store) syncViewers(ctx context.Context, tx *sql.Tx, fileID string) error {
	var (
		name                      string
		created, expires, deleted int64
		version                   int
	)
	err := tx.QueryRowContext(ctx, s.q(`SELECT name_key, created_at, expires_at, deleted_at, version FROM files WHERE id = ?`),
		fileID).Scan(&name, &created, &expires, &deleted, &version)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.q(`UPDATE file_viewers SET name_key = ?, created_at = ?, expires_at = ?, listed = ?
		WHERE file_id = ?`), name, created, expires, boolInt(listed(version, deleted)), fileID)
	return err
}

// viewersOf returns a file's stored viewers.
func (s *Store) viewersOf(ctx context.Context, tx *sql.Tx, id string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT principal FROM file_viewers WHERE file_id = ? ORDER BY principal`), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// addCounts adds delta to the workspace's listed-file counter and to those
// of the principals ps.
func (s *Store) addCounts(ctx context.Context, tx *sql.Tx, workspace, fileID string, ps []string, delta int) error {
	slot := slotOf(fileID)
	for _, p := range append([]string{""}, ps...) {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO file_counts (workspace, principal, slot, n) VALUES (?, ?, ?, ?)
			ON CONFLICT (workspace, principal, slot) DO UPDATE SET n = file_counts.n + excluded.n`),
			workspace, p, slot, delta); err != nil {
			return err
		}
	}
	return nil
}

// countListed adds delta to the counters of a file whose listed state
// changed, reading its viewers.
func (s *Store) countListed(ctx context.Context, tx *sql.Tx, workspace, fileID string, delta int) error {
	ps, err := s.viewersOf(ctx, tx, fileID)
	if err != nil {
		return err
	}
	return s.addCounts(ctx, tx, workspace, fileID, ps, delta)
}

// indexNewFile writes the side rows of a file just inserted.
func (s *Store) indexNewFile(ctx context.Context, tx *sql.Tx, f *driver.FileRecord) error {
	if err := s.insertTags(ctx, tx, f.Workspace, f.ID, f.Tags); err != nil {
		return err
	}
	ps := principals(f.Owner, f.AccessControl, f.ACL)
	if err := s.insertViewers(ctx, tx, f, ps); err != nil {
		return err
	}
	if listed(f.Version, micros(f.DeletedAt)) {
		return s.addCounts(ctx, tx, f.Workspace, f.ID, ps, 1)
	}
	return nil
}
