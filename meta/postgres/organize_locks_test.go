package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// TestOrganizeLocksLeaveNoRows: serialising the writers of collections and
// record fields stores nothing per field or workspace.
func TestOrganizeLocksLeaveNoRows(t *testing.T) {
	serverURL(t)
	dsn := freshDSN(t)
	s := open(t, dsn, nil)
	ctx := context.Background()
	_, err := pendingFile(ctx, s, "f1")
	require.NoError(t, err)
	at := time.Now()
	require.NoError(t, s.CreateCollection(ctx, &driver.CollectionRecord{Workspace: "ws", ID: "c1", Name: "c", CreatedAt: at}))
	for i := range 5 {
		_, err := s.SetAttachments(ctx, &driver.AttachmentSet{Workspace: "ws", RecordType: "post", RecordID: fmt.Sprint(i),
			Field: "g", FileIDs: []string{"f1"}, At: at})
		require.NoError(t, err)
	}
	_, err = s.RemoveAttachment(ctx, "ws", "post", "0", "g", "f1")
	require.NoError(t, err)
	require.NoError(t, s.MarkDeleted(ctx, "ws", "f1", at))
	var n int
	require.NoError(t, sqlDB(t, dsn).QueryRow(`SELECT COUNT(*) FROM organize_locks`).Scan(&n))
	require.Zero(t, n)
}
