package sqlite_test

import (
	"context"
	"database/sql"
	"flag"
	"path/filepath"
	"testing"

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
	sizes, err := benchkit.ParseSizes(*listSizes)
	if err != nil {
		b.Fatal(err)
	}
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
		benchkit.CheckListed(b, s, size)
		stores[i], writers[i] = s, w
	}
	benchkit.BenchListPages(b, stores, sizes, func(i int, viewer string, sort driver.ListSort) *driver.ListKey {
		pos, err := benchkit.ListPosition(writers[i], viewer, sort, 0.9)
		if err != nil {
			b.Fatal(err)
		}
		return pos
	})
}
