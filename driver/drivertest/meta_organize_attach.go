package drivertest

// Attachments to records: the second half of metaOrganizeTests.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

func setOf(ws, field string, at time.Time, ids ...string) *driver.AttachmentSet {
	return &driver.AttachmentSet{Workspace: ws, RecordType: "post", RecordID: "p1", Field: field, FileIDs: ids,
		CreatedBy: "alice", At: at}
}

func testMetaSetAttachments(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	for _, id := range []string{"f1", "f2", "f3", "f4"} {
		readyFile(t, s, wsA, id, at)
	}
	ch, err := s.SetAttachments(ctx, setOf(wsA, "gallery", at, "f2", "f1", "f3"))
	require.NoError(t, err)
	assert.Equal(t, []string{"f2", "f1", "f3"}, attachmentFiles(ch.Attachments))
	assert.Empty(t, ch.Orphans)
	a := ch.Attachments[0]
	assert.Equal(t, driver.AttachmentRecord{Workspace: wsA, RecordType: "post", RecordID: "p1", Field: "gallery",
		FileID: "f2", Position: 0, CreatedBy: "alice", CreatedAt: stored(at)}, a)

	// Repeating the same set changes nothing, not even creation times.
	later := at.Add(time.Hour)
	again, err := s.SetAttachments(ctx, setOf(wsA, "gallery", later, "f2", "f1", "f3"))
	require.NoError(t, err)
	assert.Equal(t, ch.Attachments, again.Attachments)

	// Replace: reorder, drop one, add one; kept ones keep their times.
	ch, err = s.SetAttachments(ctx, setOf(wsA, "gallery", later, "f3", "f4", "f2"))
	require.NoError(t, err)
	assert.Equal(t, []string{"f3", "f4", "f2"}, attachmentFiles(ch.Attachments))
	assert.Equal(t, stored(at), ch.Attachments[0].CreatedAt)
	assert.Equal(t, stored(later), ch.Attachments[1].CreatedAt)
	_, err = s.SetAttachments(ctx, setOf(wsA, "cover", at, "f1"))
	require.NoError(t, err)

	rec, err := s.RecordAttachments(ctx, wsA, "post", "p1", 100)
	require.NoError(t, err)
	var got []string
	for _, a := range rec {
		got = append(got, a.Field+":"+a.FileID)
	}
	assert.Equal(t, []string{"cover:f1", "gallery:f3", "gallery:f4", "gallery:f2"}, got)

	used, err := s.FileAttachments(ctx, wsA, "f1", 10)
	require.NoError(t, err)
	require.Len(t, used, 1)
	assert.Equal(t, "cover", used[0].Field)

	// Clearing.
	ch, err = s.SetAttachments(ctx, setOf(wsA, "gallery", later))
	require.NoError(t, err)
	assert.Empty(t, ch.Attachments)
	rec, err = s.RecordAttachments(ctx, wsA, "post", "p1", 100)
	require.NoError(t, err)
	assert.Len(t, rec, 1)
}

func testMetaSetAttachmentsRefused(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	for _, id := range []string{"f1", "f2", "gone"} {
		readyFile(t, s, wsA, id, at)
	}
	require.NoError(t, s.MarkDeleted(ctx, wsA, "gone", at))
	_, err := s.SetAttachments(ctx, setOf(wsA, "g", at, "f1", "f2"))
	require.NoError(t, err)
	many := make([]string, driver.MaxAttachments+1)
	for i := range many {
		many[i] = fmt.Sprintf("x%d", i)
	}
	tests := []struct {
		name string
		set  *driver.AttachmentSet
		want error
	}{
		{name: "duplicate", set: setOf(wsA, "g", at, "f2", "f2"), want: driver.ErrInvalidArgument},
		{name: "unknown", set: setOf(wsA, "g", at, "f2", "nope"), want: driver.ErrNotFound},
		{name: "deleted", set: setOf(wsA, "g", at, "gone"), want: driver.ErrNotFound},
		{name: "too many", set: setOf(wsA, "g", at, many...), want: driver.ErrInvalidArgument},
		{name: "no field", set: setOf(wsA, "", at, "f1"), want: driver.ErrInvalidArgument},
		{name: "no time", set: setOf(wsA, "g", time.Time{}, "f1"), want: driver.ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.SetAttachments(ctx, tc.set)
			requireIs(t, err, tc.want)
			rec, err := s.RecordAttachments(ctx, wsA, "post", "p1", 100)
			require.NoError(t, err)
			assert.Equal(t, []string{"f1", "f2"}, attachmentFiles(rec), "the previous set is unchanged")
		})
	}
}

