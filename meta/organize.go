package meta

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/attachkit/attachkit/driver"
)

// Collections (migration 0003). Every change of a workspace's collection
// tree takes the workspace's "collections" lock first (lockOrganize), so on
// PostgreSQL concurrent moves, creations under a parent and deletions are
// serialised and no cycle or orphan can slip between a check and a write.

const collectionColumns = "workspace, id, parent_id, name, starred, sort_order, allowed_types, max_size, " +
	"created_by, created_at, updated_at"

// maxCollectionList bounds Collections and CollectionFiles pages.
const maxCollectionList = 1000

func scanCollection(sc scanner) (*driver.CollectionRecord, error) {
	var (
		c                driver.CollectionRecord
		starred          int
		types            string
		created, updated int64
	)
	err := sc.Scan(&c.Workspace, &c.ID, &c.ParentID, &c.Name, &starred, &c.Order, &types, &c.MaxSize,
		&c.CreatedBy, &created, &updated)
	if err != nil {
		return nil, err
	}
	c.Starred = starred != 0
	if types != "" {
		if err := json.Unmarshal([]byte(types), &c.AllowedTypes); err != nil {
			return nil, fmt.Errorf("collection %s: allowed_types: %w", c.ID, err)
		}
	}
	if len(c.AllowedTypes) == 0 {
		c.AllowedTypes = nil
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &c, nil
}

func typesJSON(types []string) (string, error) {
	if types == nil {
		types = []string{}
	}
	b, err := json.Marshal(types)
	return string(b), err
}

// lockOrganize takes the lock name of a workspace until tx ends. On
// PostgreSQL it is a transaction-scoped advisory lock on a 64-bit hash of
// the schema, workspace and name (a collision only serialises two
// writers more); SQLite's write transactions exclude each other already,
// so it takes nothing there. Either way no row is stored per name.
func (s *Store) lockOrganize(ctx context.Context, tx *sql.Tx, workspace, name string) error {
	if s.d.Name() != "postgres" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.q(`SELECT pg_advisory_xact_lock(hashtextextended(
		coalesce(current_schema(), '') || chr(31) || ? || chr(31) || ?, 0))`), workspace, name)
	return err
}

