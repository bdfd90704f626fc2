package drivertest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// metaJobTests checks the JobStore methods.
func metaJobTests() []metaTest {
	return []metaTest{
		{name: "jobs enqueue and claim", run: testJobsClaim},
		{name: "jobs bad claims", run: testJobsBadClaims},
		{name: "jobs concurrent claimers never share a job", run: testJobsConcurrentClaim},
		{name: "jobs expired lease is reclaimed", run: testJobsLeaseExpiry},
		{name: "jobs lost lease cannot complete or retry", run: testJobsLostLease},
		{name: "jobs renewed lease", run: testJobsRenew},
		{name: "jobs retry reschedules", run: testJobsRetry},
		{name: "jobs release uncounts the attempt", run: testJobsRelease},
		{name: "jobs claim limit is respected", run: testJobsClaimLimit},
		{name: "jobs commit stores jobs in its transaction", run: testJobsCommit},
		{name: "jobs settle file", run: testJobsSettle},
		{name: "jobs version status follows commit, copy and settle", run: testJobsVersionStatus},
		{name: "jobs fail upload", run: testJobsFailUpload},
		{name: "jobs expired uploads", run: testJobsExpiredUploads},
		{name: "jobs named lease", run: testJobsTryLease},
		{name: "jobs upgrade digest", run: testJobsUpgradeDigest},
	}
}

func newJob(id string, at time.Time) driver.JobRecord {
	return driver.JobRecord{ID: id, Workspace: wsA, FileID: "f-" + id, Version: 1, Kind: driver.JobProcess,
		Payload: []byte(`{"n":1}`), CreatedAt: at}
}

func claim(t *testing.T, s driver.MetaStore, owner string, now time.Time, limit int) []driver.JobRecord {
	t.Helper()
	js, err := s.ClaimJobs(context.Background(), &driver.JobClaim{Owner: owner, Now: now, Lease: time.Minute, Limit: limit})
	require.NoError(t, err)
	return js
}

func jobIDs(js []driver.JobRecord) []string {
	ids := make([]string, len(js))
	for i, j := range js {
		ids[i] = j.ID
	}
	return ids
}

func testJobsClaim(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	later := newJob("j3", at)
	later.RunAt = at.Add(90 * time.Second)
	require.NoError(t, s.EnqueueJobs(ctx, []driver.JobRecord{newJob("j2", at.Add(time.Second)), newJob("j1", at), later}))
	requireIs(t, s.EnqueueJobs(ctx, []driver.JobRecord{newJob("j4", at), newJob("j1", at)}), driver.ErrExists, "duplicate id")
	_, err := s.Job(ctx, "j4")
	requireIs(t, err, driver.ErrNotFound, "a failed enqueue stores nothing")

	now := at.Add(time.Minute)
	js := claim(t, s, "w1", now, 10)
	require.Equal(t, []string{"j1", "j2"}, jobIDs(js), "due jobs, oldest first; j3 is not due")
	j := js[0]
	assert.Equal(t, "w1", j.LeaseOwner)
	assert.Equal(t, 1, j.Attempts)
	assert.Equal(t, stored(now.Add(time.Minute)), j.LeaseUntil)
	assert.Equal(t, stored(at), j.RunAt)
	assert.Equal(t, driver.JobProcess, j.Kind)
	assert.Equal(t, "f-j1", j.FileID)
	assert.JSONEq(t, `{"n":1}`, string(j.Payload))

	assert.Empty(t, claim(t, s, "w2", now.Add(20*time.Second), 10), "leased jobs are not due")
	js = claim(t, s, "w2", at.Add(100*time.Second), 10)
	assert.Equal(t, []string{"j3"}, jobIDs(js), "j3 due at its RunAt; j1, j2 still leased")

	require.NoError(t, s.CompleteJob(ctx, &j))
	_, err = s.Job(ctx, "j1")
	requireIs(t, err, driver.ErrNotFound, "completed jobs are gone")
	requireIs(t, s.CompleteJob(ctx, &j), driver.ErrPrecondition, "completing twice")
}

