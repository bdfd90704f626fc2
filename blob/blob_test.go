package blob_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/driver/drivertest"
)

func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		open func(t *testing.T) (*blob.Storage, error)
	}{
		{name: "NewMemory", open: func(*testing.T) (*blob.Storage, error) { return blob.NewMemory(), nil }},
		{name: "OpenDir", open: func(t *testing.T) (*blob.Storage, error) { return blob.OpenDir(t.TempDir(), nil) }},
		{name: "OpenDir missing nested dir", open: func(t *testing.T) (*blob.Storage, error) {
			return blob.OpenDir(filepath.Join(t.TempDir(), "not", "yet"), nil)
		}},
		{name: "Open mem URL", open: func(t *testing.T) (*blob.Storage, error) { return blob.Open(t.Context(), "mem://", nil) }},
		{name: "Open file URL", open: func(t *testing.T) (*blob.Storage, error) {
			return blob.Open(t.Context(), "file://"+filepath.ToSlash(t.TempDir()), nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			drivertest.RunStorageTests(t, func(t *testing.T) driver.Storage {
				s, err := tt.open(t)
				require.NoError(t, err)
				t.Cleanup(func() { assert.NoError(t, s.Close()) })
				return s
			})
		})
	}
}

// storages returns a fresh memory and a fresh disk storage, for tests of
// behaviour beyond the conformance suite that must hold on both.
func storages(t *testing.T) map[string]*blob.Storage {
	t.Helper()
	disk, err := blob.OpenDir(t.TempDir(), nil)
	require.NoError(t, err)
	m := map[string]*blob.Storage{"memory": blob.NewMemory(), "disk": disk}
	for _, s := range m {
		t.Cleanup(func() { _ = s.Close() })
	}
	return m
}

func TestReservedKeys(t *testing.T) {
	// Refused by Storage on every backend, beyond the conformance suite's
	// list, so that keys stay portable between backends.
	tests := []struct {
		name string
		key  string
	}{
		{name: "sidecar name", key: "a/b.attrs"},
		{name: "temp file name", key: "a/b.17f3c2a9e.tmp"},
		{name: "escape marker", key: "a/__0x2f__b"},
		{name: "double slash", key: "a//b"},
		{name: "trailing slash", key: "a/"},
		{name: "segment ending in dots", key: "a../b"},
		{name: "final segment ending in dots", key: "a/b.."},
		{name: "backslash", key: `a\b`},
		{name: "C1 control", key: "a\u0085b"},
	}
	for name, s := range storages(t) {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				_, err := s.NewWriter(t.Context(), tt.key, nil)
				require.ErrorIs(t, err, driver.ErrInvalidArgument)
				_, err = s.Attributes(t.Context(), tt.key)
				require.ErrorIs(t, err, driver.ErrInvalidArgument)
				assert.Contains(t, err.Error(), "blob: key ")
			})
		}
	}
}

func TestAllowedLookalikes(t *testing.T) {
	// Near misses of the reserved names are ordinary keys.
	keys := []string{"a/b.attrs.x", "a/b.tmp", "a/b.xyz.tmp", "a/b.1F.tmp", "a.attrs/b", "a.1f.tmp/b", "a/__0y", "a/b..c", "a/.b"}
	for name, s := range storages(t) {
		t.Run(name, func(t *testing.T) {
			for _, k := range keys {
				w, err := s.NewWriter(t.Context(), k, nil)
				require.NoError(t, err, k)
				_, err = io.WriteString(w, k)
				require.NoError(t, err, k)
				require.NoError(t, w.Close(), k)
			}
			var listed []string
			require.NoError(t, s.List(t.Context(), "", func(o driver.ObjectInfo) error {
				listed = append(listed, o.Key)
				return nil
			}))
			assert.ElementsMatch(t, keys, listed)
		})
	}
}

func TestInvalidArguments(t *testing.T) {
	for name, s := range storages(t) {
		t.Run(name, func(t *testing.T) {
			_, err := s.NewRangeReader(t.Context(), "k", -1, -1)
			assert.ErrorIs(t, err, driver.ErrInvalidArgument, "negative offset")
			_, err = s.NewWriter(t.Context(), "k", &driver.WriterOptions{ContentType: "not a type/"})
			assert.ErrorIs(t, err, driver.ErrInvalidArgument, "malformed content type")
		})
	}
}

func TestListInvalidPrefix(t *testing.T) {
	for name, s := range storages(t) {
		t.Run(name, func(t *testing.T) {
			w, err := s.NewWriter(t.Context(), "a/b", nil)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			for _, prefix := range []string{"/", "../", "a/../", "a//", "\x00"} {
				calls := 0
				err := s.List(t.Context(), prefix, func(driver.ObjectInfo) error { calls++; return nil })
				require.NoError(t, err, "prefix %q", prefix)
				assert.Zero(t, calls, "prefix %q matches no valid key", prefix)
			}
		})
	}
}

func TestPing(t *testing.T) {
	for name, s := range storages(t) {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, s.Ping(t.Context()))
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			assert.ErrorIs(t, s.Ping(ctx), context.Canceled)
		})
	}
}

func TestPingRemovedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	s, err := blob.OpenDir(dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, os.Remove(dir))
	err = s.Ping(t.Context())
	assert.ErrorIs(t, err, driver.ErrNotFound)
}

func TestClosed(t *testing.T) {
	s := blob.NewMemory()
	require.NoError(t, s.Close())
	_, err := s.Attributes(t.Context(), "k")
	require.Error(t, err)
	assert.ErrorIs(t, err, driver.ErrPrecondition, "gocloud reports a closed bucket as FailedPrecondition")
}

func TestWriterClosedTwice(t *testing.T) {
	for name, s := range storages(t) {
		t.Run(name, func(t *testing.T) {
			w, err := s.NewWriter(t.Context(), "k", nil)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			assert.ErrorIs(t, w.Close(), os.ErrClosed)
			_, err = w.Write([]byte("late"))
			assert.ErrorIs(t, err, os.ErrClosed)
		})
	}
}

func TestErrorsKeepCause(t *testing.T) {
	s, err := blob.OpenDir(t.TempDir(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	_, err = s.Attributes(t.Context(), "missing/key")
	require.ErrorIs(t, err, driver.ErrNotFound)
	var perr *os.PathError
	assert.True(t, errors.As(err, &perr), "the *os.PathError stays reachable: %v", err)
	assert.True(t, strings.HasPrefix(err.Error(), `blob: read "missing/key": not found: `), err.Error())
}

func TestAs(t *testing.T) {
	s, err := blob.OpenDir(t.TempDir(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	var fi os.FileInfo
	require.True(t, s.As(&fi), "fileblob exposes the root's os.FileInfo")
	assert.True(t, fi.IsDir())
	var nope *strings.Builder
	assert.False(t, s.As(&nope))
	assert.NotNil(t, s.Bucket())
}
