package sqlite_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/benchkit"
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
// (files, file_tags, file_viewers, file_counts) by internal/benchkit; the benchmark checks the
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
		if err := benchkit.InsertListed(w, 0, size); err != nil {
			b.Fatal(err)
		}
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
						pos, err := benchkit.ListPosition(writers[i], viewer, sort, 0.9)
						if err != nil {
							b.Fatal(err)
						}
						qs[i].After = pos
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
						b.ReportMetric(float64(best[i].Nanoseconds())/1e3, "µs-"+benchkit.SizeLabel(size))
					}
					b.ReportMetric(float64(best[len(sizes)-1])/float64(best[0]), "ratio")
				})
			}
		}
	}
}
