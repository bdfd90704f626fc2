package drivertest

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// RunStorageTests checks that the driver.Storage returned by newStorage
// honours the contracts documented on driver.Storage: round trips,
// attributes, ranges, atomic replacement, aborted writes, key handling,
// cancellation, listing, concurrency and large objects. Every subtest
// calls newStorage for a fresh, empty storage; newStorage registers its
// own cleanup (t.Cleanup) to close it.
func RunStorageTests(t *testing.T, newStorage func(t *testing.T) driver.Storage) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s driver.Storage)
	}{
		{"RoundTrip", testRoundTrip},
		{"Attributes", testAttributes},
		{"Overwrite", testOverwrite},
		{"EmptyObject", testEmptyObject},
		{"RangeReads", testRangeReads},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"NotVisibleUntilClose", testNotVisibleUntilClose},
		{"AbortBeforeClose", testAbortBeforeClose},
		{"AbortMidway", testAbortMidway},
		{"CancelledContext", testCancelledContext},
		{"OddKeys", testOddKeys},
		{"RefusedKeys", testRefusedKeys},
		{"ListPrefixAndOrder", testListPrefixAndOrder},
		{"ListObjectInfo", testListObjectInfo},
		{"ListStopsOnError", testListStopsOnError},
		{"ConcurrentWrites", testConcurrentWrites},
		{"IfNotExist", testIfNotExist},
		{"LargeObject", testLargeObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newStorage(t))
		})
	}
}

func testRoundTrip(t *testing.T, s driver.Storage) {
	data := []byte("hello, attachkit")
	write(t, s, "a/b/hello.txt", data, "text/plain")
	assert.Equal(t, data, read(t, s, "a/b/hello.txt"))
}

func testAttributes(t *testing.T, s driver.Storage) {
	ctx := t.Context()
	data := bytes.Repeat([]byte("0123456789"), 1000)
	before := time.Now()
	write(t, s, "doc.pdf", data, "application/pdf")
	after := time.Now()

	a, err := s.Attributes(ctx, "doc.pdf")
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), a.Size)
	assert.Equal(t, "application/pdf", a.ContentType)
	if a.MD5 != nil {
		sum := md5.Sum(data)
		assert.Equal(t, sum[:], a.MD5, "MD5 must be the digest of the bytes written")
	}
	require.False(t, a.ModTime.IsZero(), "ModTime must be set")
	// Allow for coarse file system clocks.
	assert.WithinRange(t, a.ModTime, before.Add(-2*time.Second), after.Add(2*time.Second))

	// Without a content type the write still succeeds.
	w, err := s.NewWriter(ctx, "untyped", nil)
	require.NoError(t, err)
	_, err = w.Write([]byte{0, 1, 2})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	a, err = s.Attributes(ctx, "untyped")
	require.NoError(t, err)
	assert.Equal(t, int64(3), a.Size)
}

func testOverwrite(t *testing.T, s driver.Storage) {
	ctx := t.Context()
	write(t, s, "k", bytes.Repeat([]byte("old "), 100), "text/plain")
	newData := []byte("new content, shorter")
	write(t, s, "k", newData, "application/octet-stream")

	assert.Equal(t, newData, read(t, s, "k"))
	a, err := s.Attributes(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, int64(len(newData)), a.Size)
	assert.Equal(t, "application/octet-stream", a.ContentType)
	if a.MD5 != nil {
		sum := md5.Sum(newData)
		assert.Equal(t, sum[:], a.MD5)
	}
	assert.Equal(t, []string{"k"}, listKeys(t, s, ""))
}

func testEmptyObject(t *testing.T, s driver.Storage) {
	ctx := t.Context()
	write(t, s, "empty", nil, "")
	a, err := s.Attributes(ctx, "empty")
	require.NoError(t, err)
	assert.Equal(t, int64(0), a.Size)
	if a.MD5 != nil {
		sum := md5.Sum(nil)
		assert.Equal(t, sum[:], a.MD5)
	}
	assert.Empty(t, read(t, s, "empty"))
	assert.Empty(t, readRange(t, s, "empty", 0, 10))
	assert.Equal(t, []string{"empty"}, listKeys(t, s, ""))
}

