package drivertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// Document tests of edits, version copies, retention, scope and
// concurrency; the listing tests and the list of all are in
// meta_documents.go.

func ptr[T any](v T) *T { return &v }

func testMetaUpdateFile(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	before := addListed(t, s, wsA, spec{id: "f1", name: "old.pdf", owner: "alice", tags: []string{"a", "b"}, at: at})
	addListed(t, s, wsA, spec{id: "f2", owner: "alice", tags: []string{"a"}, at: at})
	later := at.Add(time.Hour)

	got, err := s.UpdateFile(ctx, &driver.FileUpdate{Workspace: wsA, ID: "f1", Title: ptr("New title"), At: later})
	require.NoError(t, err)
	want := *before
	want.Title, want.UpdatedAt = "New title", stored(later)
	assert.Equal(t, &want, got, "only the title and updated time changed")

	acl := driver.ACL{View: []string{"user:bob"}, Edit: []string{"user:bob"}, Delete: []string{}}
	ensureCollection(t, s, wsA, "c7", at)
	got, err = s.UpdateFile(ctx, &driver.FileUpdate{Workspace: wsA, ID: "f1", FileName: ptr("Renamed.PDF"),
		CollectionID: ptr("c7"), Tags: ptr([]string{"b", "c", "c"}), Metadata: []byte(`{"k":[1,2]}`),
		AccessControl: ptr(driver.AccessPublicRead), ACL: &acl, At: later.Add(time.Second)})
	require.NoError(t, err)
	want.FileName, want.CollectionID, want.AccessControl, want.ACL = "Renamed.PDF", "c7", driver.AccessPublicRead, acl
	want.UpdatedAt = stored(later.Add(time.Second))
	assert.JSONEq(t, `{"k":[1,2]}`, string(got.Metadata))
	assert.Subset(t, []string{"b", "c", "c"}, got.Tags)
	want.Metadata, want.Tags = got.Metadata, got.Tags
	assert.Equal(t, &want, got)
	stored, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, got, stored)
	v, err := s.Version(ctx, wsA, "f1", 1)
	require.NoError(t, err)
	assert.Equal(t, "old.pdf", v.FileName, "a rename does not rewrite history")

	q := driver.ListQuery{Workspace: wsA}
	for _, tc := range []struct {
		name string
		mod  func(q *driver.ListQuery)
		want []string
	}{
		{name: "old tag", mod: func(q *driver.ListQuery) { q.Tag = "a" }, want: []string{"f2"}},
		{name: "kept tag", mod: func(q *driver.ListQuery) { q.Tag = "b" }, want: []string{"f1"}},
		{name: "new tag", mod: func(q *driver.ListQuery) { q.Tag = "c" }, want: []string{"f1"}},
		{name: "new name", mod: func(q *driver.ListQuery) { q.NameContains = "renamed.pdf" }, want: []string{"f1"}},
		{name: "old name", mod: func(q *driver.ListQuery) { q.NameContains = "old" }, want: []string{}},
		{name: "collection", mod: func(q *driver.ListQuery) { q.CollectionID = "c7" }, want: []string{"f1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qq := q
			tc.mod(&qq)
			assert.Equal(t, tc.want, listAll(t, s, qq, 5))
		})
	}

	// Clearing.
	got, err = s.UpdateFile(ctx, &driver.FileUpdate{Workspace: wsA, ID: "f1", Tags: ptr([]string{}), CollectionID: ptr(""), At: later})
	require.NoError(t, err)
	assert.Empty(t, got.Tags)
	assert.Empty(t, got.CollectionID)
	assert.Equal(t, []string{}, listAll(t, s, driver.ListQuery{Workspace: wsA, Tag: "b"}, 5))

	for _, tc := range []struct {
		name   string
		u      driver.FileUpdate
		target error
	}{
		{name: "unknown", u: driver.FileUpdate{Workspace: wsA, ID: "nope", Title: ptr("x"), At: later}, target: driver.ErrNotFound},
		{name: "no time", u: driver.FileUpdate{Workspace: wsA, ID: "f1", Title: ptr("x")}, target: driver.ErrInvalidArgument},
		{name: "metadata not an object", u: driver.FileUpdate{Workspace: wsA, ID: "f1", Metadata: []byte(`[1]`), At: later}, target: driver.ErrInvalidArgument},
		{name: "metadata not JSON", u: driver.FileUpdate{Workspace: wsA, ID: "f1", Metadata: []byte(`{`), At: later}, target: driver.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.UpdateFile(ctx, &tc.u)
			requireIs(t, err, tc.target)
		})
	}
	_, err = s.UpdateFile(ctx, nil)
	requireIs(t, err, driver.ErrInvalidArgument)
	require.NoError(t, s.MarkDeleted(ctx, wsA, "f2", later))
	_, err = s.UpdateFile(ctx, &driver.FileUpdate{Workspace: wsA, ID: "f2", Title: ptr("x"), At: later})
	requireIs(t, err, driver.ErrNotFound, "a deleted file")
}

