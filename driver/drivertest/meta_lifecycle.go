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

// metaLifecycleTests cover commit, reject, deletion and purge.
func metaLifecycleTests() []metaTest {
	return []metaTest{
		{name: "commit first version", run: testMetaCommit},
		{name: "commit later versions", run: testMetaCommitVersions},
		{name: "commit with a stale base version", run: testMetaCommitStale},
		{name: "commit to processing with expiry", run: testMetaCommitProcessing},
		{name: "commit refuses an expired ticket", run: testMetaCommitTicketExpiry},
		{name: "reject first version", run: testMetaRejectFirst},
		{name: "reject later version", run: testMetaRejectLater},
		{name: "reject and commit only pending tickets", run: testMetaRejectCommitted},
		{name: "mark deleted", run: testMetaMarkDeleted},
		{name: "purge undeleted file", run: testMetaPurge},
	}
}

func testMetaCommit(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	up := createNew(t, s, wsA, "f1", "u1", at)
	before, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)

	c := commitOf(up, at.Add(time.Minute))
	c.Version.Width, c.Version.Height = 800, 600
	f, err := s.CommitUpload(ctx, c)
	require.NoError(t, err)

	want := *before
	v := c.Version
	want.FileName, want.MIMEType, want.Kind, want.Size, want.Digest = v.FileName, v.MIMEType, v.Kind, v.Size, v.Digest
	want.Width, want.Height, want.StorageKey, want.Source = v.Width, v.Height, v.StorageKey, v.Source
	want.Version, want.Status = 1, driver.StatusReady
	want.UpdatedAt = stored(c.At)
	assert.Equal(t, &want, f, "returned file")
	got, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, &want, got, "stored file")

	wantV := v
	wantV.CreatedAt, wantV.Status = stored(v.CreatedAt), driver.StatusReady
	vs, err := s.Versions(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, []driver.VersionRecord{wantV}, vs)
	gotV, err := s.Version(ctx, wsA, "f1", 1)
	require.NoError(t, err)
	assert.Equal(t, &wantV, gotV)

	gotUp, err := s.Upload(ctx, wsA, "u1")
	require.NoError(t, err)
	assert.Equal(t, driver.UploadConfirmed, gotUp.Status)

	// The same ticket again: refused, nothing changes.
	_, err = s.CommitUpload(ctx, commitOf(up, at.Add(time.Hour)))
	requireIs(t, err, driver.ErrPrecondition, "second commit")
	got, err = s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, &want, got, "file after a refused commit")
	vs, err = s.Versions(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Len(t, vs, 1)
}

func testMetaCommitVersions(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	createNew(t, s, wsA, "f1", "u1", at)
	vs, err := s.Versions(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Empty(t, vs, "versions before the first commit")

	commit(t, s, &driver.UploadRecord{Workspace: wsA, ID: "u1", FileID: "f1", Version: 1, StorageKey: "k1"}, at)
	for n := 2; n <= 4; n++ {
		up := createNext(t, s, wsA, "f1", fmt.Sprintf("u%d", n), n-1, at.Add(time.Duration(n)*time.Second))
		f := commit(t, s, up, at.Add(time.Duration(n)*time.Second))
		assert.Equal(t, n, f.Version)
		assert.Equal(t, up.StorageKey, f.StorageKey)
	}
	vs, err = s.Versions(ctx, wsA, "f1")
	require.NoError(t, err)
	require.Len(t, vs, 4)
	for i, v := range vs {
		assert.Equal(t, i+1, v.Version, "versions oldest first")
	}
	v, err := s.Version(ctx, wsA, "f1", 2)
	require.NoError(t, err)
	assert.Equal(t, "ws-a/f1/v2/u2", v.StorageKey)
}

func testMetaCommitStale(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	readyFile(t, s, wsA, "f1", at)
	first := createNext(t, s, wsA, "f1", "u2a", 1, at)
	second := createNext(t, s, wsA, "f1", "u2b", 1, at)

	won := commit(t, s, second, at.Add(time.Minute))
	assert.Equal(t, 2, won.Version)

	_, err := s.CommitUpload(ctx, commitOf(first, at.Add(2*time.Minute)))
	requireIs(t, err, driver.ErrPrecondition, "commit against a stale base version")

	got, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, won, got, "file changed by a refused commit")
	up, err := s.Upload(ctx, wsA, "u2a")
	require.NoError(t, err)
	assert.Equal(t, driver.UploadPending, up.Status, "a refused commit changed the ticket")
	vs, err := s.Versions(ctx, wsA, "f1")
	require.NoError(t, err)
	require.Len(t, vs, 2)
	assert.Equal(t, second.StorageKey, vs[1].StorageKey)
}

