package attach_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

func TestOpenByURL(t *testing.T) {
	dir := t.TempDir()
	opts := &attach.Options{SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}}, BaseURL: baseURL}
	files, db := "file://"+filepath.Join(dir, "files"), "sqlite://"+filepath.Join(dir, "attach.db")
	tests := []struct {
		name, storage, meta, errContains string
	}{
		{name: "file + sqlite", storage: files, meta: db},
		{name: "mem + sqlite", storage: "mem://", meta: db},
		{name: "unknown storage scheme", storage: "ftp://host/x", meta: db, errContains: "registered: "},
		{name: "unknown meta scheme", storage: files, meta: "mysql://h/db", errContains: "registered: "},
		{name: "relative file URL", storage: "file://files", meta: db, errContains: "absolute path"},
		{name: "no scheme", storage: "/var/files", meta: db, errContains: "no scheme"},
		{name: "unknown sqlite parameter", storage: files, meta: db + "?mode=ro", errContains: "available: busy_timeout, synchronous"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := attach.Open(context.Background(), tt.storage, tt.meta, opts)
			if tt.errContains != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.errContains)
				return
			}
			require.NoError(t, err)
			require.NoError(t, svc.Ping(context.Background()))
			require.NoError(t, svc.Close())
		})
	}
}
