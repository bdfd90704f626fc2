package drivertest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// metaOrganizeTests checks the OrganizeStore methods: collections and
// attachments to records.
func metaOrganizeTests() []metaTest {
	return []metaTest{
		{name: "organize: create and list collections", run: testMetaCollections},
		{name: "organize: update and move collections", run: testMetaUpdateCollection},
		{name: "organize: delete only empty collections", run: testMetaDeleteCollection},
		{name: "organize: collection files page by id", run: testMetaCollectionFiles},
		{name: "organize: another workspace's collections are not found", run: testMetaCollectionsOtherWorkspace},
		{name: "organize: concurrent moves never make a cycle", run: testMetaConcurrentMoves},
		{name: "organize: set attachments", run: testMetaSetAttachments},
		{name: "organize: refused sets change nothing", run: testMetaSetAttachmentsRefused},
		{name: "organize: add, move and remove attachments", run: testMetaAddRemoveAttachments},
		{name: "organize: orphans", run: testMetaAttachmentOrphans},
		{name: "organize: deleting a file detaches it", run: testMetaDeleteDetaches},
		{name: "organize: mark orphan deleted", run: testMetaMarkOrphanDeleted},
		{name: "organize: files by id", run: testMetaFilesByID},
		{name: "organize: no file lands in a deleted collection", run: testMetaFileIntoDeletedCollection},
		{name: "organize: concurrent sets of one field", run: testMetaConcurrentSets},
		{name: "organize: deletions race with sets of their fields", run: testMetaDeleteRacesSets},
	}
}

func newCollection(ws, id, parent, name string, order int, at time.Time) *driver.CollectionRecord {
	return &driver.CollectionRecord{Workspace: ws, ID: id, ParentID: parent, Name: name, Order: order,
		CreatedBy: "alice", CreatedAt: at, UpdatedAt: at}
}

// ensureCollection creates a top-level collection unless it exists.
func ensureCollection(t *testing.T, s driver.MetaStore, ws, id string, at time.Time) {
	t.Helper()
	if err := s.CreateCollection(context.Background(), newCollection(ws, id, "", id, 0, at)); !errors.Is(err, driver.ErrExists) {
		require.NoError(t, err)
	}
}

