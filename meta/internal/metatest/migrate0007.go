// Package metatest holds checks that meta's dialect packages (sqlite,
// postgres) run against their own databases, where a check needs to reach
// below the driver.MetaStore interface (here: to undo a migration).
package metatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// Migration0007VersionStatus checks that on a database from before
// per-version verdicts, each file's current version takes the file's
// status (processing, rejected, failed) while every other version stays
// ready, as it was served before. open opens the store on the test's
// database (twice: before and after the downgrade); exec runs SQL on it
// directly, with the store closed.
func Migration0007VersionStatus(t *testing.T, open func() driver.MetaStore, exec func(query string)) {
	ctx := context.Background()
	s := open()
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
	exec(`ALTER TABLE versions DROP COLUMN status`)
	exec(`DELETE FROM schema_migrations WHERE version = 7`)

	s = open()
	defer s.Close()
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
