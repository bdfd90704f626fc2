package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta/internal/metatest"
	"github.com/attachkit/attachkit/meta/sqlite"
)

func TestMigration0007VersionStatus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	metatest.Migration0007VersionStatus(t, func() driver.MetaStore {
		s, err := sqlite.Open(context.Background(), path, nil)
		require.NoError(t, err)
		return s
	}, func(query string) {
		db, err := sql.Open("sqlite3", path)
		require.NoError(t, err)
		defer db.Close()
		_, err = db.Exec(query)
		require.NoError(t, err)
	})
}
