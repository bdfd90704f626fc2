package meta

import (
	"context"
	"strings"

	"github.com/attachkit/attachkit/driver"
)

// maxListLimit bounds a page.
const maxListLimit = 1000

// ListFiles returns a page of a workspace's listed files and their total;
// see driver.ListQuery.
//
// Pages are keyset pages over partial indexes of listed files (workspace,
// created_at, id), (workspace, name_key, id) and their collection
// variants, so a page costs the same at any depth and in any workspace
// size. A user's unfiltered page merges two keyset range scans of
// file_viewers (the files every member sees, and the user's own), so it
// does not depend on the share of the workspace the user sees. Tag and,
// in a filtered listing, viewer conditions probe the file_tags and
// file_viewers primary keys row by row; a kind or name filter is checked
// on the rows the index yields, so their pages cost more when few rows
// match. The total of an unfiltered listing (for a workspace
// administrator or for one viewer) is read from file_counts, minus the
// workspace's expired temporary files; a filtered total is counted, at a
// cost that grows with the workspace's listed files.
func (s *Store) ListFiles(ctx context.Context, q *driver.ListQuery) (*driver.ListPage, error) {
	const op = "list files"
	if err := checkList(q); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	var (
		query string
		args  []any
	)
	if q.Viewer != "" && !filtered(q) {
		query, args = viewerPage(q)
	} else {
		var where string
		where, args = listWhere(q)
		query = `SELECT ` + prefixed("f", fileColumns) + ` FROM files f WHERE ` + where
		if q.After != nil {
			key, keyArgs := keysetAfter(q, "f.id")
			query += ` AND ` + key
			args = append(args, keyArgs...)
		}
		query += ` ORDER BY ` + listOrder(q.Sort) + ` LIMIT ?`
		args = append(args, q.Limit)
	}

	rows, err := s.rdb.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	defer rows.Close()
	page := &driver.ListPage{Files: []driver.FileRecord{}}
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		page.Files = append(page.Files, *f)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	rows.Close()
	if page.Total, err = s.listTotal(ctx, q); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return page, nil
}

func checkList(q *driver.ListQuery) error {
	switch {
	case q == nil:
		return invalid("nil list query")
	case q.Workspace == "":
		return invalid("list query without a workspace")
	case q.Limit < 1 || q.Limit > maxListLimit:
		return invalid("list limit %d is not in 1..%d", q.Limit, maxListLimit)
	case q.Now.IsZero():
		return invalid("list query without a time")
	}
	switch q.Sort {
	case driver.ListByCreated, driver.ListByCreatedDesc, driver.ListByName:
	default:
		return invalid("unknown list sort %q", q.Sort)
	}
	if q.After != nil && q.After.ID == "" {
		return invalid("list position without an id")
	}
	return nil
}

// listWhere returns the conditions (on files f) that make a file listed
// and match q's filters, without the keyset position.
func listWhere(q *driver.ListQuery) (string, []any) {
	conds := []string{`f.workspace = ?`, `f.deleted_at = 0`, `f.version > 0`, `(f.expires_at = 0 OR f.expires_at > ?)`}
	args := []any{q.Workspace, micros(q.Now)}
	if q.CollectionID != "" {
		conds = append(conds, `f.collection_id = ?`)
		args = append(args, q.CollectionID)
	}
	if q.Kind != "" {
		conds = append(conds, `f.kind = ?`)
		args = append(args, q.Kind)
	}
	if q.Tag != "" {
		conds = append(conds, `EXISTS (SELECT 1 FROM file_tags t WHERE t.file_id = f.id AND t.tag = ?)`)
		args = append(args, q.Tag)
	}
	if q.NameContains != "" {
		conds = append(conds, `f.name_key LIKE ? ESCAPE '!'`)
		args = append(args, "%"+escapeLike(nameKey(q.NameContains))+"%")
	}
	if q.Viewer != "" {
		c, a := viewerCond(q.Viewer)
		conds = append(conds, c)
		args = append(args, a...)
	}
	return strings.Join(conds, " AND "), args
}

func viewerCond(viewer string) (string, []any) {
	return `EXISTS (SELECT 1 FROM file_viewers v WHERE v.file_id = f.id AND v.principal IN (?, ?))`,
		[]any{principalWorkspace, userPrincipal(viewer)}
}

// escapeLike makes s a literal LIKE pattern under ESCAPE '!'.
func escapeLike(s string) string {
	return strings.NewReplacer("!", "!!", "%", "!%", "_", "!_").Replace(s)
}

