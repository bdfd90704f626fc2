package drivertest

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

func testOddKeys(t *testing.T, s driver.Storage) {
	tests := []struct {
		name string
		key  string
	}{
		{name: "spaces", key: "dir with spaces/file name.txt"},
		{name: "unicode", key: "dir/ünïcødé 文件.bin"},
		{name: "emoji", key: "📁/📄"},
		{name: "deep path", key: "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/leaf"},
		{name: "dots in names", key: "a/b.c/d..e"},
		{name: "leading dot", key: ".hidden/.file"},
		{name: "punctuation", key: "p/!$&'()*+,;=@[]{}~%20#?"},
		{name: "attach style", key: "ws_1/0b5e7c1e-3f0a-4c1b-9a7d-2f4f5b6c7d8e/v1/Qm9vYmFy-_.x"},
		// Local file systems limit a name to 255 bytes, so the longest key
		// has several segments.
		{name: "1024 bytes", key: strings.Repeat(strings.Repeat("k", 127)+"/", 7) + strings.Repeat("k", 128)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte("payload of " + tt.name)
			write(t, s, tt.key, data, "text/plain")
			assert.Equal(t, data, read(t, s, tt.key))
			a, err := s.Attributes(t.Context(), tt.key)
			require.NoError(t, err)
			assert.Equal(t, int64(len(data)), a.Size)
			assert.Equal(t, []string{tt.key}, listKeys(t, s, tt.key), "List must report the key exactly")
			require.NoError(t, s.Delete(t.Context(), tt.key))
			requireMissing(t, s, tt.key)
		})
	}
}

func testRefusedKeys(t *testing.T, s driver.Storage) {
	tests := []struct {
		name string
		key  string
	}{
		{name: "empty", key: ""},
		{name: "parent", key: "../x"},
		{name: "parent inside", key: "a/../b"},
		{name: "parent at end", key: "a/.."},
		{name: "dot segment", key: "a/./b"},
		{name: "lone dot", key: "."},
		{name: "absolute", key: "/abs"},
		{name: "NUL", key: "a\x00b"},
		{name: "newline", key: "a\nb"},
		{name: "DEL", key: "a\x7fb"},
		{name: "invalid UTF-8", key: "a\xffb"},
		{name: "too long", key: strings.Repeat("k", 2000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			err := tryWrite(t, s, tt.key, []byte("must not be stored"))
			require.Error(t, err, "writing key %q must fail", tt.key)
			assert.ErrorIs(t, err, driver.ErrInvalidArgument)

			// Reads of a key that cannot exist may say either.
			_, err = s.Attributes(ctx, tt.key)
			assertRefusedOrMissing(t, err, "Attributes")
			r, err := s.NewRangeReader(ctx, tt.key, 0, -1)
			if err == nil {
				_ = r.Close()
			}
			assertRefusedOrMissing(t, err, "NewRangeReader")
			assertRefusedOrMissing(t, s.Delete(ctx, tt.key), "Delete")

			assert.Empty(t, listKeys(t, s, ""), "a refused key must store nothing")
		})
	}
}

// tryWrite writes data at key and returns the first error, from NewWriter,
// Write or Close.
func tryWrite(t *testing.T, s driver.Storage, key string, data []byte) error {
	t.Helper()
	w, err := s.NewWriter(t.Context(), key, nil)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

func assertRefusedOrMissing(t *testing.T, err error, op string) {
	t.Helper()
	if !errors.Is(err, driver.ErrInvalidArgument) && !errors.Is(err, driver.ErrNotFound) {
		t.Errorf("%s: got error %v, want one matching ErrInvalidArgument or ErrNotFound", op, err)
	}
}
