package blob_test

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/driver"
)

// openDir returns a disk storage over a fresh directory, and the directory.
func openDir(t *testing.T) (*blob.Storage, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := blob.OpenDir(dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

// tmpFiles returns the temporary files left under dir.
func tmpFiles(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".tmp") {
			found = append(found, p)
		}
		return nil
	}))
	return found
}

func writeKey(t *testing.T, ctx context.Context, s *blob.Storage, key, data string) error {
	t.Helper()
	w, err := s.NewWriter(ctx, key, &driver.WriterOptions{ContentType: "text/plain"})
	require.NoError(t, err)
	if _, err := io.WriteString(w, data); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

func TestDiskLayout(t *testing.T) {
	s, dir := openDir(t)
	tests := []struct {
		name string
		key  string
		data string
	}{
		{name: "top level", key: "top", data: "1"},
		{name: "nested", key: "ws/file/v1/blob", data: "nested bytes"},
		{name: "unicode", key: "dir/ünïcødé 文件.bin", data: "unicode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, writeKey(t, t.Context(), s, tt.key, tt.data))
			path := filepath.Join(dir, filepath.FromSlash(tt.key))
			got, err := os.ReadFile(path)
			require.NoError(t, err, "the object is the file at root/key")
			assert.Equal(t, tt.data, string(got))

			// The sidecar records what Attributes reports.
			side, err := os.ReadFile(path + ".attrs")
			require.NoError(t, err)
			var attrs struct {
				ContentType string `json:"user.content_type"`
			}
			require.NoError(t, json.Unmarshal(side, &attrs))
			assert.Equal(t, "text/plain", attrs.ContentType)
			a, err := s.Attributes(t.Context(), tt.key)
			require.NoError(t, err)
			assert.Len(t, a.MD5, 16, "fileblob computes MD5 while writing")
			assert.NotEmpty(t, a.ETag)
		})
	}
	assert.Empty(t, tmpFiles(t, dir))
}

func TestDiskNoTempFilesLeft(t *testing.T) {
	s, dir := openDir(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			assert.NoError(t, writeKey(t, t.Context(), s, "same/key", strings.Repeat("x", i*1000)))
		})
	}
	wg.Wait()
	require.NoError(t, writeKey(t, t.Context(), s, "other", "y"))
	require.NoError(t, s.Delete(t.Context(), "other"))
	assert.Empty(t, tmpFiles(t, dir), "successful writes leave no temporary files")
	_, err := os.Stat(filepath.Join(dir, "other.attrs"))
	assert.ErrorIs(t, err, fs.ErrNotExist, "Delete removes the sidecar")
}

func TestDiskAbortedWrite(t *testing.T) {
	tests := []struct {
		name     string
		previous string // "" means none
	}{
		{name: "new key"},
		{name: "replacing", previous: "old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := openDir(t)
			key := "ws/f/v1/obj"
			if tt.previous != "" {
				require.NoError(t, writeKey(t, t.Context(), s, key, tt.previous))
			}
			ctx, cancel := context.WithCancel(t.Context())
			w, err := s.NewWriter(ctx, key, nil)
			require.NoError(t, err)
			_, err = io.WriteString(w, "doomed")
			require.NoError(t, err)
			assert.Len(t, tmpFiles(t, dir), 1, "the write goes to a temporary file next to the final one")
			cancel()
			require.ErrorIs(t, w.Close(), context.Canceled)

			assert.Empty(t, tmpFiles(t, dir), "an aborted write leaves no temporary file")
			got, err := os.ReadFile(filepath.Join(dir, "ws", "f", "v1", "obj"))
			if tt.previous == "" {
				assert.ErrorIs(t, err, fs.ErrNotExist)
				_, err = s.Attributes(t.Context(), key)
				assert.ErrorIs(t, err, driver.ErrNotFound)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.previous, string(got))
		})
	}
}

func TestDiskStrayTempFileNotListed(t *testing.T) {
	// A crash mid-write leaves "<key>.<hex>.tmp" behind; it is not an
	// object.
	s, dir := openDir(t)
	require.NoError(t, writeKey(t, t.Context(), s, "a/b", "real"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a", "b.18a2b3c4d5e6f708.tmp"), []byte("junk"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a", "c__0x41__"), []byte("not written by Storage"), 0o600))
	var keys []string
	require.NoError(t, s.List(t.Context(), "", func(o driver.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}))
	assert.Equal(t, []string{"a/b"}, keys)
}

