package drivertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// metaShareTests checks the ShareStore methods.
func metaShareTests() []metaTest {
	return []metaTest{
		{name: "Share/links round trip", run: testMetaLinksRoundTrip},
		{name: "Share/link refusals", run: testMetaLinkRefusals},
		{name: "Share/links are scoped to their workspace", run: testMetaLinksScoped},
		{name: "Share/deleted link and deleted file", run: testMetaLinkDeletion},
		{name: "Share/delete a file's links, deleted or not", run: testMetaDeleteFileLinks},
		{name: "Share/live links cap", run: testMetaLinkCap},
		{name: "Share/concurrent creates keep the cap", run: testMetaConcurrentLinkCap},
		{name: "Share/touch link at most once per period", run: testMetaTouchLink},
		{name: "Share/concurrent touches write once", run: testMetaConcurrentTouch},
		{name: "Share/public-read files", run: testMetaPublicFile},
	}
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func newLink(ws, id, fileID string, at time.Time) *driver.LinkRecord {
	return &driver.LinkRecord{Workspace: ws, ID: id, FileID: fileID, TokenHash: tokenHash("token-" + id),
		Sealed: "sealed-" + id, CreatedBy: "user:owner", CreatedAt: at}
}

func testMetaLinksRoundTrip(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	l1 := newLink(wsA, "lnk-1", f.ID, at.Add(time.Minute))
	l1.ExpiresAt = at.Add(48 * time.Hour)
	l2 := newLink(wsA, "lnk-2", f.ID, at.Add(2*time.Minute))
	require.NoError(t, s.CreateLink(ctx, l2, 0))
	require.NoError(t, s.CreateLink(ctx, l1, 0))

	want1 := *l1
	want1.CreatedAt, want1.ExpiresAt = stored(l1.CreatedAt), stored(l1.ExpiresAt)
	want2 := *l2
	want2.CreatedAt = stored(l2.CreatedAt)

	got, err := s.Link(ctx, wsA, "lnk-1")
	require.NoError(t, err)
	assert.Equal(t, want1, *got)

	list, err := s.Links(ctx, wsA, f.ID)
	require.NoError(t, err)
	assert.Equal(t, []driver.LinkRecord{want1, want2}, list, "oldest first")

	gotL, gotF, err := s.LinkByToken(ctx, tokenHash("token-lnk-2"))
	require.NoError(t, err)
	assert.Equal(t, want2, *gotL)
	assert.Equal(t, f.ID, gotF.ID)
	assert.Equal(t, wsA, gotF.Workspace)
	assert.Equal(t, f.StorageKey, gotF.StorageKey)
	assert.Equal(t, f.Version, gotF.Version)

	_, _, err = s.LinkByToken(ctx, tokenHash("no such token"))
	requireIs(t, err, driver.ErrNotFound)

	other := readyFile(t, s, wsA, "f2", at)
	list, err = s.Links(ctx, wsA, other.ID)
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.NotNil(t, list, "an empty list, not nil")
}

func testMetaLinkRefusals(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	require.NoError(t, s.CreateLink(ctx, newLink(wsA, "lnk-1", f.ID, at), 0))

	dupID := newLink(wsA, "lnk-1", f.ID, at)
	dupID.TokenHash = tokenHash("another")
	dupHash := newLink(wsA, "lnk-2", f.ID, at)
	dupHash.TokenHash = tokenHash("token-lnk-1")
	tests := []struct {
		name string
		link *driver.LinkRecord
		want error
	}{
		{name: "nil", link: nil, want: driver.ErrInvalidArgument},
		{name: "no token hash", link: &driver.LinkRecord{Workspace: wsA, ID: "x", FileID: f.ID, CreatedAt: at}, want: driver.ErrInvalidArgument},
		{name: "no creation time", link: &driver.LinkRecord{Workspace: wsA, ID: "x", FileID: f.ID, TokenHash: "ab"}, want: driver.ErrInvalidArgument},
		{name: "unknown file", link: newLink(wsA, "lnk-3", "nope", at), want: driver.ErrNotFound},
		{name: "another workspace's file", link: newLink(wsB, "lnk-4", f.ID, at), want: driver.ErrNotFound},
		{name: "duplicate id", link: dupID, want: driver.ErrExists},
		{name: "duplicate token", link: dupHash, want: driver.ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireIs(t, s.CreateLink(ctx, tt.link, 0), tt.want)
		})
	}
	list, err := s.Links(ctx, wsA, f.ID)
	require.NoError(t, err)
	assert.Len(t, list, 1, "refused links are not stored")
}