func testMetaCopyVersion(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	v1 := readyFile(t, s, wsA, "f1", at)
	v2 := commit(t, s, createNext(t, s, wsA, "f1", "f1-u2", 1, at), at.Add(time.Minute))
	require.NotEqual(t, v1.StorageKey, v2.StorageKey)
	old, err := s.Version(ctx, wsA, "f1", 1)
	require.NoError(t, err)

	copyAt := at.Add(time.Hour)
	f, err := s.CopyVersion(ctx, &driver.VersionCopy{Workspace: wsA, FileID: "f1", From: 1, BaseVersion: 2,
		Status: driver.StatusReady, CreatedBy: "user:restorer", At: copyAt})
	require.NoError(t, err)
	assert.Equal(t, 3, f.Version)
	assert.Equal(t, v1.StorageKey, f.StorageKey, "the copy shares the old bytes")
	assert.Equal(t, v1.Digest, f.Digest)
	assert.Equal(t, v1.FileName, f.FileName)
	assert.Equal(t, v1.Size, f.Size)
	assert.Equal(t, stored(copyAt), f.UpdatedAt)
	v3, err := s.Version(ctx, wsA, "f1", 3)
	require.NoError(t, err)
	want := *old
	want.Version, want.CreatedAt, want.CreatedBy = 3, stored(copyAt), "user:restorer"
	assert.Equal(t, &want, v3)
	vs, err := s.Versions(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Len(t, vs, 3)
	keys, err := s.FileKeys(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{v1.StorageKey, v2.StorageKey}, keys, "a shared key is listed once")

	// A ticket issued against version 2 can no longer commit.
	stale := createNext(t, s, wsA, "f1", "f1-u3", 3, at)
	_, err = s.CommitUpload(ctx, commitOf(&driver.UploadRecord{Workspace: wsA, ID: "f1-u3", FileID: "f1", Version: 4,
		StorageKey: stale.StorageKey, Size: 1}, at))
	require.NoError(t, err, "a ticket against the copy's version commits")

	tests := []struct {
		name   string
		c      driver.VersionCopy
		target error
	}{
		{name: "stale base", c: driver.VersionCopy{FileID: "f1", From: 1, BaseVersion: 3}, target: driver.ErrPrecondition},
		{name: "base ahead", c: driver.VersionCopy{FileID: "f1", From: 1, BaseVersion: 9}, target: driver.ErrPrecondition},
		{name: "unknown version", c: driver.VersionCopy{FileID: "f1", From: 9, BaseVersion: 4}, target: driver.ErrNotFound},
		{name: "unknown file", c: driver.VersionCopy{FileID: "nope", From: 1, BaseVersion: 1}, target: driver.ErrNotFound},
		{name: "bad status", c: driver.VersionCopy{FileID: "f1", From: 1, BaseVersion: 4, Status: driver.StatusPending}, target: driver.ErrInvalidArgument},
		{name: "no time", c: driver.VersionCopy{FileID: "f1", From: 1, BaseVersion: 4, At: time.Time{}}, target: driver.ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.Workspace = wsA
			if c.Status == "" {
				c.Status = driver.StatusReady
			}
			if tc.name != "no time" {
				c.At = copyAt
			}
			_, err := s.CopyVersion(ctx, &c)
			requireIs(t, err, tc.target)
		})
	}
	_, err = s.CopyVersion(ctx, nil)
	requireIs(t, err, driver.ErrInvalidArgument)
	got, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, 4, got.Version, "refused copies changed nothing")

	require.NoError(t, s.MarkDeleted(ctx, wsA, "f1", copyAt))
	_, err = s.CopyVersion(ctx, &driver.VersionCopy{Workspace: wsA, FileID: "f1", From: 1, BaseVersion: 4, Status: driver.StatusReady, At: copyAt})
	requireIs(t, err, driver.ErrNotFound, "a deleted file")
	require.NoError(t, s.PurgeFile(ctx, wsA, "f1"))
}

