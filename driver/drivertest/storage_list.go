package drivertest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

func testListPrefixAndOrder(t *testing.T, s driver.Storage) {
	// Written out of order. "-" and "." sort before "/", so a storage
	// that walks directories by name ("a" before "a-b") lists these out of
	// key order.
	keys := []string{
		"p/b",
		"p/a/2",
		"q/x",
		"p/a.c",
		"p/a/1",
		"p/a-b",
		"p/a/sub/deep",
		"p0",
		"pa",
		"p/a0",
	}
	for _, k := range keys {
		write(t, s, k, []byte(k), "")
	}
	all := []string{"p/a-b", "p/a.c", "p/a/1", "p/a/2", "p/a/sub/deep", "p/a0", "p/b", "p0", "pa", "q/x"}
	tests := []struct {
		name   string
		prefix string
		want   []string
	}{
		{name: "everything", prefix: "", want: all},
		{name: "directory", prefix: "p/", want: all[:7]},
		{name: "partial name", prefix: "p/a", want: all[:6]},
		{name: "subdirectory", prefix: "p/a/", want: []string{"p/a/1", "p/a/2", "p/a/sub/deep"}},
		{name: "partial segment", prefix: "p/a/s", want: []string{"p/a/sub/deep"}},
		{name: "exact key", prefix: "p/b", want: []string{"p/b"}},
		{name: "top-level partial", prefix: "p", want: all[:9]},
		{name: "no match", prefix: "zzz", want: nil},
		{name: "no match below a key", prefix: "p/b/", want: nil},
		{name: "missing directory", prefix: "nope/", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, listKeys(t, s, tt.prefix))
		})
	}
}

func testListObjectInfo(t *testing.T, s driver.Storage) {
	before := time.Now()
	write(t, s, "info/one", []byte("1"), "")
	write(t, s, "info/three", []byte("333"), "")
	write(t, s, "info/empty", nil, "")
	after := time.Now()

	var got []driver.ObjectInfo
	require.NoError(t, s.List(t.Context(), "info/", func(o driver.ObjectInfo) error {
		got = append(got, o)
		return nil
	}))
	require.Len(t, got, 3)
	wantSizes := map[string]int64{"info/empty": 0, "info/one": 1, "info/three": 3}
	for _, o := range got {
		assert.Equal(t, wantSizes[o.Key], o.Size, "size of %q", o.Key)
		assert.WithinRange(t, o.ModTime, before.Add(-2*time.Second), after.Add(2*time.Second), "ModTime of %q", o.Key)
	}
}

func testListStopsOnError(t *testing.T, s driver.Storage) {
	for _, k := range []string{"s/1", "s/2", "s/3"} {
		write(t, s, k, []byte(k), "")
	}
	tests := []struct {
		name      string
		failAt    int // fn fails on this call (1-based)
		wantCalls int
	}{
		{name: "first", failAt: 1, wantCalls: 1},
		{name: "second", failAt: 2, wantCalls: 2},
		{name: "last", failAt: 3, wantCalls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := s.List(t.Context(), "s/", func(driver.ObjectInfo) error {
				calls++
				if calls == tt.failAt {
					return errStop
				}
				return nil
			})
			assert.True(t, errors.Is(err, errStop), "List must return fn's error, got %v", err)
			assert.Equal(t, tt.wantCalls, calls)
		})
	}
}