func testMetaLinksScoped(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	require.NoError(t, s.CreateLink(ctx, newLink(wsA, "lnk-1", f.ID, at), 0))

	_, err := s.Link(ctx, wsB, "lnk-1")
	requireIs(t, err, driver.ErrNotFound)
	_, err = s.Links(ctx, wsB, f.ID)
	requireIs(t, err, driver.ErrNotFound)
	requireIs(t, s.DeleteLink(ctx, wsB, "lnk-1"), driver.ErrNotFound)
	_, err = s.TouchLink(ctx, wsB, "lnk-1", at, at.Add(time.Hour))
	requireIs(t, err, driver.ErrNotFound)

	_, _, err = s.LinkByToken(ctx, tokenHash("token-lnk-1"))
	require.NoError(t, err, "the foreign calls changed nothing")
	_, err = s.Links(ctx, wsA, "unknown")
	requireIs(t, err, driver.ErrNotFound)
	_, err = s.Link(ctx, wsA, "unknown")
	requireIs(t, err, driver.ErrNotFound)
}

func testMetaLinkDeletion(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	require.NoError(t, s.CreateLink(ctx, newLink(wsA, "lnk-1", f.ID, at), 0))
	require.NoError(t, s.CreateLink(ctx, newLink(wsA, "lnk-2", f.ID, at), 0))

	require.NoError(t, s.DeleteLink(ctx, wsA, "lnk-1"))
	_, _, err := s.LinkByToken(ctx, tokenHash("token-lnk-1"))
	requireIs(t, err, driver.ErrNotFound, "a deleted link stops working at once")
	requireIs(t, s.DeleteLink(ctx, wsA, "lnk-1"), driver.ErrNotFound)
	_, err = s.Link(ctx, wsA, "lnk-1")
	requireIs(t, err, driver.ErrNotFound)

	// A file marked deleted takes its links with it (and gives them back
	// on undelete); a purge removes them.
	require.NoError(t, s.MarkDeleted(ctx, wsA, f.ID, at.Add(time.Minute)))
	_, _, err = s.LinkByToken(ctx, tokenHash("token-lnk-2"))
	requireIs(t, err, driver.ErrNotFound)
	_, err = s.Link(ctx, wsA, "lnk-2")
	requireIs(t, err, driver.ErrNotFound)
	_, err = s.Links(ctx, wsA, f.ID)
	requireIs(t, err, driver.ErrNotFound)
	requireIs(t, s.CreateLink(ctx, newLink(wsA, "lnk-3", f.ID, at), 0), driver.ErrNotFound)

	_, err = s.Undelete(ctx, wsA, f.ID, at)
	require.NoError(t, err)
	_, _, err = s.LinkByToken(ctx, tokenHash("token-lnk-2"))
	require.NoError(t, err)

	require.NoError(t, s.MarkDeleted(ctx, wsA, f.ID, at.Add(2*time.Minute)))
	require.NoError(t, s.PurgeFile(ctx, wsA, f.ID))
	requireIs(t, s.DeleteLink(ctx, wsA, "lnk-2"), driver.ErrNotFound, "purge removes the file's links")
	// A new file may reuse nothing of the purged one's links.
	g := readyFile(t, s, wsA, "f1", at.Add(time.Hour))
	list, err := s.Links(ctx, wsA, g.ID)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func testMetaDeleteFileLinks(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	g := readyFile(t, s, wsA, "f2", at)
	require.NoError(t, s.CreateLink(ctx, newLink(wsA, "lnk-1", f.ID, at), 0))
	require.NoError(t, s.CreateLink(ctx, newLink(wsA, "lnk-2", f.ID, at), 0))
	require.NoError(t, s.CreateLink(ctx, newLink(wsA, "lnk-3", g.ID, at), 0))

	require.NoError(t, s.DeleteFileLinks(ctx, wsB, f.ID), "another workspace: nothing to delete")
	_, _, err := s.LinkByToken(ctx, tokenHash("token-lnk-1"))
	require.NoError(t, err, "another workspace's call removes nothing")

	require.NoError(t, s.MarkDeleted(ctx, wsA, f.ID, at.Add(time.Minute)))
	require.NoError(t, s.DeleteFileLinks(ctx, wsA, f.ID), "a deleted file's links")
	_, err = s.Undelete(ctx, wsA, f.ID, at)
	require.NoError(t, err)
	list, err := s.Links(ctx, wsA, f.ID)
	require.NoError(t, err)
	assert.Empty(t, list, "undelete brings back none")
	for _, id := range []string{"lnk-1", "lnk-2"} {
		_, _, err = s.LinkByToken(ctx, tokenHash("token-"+id))
		requireIs(t, err, driver.ErrNotFound)
	}
	_, _, err = s.LinkByToken(ctx, tokenHash("token-lnk-3"))
	require.NoError(t, err, "other files' links stay")

	require.NoError(t, s.DeleteFileLinks(ctx, wsA, f.ID), "no links left: not an error")
	require.NoError(t, s.DeleteFileLinks(ctx, wsA, "file-unknown"))
}

func testMetaLinkCap(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	expiring := newLink(wsA, "lnk-1", f.ID, at)
	expiring.ExpiresAt = at.Add(time.Hour)
	require.NoError(t, s.CreateLink(ctx, expiring, 2))
	require.NoError(t, s.CreateLink(ctx, newLink(wsA, "lnk-2", f.ID, at), 2))
	requireIs(t, s.CreateLink(ctx, newLink(wsA, "lnk-3", f.ID, at.Add(time.Minute)), 2), driver.ErrPrecondition)
	_, _, err := s.LinkByToken(ctx, tokenHash("token-lnk-3"))
	requireIs(t, err, driver.ErrNotFound, "a refused link is not stored")

	// Once lnk-1 has expired it no longer counts.
	require.NoError(t, s.CreateLink(ctx, newLink(wsA, "lnk-3", f.ID, at.Add(time.Hour)), 2))
	requireIs(t, s.CreateLink(ctx, newLink(wsA, "lnk-4", f.ID, at.Add(time.Hour)), 2), driver.ErrPrecondition)
	require.NoError(t, s.CreateLink(ctx, newLink(wsA, "lnk-4", f.ID, at.Add(time.Hour)), 0), "0: no cap")
}

func testMetaConcurrentLinkCap(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	const n, limit = 16, 5
	var created atomic.Int32
	errs := make(chan error, n)
	start := make(chan struct{})
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			err := s.CreateLink(ctx, newLink(wsA, fmt.Sprintf("lnk-%d", i), f.ID, at), limit)
			if err == nil {
				created.Add(1)
				return
			}
			errs <- err
		}()
	}
	close(start)
	for range n {
		<-done
	}
	close(errs)
	for err := range errs {
		requireIs(t, err, driver.ErrPrecondition)
	}
	assert.EqualValues(t, limit, created.Load())
	list, err := s.Links(ctx, wsA, f.ID)
	require.NoError(t, err)
	assert.Len(t, list, limit)
}

