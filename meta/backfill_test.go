package meta_test

import (
	"context"
	"database/sql"
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

// TestBackfillDocuments checks the Go half of migration 0002 on a database
// whose files predate it: their side rows are rebuilt from the JSON
// columns when the store opens, once.
func TestBackfillDocuments(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		open   func(t *testing.T, where string) *meta.Store
		where  func(t *testing.T) string
		driver string
	}{
		{name: "sqlite", driver: "sqlite3",
			where: func(t *testing.T) string { return filepath.Join(t.TempDir(), "meta.db") },
			open: func(t *testing.T, path string) *meta.Store {
				s, err := sqlite.Open(ctx, path, &sqlite.Options{Synchronous: sqlite.SynchronousNormal})
				require.NoError(t, err)
				return s
			}},
		{name: "postgres", driver: "pgx",
			where: func(t *testing.T) string { return pgtest.FreshURL(t) },
			open: func(t *testing.T, dsn string) *meta.Store {
				s, err := postgres.Open(ctx, dsn, nil)
				require.NoError(t, err)
				return s
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			where := tc.where(t)
			s := tc.open(t, where)
			at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
			add := func(id, name, owner string, tags []string, acl driver.ACL) {
				up := &driver.UploadRecord{Workspace: "ws", ID: id + "-u", FileID: id, Version: 1, StorageKey: "ws/" + id,
					Size: 1, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
				f := &driver.FileRecord{Workspace: "ws", ID: id, Status: driver.StatusPending, Owner: owner, Tags: tags,
					ACL: acl, AccessControl: "private", CreatedAt: at, UpdatedAt: at}
				require.NoError(t, s.CreateUpload(ctx, f, up))
				_, err := s.CommitUpload(ctx, &driver.Commit{Workspace: "ws", UploadID: up.ID, Status: driver.StatusReady, At: at,
					Version: driver.VersionRecord{Version: 1, FileName: name, StorageKey: up.StorageKey}})
				require.NoError(t, err)
			}
			add("f1", "Report.PDF", "alice", []string{"red", "blue"}, driver.ACL{})
			add("f2", "photo.png", "bob", []string{"red"}, driver.ACL{View: []string{"user:alice"}})
			add("f3", "notes.txt", "bob", nil, driver.ACL{View: []string{"workspace"}})
			add("f4", "gone.txt", "alice", []string{"red"}, driver.ACL{})
			require.NoError(t, s.MarkDeleted(ctx, "ws", "f4", at))
			require.NoError(t, s.Close())

			// Back to the state a database upgraded from 0001 is in.
			db, err := sql.Open(tc.driver, where)
			require.NoError(t, err)
			defer db.Close()
			for _, q := range []string{
				`DELETE FROM file_tags`, `DELETE FROM file_viewers`, `DELETE FROM file_counts`,
				`UPDATE files SET name_key = ''`, `INSERT INTO meta_backfills (name) VALUES ('0002_documents')`,
			} {
				_, err := db.ExecContext(ctx, q)
				require.NoError(t, err, q)
			}

			s = tc.open(t, where)
			defer s.Close()
			list := func(q driver.ListQuery) ([]string, int64) {
				q.Workspace, q.Sort, q.Limit, q.Now = "ws", driver.ListByName, 10, at
				page, err := s.ListFiles(ctx, &q)
				require.NoError(t, err)
				ids := []string{}
				for _, f := range page.Files {
					ids = append(ids, f.ID)
				}
				return ids, page.Total
			}
			checks := []struct {
				name  string
				q     driver.ListQuery
				want  []string
				total int64
			}{
				{name: "all", want: []string{"f3", "f2", "f1"}, total: 3},
				{name: "tag", q: driver.ListQuery{Tag: "red"}, want: []string{"f2", "f1"}, total: 2},
				{name: "name", q: driver.ListQuery{NameContains: "report"}, want: []string{"f1"}, total: 1},
				{name: "alice", q: driver.ListQuery{Viewer: "alice"}, want: []string{"f3", "f2", "f1"}, total: 3},
				{name: "bob", q: driver.ListQuery{Viewer: "bob"}, want: []string{"f3", "f2"}, total: 2},
				{name: "carol", q: driver.ListQuery{Viewer: "carol"}, want: []string{"f3"}, total: 1},
			}
			for _, c := range checks {
				ids, total := list(c.q)
				assert.Equal(t, c.want, ids, c.name)
				assert.Equal(t, c.total, total, c.name)
			}
			var markers int
			require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM meta_backfills`).Scan(&markers))
			assert.Zero(t, markers, "the backfill ran once")
		})
	}
}