// lockCollection takes the workspace's "collections" lock, the one
// DeleteCollection takes, and checks that a file may name the collection
// id: until tx ends it cannot be deleted. An unknown collection returns
// an error matching driver.ErrNotFound.
func (s *Store) lockCollection(ctx context.Context, tx *sql.Tx, workspace, id string) error {
	if err := s.lockOrganize(ctx, tx, workspace, "collections"); err != nil {
		return err
	}
	var one int
	err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM collections WHERE id = ? AND workspace = ?`), id, workspace).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("collection %s: %w", id, driver.ErrNotFound)
	}
	return err
}

// CreateCollection stores a new collection; see driver.OrganizeStore.
func (s *Store) CreateCollection(ctx context.Context, c *driver.CollectionRecord) error {
	if c == nil {
		return s.fail(ctx, "create collection", invalid("nil collection"))
	}
	op := "create collection " + c.ID
	switch {
	case c.ID == "" || c.Workspace == "" || c.Name == "":
		return s.fail(ctx, op, invalid("collection without an id, workspace or name"))
	case c.CreatedAt.IsZero():
		return s.fail(ctx, op, invalid("collection %s: creation time not set", c.ID))
	case c.ParentID == c.ID:
		return s.fail(ctx, op, invalid("collection %s cannot be its own parent", c.ID))
	}
	types, err := typesJSON(c.AllowedTypes)
	if err != nil {
		return s.fail(ctx, op, err)
	}
	updated := c.UpdatedAt
	if updated.IsZero() {
		updated = c.CreatedAt
	}
	err = s.inWriteTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockOrganize(ctx, tx, c.Workspace, "collections"); err != nil {
			return err
		}
		if c.ParentID != "" {
			depth, err := s.collectionDepth(ctx, tx, c.Workspace, c.ParentID)
			if err != nil {
				return err
			}
			if depth+1 > driver.MaxCollectionDepth {
				return invalid("collection %s would be deeper than %d levels", c.ID, driver.MaxCollectionDepth)
			}
		}
		_, err := tx.ExecContext(ctx, s.q(insertSQL("collections", collectionColumns)),
			c.Workspace, c.ID, c.ParentID, c.Name, boolInt(c.Starred), c.Order, types, c.MaxSize,
			c.CreatedBy, micros(c.CreatedAt), micros(updated))
		return err
	})
	return s.fail(ctx, op, err)
}

// collectionDepth returns the level of a collection of the workspace (1 at
// the top) walking its parents, or sql.ErrNoRows when it does not exist. A
// chain longer than MaxCollectionDepth+1 (which no write can make) stops
// the walk with ErrInvalidArgument.
func (s *Store) collectionDepth(ctx context.Context, tx *sql.Tx, workspace, id string) (int, error) {
	_, depth, err := s.collectionAncestors(ctx, tx, workspace, id, "")
	return depth, err
}

// collectionAncestors walks from id up to the top and reports whether the chain
// (id included) passes through stop, and the depth of id.
func (s *Store) collectionAncestors(ctx context.Context, tx *sql.Tx, workspace, id, stop string) (bool, int, error) {
	depth, found := 0, false
	for cur := id; cur != ""; depth++ {
		if depth > driver.MaxCollectionDepth {
			return false, 0, invalid("collection %s: parent chain longer than %d", id, driver.MaxCollectionDepth)
		}
		if cur == stop {
			found = true
		}
		var parent string
		err := tx.QueryRowContext(ctx, s.q(`SELECT parent_id FROM collections WHERE id = ? AND workspace = ?`),
			cur, workspace).Scan(&parent)
		if err != nil {
			return false, 0, err
		}
		cur = parent
	}
	return found, depth, nil
}

// collectionHeight returns the number of levels of the subtree under id (1 for a
// collection without children), reading one level per query.
func (s *Store) collectionHeight(ctx context.Context, tx *sql.Tx, workspace, id string) (int, error) {
	level := []string{id}
	h := 0
	for len(level) > 0 {
		h++
		if h > driver.MaxCollectionDepth {
			return h, nil // deep enough to refuse any move
		}
		var next []string
		for _, p := range level {
			rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM collections WHERE workspace = ? AND parent_id = ?`), workspace, p)
			if err != nil {
				return 0, err
			}
			for rows.Next() {
				var c string
				if err := rows.Scan(&c); err != nil {
					rows.Close()
					return 0, err
				}
				next = append(next, c)
			}
			if err := rows.Close(); err != nil {
				return 0, err
			}
		}
		level = next
	}
	return h, nil
}

// Collection returns a collection of the workspace.
func (s *Store) Collection(ctx context.Context, workspace, id string) (*driver.CollectionRecord, error) {
	c, err := scanCollection(s.rdb.QueryRowContext(ctx, s.q(`SELECT `+collectionColumns+` FROM collections
		WHERE id = ? AND workspace = ?`), id, workspace))
	if err != nil {
		return nil, s.fail(ctx, "collection "+id, err)
	}
	return c, nil
}

// Collections lists the children of parentID in display order.
func (s *Store) Collections(ctx context.Context, workspace, parentID string, limit int) ([]driver.CollectionRecord, error) {
	const op = "list collections"
	if limit < 1 || limit > maxCollectionList {
		return nil, s.fail(ctx, op, invalid("limit %d is not in 1..%d", limit, maxCollectionList))
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+collectionColumns+` FROM collections
		WHERE workspace = ? AND parent_id = ? ORDER BY sort_order, name, id LIMIT ?`), workspace, parentID, limit)
	out, err := scanRows(rows, err, scanCollection)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// UpdateCollection changes a collection; see driver.OrganizeStore.
