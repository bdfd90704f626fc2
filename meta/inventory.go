package meta

import (
	"context"
	"database/sql"
	"sort"

	"github.com/attachkit/attachkit/driver"
)

// FileInventory and Stat are the records of the driver.Inventory
// capability, which *Store implements.
type (
	FileInventory = driver.FileInventory
	Stat          = driver.Stat
)

var _ driver.Inventory = (*Store)(nil)

// walkPage is how many files WalkFiles reads per round trip (a variable
// for tests).
var walkPage = 500

// WalkFiles calls fn for every file of every workspace, deleted files
// included, with its versions and tickets, in file id order. It stops at
// the first error fn returns and returns it.
//
// Files are read in pages of a few hundred with short queries, and fn runs
// between queries, so fn may take long (copying or hashing objects)
// without holding a connection or a snapshot open. Rows created, changed
// or purged during the walk may or may not be seen. Memory use does not
// depend on the number of files.
func (s *Store) WalkFiles(ctx context.Context, fn func(*FileInventory) error) error {
	after := ""
	for {
		page, err := s.inventoryPage(ctx, after)
		if err != nil {
			return s.fail(ctx, "walk files", err)
		}
		for _, inv := range page {
			if err := fn(inv); err != nil {
				return err
			}
		}
		if len(page) < walkPage {
			return nil
		}
		after = page[len(page)-1].File.ID
	}
}

// inventoryPage returns the files with ids after the given one (in the
// database's order), at most walkPage, with their versions and tickets.
func (s *Store) inventoryPage(ctx context.Context, after string) ([]*FileInventory, error) {
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT `+fileColumns+` FROM files WHERE id > ? ORDER BY id LIMIT ?`), after, walkPage)
	if err != nil {
		return nil, err
	}
	var page []*FileInventory
	byID := make(map[string]*FileInventory)
	err = scanInventoryRows(rows, func(sc scanner) error {
		f, err := scanFile(sc)
		if err != nil {
			return err
		}
		inv := &FileInventory{File: *f}
		page = append(page, inv)
		byID[f.ID] = inv
		return nil
	})
	if err != nil || len(page) == 0 {
		return nil, err
	}
	// The page's files are exactly the ids in (after, last], so one range
	// query each fetches their versions and tickets.
	last := page[len(page)-1].File.ID
	rows, err = s.rdb.QueryContext(ctx, s.q(`SELECT `+versionColumns+` FROM versions
		WHERE file_id > ? AND file_id <= ? ORDER BY file_id, version`), after, last)
	if err != nil {
		return nil, err
	}
	err = scanInventoryRows(rows, func(sc scanner) error {
		v, err := scanVersion(sc)
		if err != nil {
			return err
		}
		if inv := byID[v.FileID]; inv != nil {
			inv.Versions = append(inv.Versions, *v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rows, err = s.rdb.QueryContext(ctx, s.q(`SELECT `+uploadColumns+` FROM uploads
		WHERE file_id > ? AND file_id <= ? ORDER BY file_id, created_at, version, id`), after, last)
	if err != nil {
		return nil, err
	}
	err = scanInventoryRows(rows, func(sc scanner) error {
		u, err := scanUpload(sc)
		if err != nil {
			return err
		}
		if inv := byID[u.FileID]; inv != nil {
			inv.Uploads = append(inv.Uploads, *u)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// scanInventoryRows calls fn for each row and closes rows.
func scanInventoryRows(rows *sql.Rows, fn func(scanner) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Stats counts the undeleted files, their current bytes, their versions
// and all those versions' bytes, by workspace and kind, ordered by
// workspace then kind (compared as bytes).
func (s *Store) Stats(ctx context.Context) ([]Stat, error) {
	const op = "stats"
	type group struct{ ws, kind string }
	var order []group
	byGroup := make(map[group]*Stat)
	rows, err := s.rdb.QueryContext(ctx, `SELECT workspace, kind, COUNT(*), COALESCE(CAST(SUM(size) AS BIGINT), 0)
		FROM files WHERE deleted_at = 0 GROUP BY workspace, kind`)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	err = scanInventoryRows(rows, func(sc scanner) error {
		var st Stat
		if err := sc.Scan(&st.Workspace, &st.Kind, &st.Files, &st.Bytes); err != nil {
			return err
		}
		g := group{st.Workspace, st.Kind}
		order = append(order, g)
		byGroup[g] = &st
		return nil
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	rows, err = s.rdb.QueryContext(ctx, `SELECT f.workspace, f.kind, COUNT(*), COALESCE(CAST(SUM(v.size) AS BIGINT), 0)
		FROM versions v JOIN files f ON f.id = v.file_id
		WHERE f.deleted_at = 0 GROUP BY f.workspace, f.kind`)
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	err = scanInventoryRows(rows, func(sc scanner) error {
		var (
			g        group
			n, bytes int64
		)
		if err := sc.Scan(&g.ws, &g.kind, &n, &bytes); err != nil {
			return err
		}
		if st := byGroup[g]; st != nil { // else the file was deleted between the queries
			st.Versions, st.VersionBytes = n, bytes
		}
		return nil
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	stats := make([]Stat, len(order))
	for i, g := range order {
		stats[i] = *byGroup[g]
	}
	// Byte order, the same on every database whatever its collation.
	sort.Slice(stats, func(i, j int) bool {
		if stats[i].Workspace != stats[j].Workspace {
			return stats[i].Workspace < stats[j].Workspace
		}
		return stats[i].Kind < stats[j].Kind
	})
	return stats, nil
}