func TestDiskKeyCollisions(t *testing.T) {
	// On disk, "a" and "a/b" cannot both exist.
	s, _ := openDir(t)
	require.NoError(t, writeKey(t, t.Context(), s, "file", "f"))
	require.NoError(t, writeKey(t, t.Context(), s, "dir/x", "x"))

	assert.ErrorIs(t, tryClose(s, "file/below"), driver.ErrInvalidArgument, "a key below an existing object")
	assert.ErrorIs(t, tryClose(s, "dir"), driver.ErrInvalidArgument, "a key naming a directory of other keys")

	_, err := s.Attributes(t.Context(), "file/below")
	assert.ErrorIs(t, err, driver.ErrNotFound)
	_, err = s.Attributes(t.Context(), "dir")
	assert.ErrorIs(t, err, driver.ErrNotFound)
	assert.ErrorIs(t, s.Delete(t.Context(), "dir"), driver.ErrNotFound)
	assert.ErrorIs(t, s.Delete(t.Context(), "file/below"), driver.ErrNotFound)

	// A segment longer than the file system allows (255 bytes here).
	for _, key := range []string{"a/" + strings.Repeat("n", 300), strings.Repeat("d", 300) + "/b"} {
		assert.ErrorIs(t, tryClose(s, key), driver.ErrInvalidArgument, "over-long segment")
		_, err = s.Attributes(t.Context(), key)
		assert.ErrorIs(t, err, driver.ErrNotFound)
	}
}

// tryClose writes an empty object at key and returns the first error.
func tryClose(s *blob.Storage, key string) error {
	w, err := s.NewWriter(context.Background(), key, nil)
	if err != nil {
		return err
	}
	return w.Close()
}

func TestOpenDirCreatesDir(t *testing.T) {
	tests := []struct {
		name     string
		opts     *blob.Options
		wantMode fs.FileMode
	}{
		{name: "default mode", opts: nil, wantMode: 0o750},
		{name: "custom mode", opts: &blob.Options{DirMode: 0o700}, wantMode: 0o700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a", "b")
			s, err := blob.OpenDir(dir, tt.opts)
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			fi, err := os.Stat(dir)
			require.NoError(t, err)
			assert.True(t, fi.IsDir())
			assert.Equal(t, tt.wantMode, fi.Mode().Perm()&tt.wantMode, "mode %v", fi.Mode())
			assert.Zero(t, fi.Mode().Perm()&^tt.wantMode, "no more permissive than asked: %v", fi.Mode())

			require.NoError(t, writeKey(t, t.Context(), s, "k1/k2/obj", "x"))
			fi, err = os.Stat(filepath.Join(dir, "k1", "k2"))
			require.NoError(t, err)
			assert.Zero(t, fi.Mode().Perm()&^tt.wantMode, "key directories use DirMode too: %v", fi.Mode())
		})
	}
}

func TestOpenDirOnFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o600))
	_, err := blob.OpenDir(f, nil)
	assert.ErrorContains(t, err, "blob: open dir")
}

func TestOpenDirRelative(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := blob.OpenDir("rel", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, writeKey(t, t.Context(), s, "k", "v"))
	t.Chdir(t.TempDir()) // the root was resolved once, at OpenDir
	_, err = s.Attributes(t.Context(), "k")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "rel", "k"))
	assert.NoError(t, err)
}

// TestSweepTemp: the temporary files of writes a crash interrupted are
// removed once old enough; a write in progress (a recent file) and the
// objects themselves are left alone.
func TestSweepTemp(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := blob.OpenDir(dir, nil)
	require.NoError(t, err)
	defer s.Close()
	w, err := s.NewWriter(ctx, "ws/f/v1/obj", nil)
	require.NoError(t, err)
	_, err = w.Write([]byte("whole"))
	require.NoError(t, err)
	require.NoError(t, w.Close())

	now := time.Now()
	stale := filepath.Join(dir, "ws", "f", "v1", "obj2.5f3a9c.tmp")
	fresh := filepath.Join(dir, "ws", "f", "v1", "obj3.77aa01.tmp")
	notOurs := filepath.Join(dir, "ws", "f", "v1", "notes.tmp")
	for _, p := range []string{stale, fresh, notOurs} {
		require.NoError(t, os.WriteFile(p, []byte("partial"), 0o600))
	}
	old := now.Add(-3 * time.Hour)
	require.NoError(t, os.Chtimes(stale, old, old))
	require.NoError(t, os.Chtimes(notOurs, old, old))

	n, err := s.SweepTemp(ctx, now.Add(-time.Hour))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.NoFileExists(t, stale)
	assert.FileExists(t, fresh, "a write in progress is left alone")
	assert.FileExists(t, notOurs, "a name the storage never writes is left alone")
	_, err = s.Attributes(ctx, "ws/f/v1/obj")
	assert.NoError(t, err, "objects are kept")

	n, err = blob.NewMemory().SweepTemp(ctx, now)
	require.NoError(t, err)
	assert.Zero(t, n)
}
