package drivertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// metaDerivativeTests checks the DerivativeStore methods.
func metaDerivativeTests() []metaTest {
	return []metaTest{
		{"Derivatives/RoundTrip", testDerivativeRoundTrip},
		{"Derivatives/Refused", testDerivativeRefused},
		{"Derivatives/ConcurrentCreate", testDerivativeConcurrentCreate},
		{"Derivatives/GoWithTheFile", testDerivativePurge},
		{"Derivatives/PerVersion", testDerivativePerVersion},
	}
}

// newDerivative returns a derivative record of a version.
func newDerivative(ws, fileID string, version int, spec string, at time.Time) *driver.DerivativeRecord {
	return &driver.DerivativeRecord{
		Workspace: ws, FileID: fileID, Version: version, Spec: spec,
		StorageKey: fmt.Sprintf("%s/%s/v%d/%s-k", ws, fileID, version, spec),
		MIMEType:   "image/jpeg", Size: 4321, Digest: "sha256:" + fmt.Sprintf("%064d", version),
		Width: 256, Height: 192, Source: "generated", CreatedAt: at,
	}
}

func testDerivativeRoundTrip(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	readyFile(t, s, wsA, "f1", at)
	ds, err := s.Derivatives(ctx, wsA, "f1", 1)
	require.NoError(t, err)
	assert.Empty(t, ds)
	assert.NotNil(t, ds, "none is an empty list")

	big := newDerivative(wsA, "f1", 1, "thumb-256x256-cover", at)
	small := newDerivative(wsA, "f1", 1, "thumb-64x64-contain", at.Add(time.Second))
	small.MIMEType, small.Width, small.Height = "image/png", 64, 48
	require.NoError(t, s.CreateDerivative(ctx, small))
	require.NoError(t, s.CreateDerivative(ctx, big))

	got, err := s.Derivative(ctx, wsA, "f1", 1, "thumb-256x256-cover")
	require.NoError(t, err)
	want := *big
	want.CreatedAt = stored(at)
	assert.Equal(t, &want, got)

	ds, err = s.Derivatives(ctx, wsA, "f1", 1)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	assert.Equal(t, "thumb-256x256-cover", ds[0].Spec, "ordered by spec")
	assert.Equal(t, "thumb-64x64-contain", ds[1].Spec)
	assert.Equal(t, "image/png", ds[1].MIMEType)

	for _, tc := range []struct {
		name, ws, file, spec string
		version              int
	}{
		{"unknown spec", wsA, "f1", "thumb-1024x1024-cover", 1},
		{"unknown version", wsA, "f1", "thumb-256x256-cover", 2},
		{"unknown file", wsA, "nope", "thumb-256x256-cover", 1},
		{"other workspace", wsB, "f1", "thumb-256x256-cover", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Derivative(ctx, tc.ws, tc.file, tc.version, tc.spec)
			requireIs(t, err, driver.ErrNotFound)
		})
	}
	_, err = s.Derivatives(ctx, wsB, "f1", 1)
	requireIs(t, err, driver.ErrNotFound, "another workspace's file")
}

func testDerivativeRefused(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	readyFile(t, s, wsA, "f1", at)
	createNew(t, s, wsA, "pending", "pending-u1", at) // no version yet
	tests := []struct {
		name   string
		mod    func(d *driver.DerivativeRecord)
		target error
	}{
		{"unknown file", func(d *driver.DerivativeRecord) { d.FileID = "nope" }, driver.ErrNotFound},
		{"other workspace", func(d *driver.DerivativeRecord) { d.Workspace = wsB }, driver.ErrNotFound},
		{"unknown version", func(d *driver.DerivativeRecord) { d.Version = 2 }, driver.ErrNotFound},
		{"pending file", func(d *driver.DerivativeRecord) { d.FileID = "pending" }, driver.ErrNotFound},
		{"no spec", func(d *driver.DerivativeRecord) { d.Spec = "" }, driver.ErrInvalidArgument},
		{"long spec", func(d *driver.DerivativeRecord) { d.Spec = string(make([]byte, 129)) }, driver.ErrInvalidArgument},
		{"no key", func(d *driver.DerivativeRecord) { d.StorageKey = "" }, driver.ErrInvalidArgument},
		{"no time", func(d *driver.DerivativeRecord) { d.CreatedAt = time.Time{} }, driver.ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDerivative(wsA, "f1", 1, "thumb-64x64-cover", at)
			tc.mod(d)
			requireIs(t, s.CreateDerivative(ctx, d), tc.target)
		})
	}
	requireIs(t, s.CreateDerivative(ctx, nil), driver.ErrInvalidArgument)

	require.NoError(t, s.CreateDerivative(ctx, newDerivative(wsA, "f1", 1, "thumb-64x64-cover", at)))
	dup := newDerivative(wsA, "f1", 1, "thumb-64x64-cover", at.Add(time.Minute))
	dup.StorageKey = "ws-a/f1/v1/other"
	requireIs(t, s.CreateDerivative(ctx, dup), driver.ErrExists)
	got, err := s.Derivative(ctx, wsA, "f1", 1, "thumb-64x64-cover")
	require.NoError(t, err)
	assert.Equal(t, "ws-a/f1/v1/thumb-64x64-cover-k", got.StorageKey, "the duplicate changed nothing")
	ds, err := s.Derivatives(ctx, wsA, "f1", 1)
	require.NoError(t, err)
	assert.Len(t, ds, 1, "refused derivatives were not recorded")
}

