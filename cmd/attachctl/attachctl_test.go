package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// migrateLine is migrate's summary for the given counts.
func migrateLine(copied, bytes, skipped, absent, failed int64) string {
	return fmt.Sprintf("migrate: copied %d (%d bytes), skipped %d, absent %d, failed %d\n", copied, bytes, skipped, absent, failed)
}

// total is the size of every object of the deployment.
func (d *deployment) total() int64 {
	return d.png1 + d.png2v1 + d.png2v2 + d.pdf1 + d.pdf2 + d.deleted
}

func TestMigrateThenVerify(t *testing.T) {
	d := newDeployment(t)
	dst := "file://" + filepath.Join(t.TempDir(), "copy")

	res := attachctl(t, "migrate", "-from", d.storageURL, "-to", dst, "-meta", d.metaURL)
	require.Equal(t, exitOK, res.code, "%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, migrateLine(6, d.total(), 0, 1, 0), "the pending upload's object is absent, not failed")
	assert.Len(t, linesWith(res.stdout, "copied  "), 6, "one line per copied object when stdout is not a terminal")
	assert.Equal(t, d.objects, readAll(t, openURL(t, dst)), "the destination holds the same keys and bytes")

	for _, storage := range []string{d.storageURL, dst} {
		res = attachctl(t, "verify", "-storage", storage, "-meta", d.metaURL)
		assert.Equal(t, exitOK, res.code, "%s%s", res.stdout, res.stderr)
		assert.Contains(t, res.stdout, fmt.Sprintf("verify: checked 6 objects, hashed %d bytes; problems: 0 (", d.total()))
	}

	// A second run finds everything in place.
	res = attachctl(t, "migrate", "-from", d.storageURL, "-to", dst, "-meta", d.metaURL, "-j", "1")
	require.Equal(t, exitOK, res.code, "%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, migrateLine(0, 0, 6, 1, 0))
	assert.Empty(t, linesWith(res.stdout, "copied  "))
}

// TestMigrateResumes damages a finished copy: the rerun copies exactly the
// objects that are missing or differ.
func TestMigrateResumes(t *testing.T) {
	d := newDeployment(t)
	dst := "file://" + filepath.Join(t.TempDir(), "copy")
	require.Equal(t, exitOK, attachctl(t, "migrate", "-from", d.storageURL, "-to", dst, "-meta", d.metaURL).code)

	st := openURL(t, dst)
	var gone, changed string
	for key := range d.objects {
		switch {
		case gone == "":
			gone = key
		case changed == "":
			changed = key
		}
	}
	require.NoError(t, st.Delete(t.Context(), gone))
	same := append([]byte(nil), d.objects[changed]...)
	same[len(same)/2] ^= 0xff // same size, other bytes
	writeObject(t, st, changed, same)

	res := attachctl(t, "migrate", "-from", d.storageURL, "-to", dst, "-meta", d.metaURL, "-v")
	require.Equal(t, exitOK, res.code, "%s%s", res.stdout, res.stderr)
	n := int64(len(d.objects[gone]) + len(d.objects[changed]))
	assert.Contains(t, res.stdout, migrateLine(2, n, 4, 1, 0))
	assert.ElementsMatch(t, []string{"copied  " + changed, "copied  " + gone}, trimSizes(linesWith(res.stdout, "copied  ")))
	assert.Len(t, linesWith(res.stdout, "skipped "), 4, "-v prints skipped objects")
	assert.Equal(t, []string{"absent  " + d.pendingKey}, trimSizes(linesWith(res.stdout, "absent  ")), "-v prints absent objects")
	assert.Equal(t, d.objects, readAll(t, st))
}

// trimSizes drops the " (N bytes)" of copied lines.
func trimSizes(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i], _, _ = strings.Cut(l, " (")
	}
	return out
}

