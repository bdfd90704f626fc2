package drivertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// metaDocumentTests cover listing, metadata edits, version copies and
// retention (ListFiles, UpdateFile, CopyVersion, DeletedFile, Undelete,
// SweepFiles).
func metaDocumentTests() []metaTest {
	return []metaTest{
		{name: "list pages in every order", run: testMetaListOrder},
		{name: "list filters", run: testMetaListFilters},
		{name: "list only what a viewer may view", run: testMetaListViewers},
		{name: "list hides unlisted files and keeps totals", run: testMetaListHidden},
		{name: "list refuses invalid queries", run: testMetaListInvalid},
		{name: "update file", run: testMetaUpdateFile},
		{name: "copy version", run: testMetaCopyVersion},
		{name: "deleted files, undelete and sweep", run: testMetaRetention},
		{name: "document methods: another workspace's ids are not found", run: testMetaDocumentsOtherWorkspace},
		{name: "document methods: cancelled context", run: testMetaDocumentsCancelled},
		{name: "concurrent copies of one base", run: testMetaConcurrentCopies},
		{name: "totals stay exact under concurrent changes", run: testMetaConcurrentTotals},
	}
}

// spec describes a listed file for the document tests.
type spec struct {
	id, name, kind, collection string
	tags                       []string
	owner, access              string
	view                       []string
	at                         time.Time
}

// addListed stores a file described by sp with one confirmed version.
func addListed(t *testing.T, s driver.MetaStore, ws string, sp spec) *driver.FileRecord {
	t.Helper()
	f := newFile(ws, sp.id, sp.at)
	f.CollectionID, f.Tags, f.Owner, f.AccessControl = sp.collection, sp.tags, sp.owner, sp.access
	f.ACL = driver.ACL{View: sp.view}
	if f.AccessControl == "" {
		f.AccessControl = "private"
	}
	if sp.collection != "" { // a file names only an existing collection
		ensureCollection(t, s, ws, sp.collection, sp.at)
	}
	up := newTicket(ws, sp.id+"-u1", sp.id, 0, sp.at)
	require.NoError(t, s.CreateUpload(context.Background(), f, up))
	c := commitOf(up, sp.at)
	c.Version.FileName, c.Version.Kind = sp.name, sp.kind
	if c.Version.FileName == "" {
		c.Version.FileName = sp.id + ".pdf"
	}
	if c.Version.Kind == "" {
		c.Version.Kind = "document"
	}
	got, err := s.CommitUpload(context.Background(), c)
	require.NoError(t, err)
	return got
}

// listAll pages through q (limit per page) and returns the ids in order;
// it checks that every page reports the same total, equal to the count.
func listAll(t *testing.T, s driver.MetaStore, q driver.ListQuery, limit int) []string {
	t.Helper()
	q.Limit = limit
	if q.Now.IsZero() {
		q.Now = epoch().Add(24 * time.Hour)
	}
	if q.Sort == "" {
		q.Sort = driver.ListByCreated
	}
	ids := []string{}
	var totals []int64
	for range 1000 {
		page, err := s.ListFiles(context.Background(), &q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page.Files), limit)
		totals = append(totals, page.Total)
		for _, f := range page.Files {
			require.Equal(t, q.Workspace, f.Workspace, "a listing never crosses workspaces")
			ids = append(ids, f.ID)
		}
		if len(page.Files) < limit {
			break
		}
		last := page.Files[len(page.Files)-1]
		q.After = &driver.ListKey{CreatedAt: last.CreatedAt, FileName: last.FileName, ID: last.ID}
	}
	for _, n := range totals {
		assert.Equal(t, int64(len(ids)), n, "total of every page is the number of matching files")
	}
	return ids
}