func testDerivativeConcurrentCreate(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	readyFile(t, s, wsA, "f1", at)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			d := newDerivative(wsA, "f1", 1, "thumb-256x256-cover", at)
			d.StorageKey = fmt.Sprintf("ws-a/f1/v1/thumb-%d", i)
			errs[i] = s.CreateDerivative(ctx, d)
		})
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, won, "two concurrent creates won")
			won = i
			continue
		}
		requireIs(t, err, driver.ErrExists)
	}
	require.NotEqual(t, -1, won, "no concurrent create won")
	got, err := s.Derivative(ctx, wsA, "f1", 1, "thumb-256x256-cover")
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("ws-a/f1/v1/thumb-%d", won), got.StorageKey)
}

func testDerivativePurge(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	d := newDerivative(wsA, "f1", 1, "thumb-256x256-cover", at)
	require.NoError(t, s.CreateDerivative(ctx, d))
	keys, err := s.FileKeys(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{f.StorageKey, d.StorageKey}, keys)

	require.NoError(t, s.MarkDeleted(ctx, wsA, "f1", at.Add(time.Hour)))
	_, err = s.Derivative(ctx, wsA, "f1", 1, d.Spec)
	requireIs(t, err, driver.ErrNotFound, "a deleted file's derivative")
	_, err = s.Derivatives(ctx, wsA, "f1", 1)
	requireIs(t, err, driver.ErrNotFound, "a deleted file's derivatives")
	requireIs(t, s.CreateDerivative(ctx, newDerivative(wsA, "f1", 1, "thumb-64x64-cover", at)), driver.ErrNotFound,
		"no derivative is recorded after the file is deleted")
	keys, err = s.FileKeys(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Contains(t, keys, d.StorageKey, "a deleted file still lists its derivatives for removal")

	require.NoError(t, s.PurgeFile(ctx, wsA, "f1"))
	_, err = s.FileKeys(ctx, wsA, "f1")
	requireIs(t, err, driver.ErrNotFound)
	// The same ids can be used again: no derivative row survived the purge.
	g := readyFile(t, s, wsA, "f1", at.Add(2*time.Hour))
	ds, err := s.Derivatives(ctx, wsA, "f1", 1)
	require.NoError(t, err)
	assert.Empty(t, ds, "purged derivatives do not reappear")
	keys, err = s.FileKeys(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, []string{g.StorageKey}, keys)
}

func testDerivativePerVersion(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	readyFile(t, s, wsA, "f1", at)
	require.NoError(t, s.CreateDerivative(ctx, newDerivative(wsA, "f1", 1, "thumb-256x256-cover", at)))
	_, err := s.CopyVersion(ctx, &driver.VersionCopy{Workspace: wsA, FileID: "f1", From: 1, BaseVersion: 1,
		Status: driver.StatusReady, At: at.Add(time.Minute)})
	require.NoError(t, err)
	ds, err := s.Derivatives(ctx, wsA, "f1", 2)
	require.NoError(t, err)
	assert.Empty(t, ds, "a restored version starts without derivatives")
	_, err = s.Derivative(ctx, wsA, "f1", 2, "thumb-256x256-cover")
	requireIs(t, err, driver.ErrNotFound)
	require.NoError(t, s.CreateDerivative(ctx, newDerivative(wsA, "f1", 2, "thumb-256x256-cover", at)),
		"the new version gets its own")
	for v := 1; v <= 2; v++ {
		d, err := s.Derivative(ctx, wsA, "f1", v, "thumb-256x256-cover")
		require.NoError(t, err)
		assert.Equal(t, v, d.Version)
	}
}
