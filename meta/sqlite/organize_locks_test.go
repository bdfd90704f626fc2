package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// TestOrganizeLocksLeaveNoRows: SQLite serialises writers already; the
// writers of collections and record fields store nothing to lock.
func TestOrganizeLocksLeaveNoRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s := open(t, path)
	ctx := context.Background()
	at := time.Now()
	require.NoError(t, s.CreateUpload(ctx, &driver.FileRecord{Workspace: "ws", ID: "f1", FileName: "a.txt",
		Status: driver.StatusPending, CreatedAt: at, UpdatedAt: at},
		&driver.UploadRecord{Workspace: "ws", ID: "u1", FileID: "f1", Version: 1, StorageKey: "k", Status: driver.UploadPending,
			CreatedAt: at, ExpiresAt: at.Add(time.Minute)}))
	require.NoError(t, s.CreateCollection(ctx, &driver.CollectionRecord{Workspace: "ws", ID: "c1", Name: "c", CreatedAt: at}))
	for i := range 5 {
		_, err := s.SetAttachments(ctx, &driver.AttachmentSet{Workspace: "ws", RecordType: "post", RecordID: fmt.Sprint(i),
			Field: "g", FileIDs: []string{"f1"}, At: at})
		require.NoError(t, err)
	}
	require.NoError(t, s.MarkDeleted(ctx, "ws", "f1", at))
	db, err := sql.Open("sqlite3", path)
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM organize_locks`).Scan(&n))
	require.Zero(t, n)
}