func testMetaCommitProcessing(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	up := createNew(t, s, wsA, "f1", "u1", at)
	c := commitOf(up, at)
	c.Status = driver.StatusProcessing
	c.ExpiresAt = at.Add(24 * time.Hour)
	f, err := s.CommitUpload(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, driver.StatusProcessing, f.Status)
	assert.Equal(t, stored(c.ExpiresAt), f.ExpiresAt)

	// A later commit without an expiry keeps the file's.
	f = commit(t, s, createNext(t, s, wsA, "f1", "u2", 1, at), at.Add(time.Second))
	assert.Equal(t, driver.StatusReady, f.Status)
	assert.Equal(t, stored(c.ExpiresAt), f.ExpiresAt)
}

// testMetaCommitTicketExpiry: a commit whose TicketExpiresAfter is at or
// past the ticket's expiry changes nothing (ErrPrecondition); one just
// before it commits.
func testMetaCommitTicketExpiry(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	up := createNew(t, s, wsA, "f1", "u1", at)
	before, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	for _, after := range []time.Time{up.ExpiresAt, up.ExpiresAt.Add(time.Second)} {
		c := commitOf(up, at.Add(time.Minute))
		c.TicketExpiresAfter = after
		_, err := s.CommitUpload(ctx, c)
		requireIs(t, err, driver.ErrPrecondition, "ticket expiring at or before %s", after)
	}
	got, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, before, got, "a refused commit changed the file")
	gotUp, err := s.Upload(ctx, wsA, "u1")
	require.NoError(t, err)
	assert.Equal(t, driver.UploadPending, gotUp.Status, "a refused commit changed the ticket")
	vs, err := s.Versions(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Empty(t, vs)

	c := commitOf(up, at.Add(time.Minute))
	c.TicketExpiresAfter = up.ExpiresAt.Add(-time.Microsecond)
	f, err := s.CommitUpload(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, 1, f.Version)
}

func testMetaRejectFirst(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	createNew(t, s, wsA, "f1", "u1", at)
	require.NoError(t, s.RejectUpload(ctx, wsA, "u1", "type_not_allowed", "content is an executable", at.Add(time.Minute)))

	up, err := s.Upload(ctx, wsA, "u1")
	require.NoError(t, err)
	assert.Equal(t, driver.UploadRejected, up.Status)
	assert.Equal(t, "type_not_allowed", up.ErrorCode)
	assert.Equal(t, "content is an executable", up.ErrorReason)

	f, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, driver.StatusRejected, f.Status)
	assert.Equal(t, "type_not_allowed", f.StatusCode)
	assert.Equal(t, "content is an executable", f.StatusReason)
	assert.Zero(t, f.Version)
}

func testMetaRejectLater(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	before := readyFile(t, s, wsA, "f1", at)
	createNext(t, s, wsA, "f1", "u2", 1, at)
	require.NoError(t, s.RejectUpload(ctx, wsA, "u2", "too_large", "too large", at.Add(time.Minute)))

	up, err := s.Upload(ctx, wsA, "u2")
	require.NoError(t, err)
	assert.Equal(t, driver.UploadRejected, up.Status)
	assert.Equal(t, "too_large", up.ErrorCode)
	f, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, driver.StatusReady, f.Status)
	assert.Equal(t, 1, f.Version)
	assert.Empty(t, f.StatusCode)
	assert.Equal(t, before.StorageKey, f.StorageKey)
}