func testMetaListOrder(t *testing.T, s driver.MetaStore) {
	at := epoch()
	type row struct {
		id, name string
		at       time.Time
	}
	var rows []row
	for i := range 23 {
		r := row{id: fmt.Sprintf("f%02d", (i*7)%23), name: fmt.Sprintf("file%02d.pdf", (i*5)%23), at: at.Add(time.Duration(i/3) * time.Second)}
		if i%2 == 0 {
			r.name = strings.ToUpper(r.name[:4]) + r.name[4:] // case must not matter
		}
		if i%4 == 0 {
			r.name = "same.pdf" // ties broken by id
		}
		rows = append(rows, r)
		addListed(t, s, wsA, spec{id: r.id, name: r.name, at: r.at})
	}
	createNew(t, s, wsA, "pending", "pending-u", at)  // no version: not listed
	addListed(t, s, wsB, spec{id: "foreign", at: at}) // another workspace
	addListed(t, s, wsA, spec{id: "gone", at: at})    // deleted
	require.NoError(t, s.MarkDeleted(context.Background(), wsA, "gone", at))

	byCreated := slices.Clone(rows)
	slices.SortFunc(byCreated, func(a, b row) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	byName := slices.Clone(rows)
	slices.SortFunc(byName, func(a, b row) int {
		if c := strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	ids := func(rs []row) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.id
		}
		return out
	}
	desc := ids(byCreated)
	slices.Reverse(desc)
	tests := []struct {
		name string
		sort driver.ListSort
		want []string
	}{
		{name: "created", sort: driver.ListByCreated, want: ids(byCreated)},
		{name: "created desc", sort: driver.ListByCreatedDesc, want: desc},
		{name: "name", sort: driver.ListByName, want: ids(byName)},
	}
	for _, tc := range tests {
		for _, limit := range []int{1, 4, 23, 100} {
			t.Run(fmt.Sprintf("%s limit %d", tc.name, limit), func(t *testing.T) {
				assert.Equal(t, tc.want, listAll(t, s, driver.ListQuery{Workspace: wsA, Sort: tc.sort}, limit))
			})
		}
	}
}

func testMetaListFilters(t *testing.T, s driver.MetaStore) {
	at := epoch()
	for _, sp := range []spec{
		{id: "a", name: "Annual Report.pdf", collection: "c1", tags: []string{"finance", "2025"}},
		{id: "b", name: "photo_100%.png", kind: "image", collection: "c1", tags: []string{"photos"}},
		{id: "c", name: "photo-100x.png", kind: "image", collection: "c2", tags: []string{"photos", "finance"}},
		{id: "d", name: "ÄPFEL und Birnen.txt", kind: "text", tags: []string{"Finance"}},
		{id: "e", name: "wow!.txt", kind: "text", collection: "c2"},
	} {
		sp.at = at.Add(time.Duration(len(sp.id)) * time.Second)
		addListed(t, s, wsA, sp)
	}
	addListed(t, s, wsB, spec{id: "z", name: "Annual Report.pdf", collection: "cb", tags: []string{"finance"}, at: at})
	tests := []struct {
		name string
		q    driver.ListQuery
		want []string
	}{
		{name: "none", want: []string{"a", "b", "c", "d", "e"}},
		{name: "collection", q: driver.ListQuery{CollectionID: "c1"}, want: []string{"a", "b"}},
		{name: "unknown collection", q: driver.ListQuery{CollectionID: "c9"}, want: []string{}},
		{name: "tag", q: driver.ListQuery{Tag: "finance"}, want: []string{"a", "c"}},
		{name: "tag is case-sensitive", q: driver.ListQuery{Tag: "Finance"}, want: []string{"d"}},
		{name: "kind", q: driver.ListQuery{Kind: "image"}, want: []string{"b", "c"}},
		{name: "name contains, any case", q: driver.ListQuery{NameContains: "REPORT"}, want: []string{"a"}},
		{name: "name contains non-ASCII, any case", q: driver.ListQuery{NameContains: "äpfel"}, want: []string{"d"}},
		{name: "percent is literal", q: driver.ListQuery{NameContains: "100%"}, want: []string{"b"}},
		{name: "underscore is literal", q: driver.ListQuery{NameContains: "o_1"}, want: []string{"b"}},
		{name: "escape character is literal", q: driver.ListQuery{NameContains: "!"}, want: []string{"e"}},
		{name: "collection and tag", q: driver.ListQuery{CollectionID: "c2", Tag: "photos"}, want: []string{"c"}},
		{name: "kind and name", q: driver.ListQuery{Kind: "text", NameContains: "und"}, want: []string{"d"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Workspace = wsA
			assert.Equal(t, tc.want, listAll(t, s, q, 2))
			q.Sort = driver.ListByCreatedDesc
			want := slices.Clone(tc.want)
			slices.Reverse(want)
			assert.Equal(t, want, listAll(t, s, q, 3))
		})
	}
}

func testMetaListViewers(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	for i, sp := range []spec{
		{id: "alice-own", owner: "alice"},
		{id: "bob-own", owner: "bob"},
		{id: "public", owner: "bob", access: driver.AccessPublicRead},
		{id: "shared-ws", owner: "bob", view: []string{"workspace"}},
		{id: "shared-alice", owner: "bob", view: []string{"user:alice", "user:carol"}},
		{id: "alice-listed-twice", owner: "alice", view: []string{"user:alice"}},
		{id: "admin-own", owner: ""},
	} {
		sp.at = at.Add(time.Duration(i) * time.Second)
		addListed(t, s, wsA, sp)
	}
	addListed(t, s, wsB, spec{id: "foreign", owner: "alice", access: driver.AccessPublicRead, at: at})
	tests := []struct {
		name, viewer string
		want         []string
	}{
		{name: "admin", viewer: "", want: []string{"alice-own", "bob-own", "public", "shared-ws", "shared-alice", "alice-listed-twice", "admin-own"}},
		{name: "alice", viewer: "alice", want: []string{"alice-own", "public", "shared-ws", "shared-alice", "alice-listed-twice"}},
		{name: "bob", viewer: "bob", want: []string{"bob-own", "public", "shared-ws", "shared-alice"}},
		{name: "carol", viewer: "carol", want: []string{"public", "shared-ws", "shared-alice"}},
		{name: "stranger", viewer: "dave", want: []string{"public", "shared-ws"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, listAll(t, s, driver.ListQuery{Workspace: wsA, Viewer: tc.viewer}, 2))
			assert.Equal(t, tc.want, listAll(t, s, driver.ListQuery{Workspace: wsA, Viewer: tc.viewer, Kind: "document"}, 3),
				"a filtered (counted) total agrees")
		})
	}

	// Access changes move files in and out of listings at once.
	private := "private"
	_, err := s.UpdateFile(ctx, &driver.FileUpdate{Workspace: wsA, ID: "public", AccessControl: &private, At: at})
	require.NoError(t, err)
	_, err = s.UpdateFile(ctx, &driver.FileUpdate{Workspace: wsA, ID: "bob-own", ACL: &driver.ACL{View: []string{"user:dave"}}, At: at})
	require.NoError(t, err)
	assert.Equal(t, []string{"bob-own", "shared-ws"}, listAll(t, s, driver.ListQuery{Workspace: wsA, Viewer: "dave"}, 2))
	assert.Equal(t, []string{"bob-own", "public", "shared-ws", "shared-alice"}, listAll(t, s, driver.ListQuery{Workspace: wsA, Viewer: "bob"}, 2))
	assert.Len(t, listAll(t, s, driver.ListQuery{Workspace: wsA}, 5), 7)
}

