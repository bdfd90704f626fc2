package driver

import (
	"context"
	"time"
)

// JobKind says what a background job does.
type JobKind string

// Job kinds.
const (
	// JobProcess scans and processes one version of a file in status
	// processing, then settles the file as ready, rejected or failed.
	JobProcess JobKind = "process"
	// JobHook calls an application hook; Payload says which and carries
	// the file as it was when the job was recorded.
	JobHook JobKind = "hook"
	// JobDigest replaces a version's "md5:" digest (taken from an object
	// store) with the SHA-256 of its bytes.
	JobDigest JobKind = "digest"
)

// JobRecord is a durable background job. A job is due when RunAt is at or
// before now and it holds no live lease (LeaseUntil at or before now). A
// claim takes the lease and counts an attempt; the lease holder
// (LeaseOwner at Attempts) alone can complete or retry the job.
type JobRecord struct {
	ID        string
	Workspace string
	FileID    string
	Version   int
	Kind      JobKind
	// Payload is opaque to the store (JSON for attach).
	Payload []byte

	Attempts   int       // claims so far, this one included
	RunAt      time.Time // not before
	LeaseOwner string    // "" when not leased
	LeaseUntil time.Time
	LastError  string

	CreatedAt time.Time
	UpdatedAt time.Time
}

// JobClaim asks for due jobs.
type JobClaim struct {
	// Owner names the claimer; it must not be empty.
	Owner string
	// Now is the claimer's clock: jobs with RunAt and LeaseUntil at or
	// before Now are due.
	Now time.Time
	// Lease is how long the claimed jobs stay the claimer's. Positive.
	Lease time.Duration
	// Limit caps the jobs claimed, 1 to 100.
	Limit int
}

// FileSettle ends the processing of one version of a file.
type FileSettle struct {
	Workspace string
	FileID    string
	// Version is the version that was processed: the file changes only
	// if it is still at this version, undeleted and processing.
	Version int
	// Status is ready, rejected or failed; Code and Reason say why for
	// the last two.
	Status FileStatus
	Code   string
	Reason string
	At     time.Time
	// Job, when set, is completed in the same transaction, only while
	// its claim (ID, LeaseOwner, Attempts) still holds the lease.
	Job *JobRecord
	// Enqueue are jobs recorded in the same transaction (hooks).
	Enqueue []JobRecord
}

// JobStore keeps durable background jobs and what the janitor sweeps.
//
// Jobs are recorded in the same transaction as the state change that needs
// them (Commit.Jobs, FileSettle.Enqueue) or on their own (EnqueueJobs),
// claimed with a lease so that any number of workers in any number of
// processes never run one job at once, and finished exactly once: only
// the holder of a job's current lease can complete or retry it.
type JobStore interface {
	// EnqueueJobs stores new jobs in one transaction. Each needs an ID, a
	// Kind and a Workspace; a zero RunAt means CreatedAt. Duplicate ids
	// return an error matching ErrExists and store nothing.
	EnqueueJobs(ctx context.Context, jobs []JobRecord) error

	// ClaimJobs leases up to c.Limit due jobs to c.Owner until
	// c.Now+c.Lease, oldest RunAt first, counting one attempt on each,
	// and returns them as leased. Concurrent claimers (also in other
	// processes) never receive the same job while its lease lives; a job
	// whose lease expired is due again. A bad claim returns
	// ErrInvalidArgument.
	ClaimJobs(ctx context.Context, c *JobClaim) ([]JobRecord, error)

	// CompleteJob removes a job, only while j (ID, LeaseOwner, Attempts)
	// holds its lease; otherwise, or for an unknown job, nothing changes
	// and the error matches ErrPrecondition.
	CompleteJob(ctx context.Context, j *JobRecord) error

	// RenewJob extends the lease j holds to until, only while j (ID,
	// LeaseOwner, Attempts) holds it; otherwise nothing changes and the
	// error matches ErrPrecondition. A worker renews the leases of the
	// jobs it runs, so a lease can be short: a worker that dies gives its
	// jobs up soon after.
	RenewJob(ctx context.Context, j *JobRecord, until time.Time) error

	// RetryJob releases a job's lease and makes it due again at runAt
	// with lastError, only while j holds its lease (else ErrPrecondition,
	// nothing changes).
	RetryJob(ctx context.Context, j *JobRecord, runAt time.Time, lastError string) error

	// ReleaseJob hands back a job whose attempt was interrupted before it
	// ran to an outcome (a worker shutting down, or a claim it has no
	// room for): the lease is released, the job is due again at once and
	// the attempt its claim counted is uncounted; LastError is kept. It
	// changes the job only while j holds its lease (else ErrPrecondition,
	// nothing changes); at is the time of the change. j must not be used
	// after it is released.
	ReleaseJob(ctx context.Context, j *JobRecord, at time.Time) error

	// Job returns a job by id, or ErrNotFound.
	Job(ctx context.Context, id string) (*JobRecord, error)

	// SettleFile moves a processing file and its version s.Version to
	// s.Status and completes s.Job and stores s.Enqueue, all in one
	// transaction, only if the file is
	// undeleted, processing and at s.Version, and s.Job (when set) still
	// holds its lease. Otherwise nothing changes and the error matches
	// ErrPrecondition (ErrNotFound for an unknown file). It returns the
	// settled file.
	SettleFile(ctx context.Context, s *FileSettle) (*FileRecord, error)

	// FailUpload is RejectUpload for a fault rather than a verdict: the
	// pending ticket becomes rejected with code and reason, and a file
	// without any version becomes failed (not rejected).
	FailUpload(ctx context.Context, workspace, uploadID, code, reason string, at time.Time) error

	// ExpiredUploads lists, across workspaces, pending tickets whose
	// ExpiresAt is at or before before, oldest first, at most limit
	// (1 to 1000, else ErrInvalidArgument).
	ExpiredUploads(ctx context.Context, before time.Time, limit int) ([]UploadRecord, error)

	// ExpireUpload moves a pending ticket to expired. A ticket that is not
	// pending returns ErrPrecondition, an unknown one ErrNotFound.
	ExpireUpload(ctx context.Context, workspace, uploadID string) error

	// UpgradeDigest replaces the digest of one version of a file, and the
	// file's own when that version is current, only where it is still
	// from. An unknown file or version returns ErrNotFound; a version whose
	// digest is no longer from, ErrPrecondition.
	UpgradeDigest(ctx context.Context, workspace, fileID string, version int, from, to string) error

	// TryLease takes or renews the named lease for owner until until, if
	// it is free (never taken, or expired at or before now) or already
	// owner's, and reports whether owner holds it. Replicas use it so that
	// periodic work runs in one of them at a time.
	TryLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error)
}
