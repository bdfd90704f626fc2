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

// RunMetaTests runs the driver.MetaStore conformance suite: the contracts
// documented on the interface, their failure paths and their behaviour
// under concurrency. newStore must return a new, empty store on each call
// (one per subtest); the suite closes it. A store implementation runs the
// suite in a few lines:
//
//	func TestConformance(t *testing.T) {
//		drivertest.RunMetaTests(t, func(t *testing.T) driver.MetaStore {
//			s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"), nil)
//			require.NoError(t, err)
//			return s
//		})
//	}
//
// The suite only issues calls that respect the records' documented
// invariants (a ticket's Version is its BaseVersion+1, a commit's version
// is its ticket's, times are set), so stores may refuse anything else.
func RunMetaTests(t *testing.T, newStore func(t *testing.T) driver.MetaStore) {
	t.Helper()
	var tests []metaTest
	tests = append(tests, metaBasicTests()...)
	tests = append(tests, metaLifecycleTests()...)
	tests = append(tests, metaConcurrencyTests()...)
	tests = append(tests, metaDocumentTests()...)
	tests = append(tests, metaOrganizeTests()...)
	tests = append(tests, metaShareTests()...)
	tests = append(tests, metaJobTests()...)
	tests = append(tests, metaDerivativeTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s)
			t.Cleanup(func() { assert.NoError(t, s.Close()) })
			tc.run(t, s)
		})
	}
}

// metaTest is one subtest of RunMetaTests, run against a fresh store.
type metaTest struct {
	name string
	run  func(t *testing.T, s driver.MetaStore)
}

// Workspaces used by the suite.
const (
	wsA = "ws-a"
	wsB = "ws-b"
)

// epoch is the suite's base time: fixed, with sub-microsecond digits and a
// non-UTC zone, so that stores must truncate and convert.
func epoch() time.Time {
	return time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+2", 2*3600))
}

// stored is t as a store returns it: UTC, truncated to microseconds.
func stored(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

// newFile returns a new pending file record.
func newFile(ws, id string, at time.Time) *driver.FileRecord {
	return &driver.FileRecord{
		Workspace:     ws,
		ID:            id,
		FileName:      "report.pdf",
		Title:         "Quarterly report",
		Status:        driver.StatusPending,
		Source:        "upload",
		Owner:         "user:owner",
		Tags:          []string{"finance", "q1"},
		Metadata:      []byte(`{"project":"apollo"}`),
		AccessControl: "private",
		ACL:           driver.ACL{View: []string{"workspace"}},
		CreatedAt:     at,
		UpdatedAt:     at,
	}
}

// newTicket returns a pending ticket that creates version base+1 of fileID.
func newTicket(ws, id, fileID string, base int, at time.Time) *driver.UploadRecord {
	return &driver.UploadRecord{
		Workspace:   ws,
		ID:          id,
		FileID:      fileID,
		Version:     base + 1,
		BaseVersion: base,
		StorageKey:  fmt.Sprintf("%s/%s/v%d/%s", ws, fileID, base+1, id),
		FileName:    "report.pdf",
		MIMEType:    "application/pdf",
		Size:        1234,
		MaxSize:     1 << 20,
		Status:      driver.UploadPending,
		CreatedBy:   "user:owner",
		CreatedAt:   at,
		ExpiresAt:   at.Add(15 * time.Minute),
	}
}

// commitOf returns the commit that confirms up as a ready version.
func commitOf(up *driver.UploadRecord, at time.Time) *driver.Commit {
	return &driver.Commit{
		Workspace: up.Workspace,
		UploadID:  up.ID,
		Version: driver.VersionRecord{
			Workspace:  up.Workspace,
			FileID:     up.FileID,
			Version:    up.Version,
			FileName:   fmt.Sprintf("report-v%d.pdf", up.Version),
			MIMEType:   "application/pdf",
			Kind:       "document",
			Size:       up.Size + int64(up.Version),
			Digest:     fmt.Sprintf("sha256:%064d", up.Version),
			Width:      0,
			Height:     0,
			StorageKey: up.StorageKey,
			Source:     "upload",
			CreatedAt:  at,
			CreatedBy:  up.CreatedBy,
		},
		Status: driver.StatusReady,
		At:     at,
	}
}

// createNew stores a new pending file with its first ticket and returns
// the ticket.
func createNew(t *testing.T, s driver.MetaStore, ws, fileID, uploadID string, at time.Time) *driver.UploadRecord {
	t.Helper()
	up := newTicket(ws, uploadID, fileID, 0, at)
	require.NoError(t, s.CreateUpload(context.Background(), newFile(ws, fileID, at), up))
	return up
}

// createNext stores a ticket for the next version of an existing file.
func createNext(t *testing.T, s driver.MetaStore, ws, fileID, uploadID string, base int, at time.Time) *driver.UploadRecord {
	t.Helper()
	up := newTicket(ws, uploadID, fileID, base, at)
	require.NoError(t, s.CreateUpload(context.Background(), nil, up))
	return up
}

// commit confirms up and returns the file.
func commit(t *testing.T, s driver.MetaStore, up *driver.UploadRecord, at time.Time) *driver.FileRecord {
	t.Helper()
	f, err := s.CommitUpload(context.Background(), commitOf(up, at))
	require.NoError(t, err)
	return f
}

// readyFile stores a file with one confirmed version and returns it.
func readyFile(t *testing.T, s driver.MetaStore, ws, fileID string, at time.Time) *driver.FileRecord {
	t.Helper()
	return commit(t, s, createNew(t, s, ws, fileID, fileID+"-u1", at), at.Add(time.Second))
}

// requireIs fails unless err matches target.
func requireIs(t *testing.T, err, target error, msgAndArgs ...any) {
	t.Helper()
	if !errors.Is(err, target) {
		require.Fail(t, fmt.Sprintf("got error %v, want one matching %q", err, target), msgAndArgs...)
	}
}