func testMetaRetention(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	for i := range 4 {
		addListed(t, s, wsA, spec{id: fmt.Sprintf("f%d", i), at: at})
	}
	addListed(t, s, wsB, spec{id: "b0", at: at})
	for _, id := range []string{"t0", "t1"} { // temporary files
		up := createNew(t, s, wsA, id, id+"-u", at)
		c := commitOf(up, at)
		c.ExpiresAt = at.Add(time.Duration(len(id)+int(id[1]-'0')) * time.Hour) // t0: 2h, t1: 3h
		_, err := s.CommitUpload(ctx, c)
		require.NoError(t, err)
	}

	_, err := s.DeletedFile(ctx, wsA, "f0")
	requireIs(t, err, driver.ErrNotFound, "an undeleted file")
	require.NoError(t, s.MarkDeleted(ctx, wsA, "f0", at.Add(time.Hour)))
	require.NoError(t, s.MarkDeleted(ctx, wsA, "f1", at.Add(2*time.Hour)))
	require.NoError(t, s.MarkDeleted(ctx, wsB, "b0", at.Add(30*time.Minute)))
	d, err := s.DeletedFile(ctx, wsA, "f0")
	require.NoError(t, err)
	assert.Equal(t, stored(at.Add(time.Hour)), d.DeletedAt)
	_, err = s.DeletedFile(ctx, wsB, "f0")
	requireIs(t, err, driver.ErrNotFound, "another workspace's deleted file")

	ids := func(fs []driver.FileRecord) []string {
		out := []string{}
		for _, f := range fs {
			out = append(out, f.ID)
		}
		return out
	}
	sweeps := []struct {
		name string
		q    driver.SweepQuery
		want []string
	}{
		{name: "nothing", q: driver.SweepQuery{Limit: 10}, want: []string{}},
		{name: "deleted up to 1h", q: driver.SweepQuery{DeletedBefore: at.Add(time.Hour), Limit: 10}, want: []string{"b0", "f0"}},
		{name: "expired up to 2h", q: driver.SweepQuery{ExpiredBefore: at.Add(2 * time.Hour), Limit: 10}, want: []string{"t0"}},
		{name: "both, oldest first", q: driver.SweepQuery{DeletedBefore: at.Add(5 * time.Hour), ExpiredBefore: at.Add(5 * time.Hour), Limit: 10},
			want: []string{"b0", "f0", "f1", "t0", "t1"}},
		{name: "limit", q: driver.SweepQuery{DeletedBefore: at.Add(5 * time.Hour), ExpiredBefore: at.Add(5 * time.Hour), Limit: 3},
			want: []string{"b0", "f0", "f1"}},
	}
	for _, tc := range sweeps {
		t.Run("sweep "+tc.name, func(t *testing.T) {
			got, err := s.SweepFiles(ctx, &tc.q)
			require.NoError(t, err)
			gotIDs := ids(got)
			if tc.name == "both, oldest first" { // f1 and t0 share a time
				assert.ElementsMatch(t, tc.want, gotIDs)
				assert.Equal(t, tc.want[:2], gotIDs[:2])
				return
			}
			assert.Equal(t, tc.want, gotIDs)
		})
	}
	for _, limit := range []int{0, 1001} {
		_, err := s.SweepFiles(ctx, &driver.SweepQuery{DeletedBefore: at, Limit: limit})
		requireIs(t, err, driver.ErrInvalidArgument, "limit %d", limit)
	}

	_, err = s.Undelete(ctx, wsA, "f0", at.Add(time.Hour))
	requireIs(t, err, driver.ErrNotFound, "deleted at the cutoff: past the window")
	_, err = s.Undelete(ctx, wsA, "f2", at)
	requireIs(t, err, driver.ErrNotFound, "not deleted")
	_, err = s.Undelete(ctx, wsB, "f0", at)
	requireIs(t, err, driver.ErrNotFound, "another workspace")
	f, err := s.Undelete(ctx, wsA, "f0", at.Add(time.Hour-time.Microsecond))
	require.NoError(t, err)
	assert.True(t, f.DeletedAt.IsZero())
	_, err = s.File(ctx, wsA, "f0")
	require.NoError(t, err)
	_, err = s.DeletedFile(ctx, wsA, "f0")
	requireIs(t, err, driver.ErrNotFound)
	assert.ElementsMatch(t, []string{"f0", "f2", "f3", "t0", "t1"}, listAll(t, s, driver.ListQuery{Workspace: wsA, Now: at}, 2))
}