func testMetaAddRemoveAttachments(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	for _, id := range []string{"f1", "f2", "f3", "f4"} {
		readyFile(t, s, wsA, id, at)
	}
	add := func(id string, pos int) (*driver.AttachmentRecord, bool) {
		t.Helper()
		a, created, err := s.AddAttachment(ctx, &driver.AttachmentRecord{Workspace: wsA, RecordType: "post", RecordID: "p1",
			Field: "g", FileID: id, Position: pos, CreatedBy: "bob", CreatedAt: at})
		require.NoError(t, err)
		return a, created
	}
	field := func() []string {
		t.Helper()
		rec, err := s.RecordAttachments(ctx, wsA, "post", "p1", 100)
		require.NoError(t, err)
		return attachmentFiles(rec)
	}
	a, created := add("f1", -1)
	assert.True(t, created)
	assert.Equal(t, 0, a.Position)
	assert.Equal(t, "bob", a.CreatedBy)
	add("f2", 99) // past the end: at the end
	a, _ = add("f3", 0)
	assert.Equal(t, 0, a.Position)
	assert.Equal(t, []string{"f3", "f1", "f2"}, field())
	a, created = add("f2", -1)
	assert.False(t, created, "already there")
	assert.Equal(t, 2, a.Position)
	a, created = add("f2", 0)
	assert.False(t, created)
	assert.Equal(t, 0, a.Position)
	assert.Equal(t, []string{"f2", "f3", "f1"}, field())
	add("f2", 5)
	assert.Equal(t, []string{"f3", "f1", "f2"}, field())

	_, _, err := s.AddAttachment(ctx, &driver.AttachmentRecord{Workspace: wsA, RecordType: "post", RecordID: "p1",
		Field: "g", FileID: "nope", Position: -1, CreatedAt: at})
	requireIs(t, err, driver.ErrNotFound)

	_, err = s.RemoveAttachment(ctx, wsA, "post", "p1", "g", "f1")
	require.NoError(t, err)
	assert.Equal(t, []string{"f3", "f2"}, field())
	_, err = s.RemoveAttachment(ctx, wsA, "post", "p1", "g", "f1")
	requireIs(t, err, driver.ErrNotFound)
	_, err = s.RemoveAttachment(ctx, wsA, "post", "p1", "g", "f4")
	requireIs(t, err, driver.ErrNotFound)
}

func testMetaAttachmentOrphans(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	for _, id := range []string{"only", "shared", "twofields", "moved"} {
		readyFile(t, s, wsA, id, at)
	}
	_, err := s.SetAttachments(ctx, setOf(wsA, "g", at, "only", "shared", "twofields", "moved"))
	require.NoError(t, err)
	_, err = s.SetAttachments(ctx, setOf(wsA, "cover", at, "twofields"))
	require.NoError(t, err)
	other := &driver.AttachmentSet{Workspace: wsA, RecordType: "post", RecordID: "p2", Field: "g", FileIDs: []string{"shared", "moved"}, At: at}
	_, err = s.SetAttachments(ctx, other)
	require.NoError(t, err)
	other.FileIDs = []string{"shared"} // "moved" was attached to p2 once: never an orphan of p1
	_, err = s.SetAttachments(ctx, other)
	require.NoError(t, err)

	ch, err := s.SetAttachments(ctx, setOf(wsA, "g", at))
	require.NoError(t, err)
	assert.Equal(t, []string{"only"}, ch.Orphans, "shared is still attached, twofields too, moved was attached elsewhere")

	orphan, err := s.RemoveAttachment(ctx, wsA, "post", "p1", "cover", "twofields")
	require.NoError(t, err)
	assert.True(t, orphan, "only ever attached to p1, now nowhere")
	orphan, err = s.RemoveAttachment(ctx, wsA, "post", "p2", "g", "shared")
	require.NoError(t, err)
	assert.False(t, orphan, "shared was attached to p1 too")
}