func testMetaListHidden(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	for i := range 6 {
		addListed(t, s, wsA, spec{id: fmt.Sprintf("f%d", i), owner: "alice", at: at.Add(time.Duration(i) * time.Second)})
	}
	// A temporary file that expires an hour after its commit, visible to
	// its owner only.
	tf := newFile(wsA, "temp", at)
	tf.ACL = driver.ACL{}
	up := newTicket(wsA, "temp-u", "temp", 0, at)
	require.NoError(t, s.CreateUpload(ctx, tf, up))
	c := commitOf(up, at)
	c.ExpiresAt = at.Add(time.Hour)
	_, err := s.CommitUpload(ctx, c)
	require.NoError(t, err)
	// Not listed: pending, rejected.
	createNew(t, s, wsA, "pending", "pending-u", at)
	createNew(t, s, wsA, "rejected", "rejected-u", at)
	require.NoError(t, s.RejectUpload(ctx, wsA, "rejected-u", "c", "r", at))

	q := driver.ListQuery{Workspace: wsA, Now: at.Add(time.Minute)}
	qa := q
	qa.Viewer = "alice"
	all := []string{"temp", "f0", "f1", "f2", "f3", "f4", "f5"}
	assert.ElementsMatch(t, all, listAll(t, s, q, 3))
	assert.ElementsMatch(t, all[1:], listAll(t, s, qa, 3))

	later := q
	later.Now = at.Add(time.Hour) // at expiry: gone
	assert.ElementsMatch(t, all[1:], listAll(t, s, later, 3))
	later.Viewer = "alice"
	assert.ElementsMatch(t, all[1:], listAll(t, s, later, 3))

	require.NoError(t, s.MarkDeleted(ctx, wsA, "f1", at.Add(time.Second)))
	require.NoError(t, s.PurgeFile(ctx, wsA, "f2"))
	require.NoError(t, s.MarkDeleted(ctx, wsA, "f3", at.Add(time.Second)))
	require.NoError(t, s.PurgeFile(ctx, wsA, "f3"))
	// A second version changes nothing for the listing.
	commit(t, s, createNext(t, s, wsA, "f4", "f4-u2", 1, at), at.Add(time.Second))
	want := []string{"temp", "f0", "f4", "f5"}
	assert.ElementsMatch(t, want, listAll(t, s, q, 3))
	assert.ElementsMatch(t, want[1:], listAll(t, s, qa, 3))

	_, err = s.Undelete(ctx, wsA, "f1", at)
	require.NoError(t, err)
	assert.ElementsMatch(t, append(want, "f1"), listAll(t, s, q, 3))
	assert.ElementsMatch(t, append(want[1:], "f1"), listAll(t, s, qa, 3))
}

