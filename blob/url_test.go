package blob_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/blob"
)

func TestOpen(t *testing.T) {
	dir := filepath.ToSlash(t.TempDir())
	tests := []struct {
		name    string
		url     string
		wantErr string // substring; "" means success
		wantDir bool   // success yields a local-disk storage
	}{
		{name: "mem", url: "mem://"},
		{name: "file absolute", url: "file://" + dir + "/files", wantDir: true},
		{name: "file localhost", url: "file://localhost" + dir + "/files", wantDir: true},
		{name: "file escaped space", url: "file://" + dir + "/with%20space", wantDir: true},
		{name: "file relative", url: "file://relative/dir", wantErr: `needs an absolute path, like "file:///var/lib/app/files"`},
		{name: "file opaque", url: "file:relative", wantErr: "needs an absolute path"},
		{name: "file root only", url: "file:///", wantErr: `needs a directory below "/"`},
		{name: "file no path", url: "file://", wantErr: `needs a directory below "/"`},
		{name: "file query", url: "file://" + dir + "?create_dir=1", wantErr: "takes no user, parameters or fragment"},
		{name: "mem host", url: "mem://bucket", wantErr: `use "mem://"`},
		{name: "mem query", url: "mem://?nomd5", wantErr: `use "mem://"`},
		{name: "unknown scheme", url: "ftp://host/dir", wantErr: `blob: unknown storage scheme "ftp" (available: file, mem)`},
		{name: "later scheme", url: "s3://bucket?region=us-east-1", wantErr: `unknown storage scheme "s3" (available: file, mem)`},
		{name: "no scheme", url: "/var/lib/app", wantErr: "blob: storage URL has no scheme (available: file, mem)"},
		{name: "empty", url: "", wantErr: "has no scheme"},
		{name: "malformed", url: "://nope", wantErr: "blob: malformed storage URL"},
		{name: "malformed escape", url: "file:///tmp/%zz", wantErr: "blob: malformed storage URL"},
		{name: "scheme case", url: "MEM://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := blob.Open(t.Context(), tt.url, nil)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Nil(t, s)
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			require.NoError(t, s.Ping(t.Context()))
			assert.Equal(t, tt.wantDir, isDisk(s))
		})
	}
}

func TestOpenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := blob.Open(ctx, "mem://", nil)
	assert.ErrorIs(t, err, context.Canceled)
}

// isDisk reports whether s keeps its objects on local disk.
func isDisk(s *blob.Storage) bool {
	var fi os.FileInfo
	return s.As(&fi)
}