func testMetaDeleteDetaches(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	for _, id := range []string{"f1", "f2", "f3"} {
		readyFile(t, s, wsA, id, at)
	}
	_, err := s.SetAttachments(ctx, setOf(wsA, "g", at, "f1", "f2", "f3"))
	require.NoError(t, err)
	_, err = s.SetAttachments(ctx, setOf(wsA, "cover", at, "f2"))
	require.NoError(t, err)

	require.NoError(t, s.MarkDeleted(ctx, wsA, "f2", at.Add(time.Second)))
	rec, err := s.RecordAttachments(ctx, wsA, "post", "p1", 100)
	require.NoError(t, err)
	assert.Equal(t, []string{"f1", "f3"}, attachmentFiles(rec), "gone from every field, positions closed up")
	_, err = s.FileAttachments(ctx, wsA, "f2", 10)
	requireIs(t, err, driver.ErrNotFound)

	_, err = s.Undelete(ctx, wsA, "f2", at)
	require.NoError(t, err)
	used, err := s.FileAttachments(ctx, wsA, "f2", 10)
	require.NoError(t, err)
	assert.Empty(t, used, "undelete does not attach again")

	// Purge removes attachments and history; the file's rows can go.
	require.NoError(t, s.PurgeFile(ctx, wsA, "f1"))
	rec, err = s.RecordAttachments(ctx, wsA, "post", "p1", 100)
	require.NoError(t, err)
	assert.Equal(t, []string{"f3"}, attachmentFiles(rec))
	require.NoError(t, s.MarkDeleted(ctx, wsA, "f3", at.Add(time.Second)))
	require.NoError(t, s.PurgeFile(ctx, wsA, "f3"))
	require.NoError(t, s.PurgeFile(ctx, wsA, "f2"))
}

func testMetaConcurrentSets(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	ids := []string{"f1", "f2", "f3", "f4", "f5"}
	for _, id := range ids {
		readyFile(t, s, wsA, id, at)
	}
	const n = 8
	sets := make([][]string, n)
	fns := make([]func() error, n)
	for i := range n {
		set := slices.Clone(ids[i%3 : i%3+3])
		if i%2 == 1 {
			slices.Reverse(set)
		}
		sets[i] = set
		fns[i] = func() error {
			_, err := s.SetAttachments(ctx, setOf(wsA, "g", at, set...))
			return err
		}
	}
	// Adds and removes race with the sets too.
	fns = append(fns, func() error {
		_, _, err := s.AddAttachment(ctx, &driver.AttachmentRecord{Workspace: wsA, RecordType: "post", RecordID: "p1",
			Field: "g", FileID: "f5", Position: 0, CreatedAt: at})
		return err
	})
	for _, err := range race(fns...) {
		require.NoError(t, err)
	}
	rec, err := s.RecordAttachments(ctx, wsA, "post", "p1", 100)
	require.NoError(t, err)
	got := attachmentFiles(rec) // dense positions
	ok := slices.ContainsFunc(sets, func(set []string) bool {
		return slices.Equal(set, got) || (len(got) == len(set)+1 && got[0] == "f5" && slices.Equal(set, got[1:])) ||
			(len(got) == len(set) && got[0] == "f5" &&
				slices.Equal(slices.DeleteFunc(slices.Clone(set), func(id string) bool { return id == "f5" }), got[1:]))
	})
	assert.True(t, ok, "the field is one of the sets (maybe with the added file): %v", got)
}