func (s *Store) UpdateCollection(ctx context.Context, u *driver.CollectionUpdate) (*driver.CollectionRecord, error) {
	if u == nil {
		return nil, s.fail(ctx, "update collection", invalid("nil update"))
	}
	op := "update collection " + u.ID
	if u.At.IsZero() {
		return nil, s.fail(ctx, op, invalid("collection %s: update time not set", u.ID))
	}
	sets := []string{`updated_at = ?`}
	args := []any{micros(u.At)}
	add := func(set string, a any) {
		sets = append(sets, set)
		args = append(args, a)
	}
	if u.Name != nil {
		if *u.Name == "" {
			return nil, s.fail(ctx, op, invalid("collection %s: empty name", u.ID))
		}
		add(`name = ?`, *u.Name)
	}
	if u.ParentID != nil {
		add(`parent_id = ?`, *u.ParentID)
	}
	if u.Starred != nil {
		add(`starred = ?`, boolInt(*u.Starred))
	}
	if u.Order != nil {
		add(`sort_order = ?`, *u.Order)
	}
	if u.AllowedTypes != nil {
		types, err := typesJSON(*u.AllowedTypes)
		if err != nil {
			return nil, s.fail(ctx, op, err)
		}
		add(`allowed_types = ?`, types)
	}
	if u.MaxSize != nil {
		add(`max_size = ?`, *u.MaxSize)
	}
	args = append(args, u.ID, u.Workspace)
	var out *driver.CollectionRecord
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockOrganize(ctx, tx, u.Workspace, "collections"); err != nil {
			return err
		}
		if u.ParentID != nil && *u.ParentID != "" {
			if err := s.checkCollectionMove(ctx, tx, u.Workspace, u.ID, *u.ParentID); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE collections SET `+strings.Join(sets, ", ")+` WHERE id = ? AND workspace = ?`), args...)
		if err != nil {
			return err
		}
		if err := oneRow(res); err != nil {
			return err
		}
		out, err = scanCollection(tx.QueryRowContext(ctx, s.q(`SELECT `+collectionColumns+` FROM collections
			WHERE id = ? AND workspace = ?`), u.ID, u.Workspace))
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// checkCollectionMove refuses to put id under parent when that makes a cycle or a
// tree deeper than MaxCollectionDepth.
func (s *Store) checkCollectionMove(ctx context.Context, tx *sql.Tx, workspace, id, parent string) error {
	var one int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM collections WHERE id = ? AND workspace = ?`), id, workspace).Scan(&one); err != nil {
		return err
	}
	cycle, depth, err := s.collectionAncestors(ctx, tx, workspace, parent, id)
	if err != nil {
		return err
	}
	if cycle {
		return invalid("collection %s cannot move under itself or one of its descendants", id)
	}
	h, err := s.collectionHeight(ctx, tx, workspace, id)
	if err != nil {
		return err
	}
	if depth+h > driver.MaxCollectionDepth {
		return invalid("moving collection %s there makes the tree deeper than %d levels", id, driver.MaxCollectionDepth)
	}
	return nil
}

// DeleteCollection removes an empty collection; see driver.OrganizeStore.
func (s *Store) DeleteCollection(ctx context.Context, workspace, id string) error {
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockOrganize(ctx, tx, workspace, "collections"); err != nil {
			return err
		}
		var one int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM collections WHERE id = ? AND workspace = ?`), id, workspace).Scan(&one); err != nil {
			return err
		}
		var n int
		err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM (
			SELECT id FROM collections WHERE workspace = ? AND parent_id = ? LIMIT 1) c`), workspace, id).Scan(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			err = tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM (
				SELECT id FROM files WHERE workspace = ? AND collection_id = ? AND deleted_at = 0 LIMIT 1) f`),
				workspace, id).Scan(&n)
			if err != nil {
				return err
			}
		}
		if n > 0 {
			return fmt.Errorf("collection %s is not empty: %w", id, driver.ErrPrecondition)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE files SET collection_id = '' WHERE workspace = ? AND collection_id = ?`),
			workspace, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM collections WHERE id = ? AND workspace = ?`), id, workspace)
		return err
	})
	return s.fail(ctx, "delete collection "+id, err)
}

// CollectionFiles pages through a collection's undeleted files by id.
func (s *Store) CollectionFiles(ctx context.Context, workspace, collectionID, afterID string, limit int) ([]driver.FileRecord, error) {
	op := "files of collection " + collectionID
	if limit < 1 || limit > maxCollectionList {
		return nil, s.fail(ctx, op, invalid("limit %d is not in 1..%d", limit, maxCollectionList))
	}
	var one int
	if err := s.rdb.QueryRowContext(ctx, s.q(`SELECT 1 FROM collections WHERE id = ? AND workspace = ?`),
		collectionID, workspace).Scan(&one); err != nil {
		return nil, s.fail(ctx, op, err)
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+fileColumns+` FROM files
		WHERE workspace = ? AND collection_id = ? AND deleted_at = 0 AND id > ? ORDER BY id LIMIT ?`),
		workspace, collectionID, afterID, limit)
	out, err := scanRows(rows, err, scanFile)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}
