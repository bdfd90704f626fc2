package meta_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/pgtest"
	"github.com/attachkit/attachkit/meta"
	"github.com/attachkit/attachkit/meta/postgres"
	"github.com/attachkit/attachkit/meta/sqlite"
)

// backends opens an empty store on each database the inventory runs on.
var backends = []struct {
	name string
	open func(t *testing.T) *meta.Store
}{
	{name: "sqlite", open: func(t *testing.T) *meta.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"),
			&sqlite.Options{Synchronous: sqlite.SynchronousNormal})
		require.NoError(t, err)
		return s
	}},
	{name: "postgres", open: func(t *testing.T) *meta.Store {
		s, err := postgres.Open(context.Background(), pgtest.FreshURL(t), nil)
		require.NoError(t, err)
		return s
	}},
}

func forEachBackend(t *testing.T, run func(t *testing.T, s *meta.Store)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			t.Cleanup(func() { assert.NoError(t, s.Close()) })
			run(t, s)
		})
	}
}

var at = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// add stores a file with one ticket per version in sizes; versions listed
// in sizes are committed except the last when pending is set.
func add(t *testing.T, s *meta.Store, ws, id, kind string, pending bool, sizes ...int64) {
	t.Helper()
	ctx := context.Background()
	f := &driver.FileRecord{Workspace: ws, ID: id, FileName: id + ".bin", Status: driver.StatusPending, CreatedAt: at, UpdatedAt: at}
	for i, size := range sizes {
		up := &driver.UploadRecord{Workspace: ws, ID: fmt.Sprintf("%s-u%d", id, i+1), FileID: id, Version: i + 1, BaseVersion: i,
			StorageKey: fmt.Sprintf("%s/%s/v%d/k", ws, id, i+1), Size: size, CreatedAt: at.Add(time.Duration(i) * time.Second)}
		require.NoError(t, s.CreateUpload(ctx, f, up))
		f = nil
		if pending && i == len(sizes)-1 {
			return
		}
		_, err := s.CommitUpload(ctx, &driver.Commit{Workspace: ws, UploadID: up.ID, Status: driver.StatusReady, At: at,
			Version: driver.VersionRecord{Version: i + 1, Kind: kind, Size: size, StorageKey: up.StorageKey,
				Digest: fmt.Sprintf("sha256:%064d", size)}})
		require.NoError(t, err)
	}
}

// populate stores the files the inventory tests expect.
func populate(t *testing.T, s *meta.Store) {
	t.Helper()
	add(t, s, "ws-a", "f1", "image", false, 10, 20) // two versions, current 20
	add(t, s, "ws-a", "f2", "image", false, 5)
	add(t, s, "ws-a", "f3", "document", true, 7, 100) // a confirmed version and a pending ticket
	add(t, s, "ws-a", "f4", "", true, 3)              // never confirmed
	add(t, s, "ws-b", "f5", "document", false, 1000)
	add(t, s, "ws-b", "f6", "document", false, 50) // deleted below
	require.NoError(t, s.MarkDeleted(context.Background(), "ws-b", "f6", at))
}

func TestWalkFiles(t *testing.T) {
	for _, page := range []int{2, 500} {
		t.Run(fmt.Sprintf("page %d", page), func(t *testing.T) {
			defer meta.SetWalkPage(page)()
			forEachBackend(t, func(t *testing.T, s *meta.Store) {
				populate(t, s)
				var got []*meta.FileInventory
				require.NoError(t, s.WalkFiles(context.Background(), func(inv *meta.FileInventory) error {
					got = append(got, inv)
					return nil
				}))
				require.Len(t, got, 6)
				type summary struct {
					ws, id   string
					version  int
					versions []int
					uploads  []driver.UploadStatus
					deleted  bool
				}
				var sums []summary
				for _, inv := range got {
					sm := summary{ws: inv.File.Workspace, id: inv.File.ID, version: inv.File.Version, deleted: !inv.File.DeletedAt.IsZero()}
					for _, v := range inv.Versions {
						sm.versions = append(sm.versions, v.Version)
						assert.Equal(t, inv.File.ID, v.FileID)
						assert.NotEmpty(t, v.StorageKey)
						assert.NotEmpty(t, v.Digest)
					}
					for _, u := range inv.Uploads {
						sm.uploads = append(sm.uploads, u.Status)
					}
					sums = append(sums, sm)
				}
				confirmed, pending := driver.UploadConfirmed, driver.UploadPending
				assert.Equal(t, []summary{
					{ws: "ws-a", id: "f1", version: 2, versions: []int{1, 2}, uploads: []driver.UploadStatus{confirmed, confirmed}},
					{ws: "ws-a", id: "f2", version: 1, versions: []int{1}, uploads: []driver.UploadStatus{confirmed}},
					{ws: "ws-a", id: "f3", version: 1, versions: []int{1}, uploads: []driver.UploadStatus{confirmed, pending}},
					{ws: "ws-a", id: "f4", version: 0, uploads: []driver.UploadStatus{pending}},
					{ws: "ws-b", id: "f5", version: 1, versions: []int{1}, uploads: []driver.UploadStatus{confirmed}},
					{ws: "ws-b", id: "f6", version: 1, versions: []int{1}, uploads: []driver.UploadStatus{confirmed}, deleted: true},
				}, sums)
			})
		})
	}
}

func TestWalkFilesStops(t *testing.T) {
	defer meta.SetWalkPage(2)()
	forEachBackend(t, func(t *testing.T, s *meta.Store) {
		populate(t, s)
		stop := errors.New("stop")
		n := 0
		err := s.WalkFiles(context.Background(), func(*meta.FileInventory) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		assert.Equal(t, stop, err, "fn's error is returned as it is")
		assert.Equal(t, 3, n)

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err = s.WalkFiles(ctx, func(*meta.FileInventory) error { return nil })
		assert.Equal(t, context.Canceled, err)
	})
}

func TestWalkFilesEmpty(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *meta.Store) {
		err := s.WalkFiles(context.Background(), func(*meta.FileInventory) error {
			return errors.New("called on an empty store")
		})
		assert.NoError(t, err)
		stats, err := s.Stats(context.Background())
		require.NoError(t, err)
		assert.Empty(t, stats)
	})
}

func TestStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *meta.Store) {
		populate(t, s)
		stats, err := s.Stats(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []meta.Stat{
			{Workspace: "ws-a", Kind: "", Files: 1},
			{Workspace: "ws-a", Kind: "document", Files: 1, Bytes: 7, Versions: 1, VersionBytes: 7},
			{Workspace: "ws-a", Kind: "image", Files: 2, Bytes: 25, Versions: 3, VersionBytes: 35},
			{Workspace: "ws-b", Kind: "document", Files: 1, Bytes: 1000, Versions: 1, VersionBytes: 1000},
		}, stats)
	})
}