func testMetaDeleteRacesSets(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	type ref struct{ record, field string }
	fields := []ref{{"p1", "g"}, {"p1", "cover"}, {"p2", "g"}}
	for round := range 3 {
		var gone, keep []string
		for i := range 8 {
			id := fmt.Sprintf("r%d-f%d", round, i)
			readyFile(t, s, wsA, id, at)
			if i%2 == 0 {
				gone = append(gone, id)
			} else {
				keep = append(keep, id)
			}
		}
		all := append(slices.Clone(gone), keep...)
		set := func(f ref, ids []string) error {
			_, err := s.SetAttachments(ctx, &driver.AttachmentSet{Workspace: wsA, RecordType: "post", RecordID: f.record,
				Field: f.field, FileIDs: ids, At: at})
			return err
		}
		for _, f := range fields {
			require.NoError(t, set(f, all))
		}
		var fns []func() error
		for i, id := range gone {
			fns = append(fns, func() error {
				if err := s.MarkDeleted(ctx, wsA, id, at.Add(time.Second)); err != nil || i%2 == 0 {
					return err
				}
				return s.PurgeFile(ctx, wsA, id)
			})
		}
		for _, f := range fields {
			rev := slices.Clone(keep)
			slices.Reverse(rev)
			for _, ids := range [][]string{keep, rev} {
				fns = append(fns, func() error { return set(f, ids) })
			}
			fns = append(fns, func() error {
				_, _, err := s.AddAttachment(ctx, &driver.AttachmentRecord{Workspace: wsA, RecordType: "post", RecordID: f.record,
					Field: f.field, FileID: keep[0], Position: 1, CreatedAt: at})
				return err
			})
		}
		for _, err := range race(fns...) {
			require.NoError(t, err)
		}
		for _, rec := range []string{"p1", "p2"} {
			as, err := s.RecordAttachments(ctx, wsA, "post", rec, 100)
			require.NoError(t, err)
			byField := map[string][]driver.AttachmentRecord{}
			for _, a := range as {
				byField[a.Field] = append(byField[a.Field], a)
			}
			for field, as := range byField {
				ids := []string{}
				for i, a := range as {
					assert.Equal(t, i, a.Position, "%s/%s: positions dense and unique: %v", rec, field, as)
					ids = append(ids, a.FileID)
				}
				assert.ElementsMatch(t, keep, ids, "%s/%s holds the kept files once each", rec, field)
			}
		}
	}
}

func testMetaMarkOrphanDeleted(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	for _, id := range []string{"only", "shared", "elsewhere", "never"} {
		readyFile(t, s, wsA, id, at)
	}
	_, err := s.SetAttachments(ctx, setOf(wsA, "g", at, "only", "shared", "elsewhere"))
	require.NoError(t, err)
	other := &driver.AttachmentSet{Workspace: wsA, RecordType: "post", RecordID: "p2", Field: "g", FileIDs: []string{"shared", "elsewhere"}, At: at}
	_, err = s.SetAttachments(ctx, other)
	require.NoError(t, err)
	other.FileIDs = []string{"shared"}
	_, err = s.SetAttachments(ctx, other)
	require.NoError(t, err)
	_, err = s.SetAttachments(ctx, setOf(wsA, "g", at, "shared"))
	require.NoError(t, err)

	del := func(id string) (bool, error) {
		return s.MarkOrphanDeleted(ctx, wsA, id, "post", "p1", at.Add(time.Second))
	}
	for _, id := range []string{"shared", "elsewhere"} {
		deleted, err := del(id)
		require.NoError(t, err)
		assert.False(t, deleted, "%s is attached or was attached to p2", id)
		_, err = s.File(ctx, wsA, id)
		require.NoError(t, err)
	}
	for _, id := range []string{"only", "never"} {
		deleted, err := del(id)
		require.NoError(t, err)
		assert.True(t, deleted, id)
		_, err = s.File(ctx, wsA, id)
		requireIs(t, err, driver.ErrNotFound)
		_, err = del(id)
		requireIs(t, err, driver.ErrNotFound, "already deleted")
	}
	_, err = del("unknown")
	requireIs(t, err, driver.ErrNotFound)
	_, err = s.MarkOrphanDeleted(ctx, wsB, "shared", "post", "p1", at)
	requireIs(t, err, driver.ErrNotFound, "another workspace's file")
	_, err = s.MarkOrphanDeleted(ctx, wsA, "shared", "post", "p1", time.Time{})
	requireIs(t, err, driver.ErrInvalidArgument)
}

