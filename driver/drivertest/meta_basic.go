package drivertest

import (
	"context"
	"crypto/md5"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// metaBasicTests cover records, ids, workspaces and contexts.
func metaBasicTests() []metaTest {
	return []metaTest{
		{name: "ping", run: testMetaPing},
		{name: "file and ticket round trip every field", run: testMetaRoundTrip},
		{name: "unknown ids are not found", run: testMetaUnknownIDs},
		{name: "duplicate ids already exist", run: testMetaDuplicates},
		{name: "another workspace's ids are not found", run: testMetaOtherWorkspace},
		{name: "cancelled context", run: testMetaCancelled},
		{name: "ticket for an existing file", run: testMetaTicketForExisting},
		{name: "record write only while pending", run: testMetaRecordWrite},
		{name: "latest upload", run: testMetaLatestUpload},
	}
}

func testMetaPing(t *testing.T, s driver.MetaStore) {
	require.NoError(t, s.Ping(context.Background()))
}

func testMetaRoundTrip(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := &driver.FileRecord{
		Workspace:     wsA,
		ID:            "f1",
		FileName:      "photo ünïcødé.png",
		Title:         "Holiday photo",
		MIMEType:      "image/png",
		Kind:          "image",
		Size:          987654321012,
		Digest:        "sha256:abc",
		Width:         4032,
		Height:        3024,
		Status:        driver.StatusPending,
		StatusCode:    "code",
		StatusReason:  "reason",
		Source:        "import",
		StorageKey:    "ws-a/f1/v0/x",
		Owner:         "user:alice",
		CollectionID:  "col-1",
		Tags:          []string{"holiday", "2025", "a \"quoted\" tag"},
		Metadata:      []byte(`{"camera":{"make":"X","iso":200},"n":[1,2]}`),
		AccessControl: "public-read",
		ACL: driver.ACL{
			View:   []string{"workspace", "user:bob"},
			Edit:   []string{"user:carol"},
			Delete: []string{},
		},
		Persist:   true,
		ExpiresAt: at.Add(48 * time.Hour),
		CreatedAt: at,
		UpdatedAt: at.Add(time.Nanosecond * 1500),
	}
	up := &driver.UploadRecord{
		Workspace:   wsA,
		ID:          "u1",
		FileID:      "f1",
		Version:     1,
		BaseVersion: 0,
		StorageKey:  "ws-a/f1/v1/r4nd0m",
		FileName:    "photo ünïcødé.png",
		MIMEType:    "image/png",
		Size:        987654321012,
		MaxSize:     1 << 40,
		Status:      driver.UploadPending,
		CreatedBy:   "user:alice",
		CreatedAt:   at.Add(time.Microsecond),
		ExpiresAt:   at.Add(15 * time.Minute),
	}
	ensureCollection(t, s, wsA, "col-1", at)
	require.NoError(t, s.CreateUpload(ctx, f, up))

	got, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.JSONEq(t, string(f.Metadata), string(got.Metadata))
	want := *f
	want.Metadata = got.Metadata
	want.ExpiresAt = stored(f.ExpiresAt)
	want.CreatedAt = stored(f.CreatedAt)
	want.UpdatedAt = stored(f.UpdatedAt)
	assert.Equal(t, &want, got)
	assert.Equal(t, time.UTC, got.CreatedAt.Location())

	gotUp, err := s.Upload(ctx, wsA, "u1")
	require.NoError(t, err)
	wantUp := *up
	wantUp.CreatedAt = stored(up.CreatedAt)
	wantUp.ExpiresAt = stored(up.ExpiresAt)
	assert.Equal(t, &wantUp, gotUp)

	sum := md5.Sum([]byte("bytes"))
	w := driver.WriteRecord{Size: 5, Digest: "sha256:def", MD5: sum[:]}
	require.NoError(t, s.RecordWrite(ctx, wsA, "u1", w))
	gotUp, err = s.Upload(ctx, wsA, "u1")
	require.NoError(t, err)
	wantUp.WrittenSize, wantUp.WrittenDigest, wantUp.WrittenMD5 = w.Size, w.Digest, w.MD5
	assert.Equal(t, &wantUp, gotUp)

	// A minimal file: zero times stay zero, empty fields stay empty.
	min := &driver.FileRecord{Workspace: wsA, ID: "f2", Status: driver.StatusPending, CreatedAt: at, UpdatedAt: at}
	require.NoError(t, s.CreateUpload(ctx, min, &driver.UploadRecord{
		Workspace: wsA, ID: "u2", FileID: "f2", Version: 1, Status: driver.UploadPending, CreatedAt: at,
	}))
	gotMin, err := s.File(ctx, wsA, "f2")
	require.NoError(t, err)
	assert.True(t, gotMin.ExpiresAt.IsZero())
	assert.True(t, gotMin.DeletedAt.IsZero())
	assert.Empty(t, gotMin.Tags)
	assert.Empty(t, gotMin.Metadata)
	assert.Empty(t, gotMin.ACL.View)
	assert.False(t, gotMin.Persist)
	assert.Zero(t, gotMin.Version)
	gotUp2, err := s.Upload(ctx, wsA, "u2")
	require.NoError(t, err)
	assert.True(t, gotUp2.ExpiresAt.IsZero())
	assert.Empty(t, gotUp2.WrittenMD5)
}

func testMetaUnknownIDs(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	readyFile(t, s, wsA, "known", at)
	up := newTicket(wsA, "nope-u", "nope", 0, at)
	tests := []struct {
		name string
		call func() error
	}{
		{name: "File", call: func() error { _, err := s.File(ctx, wsA, "nope"); return err }},
		{name: "Upload", call: func() error { _, err := s.Upload(ctx, wsA, "nope-u"); return err }},
		{name: "LatestUpload", call: func() error { _, err := s.LatestUpload(ctx, wsA, "nope"); return err }},
		{name: "Versions", call: func() error { _, err := s.Versions(ctx, wsA, "nope"); return err }},
		{name: "Version", call: func() error { _, err := s.Version(ctx, wsA, "nope", 1); return err }},
		{name: "Version of a known file", call: func() error { _, err := s.Version(ctx, wsA, "known", 7); return err }},
		{name: "RecordWrite", call: func() error { return s.RecordWrite(ctx, wsA, "nope-u", driver.WriteRecord{Size: 1}) }},
		{name: "CommitUpload", call: func() error { _, err := s.CommitUpload(ctx, commitOf(up, at)); return err }},
		{name: "RejectUpload", call: func() error { return s.RejectUpload(ctx, wsA, "nope-u", "c", "r", at) }},
		{name: "MarkDeleted", call: func() error { return s.MarkDeleted(ctx, wsA, "nope", at) }},
		{name: "FileKeys", call: func() error { _, err := s.FileKeys(ctx, wsA, "nope"); return err }},
		{name: "PurgeFile", call: func() error { return s.PurgeFile(ctx, wsA, "nope") }},
		{name: "CreateUpload for an unknown file", call: func() error { return s.CreateUpload(ctx, nil, up) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireIs(t, tc.call(), driver.ErrNotFound)
		})
	}
}

func testMetaDuplicates(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	createNew(t, s, wsA, "f1", "u1", at)

	// Same file id, new ticket id: refused, and the ticket not stored.
	err := s.CreateUpload(ctx, newFile(wsA, "f1", at), newTicket(wsA, "u2", "f1", 0, at))
	requireIs(t, err, driver.ErrExists, "duplicate file id")
	_, err = s.Upload(ctx, wsA, "u2")
	requireIs(t, err, driver.ErrNotFound, "ticket of a refused create")

	// New file id, same ticket id: refused, and the file not stored.
	err = s.CreateUpload(ctx, newFile(wsA, "f2", at), newTicket(wsA, "u1", "f2", 0, at))
	requireIs(t, err, driver.ErrExists, "duplicate upload id with a new file")
	_, err = s.File(ctx, wsA, "f2")
	requireIs(t, err, driver.ErrNotFound, "file of a refused create")

	// Ticket for the existing file reusing a ticket id.
	err = s.CreateUpload(ctx, nil, newTicket(wsA, "u1", "f1", 0, at))
	requireIs(t, err, driver.ErrExists, "duplicate upload id for an existing file")

	// The original rows are intact.
	up, err := s.Upload(ctx, wsA, "u1")
	require.NoError(t, err)
	assert.Equal(t, "f1", up.FileID)
	assert.Equal(t, driver.UploadPending, up.Status)
}

func testMetaOtherWorkspace(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	up := createNext(t, s, wsA, "f1", "u2", 1, at.Add(2*time.Second))
	foreign := *up
	foreign.Workspace = wsB
	foreignTicket := newTicket(wsB, "u3", "f1", 1, at)

	tests := []struct {
		name string
		call func() error
	}{
		{name: "File", call: func() error { _, err := s.File(ctx, wsB, "f1"); return err }},
		{name: "Upload", call: func() error { _, err := s.Upload(ctx, wsB, "u2"); return err }},
		{name: "LatestUpload", call: func() error { _, err := s.LatestUpload(ctx, wsB, "f1"); return err }},
		{name: "Versions", call: func() error { _, err := s.Versions(ctx, wsB, "f1"); return err }},
		{name: "Version", call: func() error { _, err := s.Version(ctx, wsB, "f1", 1); return err }},
		{name: "RecordWrite", call: func() error { return s.RecordWrite(ctx, wsB, "u2", driver.WriteRecord{Size: 1}) }},
		{name: "CommitUpload", call: func() error { _, err := s.CommitUpload(ctx, commitOf(&foreign, at)); return err }},
		{name: "RejectUpload", call: func() error { return s.RejectUpload(ctx, wsB, "u2", "c", "r", at) }},
		{name: "MarkDeleted", call: func() error { return s.MarkDeleted(ctx, wsB, "f1", at) }},
		{name: "FileKeys", call: func() error { _, err := s.FileKeys(ctx, wsB, "f1"); return err }},
		{name: "PurgeFile", call: func() error { return s.PurgeFile(ctx, wsB, "f1") }},
		{name: "CreateUpload", call: func() error { return s.CreateUpload(ctx, nil, foreignTicket) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireIs(t, tc.call(), driver.ErrNotFound)
		})
	}

	// Nothing of workspace A changed.
	got, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, f, got)
	gotUp, err := s.Upload(ctx, wsA, "u2")
	require.NoError(t, err)
	assert.Equal(t, driver.UploadPending, gotUp.Status)
	assert.Zero(t, gotUp.WrittenSize)
	vs, err := s.Versions(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Len(t, vs, 1)
}

func testMetaCancelled(t *testing.T, s driver.MetaStore) {
	at := epoch()
	readyFile(t, s, wsA, "f1", at)
	up := createNext(t, s, wsA, "f1", "u2", 1, at)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		call func() error
	}{
		{name: "Ping", call: func() error { return s.Ping(ctx) }},
		{name: "CreateUpload new file", call: func() error {
			return s.CreateUpload(ctx, newFile(wsA, "f9", at), newTicket(wsA, "u9", "f9", 0, at))
		}},
		{name: "CreateUpload existing file", call: func() error {
			return s.CreateUpload(ctx, nil, newTicket(wsA, "u8", "f1", 1, at))
		}},
		{name: "File", call: func() error { _, err := s.File(ctx, wsA, "f1"); return err }},
		{name: "Upload", call: func() error { _, err := s.Upload(ctx, wsA, "u2"); return err }},
		{name: "LatestUpload", call: func() error { _, err := s.LatestUpload(ctx, wsA, "f1"); return err }},
		{name: "Versions", call: func() error { _, err := s.Versions(ctx, wsA, "f1"); return err }},
		{name: "Version", call: func() error { _, err := s.Version(ctx, wsA, "f1", 1); return err }},
		{name: "RecordWrite", call: func() error { return s.RecordWrite(ctx, wsA, "u2", driver.WriteRecord{Size: 1}) }},
		{name: "CommitUpload", call: func() error { _, err := s.CommitUpload(ctx, commitOf(up, at)); return err }},
		{name: "RejectUpload", call: func() error { return s.RejectUpload(ctx, wsA, "u2", "c", "r", at) }},
		{name: "MarkDeleted", call: func() error { return s.MarkDeleted(ctx, wsA, "f1", at) }},
		{name: "FileKeys", call: func() error { _, err := s.FileKeys(ctx, wsA, "f1"); return err }},
		{name: "PurgeFile", call: func() error { return s.PurgeFile(ctx, wsA, "f1") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireIs(t, tc.call(), context.Canceled)
		})
	}

	// Nothing changed.
	bg := context.Background()
	got, err := s.File(bg, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, 1, got.Version)
	gotUp, err := s.Upload(bg, wsA, "u2")
	require.NoError(t, err)
	assert.Equal(t, driver.UploadPending, gotUp.Status)
	_, err = s.File(bg, wsA, "f9")
	requireIs(t, err, driver.ErrNotFound)
}

