package attach

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// WorkerOptions configure a Worker. The zero value of every field is its
// default.
type WorkerOptions struct {
	// ID names the worker in job leases. Default: a random id.
	ID string
	// Concurrency is how many jobs run at once. Default 4.
	Concurrency int
	// PollInterval is how long an idle worker waits before looking for
	// due jobs again (with up to 25% jitter). Default 1s.
	PollInterval time.Duration
	// Lease is how long a claimed job stays this worker's without news
	// from it: the worker renews the leases of its running jobs every
	// third of it, so a job whose worker died is taken over by another
	// worker (or the restarted process) about this long after. Default 30s.
	Lease time.Duration
	// JobTimeout bounds one run of a job. Default 10m.
	JobTimeout time.Duration
	// MaxAttempts is how many times a job of any kind runs before it
	// fails for good (a process job's file becomes failed); a job whose
	// worker died running it counts that run, one handed back at shutdown
	// does not. Default 5.
	MaxAttempts int
	// RetryDelay is the first backoff after a failed attempt; it doubles
	// with every attempt (at most 10m), with jitter. Default 5s.
	RetryDelay time.Duration
	// HookTimeout bounds one call of a hook. Default 30s.
	HookTimeout time.Duration
	// SweepInterval is how often the worker runs the janitor
	// (Service.Sweep), in whichever replica holds the janitor lease at
	// the time. Default 1h; negative: never.
	SweepInterval time.Duration
}

// Worker runs the durable background jobs of a Service: scans and
// processing of confirmed versions, hooks, SHA-256 digests of versions
// confirmed with an object store's MD5, and the periodic janitor. Run
// one in every process (replica) that has the Service; they share the work
// through leases in the metadata store. Jobs survive restarts: a job whose
// worker died is taken up again once its lease expires.
type Worker struct {
	svc  *Service
	opts WorkerOptions
	wake chan struct{}
}

// NewWorker returns a Worker for svc. nil options mean defaults.
func NewWorker(svc *Service, opts *WorkerOptions) *Worker {
	w := &Worker{svc: svc, wake: make(chan struct{}, 1)}
	if opts != nil {
		w.opts = *opts
	}
	o := &w.opts
	if o.ID == "" {
		o.ID = newID("worker")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	defaultDuration(&o.PollInterval, time.Second)
	defaultDuration(&o.Lease, 30*time.Second)
	defaultDuration(&o.JobTimeout, 10*time.Minute)
	defaultDuration(&o.RetryDelay, 5*time.Second)
	defaultDuration(&o.HookTimeout, 30*time.Second)
	if o.SweepInterval == 0 {
		o.SweepInterval = time.Hour
	}
	return w
}

// Run runs jobs until ctx is done, then waits for the jobs under way to
// stop (they see ctx cancelled; their leases are released so another
// worker, or the next start, takes them up at once, and the interrupted
// attempts are not counted) and returns nil.
// Errors of the metadata store are logged and retried, never returned.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	if w.opts.SweepInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.sweepLoop(ctx)
		}()
	}
	slots := make(chan struct{}, w.opts.Concurrency)
	for ctx.Err() == nil {
		free := w.opts.Concurrency - len(slots)
		var jobs []driver.JobRecord
		if free > 0 {
			var err error
			jobs, err = w.claim(ctx, free)
			if err != nil && ctx.Err() == nil {
				w.svc.log.WarnContext(ctx, "attach: claiming jobs failed", "err", err)
			}
		}
		for i := range jobs {
			slots <- struct{}{}
			wg.Add(1)
			go func(j *driver.JobRecord) {
				defer wg.Done()
				w.run(ctx, j)
				<-slots
				select {
				case w.wake <- struct{}{}:
				default:
				}
			}(&jobs[i])
		}
		if free > 0 && len(jobs) == free {
			continue // more may be due
		}
		t := time.NewTimer(w.jitter(w.opts.PollInterval))
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-w.wake:
		}
		t.Stop()
	}
	return nil
}

// RunDue runs every job that is due now, a batch at a time, until none is
// left, and returns how many it ran. Jobs retried with a backoff are not
// due again until later. It suits tests and cron-style deployments; it
// does not sweep (call Service.Sweep).
func (w *Worker) RunDue(ctx context.Context) (int, error) {
	n := 0
	for {
		jobs, err := w.claim(ctx, w.opts.Concurrency)
		if err != nil || len(jobs) == 0 {
			return n, err
		}
		var wg sync.WaitGroup
		for i := range jobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx, &jobs[i])
			}()
		}
		wg.Wait()
		n += len(jobs)
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
}