func testMetaListInvalid(t *testing.T, s driver.MetaStore) {
	ok := driver.ListQuery{Workspace: wsA, Sort: driver.ListByCreated, Limit: 10, Now: epoch()}
	tests := []struct {
		name string
		mod  func(q *driver.ListQuery)
	}{
		{name: "no workspace", mod: func(q *driver.ListQuery) { q.Workspace = "" }},
		{name: "limit 0", mod: func(q *driver.ListQuery) { q.Limit = 0 }},
		{name: "limit 1001", mod: func(q *driver.ListQuery) { q.Limit = 1001 }},
		{name: "unknown sort", mod: func(q *driver.ListQuery) { q.Sort = "size; DROP TABLE files" }},
		{name: "no time", mod: func(q *driver.ListQuery) { q.Now = time.Time{} }},
		{name: "position without id", mod: func(q *driver.ListQuery) { q.After = &driver.ListKey{CreatedAt: epoch()} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := ok
			tc.mod(&q)
			_, err := s.ListFiles(context.Background(), &q)
			requireIs(t, err, driver.ErrInvalidArgument)
		})
	}
	_, err := s.ListFiles(context.Background(), nil)
	requireIs(t, err, driver.ErrInvalidArgument)
	page, err := s.ListFiles(context.Background(), &ok)
	require.NoError(t, err)
	assert.Empty(t, page.Files)
	assert.NotNil(t, page.Files, "an empty page is an empty slice")
	assert.Zero(t, page.Total)
}