func testMetaFileIntoDeletedCollection(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	readyFile(t, s, wsA, "f0", at)
	require.NoError(t, s.CreateCollection(ctx, newCollection(wsA, "gone", "", "Gone", 0, at)))
	require.NoError(t, s.DeleteCollection(ctx, wsA, "gone"))
	into := func(id, col string) error {
		_, err := s.UpdateFile(ctx, &driver.FileUpdate{Workspace: wsA, ID: id, CollectionID: &col, At: at})
		return err
	}
	create := func(id, col string) error {
		f := newFile(wsA, id, at)
		f.CollectionID = col
		return s.CreateUpload(ctx, f, newTicket(wsA, id+"-u1", id, 0, at))
	}
	requireIs(t, into("f0", "gone"), driver.ErrNotFound)
	requireIs(t, create("n0", "gone"), driver.ErrNotFound)
	_, err := s.File(ctx, wsA, "n0")
	requireIs(t, err, driver.ErrNotFound, "nothing stored")
	f, err := s.File(ctx, wsA, "f0")
	require.NoError(t, err)
	assert.Empty(t, f.CollectionID)

	// Racing a deletion: either the file is in the collection (and the
	// deletion refused), or the collection is gone and no file names it.
	for round := range 4 {
		col := fmt.Sprintf("c%d", round)
		require.NoError(t, s.CreateCollection(ctx, newCollection(wsA, col, "", col, 0, at)))
		moved, created := fmt.Sprintf("m%d", round), fmt.Sprintf("n%d", round+1)
		readyFile(t, s, wsA, moved, at)
		errs := race(
			func() error { return s.DeleteCollection(ctx, wsA, col) },
			func() error { return into(moved, col) },
			func() error { return create(created, col) },
		)
		_, cerr := s.Collection(ctx, wsA, col)
		for i, id := range []string{moved, created} {
			f, err := s.File(ctx, wsA, id)
			if errs[i+1] != nil {
				requireIs(t, errs[i+1], driver.ErrNotFound)
				require.Error(t, cerr, "refused: the collection was gone")
				if err == nil {
					assert.NotEqual(t, col, f.CollectionID)
				}
				continue
			}
			require.NoError(t, err)
			assert.Equal(t, col, f.CollectionID)
			require.NoError(t, cerr, "%s is in %s, so it must exist", id, col)
		}
		if errs[0] != nil {
			requireIs(t, errs[0], driver.ErrPrecondition)
		}
	}
}

func testMetaFilesByID(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	for _, id := range []string{"f3", "f1", "f2", "gone"} {
		readyFile(t, s, wsA, id, at)
	}
	readyFile(t, s, wsB, "b1", at)
	require.NoError(t, s.MarkDeleted(ctx, wsA, "gone", at))
	fs, err := s.FilesByID(ctx, wsA, []string{"f3", "gone", "b1", "unknown", "f1", "f2"})
	require.NoError(t, err)
	ids := []string{}
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	assert.Equal(t, []string{"f1", "f2", "f3"}, ids, "undeleted files of the workspace, by id")
	one, err := s.File(ctx, wsA, "f2")
	require.NoError(t, err)
	assert.Equal(t, *one, fs[1])
	fs, err = s.FilesByID(ctx, wsA, nil)
	require.NoError(t, err)
	assert.Empty(t, fs)
	_, err = s.FilesByID(ctx, wsA, make([]string, driver.MaxAttachments+1))
	requireIs(t, err, driver.ErrInvalidArgument)
}
