package attach_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/faults"
)

// newJanitorEnv is newEnv with the clock at the real time, so that the
// storage's object times and the Service's clock agree.
func newJanitorEnv(t *testing.T, mod func(*attach.Options)) *env {
	t.Helper()
	e := newEnv(t, mod)
	e.clock.mu.Lock()
	e.clock.t = time.Now().UTC()
	e.clock.mu.Unlock()
	return e
}

func sweep(t *testing.T, e *env) attach.SweepReport {
	t.Helper()
	r, err := e.svc.Sweep(context.Background())
	require.NoError(t, err)
	return *r
}

// abandoned requests an upload and PUTs its bytes (when body is non-nil),
// never confirming it.
func (e *env) abandoned(t *testing.T, body []byte) *attach.Upload {
	t.Helper()
	up, err := e.svc.RequestUpload(context.Background(), wsA, attach.UploadRequest{FileName: "a.pdf", MIMEType: "application/pdf", Size: 1500})
	require.NoError(t, err)
	if body != nil {
		require.NoError(t, e.put(t, up, "application/pdf", body))
	}
	return up
}

// writeObject stores bytes at key behind the library's back.
func (e *env) writeObject(t *testing.T, key string) {
	t.Helper()
	w, err := e.storage.NewWriter(context.Background(), key, nil)
	require.NoError(t, err)
	_, err = w.Write([]byte("stray bytes"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
}

func orphanKey(fileID string, version int) string {
	return fmt.Sprintf("ws-a/%s/v%d/%s", fileID, version, strings.Repeat("ab", 12))
}

// TestSweepExpiredTickets: tickets never confirmed are removed with their
// bytes and contentless files once they can no longer be confirmed, and
// not a moment before.
func TestSweepExpiredTickets(t *testing.T) {
	e := newJanitorEnv(t, nil)
	ctx := context.Background()
	withBytes := e.abandoned(t, pdfBytes(1500))
	empty := e.abandoned(t, nil)
	kept := e.upload(t, wsA, "kept.pdf", "application/pdf", pdfBytes(1200))
	next, err := e.svc.RequestVersionUpload(ctx, wsA, kept.ID, attach.VersionUploadRequest{MIMEType: "application/pdf", Size: 1500})
	require.NoError(t, err)
	require.NoError(t, e.put(t, next, "application/pdf", pdfBytes(1500)))

	e.clock.Advance(15*time.Minute + time.Hour) // expired, but still confirmable
	assert.Zero(t, sweep(t, e), "uploads in progress are never touched")
	assert.Len(t, e.objects(t), 3)

	e.clock.Advance(10 * time.Minute)
	assert.Equal(t, attach.SweepReport{ExpiredTickets: 3, Objects: 2}, sweep(t, e))
	for _, id := range []string{withBytes.ID, empty.ID} {
		_, err := e.svc.File(ctx, wsA, id)
		assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err), "a file that never had content goes with its ticket")
	}
	f, err := e.svc.File(ctx, wsA, kept.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, f.Version)
	assert.Len(t, e.objects(t), 1, "the kept file's bytes stay")
	_, err = e.svc.ConfirmTicket(ctx, wsA, kept.ID, next.UploadID)
	assert.Equal(t, attach.CodeExpired, attach.CodeOf(err))
	assert.Zero(t, sweep(t, e), "nothing left")
}