// TestMigrateRefusesBadSource corrupts a source object: migrate does not
// copy it, reports it and fails; the other objects are copied.
func TestMigrateRefusesBadSource(t *testing.T) {
	d := newDeployment(t)
	src := openURL(t, d.storageURL)
	var bad string
	for key := range d.objects {
		if strings.HasPrefix(key, "acme/") {
			bad = key
			break
		}
	}
	corrupt := append([]byte(nil), d.objects[bad]...)
	corrupt[len(corrupt)-1] ^= 0x01
	writeObject(t, src, bad, corrupt)

	dst := "file://" + filepath.Join(t.TempDir(), "copy")
	res := attachctl(t, "migrate", "-from", d.storageURL, "-to", dst, "-meta", d.metaURL)
	assert.Equal(t, exitProblems, res.code, "%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, migrateLine(5, d.total()-int64(len(corrupt)), 0, 1, 1))
	failed := linesWith(res.stdout, "failed  ")
	require.Len(t, failed, 1)
	assert.Contains(t, failed[0], bad)
	assert.Contains(t, failed[0], "digest mismatch")
	_, copied := readAll(t, openURL(t, dst))[bad]
	assert.False(t, copied, "bytes that fail the digest check are never written")
}

func TestMigrateAll(t *testing.T) {
	d := newDeployment(t)
	writeObject(t, openURL(t, d.storageURL), "orphans/notes.txt", []byte("no row names me"))

	dst := "file://" + filepath.Join(t.TempDir(), "copy")
	res := attachctl(t, "migrate", "-from", d.storageURL, "-to", dst, "-meta", d.metaURL)
	require.Equal(t, exitOK, res.code, "%s%s", res.stdout, res.stderr)
	assert.NotContains(t, readAll(t, openURL(t, dst)), "orphans/notes.txt", "without -all only referenced objects move")

	res = attachctl(t, "migrate", "-from", d.storageURL, "-to", dst, "-meta", d.metaURL, "-all")
	require.Equal(t, exitOK, res.code, "%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, migrateLine(1, 15, 6, 1, 0))
	assert.Contains(t, res.stdout, "migrate: 1 of those objects are referenced by no row (-all)")
	assert.Equal(t, []byte("no row names me"), readAll(t, openURL(t, dst))["orphans/notes.txt"])
}

// TestVerifyReportsProblems damages a fresh copy of the deployment in one
// way per case and checks verify's report.
func TestVerifyReportsProblems(t *testing.T) {
	d := newDeployment(t)
	var png2v2 string // a version object of acme
	for key, b := range d.objects {
		if int64(len(b)) == d.png2v2 && strings.HasPrefix(key, "acme/") {
			png2v2 = key
		}
	}
	require.NotEmpty(t, png2v2)
	flip := func(b []byte) []byte {
		c := append([]byte(nil), b...)
		c[len(c)/3] ^= 0x80
		return c
	}
	tests := []struct {
		name     string
		damage   func(t *testing.T, st storageT)
		args     []string
		wantCode int
		want     []string // report lines, by prefix
		summary  string
	}{
		{name: "intact", wantCode: exitOK, summary: "problems: 0 "},
		{name: "object corrupted", damage: func(t *testing.T, st storageT) {
			writeObject(t, st, png2v2, flip(d.objects[png2v2]))
		}, wantCode: exitProblems, want: []string{"digest     " + png2v2}, summary: "problems: 1 (missing 0, size 0, digest 1, stray 0, unreadable 0)"},
		{name: "object corrupted, quick", damage: func(t *testing.T, st storageT) {
			writeObject(t, st, png2v2, flip(d.objects[png2v2]))
		}, args: []string{"-quick"}, wantCode: exitOK, summary: "checked 6 objects, hashed 0 bytes; problems: 0 "},
		{name: "object truncated", damage: func(t *testing.T, st storageT) {
			writeObject(t, st, png2v2, d.objects[png2v2][:10])
		}, args: []string{"-quick"}, wantCode: exitProblems, want: []string{"size       " + png2v2}, summary: "problems: 1 (missing 0, size 1,"},
		{name: "object deleted", damage: func(t *testing.T, st storageT) {
			require.NoError(t, st.Delete(t.Context(), png2v2))
		}, wantCode: exitProblems, want: []string{"missing    " + png2v2}, summary: "checked 5 objects"},
		{name: "stray objects", damage: func(t *testing.T, st storageT) {
			writeObject(t, st, "acme/file_unknown/v1/abc", []byte("x"))
			writeObject(t, st, png2v2[:strings.LastIndex(png2v2, "/")]+"/extra", []byte("yy")) // a known file's prefix
			writeObject(t, st, "stray.txt", []byte("zzz"))
		}, wantCode: exitProblems, want: []string{
			"stray      " + png2v2[:strings.LastIndex(png2v2, "/")] + "/extra (2 bytes)",
			"stray      acme/file_unknown/v1/abc (1 bytes)",
			"stray      stray.txt (3 bytes)",
		}, summary: "problems: 3 (missing 0, size 0, digest 0, stray 3,"},
		{name: "deleted file's object gone", damage: func(t *testing.T, st storageT) {
			require.NoError(t, st.Delete(t.Context(), d.deletedKey))
		}, wantCode: exitOK, summary: "checked 5 objects"},
		{name: "everything at once", damage: func(t *testing.T, st storageT) {
			writeObject(t, st, png2v2, flip(d.objects[png2v2]))
			for key := range d.objects {
				if key != png2v2 && key != d.deletedKey {
					require.NoError(t, st.Delete(t.Context(), key))
					break
				}
			}
			writeObject(t, st, "stray.txt", []byte("zzz"))
		}, wantCode: exitProblems, summary: "problems: 3 (missing 1, size 0, digest 1, stray 1, unreadable 0)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := "file://" + filepath.Join(t.TempDir(), "copy")
			require.Equal(t, exitOK, attachctl(t, "migrate", "-from", d.storageURL, "-to", dst, "-meta", d.metaURL).code)
			if tc.damage != nil {
				st := openURL(t, dst)
				tc.damage(t, st)
				require.NoError(t, st.Close())
			}
			res := attachctl(t, append([]string{"verify", "-storage", dst, "-meta", d.metaURL}, tc.args...)...)
			assert.Equal(t, tc.wantCode, res.code, "%s%s", res.stdout, res.stderr)
			assert.Contains(t, res.stdout, tc.summary)
			for _, want := range tc.want {
				prefix, _, _ := strings.Cut(want, " (")
				lines := linesWith(res.stdout, prefix)
				if assert.Len(t, lines, 1, "a line starting %q in\n%s", prefix, res.stdout) {
					assert.True(t, strings.HasPrefix(lines[0], want), "%q does not start with %q", lines[0], want)
				}
			}
		})
	}
}

func TestStats(t *testing.T) {
	d := newDeployment(t)
	res := attachctl(t, "stats", "-meta", d.metaURL, "-json")
	require.Equal(t, exitOK, res.code, "%s%s", res.stdout, res.stderr)
	var got []statJSON
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &got))
	assert.Equal(t, []statJSON{
		{Workspace: "acme", Kind: "", Files: 1}, // the pending upload
		{Workspace: "acme", Kind: "document", Files: 1, Bytes: d.pdf1, Versions: 1, VersionBytes: d.pdf1},
		{Workspace: "acme", Kind: "image", Files: 2, Bytes: d.png1 + d.png2v2, Versions: 3, VersionBytes: d.png1 + d.png2v1 + d.png2v2},
		{Workspace: "globex", Kind: "document", Files: 1, Bytes: d.pdf2, Versions: 1, VersionBytes: d.pdf2}, // e.pdf is deleted
	}, got)

	res = attachctl(t, "stats", "-meta", d.metaURL)
	require.Equal(t, exitOK, res.code, "%s%s", res.stdout, res.stderr)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	require.Len(t, lines, 6, res.stdout)
	assert.Equal(t, []string{"WORKSPACE", "KIND", "FILES", "SIZE", "VERSIONS", "STORED"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"acme", "(none", "yet)", "1", "0", "B", "0", "0", "B"}, strings.Fields(lines[1]))
	total := strings.Fields(lines[5])
	assert.Equal(t, []string{"total", "5"}, total[:2])
	assert.Equal(t, "5", total[4], "versions of undeleted files")
}