func testMetaTouchLink(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	require.NoError(t, s.CreateLink(ctx, newLink(wsA, "lnk-1", f.ID, at), 0))

	t1 := at.Add(time.Hour)
	changed, err := s.TouchLink(ctx, wsA, "lnk-1", t1, t1.Add(-time.Minute))
	require.NoError(t, err)
	assert.True(t, changed, "never accessed: recorded")
	l, err := s.Link(ctx, wsA, "lnk-1")
	require.NoError(t, err)
	assert.Equal(t, stored(t1), l.LastAccessedAt)

	t2 := t1.Add(30 * time.Second)
	changed, err = s.TouchLink(ctx, wsA, "lnk-1", t2, t2.Add(-time.Minute))
	require.NoError(t, err)
	assert.False(t, changed, "accessed within the period: not written")
	l, err = s.Link(ctx, wsA, "lnk-1")
	require.NoError(t, err)
	assert.Equal(t, stored(t1), l.LastAccessedAt)

	t3 := t1.Add(2 * time.Minute)
	changed, err = s.TouchLink(ctx, wsA, "lnk-1", t3, t3.Add(-time.Minute))
	require.NoError(t, err)
	assert.True(t, changed)
	list, err := s.Links(ctx, wsA, f.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, stored(t3), list[0].LastAccessedAt)

	_, err = s.TouchLink(ctx, wsA, "unknown", t3, t3)
	requireIs(t, err, driver.ErrNotFound)
}

func testMetaConcurrentTouch(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	require.NoError(t, s.CreateLink(ctx, newLink(wsA, "lnk-1", f.ID, at), 0))
	now := at.Add(time.Hour)
	var wins atomic.Int32
	fns := make([]func() error, 8)
	for i := range fns {
		fns[i] = func() error {
			changed, err := s.TouchLink(ctx, wsA, "lnk-1", now, now.Add(-time.Minute))
			if changed {
				wins.Add(1)
			}
			return err
		}
	}
	for _, err := range race(fns...) {
		require.NoError(t, err)
	}
	assert.Equal(t, int32(1), wins.Load(), "exactly one of concurrent touches writes")
}

func testMetaPublicFile(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	_, err := s.PublicFile(ctx, f.ID)
	requireIs(t, err, driver.ErrNotFound, "a private file is not public")
	_, err = s.PublicFile(ctx, "unknown")
	requireIs(t, err, driver.ErrNotFound)

	public := driver.AccessPublicRead
	_, err = s.UpdateFile(ctx, &driver.FileUpdate{Workspace: wsA, ID: f.ID, AccessControl: &public, At: at.Add(time.Minute)})
	require.NoError(t, err)
	got, err := s.PublicFile(ctx, f.ID)
	require.NoError(t, err)
	assert.Equal(t, wsA, got.Workspace)
	assert.Equal(t, f.StorageKey, got.StorageKey)

	require.NoError(t, s.MarkDeleted(ctx, wsA, f.ID, at.Add(2*time.Minute)))
	_, err = s.PublicFile(ctx, f.ID)
	requireIs(t, err, driver.ErrNotFound, "a deleted file is not public")
}