func collectionIDs(cs []driver.CollectionRecord) []string {
	ids := []string{}
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func attachmentFiles(as []driver.AttachmentRecord) []string {
	ids := []string{}
	for i, a := range as {
		if a.Position != i {
			panic(fmt.Sprintf("attachment %s at position %d, want %d (dense)", a.FileID, a.Position, i))
		}
		ids = append(ids, a.FileID)
	}
	return ids
}

func testMetaCollections(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	c := newCollection(wsA, "c1", "", "Photos", 2, at)
	c.Starred, c.AllowedTypes, c.MaxSize = true, []string{"image/*", "application/pdf"}, 1<<20
	require.NoError(t, s.CreateCollection(ctx, c))
	requireIs(t, s.CreateCollection(ctx, newCollection(wsA, "c1", "", "Again", 0, at)), driver.ErrExists)

	got, err := s.Collection(ctx, wsA, "c1")
	require.NoError(t, err)
	want := *c
	want.CreatedAt, want.UpdatedAt = stored(at), stored(at)
	assert.Equal(t, &want, got)

	require.NoError(t, s.CreateCollection(ctx, newCollection(wsA, "c2", "", "b-docs", 1, at)))
	require.NoError(t, s.CreateCollection(ctx, newCollection(wsA, "c3", "", "a-docs", 1, at)))
	require.NoError(t, s.CreateCollection(ctx, newCollection(wsA, "c4", "c1", "2025", 0, at)))
	requireIs(t, s.CreateCollection(ctx, newCollection(wsA, "c5", "nope", "x", 0, at)), driver.ErrNotFound)
	requireIs(t, s.CreateCollection(ctx, newCollection(wsA, "c6", "", "", 0, at)), driver.ErrInvalidArgument)

	top, err := s.Collections(ctx, wsA, "", 100)
	require.NoError(t, err)
	assert.Equal(t, []string{"c3", "c2", "c1"}, collectionIDs(top), "by order, then name")
	kids, err := s.Collections(ctx, wsA, "c1", 100)
	require.NoError(t, err)
	assert.Equal(t, []string{"c4"}, collectionIDs(kids))
	one, err := s.Collections(ctx, wsA, "", 1)
	require.NoError(t, err)
	assert.Equal(t, []string{"c3"}, collectionIDs(one))
	_, err = s.Collections(ctx, wsA, "", 0)
	requireIs(t, err, driver.ErrInvalidArgument)

	// Depth is bounded.
	parent := "c4"
	for i := 3; i <= driver.MaxCollectionDepth; i++ {
		id := fmt.Sprintf("d%d", i)
		require.NoError(t, s.CreateCollection(ctx, newCollection(wsA, id, parent, id, 0, at)), "level %d", i)
		parent = id
	}
	requireIs(t, s.CreateCollection(ctx, newCollection(wsA, "too-deep", parent, "x", 0, at)), driver.ErrInvalidArgument)
	_, err = s.Collection(ctx, wsA, "too-deep")
	requireIs(t, err, driver.ErrNotFound)
}

func testMetaUpdateCollection(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	for _, c := range []*driver.CollectionRecord{
		newCollection(wsA, "a", "", "A", 0, at), newCollection(wsA, "b", "a", "B", 0, at),
		newCollection(wsA, "c", "b", "C", 0, at), newCollection(wsA, "x", "", "X", 0, at),
	} {
		require.NoError(t, s.CreateCollection(ctx, c))
	}
	later := at.Add(time.Minute)
	name, starred, order, types, size := "Renamed", true, -3, []string{"text/plain"}, int64(99)
	got, err := s.UpdateCollection(ctx, &driver.CollectionUpdate{Workspace: wsA, ID: "x", Name: &name, Starred: &starred,
		Order: &order, AllowedTypes: &types, MaxSize: &size, At: later})
	require.NoError(t, err)
	assert.Equal(t, "Renamed", got.Name)
	assert.True(t, got.Starred)
	assert.Equal(t, -3, got.Order)
	assert.Equal(t, types, got.AllowedTypes)
	assert.Equal(t, int64(99), got.MaxSize)
	assert.Equal(t, stored(later), got.UpdatedAt)
	assert.Equal(t, stored(at), got.CreatedAt)

	empty := []string{}
	got, err = s.UpdateCollection(ctx, &driver.CollectionUpdate{Workspace: wsA, ID: "x", AllowedTypes: &empty, At: later})
	require.NoError(t, err)
	assert.Empty(t, got.AllowedTypes)
	assert.Equal(t, "Renamed", got.Name, "nil fields stay")

	move := func(id, parent string) error {
		_, err := s.UpdateCollection(ctx, &driver.CollectionUpdate{Workspace: wsA, ID: id, ParentID: &parent, At: later})
		return err
	}
	requireIs(t, move("a", "a"), driver.ErrInvalidArgument, "itself")
	requireIs(t, move("a", "c"), driver.ErrInvalidArgument, "a descendant")
	requireIs(t, move("a", "nope"), driver.ErrNotFound)
	requireIs(t, move("nope", "a"), driver.ErrNotFound)
	require.NoError(t, move("c", "x"))
	require.NoError(t, move("a", "c"), "no longer a descendant")
	got, err = s.Collection(ctx, wsA, "a")
	require.NoError(t, err)
	assert.Equal(t, "c", got.ParentID)
	require.NoError(t, move("a", ""), "back to the top level")
	top, err := s.Collections(ctx, wsA, "", 100)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"a", "x"}, collectionIDs(top))

	// A move that makes the tree too deep is refused.
	parent := "c"
	for i := 3; i <= driver.MaxCollectionDepth; i++ {
		id := fmt.Sprintf("d%d", i)
		require.NoError(t, s.CreateCollection(ctx, newCollection(wsA, id, parent, id, 0, at)))
		parent = id
	} // x (1) > c (2) > d3 ... d16: at the limit
	requireIs(t, move("a", "d15"), driver.ErrInvalidArgument, "a has a child: two more levels")
	require.NoError(t, move("b", "d15"), "b is a leaf now")
	_, err = s.UpdateCollection(ctx, &driver.CollectionUpdate{Workspace: wsA, ID: "x", Name: ptr(""), At: later})
	requireIs(t, err, driver.ErrInvalidArgument)
}

func testMetaDeleteCollection(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	require.NoError(t, s.CreateCollection(ctx, newCollection(wsA, "p", "", "P", 0, at)))
	require.NoError(t, s.CreateCollection(ctx, newCollection(wsA, "k", "p", "K", 0, at)))
	requireIs(t, s.DeleteCollection(ctx, wsA, "p"), driver.ErrPrecondition, "has a child")

	// A pending file makes it non-empty too.
	f := newFile(wsA, "f1", at)
	f.CollectionID = "k"
	require.NoError(t, s.CreateUpload(ctx, f, newTicket(wsA, "u1", "f1", 0, at)))
	requireIs(t, s.DeleteCollection(ctx, wsA, "k"), driver.ErrPrecondition, "has a pending file")
	// A deleted file does not, and is taken out of it.
	require.NoError(t, s.MarkDeleted(ctx, wsA, "f1", at.Add(time.Second)))
	require.NoError(t, s.DeleteCollection(ctx, wsA, "k"))
	_, err := s.Collection(ctx, wsA, "k")
	requireIs(t, err, driver.ErrNotFound)
	back, err := s.Undelete(ctx, wsA, "f1", at)
	require.NoError(t, err)
	assert.Empty(t, back.CollectionID, "an undeleted file does not point at a deleted collection")

	require.NoError(t, s.DeleteCollection(ctx, wsA, "p"))
	requireIs(t, s.DeleteCollection(ctx, wsA, "p"), driver.ErrNotFound)
}

