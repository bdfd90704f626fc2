package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/driver/drivertest"
	"github.com/attachkit/attachkit/meta"
	"github.com/attachkit/attachkit/meta/sqlite"
)

// open opens a store on a fresh file and closes it at the end of the test.
func open(t *testing.T, path string) *meta.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	drivertest.RunMetaTests(t, func(t *testing.T) driver.MetaStore {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"), nil)
		require.NoError(t, err)
		return s
	})
}

// migrations returns the rows of schema_migrations, read without the
// store.
func migrations(t *testing.T, path string) map[int]int64 {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(`SELECT version, applied_at FROM schema_migrations`)
	require.NoError(t, err)
	defer rows.Close()
	got := make(map[int]int64)
	for rows.Next() {
		var v int
		var at int64
		require.NoError(t, rows.Scan(&v, &at))
		got[v] = at
	}
	require.NoError(t, rows.Err())
	return got
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Positive(t, v)
	require.NoError(t, s.Close())
	first := migrations(t, path)
	require.Len(t, first, v, "one row per migration")
	for version, at := range first {
		assert.Positive(t, at, "applied_at of %d", version)
	}

	for range 3 {
		s, err := sqlite.Open(ctx, path, nil)
		require.NoError(t, err)
		again, err := s.SchemaVersion(ctx)
		require.NoError(t, err)
		assert.Equal(t, v, again)
		require.NoError(t, s.Close())
	}
	assert.Equal(t, first, migrations(t, path), "reopening applied migrations again")
}

func TestConcurrentOpen(t *testing.T) {
	const n = 4 // stores on one file, as separate processes would open it
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	stores := make([]*meta.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = sqlite.Open(ctx, path, nil)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "open %d", i)
		t.Cleanup(func() { _ = stores[i].Close() })
	}

	// Every store writes; every store reads every write.
	var failed atomic.Int32
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				id := fmt.Sprintf("s%d-f%d", i, j)
				if err := createAndCommit(ctx, s, id); err != nil {
					failed.Add(1)
					t.Errorf("store %d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	require.Zero(t, failed.Load())
	for _, s := range stores {
		for i := range n {
			f, err := s.File(ctx, "ws", fmt.Sprintf("s%d-f9", i))
			require.NoError(t, err)
			assert.Equal(t, 1, f.Version)
		}
	}
	v, err := stores[0].SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Len(t, migrations(t, path), v, "a migration applied twice")
}

// createAndCommit stores a file and confirms its first version.
func createAndCommit(ctx context.Context, s driver.MetaStore, id string) error {
	at := time.Now()
	up := &driver.UploadRecord{
		Workspace: "ws", ID: id + "-u1", FileID: id, Version: 1, StorageKey: "ws/" + id + "/v1/x",
		Size: 3, Status: driver.UploadPending, CreatedAt: at, ExpiresAt: at.Add(time.Minute),
	}
	f := &driver.FileRecord{Workspace: "ws", ID: id, FileName: "a.txt", Status: driver.StatusPending, CreatedAt: at, UpdatedAt: at}
	if err := s.CreateUpload(ctx, f, up); err != nil {
		return err
	}
	_, err := s.CommitUpload(ctx, &driver.Commit{
		Workspace: "ws", UploadID: up.ID, Status: driver.StatusReady, At: at,
		Version: driver.VersionRecord{Version: 1, FileName: "a.txt", MIMEType: "text/plain", Size: 3, StorageKey: up.StorageKey},
	})
	return err
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	require.NoError(t, createAndCommit(ctx, s, "f1"))
	want, err := s.File(ctx, "ws", "f1")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s = open(t, path)
	got, err := s.File(ctx, "ws", "f1")
	require.NoError(t, err)
	assert.Equal(t, want, got)
	vs, err := s.Versions(ctx, "ws", "f1")
	require.NoError(t, err)
	assert.Len(t, vs, 1)
}

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		opts    *sqlite.Options
		wantErr error
	}{
		{name: "defaults", path: filepath.Join(dir, "a.db")},
		{name: "normal synchronous", path: filepath.Join(dir, "b.db"),
			opts: &sqlite.Options{Synchronous: sqlite.SynchronousNormal, BusyTimeout: time.Second, MaxReadConns: 2}},
		{name: "path with URI characters", path: filepath.Join(dir, "c?mode=memory#x%20.db")},
		{name: "empty path", path: "", wantErr: driver.ErrInvalidArgument},
		{name: "memory", path: ":memory:", wantErr: driver.ErrInvalidArgument},
		{name: "URI", path: "file:x.db?mode=memory", wantErr: driver.ErrInvalidArgument},
		{name: "bad synchronous", path: filepath.Join(dir, "d.db"),
			opts: &sqlite.Options{Synchronous: "OFF"}, wantErr: driver.ErrInvalidArgument},
		{name: "missing directory", path: filepath.Join(dir, "no", "such", "dir", "e.db"), wantErr: errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(context.Background(), tc.path, tc.opts)
			if tc.wantErr != nil {
				require.Error(t, err)
				if tc.wantErr != errAny {
					assert.ErrorIs(t, err, tc.wantErr)
				}
				return
			}
			require.NoError(t, err)
			defer s.Close()
			require.NoError(t, s.Ping(context.Background()))
			require.NoError(t, createAndCommit(context.Background(), s, "f1"))
			assert.FileExists(t, tc.path)
		})
	}
}