// TestSweepTemporaryAndDeleted: temporary files go TemporaryTTL after
// confirmation; deleted files go after the retention window.
func TestSweepTemporaryAndDeleted(t *testing.T) {
	e := newJanitorEnv(t, func(o *attach.Options) { o.Retention = time.Hour })
	ctx := context.Background()
	no := false
	up, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "tmp.pdf", MIMEType: "application/pdf", Size: 1300, Persist: &no})
	require.NoError(t, err)
	require.NoError(t, e.put(t, up, "application/pdf", pdfBytes(1300)))
	_, err = e.svc.Confirm(ctx, wsA, up.ID)
	require.NoError(t, err)
	deleted := e.upload(t, wsA, "gone.pdf", "application/pdf", pdfBytes(1400))
	live := e.upload(t, wsA, "live.pdf", "application/pdf", pdfBytes(1500))
	require.NoError(t, e.svc.Delete(ctx, wsA, deleted.ID, nil))

	e.clock.Advance(59 * time.Minute)
	assert.Zero(t, sweep(t, e), "within the retention window")
	e.clock.Advance(7 * time.Minute) // past the window and the margin
	assert.Equal(t, attach.SweepReport{DeletedFiles: 1, Objects: 1}, sweep(t, e))
	_, err = e.svc.Undelete(ctx, wsA, deleted.ID)
	assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err))

	e.clock.Advance(23 * time.Hour)
	assert.Equal(t, attach.SweepReport{TemporaryFiles: 1, Objects: 1}, sweep(t, e))
	assert.Len(t, e.objects(t), 1)
	_, err = e.svc.File(ctx, wsA, live.ID)
	assert.NoError(t, err)
}

// TestSweepOrphans: objects of the key layout that no row names go after
// OrphanGrace; referenced objects, live tickets' objects and keys outside
// the layout stay.
func TestSweepOrphans(t *testing.T) {
	e := newJanitorEnv(t, func(o *attach.Options) { o.UploadExpiry = 48 * time.Hour })
	live := e.upload(t, wsA, "live.pdf", "application/pdf", pdfBytes(1500))
	ticket := e.abandoned(t, pdfBytes(1500)) // live for two days
	noFile := orphanKey("file_"+uuid.Must(uuid.NewV7()).String(), 1)
	inLiveFile := orphanKey(live.ID, 7)
	e.writeObject(t, noFile)
	e.writeObject(t, inLiveFile)
	e.writeObject(t, "ws-a/notes/readme.txt")
	e.writeObject(t, "ws-a/"+live.ID+"/v1/thumbs/64x64.jpg") // another component's layout

	assert.Zero(t, sweep(t, e), "younger than the grace period")
	e.clock.Advance(25 * time.Hour)
	assert.Equal(t, attach.SweepReport{Orphans: 2}, sweep(t, e))
	objs := e.objects(t)
	assert.NotContains(t, objs, noFile)
	assert.NotContains(t, objs, inLiveFile)
	assert.Contains(t, objs, ticket.Key, "a live ticket's object")
	assert.Len(t, objs, 4)

	e2 := newJanitorEnv(t, func(o *attach.Options) { o.OrphanGrace = -1 })
	e2.writeObject(t, noFile)
	e2.clock.Advance(1000 * time.Hour)
	assert.Zero(t, sweep(t, e2), "negative OrphanGrace keeps orphans")
}

// TestSweepConcurrent: two Sweeps at once remove everything once; their
// reports add up to exactly what was there.
func TestSweepConcurrent(t *testing.T) {
	e := newJanitorEnv(t, nil)
	ctx := context.Background()
	no := false
	for i := range 5 {
		e.abandoned(t, pdfBytes(1500))
		up, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "t.pdf", MIMEType: "application/pdf", Size: 1300, Persist: &no})
		require.NoError(t, err)
		require.NoError(t, e.put(t, up, "application/pdf", pdfBytes(1300)))
		_, err = e.svc.Confirm(ctx, wsA, up.ID)
		require.NoError(t, err)
		e.writeObject(t, orphanKey("file_"+uuid.Must(uuid.NewV7()).String(), i+1))
	}
	e.clock.Advance(25 * time.Hour)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		reports []attach.SweepReport
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.svc.Sweep(ctx)
			assert.NoError(t, err)
			mu.Lock()
			reports = append(reports, *r)
			mu.Unlock()
		}()
	}
	wg.Wait()
	var sum attach.SweepReport
	for _, r := range reports {
		sum.ExpiredTickets += r.ExpiredTickets
		sum.TemporaryFiles += r.TemporaryFiles
		sum.DeletedFiles += r.DeletedFiles
		sum.Objects += r.Objects
		sum.Orphans += r.Orphans
	}
	assert.Equal(t, attach.SweepReport{ExpiredTickets: 5, TemporaryFiles: 5, Objects: 10, Orphans: 5}, sum)
	assert.Empty(t, e.objects(t))
	assert.Zero(t, sweep(t, e))
}