// claim leases up to n due jobs. Jobs a store returns beyond n are handed
// back at once, their attempt uncounted, rather than held unrenewed until
// a slot frees up.
func (w *Worker) claim(ctx context.Context, n int) ([]driver.JobRecord, error) {
	n = min(n, 100)
	jobs, err := w.svc.store.ClaimJobs(ctx, &driver.JobClaim{Owner: w.opts.ID, Now: w.svc.now(), Lease: w.opts.Lease, Limit: n})
	if len(jobs) > n {
		for i := range jobs[n:] {
			w.release(ctx, &jobs[n+i], "more jobs claimed than asked for")
		}
		jobs = jobs[:n]
	}
	return jobs, err
}

// release hands a claimed job back without counting its attempt, so that
// another worker (or the next start) takes it up at once.
func (w *Worker) release(ctx context.Context, j *driver.JobRecord, why string) {
	s := w.svc
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	err := s.store.ReleaseJob(rctx, j, s.now())
	if err != nil && !errors.Is(err, driver.ErrPrecondition) {
		s.log.WarnContext(ctx, "attach: handing a job back failed; its lease will expire", "job", j.ID, "why", why, "err", err)
	}
}

// run runs one claimed job to its end: finished, retried or given up.
func (w *Worker) run(ctx context.Context, j *driver.JobRecord) {
	s := w.svc
	jctx, cancel := context.WithTimeout(ctx, w.opts.JobTimeout)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		w.renew(jctx, cancel, j)
	}()
	err := w.safely(jctx, j)
	cancel()
	<-renewed
	if err == nil {
		return
	}
	// Record the outcome even when ctx is done.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer rcancel()
	switch {
	case ctx.Err() != nil: // shutting down: hand the job back at once, the attempt uncounted
		err = s.store.ReleaseJob(rctx, j, s.now())
	case j.Attempts >= w.opts.MaxAttempts:
		err = w.giveUp(rctx, j, err)
	default:
		s.log.WarnContext(ctx, "attach: job failed; will retry", "job", j.ID, "kind", j.Kind, "file", j.FileID,
			"attempt", j.Attempts, "err", err)
		err = s.store.RetryJob(rctx, j, s.now().Add(retryDelay(w.opts.RetryDelay, j.Attempts, rand.Int64N)), truncate(err.Error(), 1000))
	}
	if err != nil && !errors.Is(err, driver.ErrPrecondition) {
		s.log.ErrorContext(ctx, "attach: recording a job's outcome failed; its lease will expire", "job", j.ID, "err", err)
	}
}

// renew keeps j's lease alive while ctx lives, renewing it every third of
// the lease; a lease lost (another worker took the job over) cancels the
// job.
func (w *Worker) renew(ctx context.Context, cancel context.CancelFunc, j *driver.JobRecord) {
	t := time.NewTicker(w.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := w.svc.store.RenewJob(ctx, j, w.svc.now().Add(w.opts.Lease))
		switch {
		case errors.Is(err, driver.ErrPrecondition):
			w.svc.log.WarnContext(ctx, "attach: a job's lease was lost; stopping it", "job", j.ID, "kind", j.Kind)
			cancel()
			return
		case err != nil && ctx.Err() == nil:
			w.svc.log.WarnContext(ctx, "attach: renewing a job's lease failed; will retry", "job", j.ID, "err", err)
		}
	}
}

// safely runs a job's step, turning a panic into an error.
func (w *Worker) safely(ctx context.Context, j *driver.JobRecord) (err error) {
	defer func() {
		if p := recover(); p != nil {
			w.svc.log.ErrorContext(ctx, "attach: job panicked", "job", j.ID, "kind", j.Kind, "file", j.FileID,
				"panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	if j.Attempts > w.opts.MaxAttempts { // a job that keeps killing its worker, of any kind
		return w.giveUp(ctx, j, &stepError{step: "processing", err: errors.New(j.LastError)})
	}
	switch j.Kind {
	case driver.JobProcess:
		return w.processJob(ctx, j)
	case driver.JobHook:
		return w.hookRun(ctx, j)
	case driver.JobDigest:
		return w.digestJob(ctx, j)
	}
	w.svc.log.ErrorContext(ctx, "attach: job of an unknown kind dropped", "job", j.ID, "kind", j.Kind)
	return w.complete(ctx, j)
}

// sweepLoop runs the janitor every SweepInterval in the replica holding
// the janitor lease.
func (w *Worker) sweepLoop(ctx context.Context) {
	s := w.svc
	for {
		now := s.now()
		held, err := s.store.TryLease(ctx, "janitor", w.opts.ID, now, now.Add(w.opts.SweepInterval))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.WarnContext(ctx, "attach: janitor lease failed", "err", err)
		case held:
			if r, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "attach: sweep failed", "err", err)
			} else if r != nil && r.Total() > 0 {
				s.log.InfoContext(ctx, "attach: sweep", "report", r)
			}
		}
		t := time.NewTimer(w.jitter(w.opts.SweepInterval))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// jitter returns d plus up to 25%.
func (w *Worker) jitter(d time.Duration) time.Duration {
	if q := int64(d / 4); q > 0 {
		d += time.Duration(rand.Int64N(q))
	}
	return d
}
