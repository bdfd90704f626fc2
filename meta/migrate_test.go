package meta

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadMigrations(t *testing.T) {
	tests := []struct {
		name     string
		files    fstest.MapFS
		want     []int
		wantFail bool
	}{
		{name: "ordered by number", files: fstest.MapFS{
			"m/0010_later.sql": {Data: []byte("B")},
			"m/0002_next.sql":  {Data: []byte("A")},
			"m/README.md":      {Data: []byte("ignored")},
		}, want: []int{2, 10}},
		{name: "empty", files: fstest.MapFS{"m/x.txt": {}}, want: nil},
		{name: "no number", files: fstest.MapFS{"m/init.sql": {}}, wantFail: true},
		{name: "zero", files: fstest.MapFS{"m/0000_x.sql": {}}, wantFail: true},
		{name: "duplicate", files: fstest.MapFS{"m/0001_a.sql": {}, "m/1_b.sql": {}}, wantFail: true},
		{name: "missing directory", files: fstest.MapFS{}, wantFail: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := loadMigrations(tc.files, "m")
			if tc.wantFail {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			var got []int
			for _, m := range ms {
				got = append(got, m.version)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestEmbeddedMigrations(t *testing.T) {
	ms, err := loadMigrations(migrationFiles, "migrations")
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	for i, m := range ms {
		assert.Equal(t, i+1, m.version, "migrations are numbered 1, 2, ... without gaps")
		assert.NotEmpty(t, m.script)
	}
}