// TestSweepDeletedContentlessTickets: with Retention, a file deleted
// before it ever had content goes with its expired ticket, and a batch of
// such tickets never starves the tickets behind it.
func TestSweepDeletedContentlessTickets(t *testing.T) {
	e := newJanitorEnv(t, func(o *attach.Options) { o.Retention = 24 * time.Hour })
	ctx := context.Background()
	const n = 101 // more than one batch
	var deleted []*attach.Upload
	for range n {
		up := e.abandoned(t, nil)
		require.NoError(t, e.svc.Delete(ctx, wsA, up.ID, nil))
		deleted = append(deleted, up)
	}
	e.clock.Advance(time.Second)
	behind := e.abandoned(t, pdfBytes(1500))

	e.clock.Advance(2 * time.Hour)
	assert.Equal(t, attach.SweepReport{ExpiredTickets: n + 1, Objects: 1}, sweep(t, e),
		"every expired ticket, the deleted files' and the one behind them")
	_, err := e.svc.File(ctx, wsA, behind.ID)
	assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err), "the ticket behind the batch was reached")
	for _, up := range deleted {
		_, err := e.store.Upload(ctx, wsA.Workspace, up.UploadID)
		require.ErrorIs(t, err, driver.ErrNotFound, "the contentless file went with its ticket")
		_, err = e.svc.Undelete(ctx, wsA, up.ID)
		require.Equal(t, attach.CodeNotFound, attach.CodeOf(err))
	}
	assert.Zero(t, sweep(t, e), "nothing left")
	e.clock.Advance(24 * time.Hour)
	assert.Zero(t, sweep(t, e), "nothing left after the window")
}

// TestSweepTicketsStopWithoutProgress: a batch of expired tickets that all
// fail is read once per Sweep, not again and again; the next Sweep retries.
func TestSweepTicketsStopWithoutProgress(t *testing.T) {
	e := newJanitorEnv(t, nil)
	for range 100 {
		e.abandoned(t, nil)
	}
	e.clock.Advance(2 * time.Hour)
	svc, in := withFaults(t, e, nil)
	in.Arm(faults.Fault{Op: "File", Kind: faults.Fail, Every: true})
	r, err := svc.Sweep(context.Background())
	require.NoError(t, err)
	assert.Zero(t, r.ExpiredTickets)
	assert.Equal(t, 100, in.Calls("File"), "one pass over the stuck batch")
	in.Clear()
	assert.Equal(t, 100, sweep(t, e).ExpiredTickets, "the next Sweep finishes")
}

// TestSweepRetentionMargin: a deleted file is purged only a clock-skew
// margin (5 minutes) after its retention window, so an Undelete another
// replica still allows, by its own clock, finds it.
func TestSweepRetentionMargin(t *testing.T) {
	e := newJanitorEnv(t, func(o *attach.Options) { o.Retention = time.Hour })
	ctx := context.Background()
	f := e.upload(t, wsA, "gone.pdf", "application/pdf", pdfBytes(1400))
	require.NoError(t, e.svc.Delete(ctx, wsA, f.ID, nil))

	e.clock.Advance(time.Hour + time.Second)
	assert.Zero(t, sweep(t, e), "just past the window: within the margin")
	e.clock.Advance(5*time.Minute - 2*time.Second)
	assert.Zero(t, sweep(t, e), "still within the margin")
	e.clock.Advance(2 * time.Second)
	assert.Equal(t, attach.SweepReport{DeletedFiles: 1, Objects: 1}, sweep(t, e), "past window and margin")
}
