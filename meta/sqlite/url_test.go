package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
	_ "github.com/attachkit/attachkit/meta/sqlite"
)

func TestOpenByURL(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, url string
		bad       bool
	}{
		{name: "absolute path", url: "sqlite://" + filepath.Join(dir, "a.db")},
		{name: "with parameters", url: "sqlite://" + filepath.Join(dir, "b.db") + "?busy_timeout=2s&synchronous=normal"},
		{name: "relative host", url: "sqlite://attach.db", bad: true},
		{name: "no path", url: "sqlite://", bad: true},
		{name: "unknown parameter", url: "sqlite://" + filepath.Join(dir, "c.db") + "?cache=shared", bad: true},
		{name: "bad timeout", url: "sqlite://" + filepath.Join(dir, "d.db") + "?busy_timeout=soon", bad: true},
		{name: "bad synchronous", url: "sqlite://" + filepath.Join(dir, "e.db") + "?synchronous=off", bad: true},
		{name: "unknown scheme", url: "mysql://localhost/db", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := driver.OpenMetaStore(context.Background(), tt.url)
			if tt.bad {
				require.Error(t, err)
				assert.True(t, errors.Is(err, driver.ErrInvalidArgument), "%v", err)
				return
			}
			require.NoError(t, err)
			require.NoError(t, s.Ping(context.Background()))
			require.NoError(t, s.Close())
		})
	}
	_, err := driver.OpenMetaStore(context.Background(), "mysql://x/y")
	assert.ErrorContains(t, err, "registered: sqlite")
}