func testMetaRejectCommitted(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	up := createNew(t, s, wsA, "f1", "u1", at)
	commit(t, s, up, at)
	requireIs(t, s.RejectUpload(ctx, wsA, "u1", "c", "r", at), driver.ErrPrecondition, "reject after commit")
	f, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, driver.StatusReady, f.Status)

	up2 := createNew(t, s, wsA, "f2", "u2", at)
	require.NoError(t, s.RejectUpload(ctx, wsA, "u2", "c", "r", at))
	requireIs(t, s.RejectUpload(ctx, wsA, "u2", "c2", "r2", at), driver.ErrPrecondition, "reject twice")
	_, err = s.CommitUpload(ctx, commitOf(up2, at))
	requireIs(t, err, driver.ErrPrecondition, "commit after reject")
	got, err := s.Upload(ctx, wsA, "u2")
	require.NoError(t, err)
	assert.Equal(t, driver.UploadRejected, got.Status)
	assert.Equal(t, "c", got.ErrorCode)
}

func testMetaMarkDeleted(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	up := createNext(t, s, wsA, "f1", "u2", 1, at)
	readyFile(t, s, wsA, "other", at)

	require.NoError(t, s.MarkDeleted(ctx, wsA, "f1", at.Add(time.Hour)))

	hidden := []struct {
		name string
		call func() error
	}{
		{name: "File", call: func() error { _, err := s.File(ctx, wsA, "f1"); return err }},
		{name: "Versions", call: func() error { _, err := s.Versions(ctx, wsA, "f1"); return err }},
		{name: "Version", call: func() error { _, err := s.Version(ctx, wsA, "f1", 1); return err }},
		{name: "LatestUpload", call: func() error { _, err := s.LatestUpload(ctx, wsA, "f1"); return err }},
		{name: "CreateUpload", call: func() error { return s.CreateUpload(ctx, nil, newTicket(wsA, "u3", "f1", 1, at)) }},
		{name: "MarkDeleted again", call: func() error { return s.MarkDeleted(ctx, wsA, "f1", at) }},
	}
	for _, tc := range hidden {
		t.Run(tc.name, func(t *testing.T) {
			requireIs(t, tc.call(), driver.ErrNotFound)
		})
	}
	_, err := s.CommitUpload(ctx, commitOf(up, at))
	requireIs(t, err, driver.ErrPrecondition, "commit to a deleted file")

	keys, err := s.FileKeys(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{f.StorageKey, up.StorageKey}, keys)

	require.NoError(t, s.PurgeFile(ctx, wsA, "f1"))
	_, err = s.FileKeys(ctx, wsA, "f1")
	requireIs(t, err, driver.ErrNotFound, "keys after purge")
	_, err = s.Upload(ctx, wsA, "u2")
	requireIs(t, err, driver.ErrNotFound, "ticket after purge")
	requireIs(t, s.PurgeFile(ctx, wsA, "f1"), driver.ErrNotFound, "purge twice")

	// Other files are untouched.
	_, err = s.File(ctx, wsA, "other")
	require.NoError(t, err)
	vs, err := s.Versions(ctx, wsA, "other")
	require.NoError(t, err)
	assert.Len(t, vs, 1)
}

func testMetaPurge(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	up := createNext(t, s, wsA, "f1", "u2", 1, at)
	keys, err := s.FileKeys(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{f.StorageKey, up.StorageKey}, keys)

	require.NoError(t, s.PurgeFile(ctx, wsA, "f1"))
	_, err = s.File(ctx, wsA, "f1")
	requireIs(t, err, driver.ErrNotFound)
	_, err = s.Upload(ctx, wsA, "f1-u1")
	requireIs(t, err, driver.ErrNotFound)
	// The ids are free again.
	createNew(t, s, wsA, "f1", "u2", at)
}