func TestUsage(t *testing.T) {
	d := newDeployment(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
		wantStdout string
	}{
		{name: "no command", wantCode: exitError, wantStderr: "Usage:"},
		{name: "help", args: []string{"help"}, wantCode: exitOK, wantStdout: "attachctl migrate"},
		{name: "unknown command", args: []string{"copy"}, wantCode: exitError, wantStderr: `unknown command "copy"`},
		{name: "command help", args: []string{"verify", "-h"}, wantCode: exitOK, wantStderr: "-quick"},
		{name: "unknown flag", args: []string{"stats", "-meta", d.metaURL, "-csv"}, wantCode: exitError, wantStderr: "-csv"},
		{name: "missing flags", args: []string{"migrate", "-from", d.storageURL}, wantCode: exitError, wantStderr: "-to, -meta required"},
		{name: "extra argument", args: []string{"stats", "-meta", d.metaURL, "now"}, wantCode: exitError, wantStderr: `unexpected argument "now"`},
		{name: "same storage", args: []string{"migrate", "-from", d.storageURL, "-to", d.storageURL, "-meta", d.metaURL},
			wantCode: exitError, wantStderr: "same storage"},
		{name: "bad -j", args: []string{"verify", "-storage", d.storageURL, "-meta", d.metaURL, "-j", "0"}, wantCode: exitError, wantStderr: "-j"},
		{name: "unknown storage scheme", args: []string{"verify", "-storage", "ftp://x/y", "-meta", d.metaURL},
			wantCode: exitError, wantStderr: `unknown storage scheme "ftp"`},
		{name: "unknown metadata scheme", args: []string{"stats", "-meta", "mysql://x/y"}, wantCode: exitError, wantStderr: "registered: postgres, postgresql, sqlite"},
		{name: "unreachable database", args: []string{"stats", "-meta", "postgres://nobody@127.0.0.1:1/x?connect_timeout=5"}, wantCode: exitError, wantStderr: "attachctl stats: metadata:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := attachctl(t, tc.args...)
			assert.Equal(t, tc.wantCode, res.code, "%s%s", res.stdout, res.stderr)
			assert.Contains(t, res.stderr, tc.wantStderr)
			assert.Contains(t, res.stdout, tc.wantStdout)
		})
	}
}

func TestBar(t *testing.T) {
	tests := []struct {
		name                             string
		objects, total, bytes, totalByte int64
		want                             string
	}{
		{name: "by bytes", objects: 1, total: 4, bytes: 512, totalByte: 1024,
			want: "[=====     ]  50% copied 1/4 objects, 512 B/1.0 KiB"},
		{name: "by objects", objects: 1, total: 4,
			want: "[==        ]  25% copied 1/4 objects, 0 B"},
		{name: "more than expected", objects: 9, total: 4, bytes: 3 << 20, totalByte: 1 << 20,
			want: "[==========] 100% copied 9/4 objects, 3.0 MiB/1.0 MiB"},
		{name: "unknown totals", objects: 3, bytes: 5 << 30, want: "copied 3 objects, 5.0 GiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, bar("copied", tc.objects, tc.total, tc.bytes, tc.totalByte, 10))
		})
	}
}