func testRangeReads(t *testing.T, s driver.Storage) {
	data := []byte("0123456789abcdefghij") // 20 bytes
	write(t, s, "r", data, "")
	tests := []struct {
		name           string
		offset, length int64
		want           string
	}{
		{name: "whole", offset: 0, length: -1, want: string(data)},
		{name: "whole exact length", offset: 0, length: 20, want: string(data)},
		{name: "prefix", offset: 0, length: 5, want: "01234"},
		{name: "middle", offset: 5, length: 5, want: "56789"},
		{name: "suffix to end", offset: 15, length: -1, want: "fghij"},
		{name: "length past end", offset: 15, length: 100, want: "fghij"},
		{name: "zero length", offset: 3, length: 0, want: ""},
		{name: "last byte", offset: 19, length: 1, want: "j"},
		{name: "offset at end", offset: 20, length: -1, want: ""},
		{name: "offset at end with length", offset: 20, length: 5, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, string(readRange(t, s, "r", tt.offset, tt.length)))
		})
	}
}

func testMissing(t *testing.T, s driver.Storage) {
	ctx := t.Context()
	write(t, s, "present", []byte("x"), "")
	for _, key := range []string{"absent", "present/below", "a/b/c"} {
		_, err := s.Attributes(ctx, key)
		assert.ErrorIs(t, err, driver.ErrNotFound, "Attributes(%q)", key)
		r, err := s.NewRangeReader(ctx, key, 0, -1)
		if err == nil {
			_ = r.Close()
		}
		assert.ErrorIs(t, err, driver.ErrNotFound, "NewRangeReader(%q)", key)
		assert.ErrorIs(t, s.Delete(ctx, key), driver.ErrNotFound, "Delete(%q)", key)
	}
}

func testDelete(t *testing.T, s driver.Storage) {
	ctx := t.Context()
	write(t, s, "d/1", []byte("one"), "")
	write(t, s, "d/2", []byte("two"), "")
	require.NoError(t, s.Delete(ctx, "d/1"))
	requireMissing(t, s, "d/1")
	assert.ErrorIs(t, s.Delete(ctx, "d/1"), driver.ErrNotFound, "second Delete")
	assert.Equal(t, []string{"d/2"}, listKeys(t, s, ""))
	assert.Equal(t, []byte("two"), read(t, s, "d/2"))

	// The prefix of a deleted deeper key is not an object either.
	require.NoError(t, s.Delete(ctx, "d/2"))
	assert.ErrorIs(t, s.Delete(ctx, "d"), driver.ErrNotFound)
	assert.Empty(t, listKeys(t, s, ""))
}

func testNotVisibleUntilClose(t *testing.T, s driver.Storage) {
	write(t, s, "v/old", []byte("previous"), "")
	tests := []struct {
		name      string
		key       string
		previous  []byte // nil: no previous object
		listed    []string
		afterward []string
	}{
		{name: "new key", key: "v/new", listed: []string{"v/old"}, afterward: []string{"v/new", "v/old"}},
		{name: "existing key", key: "v/old", previous: []byte("previous"), listed: []string{"v/new", "v/old"}, afterward: []string{"v/new", "v/old"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := s.NewWriter(t.Context(), tt.key, &driver.WriterOptions{ContentType: "text/plain"})
			require.NoError(t, err)
			_, err = w.Write([]byte("in progress"))
			require.NoError(t, err)

			if tt.previous == nil {
				requireMissing(t, s, tt.key)
			} else {
				assert.Equal(t, tt.previous, read(t, s, tt.key), "readers see the previous object until Close")
			}
			assert.Equal(t, tt.listed, listKeys(t, s, "v/"), "an unfinished write must not be listed")

			require.NoError(t, w.Close())
			assert.Equal(t, []byte("in progress"), read(t, s, tt.key))
			assert.Equal(t, tt.afterward, listKeys(t, s, ""))
		})
	}
}

func testAbortBeforeClose(t *testing.T, s driver.Storage) {
	tests := []struct {
		name     string
		previous []byte // nil: no previous object
	}{
		{name: "new key"},
		{name: "existing key", previous: []byte("keep me")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "abort/" + tt.name
			if tt.previous != nil {
				write(t, s, key, tt.previous, "text/plain")
			}
			ctx, cancel := context.WithCancel(t.Context())
			w, err := s.NewWriter(ctx, key, &driver.WriterOptions{ContentType: "image/png"})
			require.NoError(t, err)
			_, err = w.Write(bytes.Repeat([]byte("x"), 4096))
			require.NoError(t, err)
			cancel()
			err = w.Close()
			require.Error(t, err, "Close after the context is cancelled must fail")
			assert.ErrorIs(t, err, context.Canceled)

			if tt.previous == nil {
				requireMissing(t, s, key)
				assert.Empty(t, listKeys(t, s, "abort/"))
				return
			}
			assert.Equal(t, tt.previous, read(t, s, key))
			a, err := s.Attributes(t.Context(), key)
			require.NoError(t, err)
			assert.Equal(t, "text/plain", a.ContentType)
			assert.Equal(t, []string{key}, listKeys(t, s, "abort/"))
		})
	}
}

