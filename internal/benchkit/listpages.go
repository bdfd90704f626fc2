package benchkit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta"
)

// ListNow is the clock of the listing benchmarks' queries.
var ListNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ParseSizes parses a -list-sizes flag: comma-separated workspace sizes of
// at least 100 files.
func ParseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 100 {
			return nil, fmt.Errorf("-list-sizes: %q", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// CheckListed fails b unless store lists exactly size files in workspace
// "big" (the store's counters agree with the rows loaded).
func CheckListed(b *testing.B, store *meta.Store, size int) {
	b.Helper()
	page, err := store.ListFiles(context.Background(), &driver.ListQuery{Workspace: "big", Sort: driver.ListByCreated, Limit: 1, Now: ListNow})
	if err != nil || page.Total != int64(size) {
		b.Fatalf("store total %v after inserting %d rows: %v", page, size, err)
	}
}

// BenchListPages measures ListFiles (a page of 20 plus the total) on
// stores[i], holding workspace "big" of sizes[i] files, for the first page
// and a deep page (position returns the cursor key after 90% of store i's
// rows for a viewer and sort), newest first and by name, for an
// administrator and for user-7. Each round times 10 pages per size, the
// sizes interleaved so that a noisy neighbour hits them alike; the best
// round per size is reported as µs-<size>, and ratio is the largest size's
// over the smallest's.
func BenchListPages(b *testing.B, stores []*meta.Store, sizes []int, position func(i int, viewer string, sort driver.ListSort) *driver.ListKey) {
	ctx := context.Background()
	for _, viewer := range []string{"", "user-7"} {
		for _, sort := range []driver.ListSort{driver.ListByCreatedDesc, driver.ListByName} {
			for _, deep := range []bool{false, true} {
				qs := make([]*driver.ListQuery, len(sizes))
				for i := range sizes {
					qs[i] = &driver.ListQuery{Workspace: "big", Viewer: viewer, Sort: sort, Limit: 21, Now: ListNow}
					if deep {
						qs[i].After = position(i, viewer, sort)
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
						b.ReportMetric(float64(best[i].Nanoseconds())/1e3, "µs-"+SizeLabel(size))
					}
					b.ReportMetric(float64(best[len(sizes)-1])/float64(best[0]), "ratio")
				})
			}
		}
	}
}