func testMetaDocumentsOtherWorkspace(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	readyFile(t, s, wsA, "f2", at)
	require.NoError(t, s.MarkDeleted(ctx, wsA, "f2", at))
	tests := []struct {
		name string
		call func() error
	}{
		{name: "UpdateFile", call: func() error {
			_, err := s.UpdateFile(ctx, &driver.FileUpdate{Workspace: wsB, ID: "f1", Title: ptr("x"), At: at})
			return err
		}},
		{name: "CopyVersion", call: func() error {
			_, err := s.CopyVersion(ctx, &driver.VersionCopy{Workspace: wsB, FileID: "f1", From: 1, BaseVersion: 1, Status: driver.StatusReady, At: at})
			return err
		}},
		{name: "DeletedFile", call: func() error { _, err := s.DeletedFile(ctx, wsB, "f2"); return err }},
		{name: "Undelete", call: func() error { _, err := s.Undelete(ctx, wsB, "f2", time.Time{}); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireIs(t, tc.call(), driver.ErrNotFound)
		})
	}
	assert.Equal(t, []string{}, listAll(t, s, driver.ListQuery{Workspace: wsB}, 5))
	got, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, f, got, "nothing of workspace A changed")
	_, err = s.DeletedFile(ctx, wsA, "f2")
	require.NoError(t, err, "still deleted")
}

func testMetaDocumentsCancelled(t *testing.T, s driver.MetaStore) {
	at := epoch()
	readyFile(t, s, wsA, "f1", at)
	readyFile(t, s, wsA, "f2", at)
	require.NoError(t, s.MarkDeleted(context.Background(), wsA, "f2", at))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		call func() error
	}{
		{name: "ListFiles", call: func() error {
			_, err := s.ListFiles(ctx, &driver.ListQuery{Workspace: wsA, Sort: driver.ListByCreated, Limit: 5, Now: at})
			return err
		}},
		{name: "UpdateFile", call: func() error {
			_, err := s.UpdateFile(ctx, &driver.FileUpdate{Workspace: wsA, ID: "f1", Title: ptr("x"), At: at})
			return err
		}},
		{name: "CopyVersion", call: func() error {
			_, err := s.CopyVersion(ctx, &driver.VersionCopy{Workspace: wsA, FileID: "f1", From: 1, BaseVersion: 1, Status: driver.StatusReady, At: at})
			return err
		}},
		{name: "DeletedFile", call: func() error { _, err := s.DeletedFile(ctx, wsA, "f2"); return err }},
		{name: "Undelete", call: func() error { _, err := s.Undelete(ctx, wsA, "f2", time.Time{}); return err }},
		{name: "SweepFiles", call: func() error {
			_, err := s.SweepFiles(ctx, &driver.SweepQuery{DeletedBefore: at, Limit: 5})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireIs(t, tc.call(), context.Canceled)
		})
	}
	f, err := s.File(context.Background(), wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, 1, f.Version)
	assert.NotEqual(t, "x", f.Title)
	_, err = s.DeletedFile(context.Background(), wsA, "f2")
	require.NoError(t, err, "still deleted")
}

