package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// Processor is a named step a Worker runs on every confirmed version,
// after the virus scan and before the file becomes ready (eager
// thumbnails, text extraction, a digest upgrade...). Steps run in the
// order of Options.Processors.
//
// Run may be called more than once for one version (a retry after an
// error, a panic, a lost lease or a crash), so it must be idempotent. An
// error (or a panic) is retried with backoff; after WorkerOptions.
// MaxAttempts the file becomes failed with a reason naming the step.
type Processor struct {
	// Name names the step in logs and failure reasons.
	Name string
	// Run processes one version; svc is the Service that runs it.
	Run func(ctx context.Context, svc *Service, in *ProcessInput) error
}

// ProcessInput is what a Processor works on.
type ProcessInput struct {
	// File is the file at the version being processed (status
	// processing; it is not downloadable until it is ready).
	File *File
	// Open reads the version's bytes; close the reader.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// processing reports whether confirmed versions go through a Worker.
func (s *Service) processing() bool {
	return s.opts.Scanner != nil || len(s.opts.Processors) > 0 || s.eagerThumbnails()
}

// eagerThumbnails reports whether confirmed versions get their
// Options.EagerThumbnails rendered by the Worker before they are ready.
func (s *Service) eagerThumbnails() bool {
	return s.opts.Previewer != nil && len(s.opts.EagerThumbnails) > 0
}

// processJobs returns the jobs a commit of a version records: one process
// job when scanning or processors are configured, else none.
func (s *Service) processJobs(workspace, fileID string, version int) []driver.JobRecord {
	if !s.processing() {
		return nil
	}
	return []driver.JobRecord{{ID: newID("job"), Workspace: workspace, FileID: fileID, Version: version,
		Kind: driver.JobProcess, CreatedAt: s.now()}}
}

// digestJobs returns the job that replaces a version's "md5:" digest (an
// object store's, taken at confirm so that confirm does not read the
// bytes) with its SHA-256, in the background.
func (s *Service) digestJobs(v *driver.VersionRecord) []driver.JobRecord {
	if !strings.HasPrefix(v.Digest, "md5:") {
		return nil
	}
	return []driver.JobRecord{{ID: newID("job"), Workspace: v.Workspace, FileID: v.FileID, Version: v.Version,
		Kind: driver.JobDigest, Payload: []byte(v.Digest), CreatedAt: s.now()}}
}

// digestJob streams a version's bytes through SHA-256 and records the
// digest in place of the MD5 one it was confirmed with.
func (w *Worker) digestJob(ctx context.Context, j *driver.JobRecord) error {
	s := w.svc
	v, err := s.store.Version(ctx, j.Workspace, j.FileID, j.Version)
	if errors.Is(err, driver.ErrNotFound) || err == nil && v.Digest != string(j.Payload) {
		return w.complete(ctx, j) // gone, or already upgraded
	}
	if err != nil {
		return err
	}
	sum, err := s.hashObject(ctx, v.StorageKey)
	if err != nil {
		return &stepError{step: "digest", err: err}
	}
	err = s.store.UpgradeDigest(ctx, j.Workspace, j.FileID, j.Version, v.Digest, sum)
	if err != nil && !errors.Is(err, driver.ErrPrecondition) && !errors.Is(err, driver.ErrNotFound) {
		return err
	}
	return w.complete(ctx, j)
}

// stepError is a failed processing step; its step names the public
// reason, the cause goes to logs and the job's last error only.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// processJob runs a process job: the scan, then the processors, then the
// settle. It returns nil once the job is finished (completed with the
// settle, or moot), and an error to retry it.
func (w *Worker) processJob(ctx context.Context, j *driver.JobRecord) error {
	s := w.svc
	f, err := s.store.File(ctx, j.Workspace, j.FileID)
	if errors.Is(err, driver.ErrNotFound) || err == nil && (f.Version != j.Version || f.Status != StatusProcessing) {
		return w.complete(ctx, j) // deleted, or a newer version took over: nothing to do
	}
	if err != nil {
		return err
	}
	if s.opts.Scanner != nil {
		res, err := w.scan(ctx, f)
		switch {
		case err != nil && ctx.Err() != nil:
			return err
		case err != nil && s.opts.ScanFailOpen:
			s.log.WarnContext(ctx, "attach: virus scan failed; file accepted unscanned (ScanFailOpen)",
				"file", f.ID, "version", f.Version, "err", err)
		case errors.Is(err, driver.ErrScanLimit):
			// No retry gives a verdict: fail closed at once.
			s.log.WarnContext(ctx, "attach: file too large to scan; failed", "file", f.ID, "version", f.Version, "err", err)
			return w.settle(ctx, j, StatusFailed, CodeFileTooLarge, "virus scan failed: the file exceeds the scanner's size limit")
		case err != nil:
			return &stepError{step: "virus scan", err: err}
		case res.Infected:
			s.log.WarnContext(ctx, "attach: infected file quarantined", "file", f.ID, "version", f.Version, "signature", res.Signature)
			return w.settle(ctx, j, StatusRejected, CodeConflict,
				fmt.Sprintf("malware found (%s); the file is quarantined", truncate(res.Signature, 128)))
		}
	}
	in := &ProcessInput{File: fileFromRecord(f), Open: func(ctx context.Context) (io.ReadCloser, error) {
		return s.storage.NewRangeReader(ctx, f.StorageKey, 0, -1)
	}}
	for _, p := range s.opts.Processors {
		step := fmt.Sprintf("processing step %q", p.Name)
		if err := w.protect(ctx, step, func() error { return p.Run(ctx, s, in) }); err != nil {
			return &stepError{step: step, err: err}
		}
	}
	if s.eagerThumbnails() {
		err := w.protect(ctx, "thumbnails", func() error { return s.GenerateThumbnails(ctx, j.Workspace, f.ID, f.Version) })
		switch {
		case CodeOf(err) == CodeContentMismatch:
			// Content no previewer can decode is still a valid file; its
			// thumbnail requests answer the same error.
			s.log.WarnContext(ctx, "attach: no thumbnail for an undecodable file", "file", f.ID, "version", f.Version, "err", err)
		case err != nil:
			return &stepError{step: "thumbnails", err: err}
		}
	}
	return w.settle(ctx, j, StatusReady, "", "")
}

// scan streams a version's bytes to the scanner, bounded by ScanTimeout.
func (w *Worker) scan(ctx context.Context, f *driver.FileRecord) (*driver.ScanResult, error) {
	s := w.svc
	ctx, cancel := context.WithTimeout(ctx, s.opts.ScanTimeout)
	defer cancel()
	r, err := s.storage.NewRangeReader(ctx, f.StorageKey, 0, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var res *driver.ScanResult
	err = w.protect(ctx, "virus scan", func() (err error) {
		res, err = s.opts.Scanner.Scan(ctx, r)
		return err
	})
	if err == nil && res == nil {
		err = errors.New("the scanner returned no verdict")
	}
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("no verdict within %s: %w", s.opts.ScanTimeout, err)
	}
	return res, err
}

// settle ends a version's processing with status, completing j and
// recording the hook the outcome calls, in one transaction.
func (w *Worker) settle(ctx context.Context, j *driver.JobRecord, status Status, code Code, reason string) error {
	s := w.svc
	st := &driver.FileSettle{Workspace: j.Workspace, FileID: j.FileID, Version: j.Version, Status: status,
		Code: string(code), Reason: reason, At: s.now(), Job: j}
	event := hookReady
	if status != StatusReady {
		event = hookRejected
	}
	if s.hook(event) != nil {
		// The file as settled: the hook sees the outcome.
		f, err := s.store.File(ctx, j.Workspace, j.FileID)
		if errors.Is(err, driver.ErrNotFound) {
			return w.complete(ctx, j) // deleted meanwhile: nothing to settle
		}
		if err != nil {
			return err // retried
		}
		f.Status, f.StatusCode, f.StatusReason, f.UpdatedAt = status, string(code), reason, st.At
		hj, err := s.hookJob(event, f)
		if err != nil {
			return err
		}
		st.Enqueue = []driver.JobRecord{*hj}
	}
	_, err := s.store.SettleFile(ctx, st)
	if errors.Is(err, driver.ErrPrecondition) || errors.Is(err, driver.ErrNotFound) {
		return w.complete(ctx, j) // the file moved on (deleted, newer version), or the lease is gone
	}
	return err
}

// giveUp ends a job that failed MaxAttempts times: a process job's file
// becomes failed (fail-closed), with a reason naming the step.
func (w *Worker) giveUp(ctx context.Context, j *driver.JobRecord, cause error) error {
	s := w.svc
	s.log.ErrorContext(ctx, "attach: job failed for good", "job", j.ID, "kind", j.Kind, "file", j.FileID,
		"attempts", j.Attempts, "err", cause)
	if j.Kind != driver.JobProcess {
		return w.complete(ctx, j)
	}
	step := "processing"
	var se *stepError
	if errors.As(cause, &se) {
		step = se.step
	}
	return w.settle(ctx, j, StatusFailed, CodeInternal,
		fmt.Sprintf("%s failed after %d attempts", step, j.Attempts))
}

// complete finishes a job; a lost lease is not an error (whoever holds it
// finishes the job).
func (w *Worker) complete(ctx context.Context, j *driver.JobRecord) error {
	err := w.svc.store.CompleteJob(ctx, j)
	if errors.Is(err, driver.ErrPrecondition) {
		return nil
	}
	return err
}

// retryDelay is the backoff before attempt n+1: base doubling per
// attempt, capped at 10 minutes, with up to 50% jitter.
func retryDelay(base time.Duration, attempt int, jitter func(int64) int64) time.Duration {
	d := base
	for i := 1; i < attempt && d < 10*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 10*time.Minute)
	if half := int64(d / 2); half > 0 {
		d = d/2 + time.Duration(jitter(half+1))
	}
	return d
}

// protect runs one step of a job, turning a panic into an error that is
// logged with its stack.
func (w *Worker) protect(ctx context.Context, step string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			w.svc.log.ErrorContext(ctx, "attach: job step panicked", "step", step, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn()
}
