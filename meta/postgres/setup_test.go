package postgres_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/pgtest"
	"github.com/attachkit/attachkit/meta"
	"github.com/attachkit/attachkit/meta/postgres"
)

// serverURL returns the test server's URL, or skips the test.
func serverURL(t testing.TB) string {
	t.Helper()
	return pgtest.URL(t)
}

// sqlDB opens a plain database/sql pool on dsn, closed at the end of the
// test: the tests' view of the database, independent of the store.
func sqlDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// freshDSN returns a URL on an empty schema of its own (pgtest.FreshURL).
func freshDSN(t testing.TB) string {
	t.Helper()
	return pgtest.FreshURL(t)
}

// open opens a store on dsn and closes it at the end of the test.
func open(t testing.TB, dsn string, opts *postgres.Options) *meta.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// pendingFile stores a new pending file with its first ticket and returns
// the ticket.
func pendingFile(ctx context.Context, s driver.MetaStore, id string) (*driver.UploadRecord, error) {
	at := time.Now()
	up := &driver.UploadRecord{
		Workspace: "ws", ID: id + "-u1", FileID: id, Version: 1, StorageKey: "ws/" + id + "/v1/x",
		Size: 3, Status: driver.UploadPending, CreatedAt: at, ExpiresAt: at.Add(time.Minute),
	}
	f := &driver.FileRecord{Workspace: "ws", ID: id, FileName: "a.txt", Status: driver.StatusPending, CreatedAt: at, UpdatedAt: at}
	return up, s.CreateUpload(ctx, f, up)
}

// commitOf returns the commit that confirms up as a ready version.
func commitOf(up *driver.UploadRecord) *driver.Commit {
	return &driver.Commit{
		Workspace: up.Workspace, UploadID: up.ID, Status: driver.StatusReady, At: time.Now(),
		Version: driver.VersionRecord{Version: up.Version, FileName: "a.txt", MIMEType: "text/plain", Size: 3,
			Digest: "sha256:" + hex.EncodeToString(make([]byte, 32)), StorageKey: up.StorageKey},
	}
}

// createAndCommit stores a file and confirms its first version.
func createAndCommit(ctx context.Context, s driver.MetaStore, id string) error {
	up, err := pendingFile(ctx, s, id)
	if err != nil {
		return err
	}
	_, err = s.CommitUpload(ctx, commitOf(up))
	return err
}

// fresh is freshDSN for table tests that take a func(*testing.T) string.
func fresh(t *testing.T) string {
	t.Helper()
	return freshDSN(t)
}