func testMetaTicketForExisting(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	createNew(t, s, wsA, "f1", "u1", at)

	// A second first-version ticket for a file still at version 0.
	createNext(t, s, wsA, "f1", "u1b", 0, at)
	// A ticket against a version the file does not have yet.
	err := s.CreateUpload(ctx, nil, newTicket(wsA, "u2", "f1", 1, at))
	requireIs(t, err, driver.ErrPrecondition, "base version ahead of the file")

	commit(t, s, &driver.UploadRecord{Workspace: wsA, ID: "u1", FileID: "f1", Version: 1, StorageKey: "k1", Size: 1}, at)
	err = s.CreateUpload(ctx, nil, newTicket(wsA, "u3", "f1", 0, at))
	requireIs(t, err, driver.ErrPrecondition, "stale base version")
	_, err = s.Upload(ctx, wsA, "u3")
	requireIs(t, err, driver.ErrNotFound, "refused ticket stored")
	createNext(t, s, wsA, "f1", "u4", 1, at)
}

func testMetaRecordWrite(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	up := createNew(t, s, wsA, "f1", "u1", at)
	createNew(t, s, wsA, "f2", "u2", at)
	w := driver.WriteRecord{Size: 10, Digest: "sha256:1"}

	require.NoError(t, s.RecordWrite(ctx, wsA, "u1", w))
	require.NoError(t, s.RecordWrite(ctx, wsA, "u1", driver.WriteRecord{Size: 11, Digest: "sha256:2"}), "rewrite while pending")
	got, err := s.Upload(ctx, wsA, "u1")
	require.NoError(t, err)
	assert.Equal(t, int64(11), got.WrittenSize)
	assert.Equal(t, "sha256:2", got.WrittenDigest)

	commit(t, s, up, at)
	requireIs(t, s.RecordWrite(ctx, wsA, "u1", w), driver.ErrPrecondition, "after commit")
	require.NoError(t, s.RejectUpload(ctx, wsA, "u2", "too_large", "too large", at))
	requireIs(t, s.RecordWrite(ctx, wsA, "u2", w), driver.ErrPrecondition, "after reject")

	got, err = s.Upload(ctx, wsA, "u1")
	require.NoError(t, err)
	assert.Equal(t, int64(11), got.WrittenSize, "a refused write changed the ticket")
}

func testMetaLatestUpload(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	readyFile(t, s, wsA, "f1", at)
	got, err := s.LatestUpload(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, "f1-u1", got.ID)
	assert.Equal(t, driver.UploadConfirmed, got.Status)

	createNext(t, s, wsA, "f1", "u3", 1, at.Add(3*time.Second))
	createNext(t, s, wsA, "f1", "u2", 1, at.Add(2*time.Second))
	got, err = s.LatestUpload(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, "u3", got.ID)
	assert.Equal(t, driver.UploadPending, got.Status)
}