func listOrder(sort driver.ListSort) string {
	switch sort {
	case driver.ListByCreatedDesc:
		return `f.created_at DESC, f.id DESC`
	case driver.ListByName:
		return `f.name_key, f.id`
	}
	return `f.created_at, f.id`
}

// keysetAfter returns the condition for rows after q.After in q's order;
// id names the id column (the sort columns are unqualified when id is).
func keysetAfter(q *driver.ListQuery, id string) (string, []any) {
	a := q.After
	p, _, _ := strings.Cut(id, ".")
	if p == id {
		p = ""
	} else {
		p += "."
	}
	switch q.Sort {
	case driver.ListByCreatedDesc:
		return `(` + p + `created_at, ` + id + `) < (?, ?)`, []any{micros(a.CreatedAt), a.ID}
	case driver.ListByName:
		return `(` + p + `name_key, ` + id + `) > (?, ?)`, []any{nameKey(a.FileName), a.ID}
	}
	return `(` + p + `created_at, ` + id + `) > (?, ?)`, []any{micros(a.CreatedAt), a.ID}
}

// filtered reports whether q has filters beyond visibility.
func filtered(q *driver.ListQuery) bool {
	return q.CollectionID != "" || q.Kind != "" || q.Tag != "" || q.NameContains != ""
}

// viewerPage is a user's unfiltered page: the first rows after q.After of
// each of the two principals the user sees ("workspace" and the user), each
// a keyset range scan of file_viewers, merged and cut to the limit. No file
// is under both principals, so nothing repeats. CROSS JOIN keeps SQLite
// from scanning files instead (PostgreSQL plans it as an inner join).
func viewerPage(q *driver.ListQuery) (string, []any) {
	order := `created_at, file_id`
	switch q.Sort {
	case driver.ListByCreatedDesc:
		order = `created_at DESC, file_id DESC`
	case driver.ListByName:
		order = `name_key, file_id`
	}
	var args []any
	branch := func(principal, alias string) string {
		b := `SELECT file_id FROM (SELECT file_id FROM file_viewers WHERE workspace = ? AND principal = ? AND listed = 1
			AND (expires_at = 0 OR expires_at > ?)`
		args = append(args, q.Workspace, principal, micros(q.Now))
		if q.After != nil {
			key, keyArgs := keysetAfter(q, "file_id")
			b += ` AND ` + key
			args = append(args, keyArgs...)
		}
		args = append(args, q.Limit)
		return b + ` ORDER BY ` + order + ` LIMIT ?) ` + alias
	}
	query := `SELECT ` + prefixed("f", fileColumns) + ` FROM (` + branch(principalWorkspace, "a") + ` UNION ALL ` +
		branch(userPrincipal(q.Viewer), "b") + `) v CROSS JOIN files f
		WHERE f.id = v.file_id AND f.workspace = ? AND f.deleted_at = 0 AND f.version > 0
		ORDER BY ` + listOrder(q.Sort) + ` LIMIT ?`
	return query, append(args, q.Workspace, q.Limit)
}

// listTotal returns the number of files q's filters match.
func (s *Store) listTotal(ctx context.Context, q *driver.ListQuery) (int64, error) {
	var total int64
	if filtered(q) {
		where, args := listWhere(q)
		err := s.rdb.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM files f WHERE `+where), args...).Scan(&total)
		return total, err
	}
	counted := `principal = ''`
	args := []any{q.Workspace}
	if q.Viewer != "" {
		counted = `principal IN (?, ?)`
		args = append(args, principalWorkspace, userPrincipal(q.Viewer))
	}
	err := s.rdb.QueryRowContext(ctx, s.q(`SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM file_counts
		WHERE workspace = ? AND `+counted), args...).Scan(&total)
	if err != nil {
		return 0, err
	}
	// The counters include expired temporary files until they are purged.
	expired := `SELECT COUNT(*) FROM files f WHERE f.workspace = ? AND f.expires_at > 0 AND f.expires_at <= ?
		AND f.deleted_at = 0 AND f.version > 0`
	args = []any{q.Workspace, micros(q.Now)}
	if q.Viewer != "" {
		c, a := viewerCond(q.Viewer)
		expired += ` AND ` + c
		args = append(args, a...)
	}
	var n int64
	if err := s.rdb.QueryRowContext(ctx, s.q(expired), args...).Scan(&n); err != nil {
		return 0, err
	}
	return max(total-n, 0), nil
}