// errAny marks a test case that expects some error.
var errAny = errors.New("any error")

func TestOpenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "meta.db"), nil)
	assert.ErrorIs(t, err, context.Canceled)
}

// TestInvalidArguments covers the checks this store makes beyond the
// MetaStore contract.
func TestInvalidArguments(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "meta.db"))
	require.NoError(t, createAndCommit(ctx, s, "f1"))
	at := time.Now()
	ticket := func(id, fileID string, version, base int) *driver.UploadRecord {
		return &driver.UploadRecord{Workspace: "ws", ID: id, FileID: fileID, Version: version, BaseVersion: base, CreatedAt: at}
	}
	file := func(ws, id string, version int) *driver.FileRecord {
		return &driver.FileRecord{Workspace: ws, ID: id, Version: version, Status: driver.StatusPending, CreatedAt: at}
	}
	require.NoError(t, s.CreateUpload(ctx, nil, ticket("u2", "f1", 2, 1)))

	tests := []struct {
		name string
		call func() error
	}{
		{name: "nil ticket", call: func() error { return s.CreateUpload(ctx, file("ws", "f2", 0), nil) }},
		{name: "ticket without id", call: func() error { return s.CreateUpload(ctx, file("ws", "f2", 0), ticket("", "f2", 1, 0)) }},
		{name: "ticket without workspace", call: func() error {
			up := ticket("u3", "f2", 1, 0)
			up.Workspace = ""
			return s.CreateUpload(ctx, nil, up)
		}},
		{name: "ticket not pending", call: func() error {
			up := ticket("u3", "f2", 1, 0)
			up.Status = driver.UploadConfirmed
			return s.CreateUpload(ctx, file("ws", "f2", 0), up)
		}},
		{name: "version skips", call: func() error { return s.CreateUpload(ctx, nil, ticket("u3", "f1", 3, 1)) }},
		{name: "file of another id", call: func() error { return s.CreateUpload(ctx, file("ws", "f3", 0), ticket("u3", "f2", 1, 0)) }},
		{name: "file of another workspace", call: func() error { return s.CreateUpload(ctx, file("ws2", "f2", 0), ticket("u3", "f2", 1, 0)) }},
		{name: "new file at another version", call: func() error { return s.CreateUpload(ctx, file("ws", "f2", 1), ticket("u3", "f2", 1, 0)) }},
		{name: "metadata not JSON", call: func() error {
			f := file("ws", "f2", 0)
			f.Metadata = []byte("{nope")
			return s.CreateUpload(ctx, f, ticket("u3", "f2", 1, 0))
		}},
		{name: "nil commit", call: func() error { _, err := s.CommitUpload(ctx, nil); return err }},
		{name: "commit without time", call: func() error {
			_, err := s.CommitUpload(ctx, &driver.Commit{Workspace: "ws", UploadID: "u2", Status: driver.StatusReady, Version: driver.VersionRecord{Version: 2}})
			return err
		}},
		{name: "commit to pending", call: func() error {
			_, err := s.CommitUpload(ctx, &driver.Commit{Workspace: "ws", UploadID: "u2", Status: driver.StatusPending, At: at, Version: driver.VersionRecord{Version: 2}})
			return err
		}},
		{name: "commit of another version", call: func() error {
			_, err := s.CommitUpload(ctx, &driver.Commit{Workspace: "ws", UploadID: "u2", Status: driver.StatusReady, At: at, Version: driver.VersionRecord{Version: 3}})
			return err
		}},
		{name: "commit of another file", call: func() error {
			_, err := s.CommitUpload(ctx, &driver.Commit{Workspace: "ws", UploadID: "u2", Status: driver.StatusReady, At: at, Version: driver.VersionRecord{Version: 2, FileID: "f9"}})
			return err
		}},
		{name: "reject without time", call: func() error { return s.RejectUpload(ctx, "ws", "u2", "c", "r", time.Time{}) }},
		{name: "delete without time", call: func() error { return s.MarkDeleted(ctx, "ws", "f1", time.Time{}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorIs(t, tc.call(), driver.ErrInvalidArgument)
		})
	}
	// Nothing changed.
	_, err := s.File(ctx, "ws", "f2")
	assert.ErrorIs(t, err, driver.ErrNotFound)
	up, err := s.Upload(ctx, "ws", "u2")
	require.NoError(t, err)
	assert.Equal(t, driver.UploadPending, up.Status)
}

// BenchmarkCommitUpload measures create-and-commit throughput with
// concurrent callers, fsync on every commit (the default durability).
func BenchmarkCommitUpload(b *testing.B) {
	for _, sync := range []sqlite.Synchronous{sqlite.SynchronousFull, sqlite.SynchronousNormal} {
		b.Run(string(sync), func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "meta.db"), &sqlite.Options{Synchronous: sync})
			require.NoError(b, err)
			defer s.Close()
			var n atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := createAndCommit(ctx, s, fmt.Sprintf("f%d", n.Add(1))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