func testAbortMidway(t *testing.T, s driver.Storage) {
	previous := bytes.Repeat([]byte("p"), 10_000)
	write(t, s, "mid", previous, "")

	ctx, cancel := context.WithCancel(t.Context())
	w, err := s.NewWriter(ctx, "mid", nil)
	require.NoError(t, err)
	_, err = w.Write(bytes.Repeat([]byte("n"), 5000))
	require.NoError(t, err)
	cancel()
	// Writes after cancellation may fail fast; the result is what matters.
	for range 10 {
		if _, err := w.Write(bytes.Repeat([]byte("n"), 5000)); err != nil {
			assert.ErrorIs(t, err, context.Canceled)
			break
		}
	}
	assert.Error(t, w.Close())

	assert.Equal(t, previous, read(t, s, "mid"))
	a, err := s.Attributes(t.Context(), "mid")
	require.NoError(t, err)
	assert.Equal(t, int64(len(previous)), a.Size)
	assert.Equal(t, []string{"mid"}, listKeys(t, s, ""))
}

func testCancelledContext(t *testing.T, s driver.Storage) {
	write(t, s, "c/k", []byte("data"), "")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		call func() error
	}{
		{name: "Attributes", call: func() error {
			_, err := s.Attributes(ctx, "c/k")
			return err
		}},
		{name: "NewRangeReader", call: func() error {
			r, err := s.NewRangeReader(ctx, "c/k", 0, -1)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.ReadAll(r)
			return err
		}},
		{name: "NewWriter", call: func() error {
			w, err := s.NewWriter(ctx, "c/new", nil)
			if err != nil {
				return err
			}
			_, _ = w.Write([]byte("x"))
			return w.Close()
		}},
		{name: "Delete", call: func() error { return s.Delete(ctx, "c/k") }},
		{name: "List", call: func() error {
			return s.List(ctx, "", func(driver.ObjectInfo) error { return nil })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.Error(t, err)
			assert.ErrorIs(t, err, context.Canceled)
		})
	}
	assert.Equal(t, []byte("data"), read(t, s, "c/k"), "a cancelled Delete must not delete")
	requireMissing(t, s, "c/new")
}

// write stores data at key and fails the test on any error.
func write(t *testing.T, s driver.Storage, key string, data []byte, contentType string) {
	t.Helper()
	w, err := s.NewWriter(t.Context(), key, &driver.WriterOptions{ContentType: contentType, Size: int64(len(data))})
	require.NoError(t, err, "NewWriter(%q)", key)
	_, err = w.Write(data)
	require.NoError(t, err, "Write(%q)", key)
	require.NoError(t, w.Close(), "Close(%q)", key)
}

// read returns the whole object at key.
func read(t *testing.T, s driver.Storage, key string) []byte {
	t.Helper()
	return readRange(t, s, key, 0, -1)
}

// readRange returns length bytes of key from offset.
func readRange(t *testing.T, s driver.Storage, key string, offset, length int64) []byte {
	t.Helper()
	r, err := s.NewRangeReader(t.Context(), key, offset, length)
	require.NoError(t, err, "NewRangeReader(%q, %d, %d)", key, offset, length)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err, "reading %q", key)
	return b
}

// requireMissing fails the test unless key is absent.
func requireMissing(t *testing.T, s driver.Storage, key string) {
	t.Helper()
	_, err := s.Attributes(t.Context(), key)
	require.ErrorIs(t, err, driver.ErrNotFound, "Attributes(%q) of a missing object", key)
}

// listKeys returns the keys List reports under prefix, in order.
func listKeys(t *testing.T, s driver.Storage, prefix string) []string {
	t.Helper()
	var keys []string
	err := s.List(t.Context(), prefix, func(o driver.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	})
	require.NoError(t, err, "List(%q)", prefix)
	return keys
}

// errStop is what List callbacks return to stop early.
var errStop = errors.New("drivertest: stop listing")