func testMetaConcurrentCopies(t *testing.T, s driver.MetaStore) {
	const n = 20
	ctx := context.Background()
	at := epoch()
	readyFile(t, s, wsA, "f1", at)
	commit(t, s, createNext(t, s, wsA, "f1", "f1-u2", 1, at), at)
	fns := make([]func() error, n)
	for i := range fns {
		fns[i] = func() error {
			_, err := s.CopyVersion(ctx, &driver.VersionCopy{Workspace: wsA, FileID: "f1", From: 1, BaseVersion: 2,
				Status: driver.StatusReady, CreatedBy: fmt.Sprint(i), At: at})
			return err
		}
	}
	won := 0
	for _, err := range race(fns...) {
		if err == nil {
			won++
			continue
		}
		requireIs(t, err, driver.ErrPrecondition)
	}
	assert.Equal(t, 1, won)
	vs, err := s.Versions(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Len(t, vs, 3)
}

// testMetaConcurrentTotals changes access, deletion and listing state of
// files from many goroutines at once, then checks that every total the
// store reports equals the files its pages hold.
func testMetaConcurrentTotals(t *testing.T, s driver.MetaStore) {
	const files = 24
	ctx := context.Background()
	at := epoch()
	for i := range files {
		addListed(t, s, wsA, spec{id: fmt.Sprintf("f%02d", i), owner: "alice", at: at.Add(time.Duration(i) * time.Second)})
	}
	fns := make([]func() error, files)
	for i := range fns {
		id := fmt.Sprintf("f%02d", i)
		fns[i] = func() error {
			steps := []func() error{
				func() error {
					_, err := s.UpdateFile(ctx, &driver.FileUpdate{Workspace: wsA, ID: id, ACL: &driver.ACL{View: []string{"user:bob"}}, At: at})
					return err
				},
				func() error { return s.MarkDeleted(ctx, wsA, id, at.Add(time.Minute)) },
				func() error { _, err := s.Undelete(ctx, wsA, id, at); return err },
				func() error {
					_, err := s.UpdateFile(ctx, &driver.FileUpdate{Workspace: wsA, ID: id, AccessControl: ptr(driver.AccessPublicRead), At: at})
					return err
				},
			}
			for j, step := range steps[:i%5] {
				if i%5 == 4 && j == 3 {
					return s.PurgeFile(ctx, wsA, id)
				}
				if err := step(); err != nil {
					return fmt.Errorf("%s step %d: %w", id, j, err)
				}
			}
			return nil
		}
	}
	for _, err := range race(fns...) {
		require.NoError(t, err)
	}
	for _, viewer := range []string{"", "alice", "bob", "carol"} {
		t.Run("viewer "+viewer, func(t *testing.T) {
			listAll(t, s, driver.ListQuery{Workspace: wsA, Viewer: viewer}, 7) // checks the totals
		})
	}
	listed := 0
	for i := range files {
		if i%5 != 2 && i%5 != 4 { // deleted, purged
			listed++
		}
	}
	assert.Len(t, listAll(t, s, driver.ListQuery{Workspace: wsA}, 50), listed)
}
