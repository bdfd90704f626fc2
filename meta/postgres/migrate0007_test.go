package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta/postgres"
)

// TestMigration0007VersionStatus: on a database from before per-version
// verdicts, each file's current version takes the file's status
// (processing, rejected, failed); every other version stays ready, as it
// was served before.
func TestMigration0007VersionStatus(t *testing.T) {
	ctx := context.Background()
	serverURL(t)
	dsn := freshDSN(t)
	s, err := postgres.Open(ctx, dsn, nil)
	require.NoError(t, err)
	at := time.Now()
	commit := func(id string, n int, st driver.FileStatus) {
		t.Helper()
		up := &driver.UploadRecord{Workspace: "ws", ID: fmt.Sprintf("%s-u%d", id, n), FileID: id, Version: n, BaseVersion: n - 1,
			StorageKey: fmt.Sprintf("ws/%s/v%d/x", id, n), Size: 3, CreatedAt: at, ExpiresAt: at.Add(time.Minute)}
		var f *driver.FileRecord
		if n == 1 {
			f = &driver.FileRecord{Workspace: "ws", ID: id, FileName: "a.txt", Status: driver.StatusPending, CreatedAt: at, UpdatedAt: at}
		}
		require.NoError(t, s.CreateUpload(ctx, f, up))
		_, err := s.CommitUpload(ctx, &driver.Commit{Workspace: "ws", UploadID: up.ID, Status: driver.StatusProcessing, At: at,
			Version: driver.VersionRecord{Version: n, FileName: "a.txt", MIMEType: "text/plain", Size: 3, StorageKey: up.StorageKey}})
		require.NoError(t, err)
		if st != driver.StatusProcessing {
			_, err = s.SettleFile(ctx, &driver.FileSettle{Workspace: "ws", FileID: id, Version: n, Status: st, At: at})
			require.NoError(t, err)
		}
	}
	commit("rejected", 1, driver.StatusReady)
	commit("rejected", 2, driver.StatusRejected)
	commit("failed", 1, driver.StatusFailed)
	commit("processing", 1, driver.StatusProcessing)
	require.NoError(t, s.Close())

	// Back to the schema before 0007.
	db := sqlDB(t, dsn)
	_, err = db.Exec(`ALTER TABLE versions DROP COLUMN status`)
	require.NoError(t, err)
	_, err = db.Exec(`DELETE FROM schema_migrations WHERE version = 7`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s, err = postgres.Open(ctx, dsn, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	tests := []struct {
		name    string
		file    string
		version int
		want    driver.FileStatus
	}{
		{name: "an older version", file: "rejected", version: 1, want: driver.StatusReady},
		{name: "a rejected current version", file: "rejected", version: 2, want: driver.StatusRejected},
		{name: "a failed current version", file: "failed", version: 1, want: driver.StatusFailed},
		{name: "a processing current version", file: "processing", version: 1, want: driver.StatusProcessing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := s.Version(ctx, "ws", tc.file, tc.version)
			require.NoError(t, err)
			assert.Equal(t, tc.want, v.Status)
		})
	}
}
