package drivertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// metaConcurrencyTests cover the races the lifecycle must survive.
func metaConcurrencyTests() []metaTest {
	return []metaTest{
		{name: "concurrent commits of one ticket", run: testMetaConcurrentCommits},
		{name: "concurrent commit and reject", run: testMetaCommitRacesReject},
		{name: "concurrent writers", run: testMetaConcurrentWriters},
	}
}

// race runs fns at once (released together) and returns their errors.
func race(fns ...func() error) []error {
	errs := make([]error, len(fns))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn()
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func testMetaConcurrentCommits(t *testing.T, s driver.MetaStore) {
	const n = 50
	ctx := context.Background()
	at := epoch()
	up := createNew(t, s, wsA, "f1", "u1", at)
	fns := make([]func() error, n)
	for i := range fns {
		fns[i] = func() error {
			_, err := s.CommitUpload(ctx, commitOf(up, at.Add(time.Duration(i)*time.Millisecond)))
			return err
		}
	}
	var won, lost int
	for _, err := range race(fns...) {
		switch {
		case err == nil:
			won++
		case errors.Is(err, driver.ErrPrecondition):
			lost++
		default:
			t.Errorf("commit failed with an unexpected error: %v", err)
		}
	}
	assert.Equal(t, 1, won, "winners")
	assert.Equal(t, n-1, lost, "losers with ErrPrecondition")

	f, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, 1, f.Version)
	vs, err := s.Versions(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Len(t, vs, 1)
}

func testMetaCommitRacesReject(t *testing.T, s driver.MetaStore) {
	const rounds = 20
	ctx := context.Background()
	at := epoch()
	for i := range rounds {
		fileID := fmt.Sprintf("f%d", i)
		up := createNew(t, s, wsA, fileID, fileID+"-u1", at)
		errs := race(
			func() error { _, err := s.CommitUpload(ctx, commitOf(up, at)); return err },
			func() error { return s.RejectUpload(ctx, wsA, up.ID, "scan_failed", "infected", at) },
		)
		committed, rejected := errs[0] == nil, errs[1] == nil
		require.True(t, committed != rejected, "round %d: commit %v, reject %v: exactly one must win", i, errs[0], errs[1])
		loser := errs[0]
		if committed {
			loser = errs[1]
		}
		requireIs(t, loser, driver.ErrPrecondition, fmt.Sprintf("round %d", i))

		f, err := s.File(ctx, wsA, fileID)
		require.NoError(t, err)
		got, err := s.Upload(ctx, wsA, up.ID)
		require.NoError(t, err)
		if committed {
			assert.Equal(t, driver.StatusReady, f.Status)
			assert.Equal(t, 1, f.Version)
			assert.Equal(t, driver.UploadConfirmed, got.Status)
		} else {
			assert.Equal(t, driver.StatusRejected, f.Status)
			assert.Zero(t, f.Version)
			assert.Equal(t, driver.UploadRejected, got.Status)
		}
	}
}

func testMetaConcurrentWriters(t *testing.T, s driver.MetaStore) {
	const (
		writers = 32
		files   = 4 // per writer; each gets two versions
	)
	ctx := context.Background()
	at := epoch()
	fns := make([]func() error, writers)
	for w := range fns {
		fns[w] = func() error {
			for i := range files {
				fileID := fmt.Sprintf("w%02d-f%d", w, i)
				up := newTicket(wsA, fileID+"-u1", fileID, 0, at)
				if err := s.CreateUpload(ctx, newFile(wsA, fileID, at), up); err != nil {
					return fmt.Errorf("create %s: %w", fileID, err)
				}
				if err := s.RecordWrite(ctx, wsA, up.ID, driver.WriteRecord{Size: up.Size, Digest: "sha256:1"}); err != nil {
					return fmt.Errorf("record write %s: %w", up.ID, err)
				}
				if _, err := s.CommitUpload(ctx, commitOf(up, at)); err != nil {
					return fmt.Errorf("commit %s: %w", up.ID, err)
				}
				up2 := newTicket(wsA, fileID+"-u2", fileID, 1, at.Add(time.Second))
				if err := s.CreateUpload(ctx, nil, up2); err != nil {
					return fmt.Errorf("create %s: %w", up2.ID, err)
				}
				if _, err := s.File(ctx, wsA, fileID); err != nil {
					return fmt.Errorf("read %s: %w", fileID, err)
				}
				if _, err := s.CommitUpload(ctx, commitOf(up2, at.Add(time.Second))); err != nil {
					return fmt.Errorf("commit %s: %w", up2.ID, err)
				}
			}
			return nil
		}
	}
	for _, err := range race(fns...) {
		assert.NoError(t, err)
	}

	for w := range writers {
		for i := range files {
			fileID := fmt.Sprintf("w%02d-f%d", w, i)
			f, err := s.File(ctx, wsA, fileID)
			require.NoError(t, err)
			assert.Equal(t, 2, f.Version, fileID)
			assert.Equal(t, driver.StatusReady, f.Status, fileID)
			vs, err := s.Versions(ctx, wsA, fileID)
			require.NoError(t, err)
			assert.Len(t, vs, 2, fileID)
			keys, err := s.FileKeys(ctx, wsA, fileID)
			require.NoError(t, err)
			assert.Len(t, keys, 2, fileID)
		}
	}
}