func testJobsBadClaims(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		c    *driver.JobClaim
	}{
		{"nil", nil},
		{"no owner", &driver.JobClaim{Now: epoch(), Lease: time.Minute, Limit: 1}},
		{"no time", &driver.JobClaim{Owner: "w", Lease: time.Minute, Limit: 1}},
		{"no lease", &driver.JobClaim{Owner: "w", Now: epoch(), Limit: 1}},
		{"zero limit", &driver.JobClaim{Owner: "w", Now: epoch(), Lease: time.Minute}},
		{"huge limit", &driver.JobClaim{Owner: "w", Now: epoch(), Lease: time.Minute, Limit: 1 << 20}},
	} {
		_, err := s.ClaimJobs(ctx, tc.c)
		requireIs(t, err, driver.ErrInvalidArgument, tc.name)
	}
	bad := newJob("", epoch())
	requireIs(t, s.EnqueueJobs(ctx, []driver.JobRecord{bad}), driver.ErrInvalidArgument, "job without id")
}

func testJobsConcurrentClaim(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	const n = 60
	jobs := make([]driver.JobRecord, n)
	for i := range jobs {
		jobs[i] = newJob(fmt.Sprintf("j%03d", i), at.Add(time.Duration(i)*time.Millisecond))
	}
	require.NoError(t, s.EnqueueJobs(ctx, jobs))
	var (
		mu   sync.Mutex
		seen = map[string]string{}
		wg   sync.WaitGroup
	)
	now := at.Add(time.Minute)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("w%d", w)
			for {
				js, err := s.ClaimJobs(ctx, &driver.JobClaim{Owner: owner, Now: now, Lease: time.Minute, Limit: 4})
				if !assert.NoError(t, err) || len(js) == 0 {
					return
				}
				assert.LessOrEqual(t, len(js), 4, "claim limit")
				mu.Lock()
				for _, j := range js {
					if prev, dup := seen[j.ID]; dup {
						t.Errorf("job %s claimed by %s and %s", j.ID, prev, owner)
					}
					seen[j.ID] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Len(t, seen, n, "every job claimed once")
}

func testJobsLeaseExpiry(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	require.NoError(t, s.EnqueueJobs(ctx, []driver.JobRecord{newJob("j1", at)}))
	first := claim(t, s, "w1", at, 1)
	require.Len(t, first, 1)
	assert.Empty(t, claim(t, s, "w2", at.Add(59*time.Second), 1), "lease still live")
	again := claim(t, s, "w2", at.Add(time.Minute), 1)
	require.Len(t, again, 1, "expired lease is due again (a worker that died)")
	assert.Equal(t, "w2", again[0].LeaseOwner)
	assert.Equal(t, 2, again[0].Attempts)
}

func testJobsLostLease(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	require.NoError(t, s.EnqueueJobs(ctx, []driver.JobRecord{newJob("j1", at)}))
	stale := claim(t, s, "w1", at, 1)[0]
	fresh := claim(t, s, "w1", at.Add(2*time.Minute), 1)[0] // same owner name, new claim
	requireIs(t, s.CompleteJob(ctx, &stale), driver.ErrPrecondition, "stale claim completes")
	requireIs(t, s.RetryJob(ctx, &stale, at.Add(time.Hour), "x"), driver.ErrPrecondition, "stale claim retries")
	got, err := s.Job(ctx, "j1")
	require.NoError(t, err)
	assert.Equal(t, fresh.Attempts, got.Attempts)
	assert.Equal(t, "", got.LastError, "refused retry changed nothing")
	require.NoError(t, s.CompleteJob(ctx, &fresh))
}

func testJobsRenew(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	require.NoError(t, s.EnqueueJobs(ctx, []driver.JobRecord{newJob("j1", at)}))
	j := claim(t, s, "w1", at, 1)[0]
	require.NoError(t, s.RenewJob(ctx, &j, at.Add(5*time.Minute)))
	assert.Empty(t, claim(t, s, "w2", at.Add(4*time.Minute), 1), "a renewed lease still holds after the first would have expired")
	got, err := s.Job(ctx, "j1")
	require.NoError(t, err)
	assert.Equal(t, stored(at.Add(5*time.Minute)), got.LeaseUntil)

	taken := claim(t, s, "w2", at.Add(5*time.Minute), 1)
	require.Len(t, taken, 1, "an expired renewal is due again")
	requireIs(t, s.RenewJob(ctx, &j, at.Add(time.Hour)), driver.ErrPrecondition, "a lost lease cannot be renewed")
	requireIs(t, s.RenewJob(ctx, &driver.JobRecord{ID: "nope", LeaseOwner: "w1", Attempts: 1}, at.Add(time.Hour)),
		driver.ErrPrecondition, "unknown job")
	require.NoError(t, s.CompleteJob(ctx, &taken[0]))
}

func testJobsRetry(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	require.NoError(t, s.EnqueueJobs(ctx, []driver.JobRecord{newJob("j1", at)}))
	j := claim(t, s, "w1", at, 1)[0]
	require.NoError(t, s.RetryJob(ctx, &j, at.Add(10*time.Minute), "scanner unreachable"))
	got, err := s.Job(ctx, "j1")
	require.NoError(t, err)
	assert.Equal(t, "", got.LeaseOwner)
	assert.Equal(t, "scanner unreachable", got.LastError)
	assert.Equal(t, stored(at.Add(10*time.Minute)), got.RunAt)
	assert.Empty(t, claim(t, s, "w2", at.Add(9*time.Minute), 1), "not due before its new RunAt")
	js := claim(t, s, "w2", at.Add(10*time.Minute), 1)
	require.Len(t, js, 1)
	assert.Equal(t, 2, js[0].Attempts)
	assert.Equal(t, "scanner unreachable", js[0].LastError)
}

func testJobsRelease(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	require.NoError(t, s.EnqueueJobs(ctx, []driver.JobRecord{newJob("j1", at)}))
	j := claim(t, s, "w1", at, 1)[0]
	require.NoError(t, s.RetryJob(ctx, &j, at, "scanner unreachable"))
	j = claim(t, s, "w1", at, 1)[0]
	require.Equal(t, 2, j.Attempts)
	require.NoError(t, s.ReleaseJob(ctx, &j, at.Add(time.Second)))
	requireIs(t, s.ReleaseJob(ctx, &j, at.Add(time.Second)), driver.ErrPrecondition, "releasing twice")
	got, err := s.Job(ctx, "j1")
	require.NoError(t, err)
	assert.Equal(t, "", got.LeaseOwner)
	assert.Equal(t, 1, got.Attempts, "the released attempt is not counted")
	assert.Equal(t, "scanner unreachable", got.LastError, "the last error is kept")
	js := claim(t, s, "w2", at.Add(time.Second), 1)
	require.Len(t, js, 1, "due again at once")
	assert.Equal(t, 2, js[0].Attempts)
	requireIs(t, s.ReleaseJob(ctx, &j, at.Add(time.Second)), driver.ErrPrecondition, "a stale claim releases")
	require.NoError(t, s.CompleteJob(ctx, &js[0]))
}

// testJobsClaimLimit: a claim never leases more than its Limit, also
// while other claimers take jobs at the same time.
func testJobsClaimLimit(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	const n = 200
	jobs := make([]driver.JobRecord, n)
	for i := range jobs {
		jobs[i] = newJob(fmt.Sprintf("j%03d", i), at.Add(time.Duration(i%7)*time.Millisecond))
	}
	require.NoError(t, s.EnqueueJobs(ctx, jobs))
	now := at.Add(time.Minute)
	assert.Len(t, claim(t, s, "w0", now, 3), 3)
	var (
		wg      sync.WaitGroup
		claimed sync.Map
		total   atomic.Int64
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("w%d", w+1)
			limit := 1 + w%3
			for {
				js, err := s.ClaimJobs(ctx, &driver.JobClaim{Owner: owner, Now: now, Lease: time.Minute, Limit: limit})
				if !assert.NoError(t, err) || len(js) == 0 {
					return
				}
				assert.LessOrEqual(t, len(js), limit, "claim limit under concurrency")
				for _, j := range js {
					_, dup := claimed.LoadOrStore(j.ID, owner)
					assert.False(t, dup, "job %s claimed twice", j.ID)
				}
				total.Add(int64(len(js)))
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(n-3), total.Load(), "every job claimed once")
}

func testJobsCommit(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	up := createNew(t, s, wsA, "f1", "u1", at)
	c := commitOf(up, at.Add(time.Second))
	c.Status = driver.StatusProcessing
	c.Jobs = []driver.JobRecord{{ID: "j1", Workspace: wsA, FileID: "f1", Version: 1, Kind: driver.JobProcess}}
	f, err := s.CommitUpload(ctx, c)
	require.NoError(t, err)
	assert.Equal(t, driver.StatusProcessing, f.Status)
	j, err := s.Job(ctx, "j1")
	require.NoError(t, err)
	assert.Equal(t, stored(c.At), j.RunAt, "a zero RunAt is the commit time")

	// A refused commit stores no job.
	c.Jobs = []driver.JobRecord{{ID: "j2", Workspace: wsA, FileID: "f1", Version: 1, Kind: driver.JobProcess}}
	_, err = s.CommitUpload(ctx, c)
	requireIs(t, err, driver.ErrPrecondition)
	_, err = s.Job(ctx, "j2")
	requireIs(t, err, driver.ErrNotFound)
	// A commit whose job cannot be stored commits nothing.
	up2 := createNext(t, s, wsA, "f1", "u2", 1, at)
	c2 := commitOf(up2, at.Add(time.Minute))
	c2.Status = driver.StatusProcessing
	c2.Jobs = []driver.JobRecord{{ID: "j1", Workspace: wsA, FileID: "f1", Version: 2, Kind: driver.JobProcess}}
	_, err = s.CommitUpload(ctx, c2)
	requireIs(t, err, driver.ErrExists)
	got, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, 1, got.Version)
}

func processingFile(t *testing.T, s driver.MetaStore, id string, at time.Time) {
	t.Helper()
	up := createNew(t, s, wsA, id, id+"-u1", at)
	c := commitOf(up, at)
	c.Status = driver.StatusProcessing
	c.Jobs = []driver.JobRecord{{ID: id + "-job", Workspace: wsA, FileID: id, Version: 1, Kind: driver.JobProcess}}
	_, err := s.CommitUpload(context.Background(), c)
	require.NoError(t, err)
}

func testJobsSettle(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	processingFile(t, s, "f1", at)
	j := claim(t, s, "w1", at.Add(time.Second), 1)[0]
	settle := &driver.FileSettle{Workspace: wsA, FileID: "f1", Version: 1, Status: driver.StatusRejected,
		Code: "conflict", Reason: "infected: Eicar", At: at.Add(time.Minute), Job: &j,
		Enqueue: []driver.JobRecord{{ID: "hook1", Workspace: wsA, FileID: "f1", Version: 1, Kind: driver.JobHook}}}

	// Refused: stale version, other workspace, bad status, lost lease.
	stale := *settle
	stale.Version = 2
	_, err := s.SettleFile(ctx, &stale)
	requireIs(t, err, driver.ErrPrecondition, "stale version")
	foreign := *settle
	foreign.Workspace = wsB
	_, err = s.SettleFile(ctx, &foreign)
	requireIs(t, err, driver.ErrNotFound, "other workspace")
	bad := *settle
	bad.Status = driver.StatusProcessing
	_, err = s.SettleFile(ctx, &bad)
	requireIs(t, err, driver.ErrInvalidArgument, "bad status")
	lost := *settle
	lostJob := j
	lostJob.Attempts++
	lost.Job = &lostJob
	_, err = s.SettleFile(ctx, &lost)
	requireIs(t, err, driver.ErrPrecondition, "lost lease")
	got, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	require.Equal(t, driver.StatusProcessing, got.Status, "refused settles change nothing")
	_, err = s.Job(ctx, "hook1")
	requireIs(t, err, driver.ErrNotFound, "refused settles enqueue nothing")

	f, err := s.SettleFile(ctx, settle)
	require.NoError(t, err)
	assert.Equal(t, driver.StatusRejected, f.Status)
	assert.Equal(t, "conflict", f.StatusCode)
	assert.Equal(t, "infected: Eicar", f.StatusReason)
	assert.Equal(t, stored(settle.At), f.UpdatedAt)
	_, err = s.Job(ctx, j.ID)
	requireIs(t, err, driver.ErrNotFound, "job completed with the settle")
	_, err = s.Job(ctx, "hook1")
	require.NoError(t, err, "hook enqueued with the settle")
	_, err = s.SettleFile(ctx, &driver.FileSettle{Workspace: wsA, FileID: "f1", Version: 1, Status: driver.StatusReady, At: at})
	requireIs(t, err, driver.ErrPrecondition, "settled files are no longer processing")

	// A deleted file is not settled.
	processingFile(t, s, "f2", at)
	require.NoError(t, s.MarkDeleted(ctx, wsA, "f2", at))
	_, err = s.SettleFile(ctx, &driver.FileSettle{Workspace: wsA, FileID: "f2", Version: 1, Status: driver.StatusReady, At: at})
	requireIs(t, err, driver.ErrPrecondition, "deleted file")
}

func testJobsFailUpload(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	createNew(t, s, wsA, "f1", "u1", at)
	require.NoError(t, s.FailUpload(ctx, wsA, "u1", "invalid_request", "could not connect", at.Add(time.Minute)))
	f, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, driver.StatusFailed, f.Status)
	assert.Equal(t, "could not connect", f.StatusReason)
	up, err := s.Upload(ctx, wsA, "u1")
	require.NoError(t, err)
	assert.Equal(t, driver.UploadRejected, up.Status)
	requireIs(t, s.FailUpload(ctx, wsA, "u1", "x", "y", at), driver.ErrPrecondition, "not pending")
	requireIs(t, s.FailUpload(ctx, wsB, "u1", "x", "y", at), driver.ErrNotFound, "other workspace")
}

func testJobsExpiredUploads(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	createNew(t, s, wsA, "f1", "u1", at)                  // expires at+15m
	createNew(t, s, wsB, "f2", "u2", at.Add(time.Minute)) // at+16m
	createNew(t, s, wsA, "f3", "u3", at.Add(time.Hour))
	commit(t, s, createNew(t, s, wsA, "f4", "u4", at), at) // confirmed: never listed

	ups, err := s.ExpiredUploads(ctx, at.Add(16*time.Minute), 10)
	require.NoError(t, err)
	var ids []string
	for _, u := range ups {
		ids = append(ids, u.ID)
	}
	assert.Equal(t, []string{"u1", "u2"}, ids)
	ups, err = s.ExpiredUploads(ctx, at.Add(16*time.Minute), 1)
	require.NoError(t, err)
	assert.Len(t, ups, 1)
	_, err = s.ExpiredUploads(ctx, at, 0)
	requireIs(t, err, driver.ErrInvalidArgument)

	require.NoError(t, s.ExpireUpload(ctx, wsA, "u1"))
	up, err := s.Upload(ctx, wsA, "u1")
	require.NoError(t, err)
	assert.Equal(t, driver.UploadExpired, up.Status)
	requireIs(t, s.ExpireUpload(ctx, wsA, "u1"), driver.ErrPrecondition, "twice")
	requireIs(t, s.ExpireUpload(ctx, wsA, "u4"), driver.ErrPrecondition, "confirmed")
	requireIs(t, s.ExpireUpload(ctx, wsA, "u2"), driver.ErrNotFound, "other workspace")
	ups, err = s.ExpiredUploads(ctx, at.Add(16*time.Minute), 10)
	require.NoError(t, err)
	assert.Len(t, ups, 1, "expired tickets are no longer listed")
}

func testJobsTryLease(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	try := func(owner string, now time.Time) bool {
		t.Helper()
		ok, err := s.TryLease(ctx, "janitor", owner, now, now.Add(time.Minute))
		require.NoError(t, err)
		return ok
	}
	assert.True(t, try("a", at), "free lease")
	assert.False(t, try("b", at.Add(30*time.Second)), "held by a")
	assert.True(t, try("a", at.Add(30*time.Second)), "renewed by its owner")
	assert.False(t, try("b", at.Add(89*time.Second)), "renewal moved the end")
	assert.True(t, try("b", at.Add(90*time.Second)), "expired lease taken over")
	ok, err := s.TryLease(ctx, "other", "a", at, at.Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, ok, "leases are per name")
	_, err = s.TryLease(ctx, "janitor", "", at, at.Add(time.Minute))
	requireIs(t, err, driver.ErrInvalidArgument)

	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.TryLease(ctx, "race", fmt.Sprintf("r%d", i), at, at.Add(time.Minute))
			assert.NoError(t, err)
			if ok {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, winners, "one of concurrent takers holds a free lease")
}

func testJobsUpgradeDigest(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	f := readyFile(t, s, wsA, "f1", at)
	commit(t, s, createNext(t, s, wsA, "f1", "u2", 1, at), at.Add(time.Minute))
	v1, err := s.Version(ctx, wsA, "f1", 1)
	require.NoError(t, err)
	sha := "sha256:" + strings.Repeat("ab", 32)

	require.NoError(t, s.UpgradeDigest(ctx, wsA, "f1", 1, f.Digest, sha))
	got, err := s.Version(ctx, wsA, "f1", 1)
	require.NoError(t, err)
	assert.Equal(t, sha, got.Digest)
	cur, err := s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.NotEqual(t, sha, cur.Digest, "the file is at version 2: its digest is version 2's")

	v2, err := s.Version(ctx, wsA, "f1", 2)
	require.NoError(t, err)
	require.NoError(t, s.UpgradeDigest(ctx, wsA, "f1", 2, v2.Digest, sha))
	cur, err = s.File(ctx, wsA, "f1")
	require.NoError(t, err)
	assert.Equal(t, sha, cur.Digest, "the current version's digest is the file's")

	requireIs(t, s.UpgradeDigest(ctx, wsA, "f1", 1, v1.Digest, "sha256:x"), driver.ErrPrecondition, "already upgraded")
	requireIs(t, s.UpgradeDigest(ctx, wsA, "f1", 9, "a", "b"), driver.ErrNotFound, "unknown version")
	requireIs(t, s.UpgradeDigest(ctx, wsB, "f1", 1, sha, "b"), driver.ErrNotFound, "other workspace")
}

// testJobsVersionStatus: a version takes the status it is committed or
// copied with, and the verdict of its settle; a version superseded while
// processing is never settled and stays processing. CopyVersion stores its
// jobs in its transaction.
func testJobsVersionStatus(t *testing.T, s driver.MetaStore) {
	ctx := context.Background()
	at := epoch()
	readyFile(t, s, wsA, "f1", at)
	processing := func(n int) {
		t.Helper()
		c := commitOf(createNext(t, s, wsA, "f1", fmt.Sprintf("u%d", n), n-1, at), at)
		c.Status = driver.StatusProcessing
		_, err := s.CommitUpload(ctx, c)
		require.NoError(t, err)
	}
	settle := func(n int, st driver.FileStatus) error {
		t.Helper()
		_, err := s.SettleFile(ctx, &driver.FileSettle{Workspace: wsA, FileID: "f1", Version: n, Status: st, At: at})
		return err
	}
	processing(2)
	require.NoError(t, settle(2, driver.StatusRejected))
	processing(3)
	processing(4) // supersedes 3 while it is processing
	requireIs(t, settle(3, driver.StatusReady), driver.ErrPrecondition, "settle of a superseded version")
	require.NoError(t, settle(4, driver.StatusReady))

	job := driver.JobRecord{ID: "j-copy", Workspace: wsA, FileID: "f1", Version: 5, Kind: driver.JobProcess, CreatedAt: at}
	f, err := s.CopyVersion(ctx, &driver.VersionCopy{Workspace: wsA, FileID: "f1", From: 1, BaseVersion: 4,
		Status: driver.StatusProcessing, At: at, Jobs: []driver.JobRecord{job}})
	require.NoError(t, err)
	assert.Equal(t, driver.StatusProcessing, f.Status)
	got, err := s.Job(ctx, "j-copy")
	require.NoError(t, err, "the copy's job is stored with it")
	assert.Equal(t, 5, got.Version)
	require.NoError(t, settle(5, driver.StatusFailed))

	_, err = s.CopyVersion(ctx, &driver.VersionCopy{Workspace: wsA, FileID: "f1", From: 2, BaseVersion: 5,
		Status: driver.StatusReady, At: at})
	require.NoError(t, err)

	want := []driver.FileStatus{driver.StatusReady, driver.StatusRejected, driver.StatusProcessing, driver.StatusReady,
		driver.StatusFailed, driver.StatusReady}
	vs, err := s.Versions(ctx, wsA, "f1")
	require.NoError(t, err)
	require.Len(t, vs, len(want))
	for i, v := range vs {
		assert.Equal(t, want[i], v.Status, "Versions: status of version %d", v.Version)
		one, err := s.Version(ctx, wsA, "f1", v.Version)
		require.NoError(t, err)
		assert.Equal(t, want[i], one.Status, "Version: status of version %d", v.Version)
	}

	// A refused copy stores no job.
	_, err = s.CopyVersion(ctx, &driver.VersionCopy{Workspace: wsA, FileID: "f1", From: 1, BaseVersion: 1,
		Status: driver.StatusProcessing, At: at, Jobs: []driver.JobRecord{{ID: "j-refused", Workspace: wsA, FileID: "f1",
			Version: 2, Kind: driver.JobProcess, CreatedAt: at}}})
	requireIs(t, err, driver.ErrPrecondition)
	_, err = s.Job(ctx, "j-refused")
	requireIs(t, err, driver.ErrNotFound, "a refused copy stored its job")
}
