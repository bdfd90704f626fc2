package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/benchkit"
	"github.com/attachkit/attachkit/meta"
	"github.com/attachkit/attachkit/meta/sqlite"
)

// runList loads one SQLite workspace per size with the bulk loader of
// meta/sqlite's BenchmarkListPage, then times pages of 20 (plus the total)
// at every size, first and deep (a cursor after 90% of the rows), for an
// administrator newest first and for a user who sees 11% of the files by
// name. A round times 10 pages per size, the sizes interleaved; the row
// compares the largest size's median with the 10k one's.
func runList(ctx context.Context, b *bench) error {
	sizes := []int{10_000, 100_000}
	if b.full {
		sizes = append(sizes, 1_000_000)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stores := make([]*meta.Store, len(sizes))
	writers := make([]*sql.DB, len(sizes))
	for i, size := range sizes {
		dir := filepath.Join(b.dir, "list-"+benchkit.SizeLabel(size))
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
		path := filepath.Join(dir, "meta.db")
		s, err := sqlite.Open(ctx, path, &sqlite.Options{Synchronous: sqlite.SynchronousNormal})
		if err != nil {
			return err
		}
		defer s.Close()
		w, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=OFF&_busy_timeout=10000&_foreign_keys=1")
		if err != nil {
			return err
		}
		defer w.Close()
		w.SetMaxOpenConns(1)
		t0 := time.Now()
		if err := benchkit.InsertListed(w, 0, size); err != nil {
			return err
		}
		page, err := s.ListFiles(ctx, &driver.ListQuery{Workspace: "big", Sort: driver.ListByCreated, Limit: 1, Now: now})
		if err != nil || page.Total != int64(size) {
			return fmt.Errorf("store total %v after inserting %d rows: %v", page, size, err)
		}
		fmt.Fprintf(b.out, "  loaded %s files in %v\n", benchkit.SizeLabel(size), time.Since(t0).Round(100*time.Millisecond))
		stores[i], writers[i] = s, w
	}
	kinds := []struct {
		name   string
		viewer string
		sort   driver.ListSort
		deep   bool
	}{
		{"admin newest, first page", "", driver.ListByCreatedDesc, false},
		{"admin newest, deep page", "", driver.ListByCreatedDesc, true},
		{"user by name, first page", "user-7", driver.ListByName, false},
		{"user by name, deep page", "user-7", driver.ListByName, true},
	}
	rounds := b.profile(15, 31)
	for _, k := range kinds {
		qs := make([]*driver.ListQuery, len(sizes))
		for i := range sizes {
			qs[i] = &driver.ListQuery{Workspace: "big", Viewer: k.viewer, Sort: k.sort, Limit: 21, Now: now}
			if k.deep {
				pos, err := benchkit.ListPosition(writers[i], k.viewer, k.sort, 0.9)
				if err != nil {
					return err
				}
				qs[i].After = pos
			}
		}
		samples := make([][]float64, len(sizes))
		for r := range rounds {
			for j := range sizes {
				i := j
				if r%2 == 1 { // alternate the order of the sizes
					i = len(sizes) - 1 - j
				}
				t0 := time.Now()
				for range 10 {
					p, err := stores[i].ListFiles(ctx, qs[i])
					if err != nil || len(p.Files) != 21 {
						return fmt.Errorf("page of %d: %v", len(p.Files), err)
					}
				}
				samples[i] = append(samples[i], float64(time.Since(t0).Microseconds())/10)
			}
		}
		last := len(sizes) - 1
		b.add(&Result{Scenario: fmt.Sprintf("list %s %s/%s", k.name, benchkit.SizeLabel(sizes[last]), benchkit.SizeLabel(sizes[0])),
			Unit: "µs", Samples: samples[last], BSamples: samples[0], Versus: "same page at 10k files", Target: "<= 1.5"})
		for i, size := range sizes {
			b.curve("list", k.name, float64(size), median(samples[i]))
		}
	}
	return nil
}
