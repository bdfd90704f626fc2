package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDSNPragmas checks the settings each pool's connections get.
func TestDSNPragmas(t *testing.T) {
	tests := []struct {
		name        string
		opts        Options
		writer      bool
		synchronous int // PRAGMA synchronous: 1 NORMAL, 2 FULL
		queryOnly   int
	}{
		{name: "writer full", opts: Options{Synchronous: SynchronousFull}, writer: true, synchronous: 2},
		{name: "writer normal", opts: Options{Synchronous: SynchronousNormal}, writer: true, synchronous: 1},
		{name: "reader", opts: Options{Synchronous: SynchronousFull}, queryOnly: 1},
	}
	path := filepath.Join(t.TempDir(), "x.db")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.BusyTimeout = 1500 * time.Millisecond
			db, err := sql.Open("sqlite3", dsn(path, tc.opts, tc.writer))
			require.NoError(t, err)
			defer db.Close()
			pragma := func(name string) any {
				var v any
				require.NoError(t, db.QueryRow("PRAGMA "+name).Scan(&v))
				return v
			}
			assert.EqualValues(t, "wal", pragma("journal_mode"))
			assert.EqualValues(t, 1500, pragma("busy_timeout"))
			assert.EqualValues(t, 1, pragma("foreign_keys"))
			assert.EqualValues(t, tc.queryOnly, pragma("query_only"))
			if tc.writer {
				assert.EqualValues(t, tc.synchronous, pragma("synchronous"))
			}
		})
	}
}
