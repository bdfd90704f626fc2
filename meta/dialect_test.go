package meta

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func dollar(n int) string { return "$" + strconv.Itoa(n) }

func TestRebind(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  string
	}{
		{name: "none", query: "SELECT 1", want: "SELECT 1"},
		{name: "several", query: "SELECT a FROM t WHERE b = ? AND c IN (?, ?)", want: "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"},
		{name: "literal", query: "SELECT '?' , ? FROM t WHERE x = 'it''s ?'", want: "SELECT '?' , $1 FROM t WHERE x = 'it''s ?'"},
		{name: "identifier", query: `SELECT "a?b" FROM t WHERE c = ?`, want: `SELECT "a?b" FROM t WHERE c = $1`},
		{name: "comment", query: "SELECT ? -- what?\nFROM t WHERE c = ?", want: "SELECT $1 -- what?\nFROM t WHERE c = $2"},
		{name: "minus", query: "SELECT ? - ?", want: "SELECT $1 - $2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, rebind(tc.query, dollar))
		})
	}
}

func TestInsertSQL(t *testing.T) {
	assert.Equal(t, "INSERT INTO t (a, b, c) VALUES (?, ?, ?)", insertSQL("t", "a, b, c"))
	assert.Equal(t, "x.a, x.b", prefixed("x", "a, b"))
}

func TestMicros(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{name: "zero", in: time.Time{}, want: time.Time{}},
		{name: "truncated to UTC microseconds",
			in:   time.Date(2025, 1, 2, 3, 4, 5, 6789, time.FixedZone("X", -5*3600)),
			want: time.Date(2025, 1, 2, 8, 4, 5, 6000, time.UTC)},
		{name: "before the epoch", in: time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC), want: time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fromMicros(micros(tc.in))
			assert.Equal(t, tc.want, got)
		})
	}
}