func testMetaCollectionFiles(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	require.NoError(t, s.CreateCollection(ctx, newCollection(wsA, "c", "", "C", 0, at)))
	var want []string
	for i := range 5 {
		sp := spec{id: fmt.Sprintf("f%d", i), at: at.Add(time.Duration(i) * time.Second)}
		if i != 2 {
			sp.collection = "c"
			want = append(want, sp.id)
		}
		addListed(t, s, wsA, sp)
	}
	pending := newFile(wsA, "f9", at)
	pending.CollectionID = "c"
	require.NoError(t, s.CreateUpload(ctx, pending, newTicket(wsA, "u9", "f9", 0, at)))
	want = append(want, "f9")

	var got []string
	after := ""
	for range 10 {
		page, err := s.CollectionFiles(ctx, wsA, "c", after, 2)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for _, f := range page {
			assert.Equal(t, "c", f.CollectionID)
			got = append(got, f.ID)
		}
		after = page[len(page)-1].ID
	}
	assert.Equal(t, want, got)
	_, err := s.CollectionFiles(ctx, wsA, "nope", "", 10)
	requireIs(t, err, driver.ErrNotFound)
	_, err = s.CollectionFiles(ctx, wsA, "c", "", 1001)
	requireIs(t, err, driver.ErrInvalidArgument)
}

func testMetaCollectionsOtherWorkspace(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	require.NoError(t, s.CreateCollection(ctx, newCollection(wsA, "c", "", "C", 0, at)))
	_, err := s.Collection(ctx, wsB, "c")
	requireIs(t, err, driver.ErrNotFound)
	kids, err := s.Collections(ctx, wsB, "", 10)
	require.NoError(t, err)
	assert.Empty(t, kids)
	requireIs(t, s.CreateCollection(ctx, newCollection(wsB, "k", "c", "K", 0, at)), driver.ErrNotFound)
	name := "x"
	_, err = s.UpdateCollection(ctx, &driver.CollectionUpdate{Workspace: wsB, ID: "c", Name: &name, At: at})
	requireIs(t, err, driver.ErrNotFound)
	require.NoError(t, s.CreateCollection(ctx, newCollection(wsB, "b", "", "B", 0, at)))
	parent := "c"
	_, err = s.UpdateCollection(ctx, &driver.CollectionUpdate{Workspace: wsB, ID: "b", ParentID: &parent, At: at})
	requireIs(t, err, driver.ErrNotFound)
	requireIs(t, s.DeleteCollection(ctx, wsB, "c"), driver.ErrNotFound)
	_, err = s.CollectionFiles(ctx, wsB, "c", "", 10)
	requireIs(t, err, driver.ErrNotFound)
	got, err := s.Collection(ctx, wsA, "c")
	require.NoError(t, err)
	assert.Equal(t, "C", got.Name)

	// Attachments: another workspace's files are not found.
	readyFile(t, s, wsA, "fa", at)
	_, err = s.SetAttachments(ctx, &driver.AttachmentSet{Workspace: wsB, RecordType: "post", RecordID: "1", Field: "f",
		FileIDs: []string{"fa"}, At: at})
	requireIs(t, err, driver.ErrNotFound)
	_, _, err = s.AddAttachment(ctx, &driver.AttachmentRecord{Workspace: wsB, RecordType: "post", RecordID: "1", Field: "f",
		FileID: "fa", Position: -1, CreatedAt: at})
	requireIs(t, err, driver.ErrNotFound)
	_, err = s.FileAttachments(ctx, wsB, "fa", 10)
	requireIs(t, err, driver.ErrNotFound)
	_, err = s.SetAttachments(ctx, &driver.AttachmentSet{Workspace: wsA, RecordType: "post", RecordID: "1", Field: "f",
		FileIDs: []string{"fa"}, At: at})
	require.NoError(t, err)
	_, err = s.RemoveAttachment(ctx, wsB, "post", "1", "f", "fa")
	requireIs(t, err, driver.ErrNotFound)
	other, err := s.RecordAttachments(ctx, wsB, "post", "1", 10)
	require.NoError(t, err)
	assert.Empty(t, other)
}

func testMetaConcurrentMoves(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	const n = 6
	for i := range n {
		require.NoError(t, s.CreateCollection(ctx, newCollection(wsA, fmt.Sprintf("c%d", i), "", "C", 0, at)))
	}
	// Each moves under the next, in a ring: at least one must be refused.
	fns := make([]func() error, n)
	for i := range n {
		fns[i] = func() error {
			parent := fmt.Sprintf("c%d", (i+1)%n)
			_, err := s.UpdateCollection(ctx, &driver.CollectionUpdate{Workspace: wsA, ID: fmt.Sprintf("c%d", i), ParentID: &parent, At: at})
			return err
		}
	}
	refused := 0
	for _, err := range race(fns...) {
		if err != nil {
			requireIs(t, err, driver.ErrInvalidArgument)
			refused++
		}
	}
	assert.GreaterOrEqual(t, refused, 1)
	// Every collection still reaches the top level.
	for i := range n {
		id := fmt.Sprintf("c%d", i)
		for steps := 0; id != ""; steps++ {
			require.Less(t, steps, n+1, "cycle through c%d", i)
			c, err := s.Collection(ctx, wsA, id)
			require.NoError(t, err)
			id = c.ParentID
		}
	}
}
