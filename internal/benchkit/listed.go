package benchkit

import (
	"database/sql"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// InsertListed adds files from..to-1 to workspace "big" of a SQLite
// metadata database, ready and listed, in the layout the store writes:
// 3 tags each, owned by one of 100 users, 10% public-read (canonical
// viewer "workspace"), and the counters of file_counts. It then folds the
// WAL into the database, as checkpoints do in a steady state.
func InsertListed(db *sql.DB, from, to int) error {
	const batch = 50_000
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	words := []string{"Report", "invoice", "Photo", "contract", "Plan", "scan", "Budget", "notes", "Draft", "summary"}
	for start := from; start < to; start += batch {
		if err := insertBatch(db, base, words, start, min(start+batch, to)); err != nil {
			return err
		}
	}
	// A WAL of a million fresh rows would slow every read.
	_, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

func insertBatch(db *sql.DB, base int64, words []string, from, to int) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	file, err := tx.Prepare(`INSERT INTO files (workspace, id, file_name, name_key, title, mime_type, kind, size, digest,
		status, source, version, storage_key, owner, collection_id, tags, metadata, access_control, acl, persist,
		created_at, updated_at) VALUES ('big', ?, ?, ?, ?, ?, ?, ?, 'sha256:00', 'ready', 'upload', 1, ?, ?, ?, ?, '{}', ?,
		'{"view":[],"edit":[],"delete":[]}', 1, ?, ?)`)
	if err != nil {
		return err
	}
	tag, err := tx.Prepare(`INSERT INTO file_tags (workspace, file_id, tag) VALUES ('big', ?, ?)`)
	if err != nil {
		return err
	}
	viewer, err := tx.Prepare(`INSERT INTO file_viewers (workspace, file_id, principal, created_at, name_key, listed)
		VALUES ('big', ?, ?, ?, ?, 1)`)
	if err != nil {
		return err
	}
	counts := map[[2]string]int{}
	for i := from; i < to; i++ {
		id := fmt.Sprintf("file_%036d", i)
		name := fmt.Sprintf("%s %s %d.pdf", words[i*7%len(words)], words[i*3%len(words)], i*7919%1_000_003)
		owner := fmt.Sprintf("user-%d", i%100)
		access, principal := "private", "user:"+owner
		if i%10 == 3 {
			access, principal = "public-read", "workspace"
		}
		tags := []string{fmt.Sprint("t", i%50), fmt.Sprint("t", (i/50)%50+50), "all"}
		at := base + int64(i)*1000
		if _, err := file.Exec(id, name, strings.ToLower(name), name, "application/pdf", "document", 1000+i,
			"big/"+id+"/v1/x", owner, fmt.Sprint("col-", i%1000), `["`+strings.Join(tags, `","`)+`"]`, access, at, at); err != nil {
			return err
		}
		for _, t := range tags {
			if _, err := tag.Exec(id, t); err != nil {
				return err
			}
		}
		if _, err := viewer.Exec(id, principal, at, strings.ToLower(name)); err != nil {
			return err
		}
		slot := strconv.Itoa(slotOf(id))
		counts[[2]string{"", slot}]++
		counts[[2]string{principal, slot}]++
	}
	for k, n := range counts {
		if _, err := tx.Exec(`INSERT INTO file_counts (workspace, principal, slot, n) VALUES ('big', ?, ?, ?)
			ON CONFLICT (workspace, principal, slot) DO UPDATE SET n = file_counts.n + excluded.n`, k[0], k[1], n); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// slotOf mirrors the store's counter slot (FNV-1a of the id, mod 16); any
// slot would do, the totals are sums.
func slotOf(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % 16)
}

// ListPosition returns the keyset position of the row at fraction f of the
// listing of workspace "big" (for viewer, of the files the viewer sees),
// leaving at least a full page of 21 after it.
func ListPosition(db *sql.DB, viewer string, sort driver.ListSort, f float64) (*driver.ListKey, error) {
	where := `workspace = 'big' AND deleted_at = 0 AND version > 0`
	args := []any{}
	if viewer != "" {
		where += ` AND EXISTS (SELECT 1 FROM file_viewers v WHERE v.file_id = files.id AND v.principal IN ('workspace', ?))`
		args = append(args, "user:"+viewer)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM files WHERE `+where, args...).Scan(&n); err != nil {
		return nil, err
	}
	order := `created_at DESC, id DESC`
	if sort == driver.ListByName {
		order = `name_key, id`
	}
	var (
		k  driver.ListKey
		us int64
	)
	err := db.QueryRow(`SELECT created_at, file_name, id FROM files WHERE `+where+` ORDER BY `+order+` LIMIT 1 OFFSET ?`,
		append(args, min(int(float64(n)*f), n-22))...).Scan(&us, &k.FileName, &k.ID)
	if err != nil {
		return nil, err
	}
	k.CreatedAt = time.UnixMicro(us).UTC()
	return &k, nil
}

// SizeLabel writes a workspace size as 10k, 1M.
func SizeLabel(n int) string {
	switch {
	case n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}
