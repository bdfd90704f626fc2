package sqlite_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta"
	"github.com/attachkit/attachkit/meta/sqlite"
)

var listSizes = flag.String("list-sizes", "10000,100000,1000000", "workspace sizes BenchmarkListPage grows through")

// BenchmarkListPage measures ListFiles (a page of 20 plus the total) in
// one workspace of each of -list-sizes files (default 10k, 100k and 1M,
// one database each), for the first page and for a deep page (a cursor
// after 90% of the rows), newest first and by name, for an administrator
// and for a user who sees 11% of the files. Each round times 10 pages per
// size, the sizes interleaved so that a noisy neighbour hits them alike;
// the best round per size is reported as µs-<size>, and ratio is the
// largest size's over the smallest's (target <= 1.5: flat).
//
// Rows are bulk-inserted with plain SQL in the layout the store writes
// (files, file_tags, file_viewers, file_counts); the benchmark checks the
// store's total against the row count before measuring.
//
//	go test -run '^$' -bench ListPage -benchtime 100x ./meta/sqlite/
func BenchmarkListPage(b *testing.B) {
	ctx := context.Background()
	var sizes []int
	for _, f := range strings.Split(*listSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 100 {
			b.Fatalf("-list-sizes: %q", f)
		}
		sizes = append(sizes, n)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stores := make([]*meta.Store, len(sizes))
	writers := make([]*sql.DB, len(sizes))
	for i, size := range sizes {
		path := filepath.Join(b.TempDir(), "meta.db")
		s, err := sqlite.Open(ctx, path, &sqlite.Options{Synchronous: sqlite.SynchronousNormal})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		w, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=OFF&_busy_timeout=10000&_foreign_keys=1")
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		w.SetMaxOpenConns(1)
		insertListed(b, w, 0, size)
		page, err := s.ListFiles(ctx, &driver.ListQuery{Workspace: "big", Sort: driver.ListByCreated, Limit: 1, Now: now})
		if err != nil || page.Total != int64(size) {
			b.Fatalf("store total %v after inserting %d rows: %v", page, size, err)
		}
		stores[i], writers[i] = s, w
	}

	for _, viewer := range []string{"", "user-7"} {
		for _, sort := range []driver.ListSort{driver.ListByCreatedDesc, driver.ListByName} {
			for _, deep := range []bool{false, true} {
				qs := make([]*driver.ListQuery, len(sizes))
				for i := range sizes {
					qs[i] = &driver.ListQuery{Workspace: "big", Viewer: viewer, Sort: sort, Limit: 21, Now: now}
					if deep {
						qs[i].After = positionAt(b, writers[i], viewer, sort, 0.9)
					}
				}
				who, page := "admin", "first"
				if viewer != "" {
					who = "user"
				}
				if deep {
					page = "deep"
				}
				b.Run(fmt.Sprintf("%s/%s/%s", who, sort, page), func(b *testing.B) {
					best := make([]time.Duration, len(sizes))
					for b.Loop() {
						for i, s := range stores {
							t0 := time.Now()
							for range 10 {
								p, err := s.ListFiles(ctx, qs[i])
								if err != nil || len(p.Files) != 21 {
									b.Fatalf("page of %d: %v", len(p.Files), err)
								}
							}
							if d := time.Since(t0) / 10; best[i] == 0 || d < best[i] {
								best[i] = d
							}
						}
					}
					for i, size := range sizes {
						b.ReportMetric(float64(best[i].Nanoseconds())/1e3, "µs-"+sizeLabel(size))
					}
					b.ReportMetric(float64(best[len(sizes)-1])/float64(best[0]), "ratio")
				})
			}
		}
	}
}

func sizeLabel(n int) string {
	switch {
	case n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// insertListed adds files from..to-1 to workspace "big", ready and
// listed, in the layout the store writes: 3 tags each, owned by one of
// 100 users, 10% public-read (canonical viewer "workspace"), and the
// counters of file_counts.
func insertListed(b *testing.B, db *sql.DB, from, to int) {
	b.Helper()
	const batch = 50_000
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	words := []string{"Report", "invoice", "Photo", "contract", "Plan", "scan", "Budget", "notes", "Draft", "summary"}
	for start := from; start < to; start += batch {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		file, err := tx.Prepare(`INSERT INTO files (workspace, id, file_name, name_key, title, mime_type, kind, size, digest,
			status, source, version, storage_key, owner, collection_id, tags, metadata, access_control, acl, persist,
			created_at, updated_at) VALUES ('big', ?, ?, ?, ?, ?, ?, ?, 'sha256:00', 'ready', 'upload', 1, ?, ?, ?, ?, '{}', ?,
			'{"view":[],"edit":[],"delete":[]}', 1, ?, ?)`)
		if err != nil {
			b.Fatal(err)
		}
		tag, _ := tx.Prepare(`INSERT INTO file_tags (workspace, file_id, tag) VALUES ('big', ?, ?)`)
		viewer, _ := tx.Prepare(`INSERT INTO file_viewers (workspace, file_id, principal, created_at, name_key, listed)
			VALUES ('big', ?, ?, ?, ?, 1)`)
		counts := map[[2]string]int{}
		for i := start; i < min(start+batch, to); i++ {
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
				b.Fatal(err)
			}
			for _, t := range tags {
				if _, err := tag.Exec(id, t); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := viewer.Exec(id, principal, at, strings.ToLower(name)); err != nil {
				b.Fatal(err)
			}
			slot := strconv.Itoa(slotOf(id))
			counts[[2]string{"", slot}]++
			counts[[2]string{principal, slot}]++
		}
		for k, n := range counts {
			if _, err := tx.Exec(`INSERT INTO file_counts (workspace, principal, slot, n) VALUES ('big', ?, ?, ?)
				ON CONFLICT (workspace, principal, slot) DO UPDATE SET n = file_counts.n + excluded.n`, k[0], k[1], n); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	// Fold the bulk load's WAL into the database, as checkpoints do in a
	// steady state: a WAL of a million fresh rows would slow every read.
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
}

// slotOf mirrors the store's counter slot (FNV-1a of the id, mod 16); any
// slot would do, the totals are sums.
func slotOf(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % 16)
}

// positionAt returns the keyset position of the row at fraction f of the
// listing (for the viewer, of the files the viewer sees), leaving at least
// a full page after it.
func positionAt(b *testing.B, db *sql.DB, viewer string, sort driver.ListSort, f float64) *driver.ListKey {
	b.Helper()
	where := `workspace = 'big' AND deleted_at = 0 AND version > 0`
	args := []any{}
	if viewer != "" {
		where += ` AND EXISTS (SELECT 1 FROM file_viewers v WHERE v.file_id = files.id AND v.principal IN ('workspace', ?))`
		args = append(args, "user:"+viewer)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM files WHERE `+where, args...).Scan(&n); err != nil {
		b.Fatal(err)
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
		b.Fatal(err)
	}
	k.CreatedAt = time.UnixMicro(us).UTC()
	return &k
}
