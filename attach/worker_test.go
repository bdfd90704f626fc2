package attach_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/backendtest"
	"github.com/attachkit/attachkit/internal/faults"
	"github.com/attachkit/attachkit/meta/sqlite"
	"github.com/attachkit/attachkit/scan/clamav"
)

// eicar is the EICAR anti-virus test file: harmless, and detected by every
// scanner (the CI clamd's database holds its signature).
const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// textPolicy allows plain text (EICAR is text) besides PDF and PNG.
var textPolicy = &attach.Policy{Types: []attach.TypeRule{
	{MIMEType: "text/plain", MaxSize: 1 << 20}, {MIMEType: "application/pdf", MaxSize: 1 << 20}, {MIMEType: "image/png", MaxSize: 1 << 20},
}}

// scanFunc is a driver.Scanner for faults a real clamd cannot be made to
// produce on cue (a panic).
type scanFunc func(ctx context.Context, r io.Reader) (*driver.ScanResult, error)

func (f scanFunc) Scan(ctx context.Context, r io.Reader) (*driver.ScanResult, error) {
	return f(ctx, r)
}

// hookLog records hook calls.
type hookLog struct {
	mu    sync.Mutex
	calls []string // "event:fileID:status"
}

func (h *hookLog) hook(event string) func(context.Context, *attach.File) error {
	return func(ctx context.Context, f *attach.File) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("hook called without a deadline")
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls = append(h.calls, event+":"+f.ID+":"+string(f.Status))
		return nil
	}
}

func (h *hookLog) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}

func status(t *testing.T, e *env, id string) *attach.StatusInfo {
	t.Helper()
	st, err := e.svc.Status(context.Background(), wsA, id)
	require.NoError(t, err)
	return st
}

func runDue(t *testing.T, w *attach.Worker) int {
	t.Helper()
	n, err := w.RunDue(context.Background())
	require.NoError(t, err)
	return n
}

// TestWorkerEICARQuarantined: with a real clamd, an EICAR upload is
// processing after confirm, then rejected naming the signature, never
// served, and kept; a clean upload becomes ready. Hooks run from the
// worker.
func TestWorkerEICARQuarantined(t *testing.T) {
	addr := backendtest.RequireEnv(t, "ATTACH_CLAMD_ADDR", "clamd")
	hooks := &hookLog{}
	e := newEnv(t, func(o *attach.Options) {
		o.Policy = textPolicy
		o.Scanner = clamav.New(addr, nil)
		o.OnReady, o.OnRejected = hooks.hook("ready"), hooks.hook("rejected")
	})
	ctx := context.Background()
	bad := e.upload(t, wsA, "eicar.txt", "text/plain", []byte(eicar))
	good := e.upload(t, wsA, "doc.pdf", "application/pdf", pdfBytes(2000))
	for _, f := range []*attach.File{bad, good} {
		assert.Equal(t, attach.StatusProcessing, f.Status)
		_, err := e.svc.DownloadURL(ctx, wsA, f.ID, nil)
		assert.Equal(t, attach.CodeConflict, attach.CodeOf(err), "not downloadable while processing")
	}

	w := attach.NewWorker(e.svc, nil)
	assert.Equal(t, 4, runDue(t, w), "two process jobs, then two hook jobs")

	st := status(t, e, bad.ID)
	require.Equal(t, attach.StatusRejected, st.Status)
	require.NotNil(t, st.Error)
	assert.Equal(t, attach.CodeConflict, st.Error.Code)
	assert.Contains(t, st.Error.Message, "Eicar")
	assert.Contains(t, st.Error.Message, "quarantined")
	_, err := e.svc.DownloadURL(ctx, wsA, bad.ID, nil)
	assert.Equal(t, attach.CodeConflict, attach.CodeOf(err), "quarantined files are never served")
	_, err = e.svc.Open(ctx, wsA, bad.ID, nil)
	assert.Equal(t, attach.CodeConflict, attach.CodeOf(err))
	f, err := e.svc.File(ctx, wsA, bad.ID)
	require.NoError(t, err)
	_, err = e.storage.Attributes(ctx, latestKey(t, e, bad.ID))
	assert.NoError(t, err, "the infected object is kept (quarantined)")
	assert.Equal(t, attach.StatusRejected, f.Status)

	assert.Equal(t, attach.StatusReady, status(t, e, good.ID).Status)
	_, err = e.svc.DownloadURL(ctx, wsA, good.ID, nil)
	assert.NoError(t, err)
	assert.ElementsMatch(t, []string{"rejected:" + bad.ID + ":rejected", "ready:" + good.ID + ":ready"}, hooks.list())
	assert.Zero(t, runDue(t, w), "every job finished once")

	e.clock.Advance(30 * 24 * time.Hour)
	r, err := e.svc.Sweep(ctx)
	require.NoError(t, err)
	assert.Zero(t, r.Total(), "the janitor keeps quarantined files")
	_, err = e.storage.Attributes(ctx, latestKey(t, e, bad.ID))
	assert.NoError(t, err)
}

func latestKey(t *testing.T, e *env, id string) string {
	t.Helper()
	keys, err := e.store.FileKeys(context.Background(), wsA.Workspace, id)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	return keys[0]
}

// TestWorkerScanFaults: a clamd that accepts and never answers, and a
// scanner that panics, fail closed (retried, then failed); ScanFailOpen
// accepts the file unscanned instead.
func TestWorkerScanFaults(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	var held sync.WaitGroup
	t.Cleanup(held.Wait)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held.Add(1)
			go func() { // read and never answer, until the client gives up
				defer held.Done()
				_, _ = io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	hanging := clamav.New("tcp://"+ln.Addr().String(), nil) // its own idle timeout is a minute
	var panics atomic.Int32
	panicking := scanFunc(func(context.Context, io.Reader) (*driver.ScanResult, error) {
		panics.Add(1)
		panic("scanner exploded")
	})
	tests := []struct {
		name     string
		scanner  driver.Scanner
		failOpen bool
		want     attach.Status
	}{
		{name: "hanging clamd", scanner: hanging, want: attach.StatusFailed},
		{name: "hanging clamd, fail open", scanner: hanging, failOpen: true, want: attach.StatusReady},
		{name: "panicking scanner", scanner: panicking, want: attach.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(o *attach.Options) {
				o.Scanner, o.ScanFailOpen, o.ScanTimeout = tt.scanner, tt.failOpen, 200*time.Millisecond
			})
			f := e.upload(t, wsA, "doc.pdf", "application/pdf", pdfBytes(2000))
			w := attach.NewWorker(e.svc, &attach.WorkerOptions{MaxAttempts: 2, RetryDelay: time.Minute})
			start := time.Now()
			runDue(t, w)
			assert.Less(t, time.Since(start), 30*time.Second, "the scan is bounded by ScanTimeout")
			if tt.want == attach.StatusFailed {
				assert.Equal(t, attach.StatusProcessing, status(t, e, f.ID).Status, "retried with backoff first")
				e.clock.Advance(20 * time.Second)
				assert.Zero(t, runDue(t, w), "not due before its backoff")
				e.clock.Advance(2 * time.Minute)
				runDue(t, w)
			}
			st := status(t, e, f.ID)
			require.Equal(t, tt.want, st.Status)
			if tt.want == attach.StatusFailed {
				require.NotNil(t, st.Error)
				assert.Equal(t, attach.CodeInternal, st.Error.Code)
				assert.Equal(t, "virus scan failed after 2 attempts", st.Error.Message, "no internal detail leaks")
				_, err := e.svc.DownloadURL(context.Background(), wsA, f.ID, nil)
				assert.Equal(t, attach.CodeConflict, attach.CodeOf(err))
			}
		})
	}
	assert.Equal(t, int32(2), panics.Load(), "the panicking scanner ran once per attempt")
}

// TestWorkerProcessors: steps run in order after the scan; a panicking
// or failing step is retried, then fails the file with its name.
func TestWorkerProcessors(t *testing.T) {
	var order []string
	var mu sync.Mutex
	step := func(name string, fail func() error) attach.Processor {
		return attach.Processor{Name: name, Run: func(ctx context.Context, svc *attach.Service, in *attach.ProcessInput) error {
			r, err := in.Open(ctx)
			if err != nil {
				return err
			}
			defer r.Close()
			head := make([]byte, 5)
			if _, err := io.ReadFull(r, head); err != nil {
				return err
			}
			if string(head) != "%PDF-" || in.File.Status != attach.StatusProcessing {
				return errors.New("unexpected input")
			}
			mu.Lock()
			order = append(order, name)
			mu.Unlock()
			return fail()
		}}
	}
	ok := func() error { return nil }
	t.Run("in order", func(t *testing.T) {
		order = nil
		e := newEnv(t, func(o *attach.Options) {
			o.Processors = []attach.Processor{step("thumbnails", ok), step("index", ok)}
		})
		f := e.upload(t, wsA, "doc.pdf", "application/pdf", pdfBytes(2000))
		assert.Equal(t, attach.StatusProcessing, f.Status)
		runDue(t, attach.NewWorker(e.svc, nil))
		assert.Equal(t, attach.StatusReady, status(t, e, f.ID).Status)
		assert.Equal(t, []string{"thumbnails", "index"}, order)
	})
	t.Run("panicking step", func(t *testing.T) {
		order = nil
		e := newEnv(t, func(o *attach.Options) {
			o.Processors = []attach.Processor{step("thumbnails", func() error { panic("decoder bug") }), step("index", ok)}
		})
		f := e.upload(t, wsA, "doc.pdf", "application/pdf", pdfBytes(2000))
		runDue(t, attach.NewWorker(e.svc, &attach.WorkerOptions{MaxAttempts: 1}))
		st := status(t, e, f.ID)
		require.Equal(t, attach.StatusFailed, st.Status)
		assert.Equal(t, `processing step "thumbnails" failed after 1 attempts`, st.Error.Message)
		assert.Equal(t, []string{"thumbnails"}, order, "later steps do not run")
	})
}

// TestWorkerResumesAfterCrash: a process killed between confirm and
// processing (the job is committed with the file, no worker ran) or in
// the middle of a job (its lease was taken) loses nothing: a new Service
// on the same SQLite file finishes the work.
func TestWorkerResumesAfterCrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := blob.OpenDir(filepath.Join(dir, "files"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	dbPath := filepath.Join(dir, "attach.db")
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	var ran atomic.Int32
	open := func() (*attach.Service, driver.MetaStore) {
		store, err := sqlite.Open(ctx, dbPath, nil)
		require.NoError(t, err)
		svc, err := attach.New(st, store, &attach.Options{
			SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}},
			BaseURL:     baseURL, Now: clk.Now,
			Processors: []attach.Processor{{Name: "count", Run: func(context.Context, *attach.Service, *attach.ProcessInput) error {
				ran.Add(1)
				return nil
			}}},
		})
		require.NoError(t, err)
		return svc, store
	}

	// First life: two files confirmed; a worker claims one job and dies.
	svc1, store1 := open()
	e1 := &env{svc: svc1, storage: &countingStorage{Storage: st}, store: store1, clock: clk}
	a := e1.upload(t, wsA, "a.pdf", "application/pdf", pdfBytes(1000))
	b := e1.upload(t, wsA, "b.pdf", "application/pdf", pdfBytes(1100))
	jobs, err := store1.ClaimJobs(ctx, &driver.JobClaim{Owner: "dead-worker", Now: clk.Now(), Lease: 10 * time.Minute, Limit: 1})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.NoError(t, store1.Close()) // the process is gone

	// Second life on the same file.
	svc2, store2 := open()
	t.Cleanup(func() { store2.Close() })
	e2 := &env{svc: svc2, store: store2, clock: clk}
	w := attach.NewWorker(svc2, nil)
	assert.Equal(t, 1, runDue(t, w), "the unclaimed job runs at once")
	clk.Advance(10 * time.Minute)
	assert.Equal(t, 1, runDue(t, w), "the dead worker's job once its lease expired")
	for _, f := range []*attach.File{a, b} {
		assert.Equal(t, attach.StatusReady, status(t, e2, f.ID).Status)
	}
	assert.Equal(t, int32(2), ran.Load())
}

// TestWorkerRun: Run processes jobs as they come, calls hooks (a
// panicking hook is retried), and stops cleanly with no goroutine left.
func TestWorkerRun(t *testing.T) {
	var calls atomic.Int32
	deleted := make(chan string, 1)
	e := newEnv(t, func(o *attach.Options) {
		o.Processors = []attach.Processor{{Name: "noop", Run: func(context.Context, *attach.Service, *attach.ProcessInput) error { return nil }}}
		o.OnReady = func(ctx context.Context, f *attach.File) error {
			if calls.Add(1) == 1 {
				panic("hook bug")
			}
			return nil
		}
		o.OnDeleted = func(ctx context.Context, f *attach.File) error {
			deleted <- f.ID
			return nil
		}
	})
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(context.Background())
	w := attach.NewWorker(e.svc, &attach.WorkerOptions{PollInterval: 10 * time.Millisecond, RetryDelay: time.Millisecond, SweepInterval: -1})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stopped := false
	defer func() { // before the leak check, also when the test fails
		if !stopped {
			cancel()
			<-done
		}
	}()

	f := e.upload(t, wsA, "doc.pdf", "application/pdf", pdfBytes(2000))
	require.Eventually(t, func() bool { return status(t, e, f.ID).Status == attach.StatusReady }, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		e.clock.Advance(time.Second) // past the retry's backoff
		return calls.Load() == 2
	}, 10*time.Second, 10*time.Millisecond, "a panicking hook is retried")
	require.NoError(t, e.svc.Delete(context.Background(), wsA, f.ID, nil))
	select {
	case id := <-deleted:
		assert.Equal(t, f.ID, id)
	case <-time.After(10 * time.Second):
		t.Fatal("OnDeleted not called")
	}
	cancel()
	select {
	case err := <-done:
		stopped = true
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}

// TestConfirmWithoutProcessingIsReady: without a scanner or processors
// confirm answers ready and records no job.
func TestConfirmWithoutProcessingIsReady(t *testing.T) {
	e := newEnv(t, nil)
	f := e.upload(t, wsA, "doc.pdf", "application/pdf", pdfBytes(2000))
	assert.Equal(t, attach.StatusReady, f.Status)
	assert.Zero(t, runDue(t, attach.NewWorker(e.svc, nil)))
	assert.True(t, strings.HasPrefix(f.ID, "file_"))
}

// TestWorkerStaleVersion: a job for a version that is no longer current
// finishes without running or touching the newer version's state.
func TestWorkerStaleVersion(t *testing.T) {
	var seen []int
	var mu sync.Mutex
	e := newEnv(t, func(o *attach.Options) {
		o.Processors = []attach.Processor{{Name: "record", Run: func(_ context.Context, _ *attach.Service, in *attach.ProcessInput) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, in.File.Version)
			return nil
		}}}
	})
	ctx := context.Background()
	f := e.upload(t, wsA, "doc.pdf", "application/pdf", pdfBytes(2000))
	v2, err := e.svc.PutVersion(ctx, wsA, f.ID, attach.VersionPutRequest{Size: -1}, bytes.NewReader(pdfBytes(2100)))
	require.NoError(t, err)
	require.Equal(t, 2, v2.Version)
	assert.Equal(t, attach.StatusProcessing, v2.Status)
	assert.Equal(t, 2, runDue(t, attach.NewWorker(e.svc, nil)))
	assert.Equal(t, []int{2}, seen, "version 1's job found a newer version and did nothing")
	got, err := e.svc.File(ctx, wsA, f.ID)
	require.NoError(t, err)
	assert.Equal(t, attach.StatusReady, got.Status)
	assert.Equal(t, 2, got.Version)
}

// TestWorkerUpgradesMD5Digest: bytes that reached storage without the
// library (an object-store upload) are confirmed with the storage's MD5;
// a worker replaces it with their SHA-256.
func TestWorkerUpgradesMD5Digest(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	body := pdfBytes(3000)
	up, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "doc.pdf", MIMEType: "application/pdf", Size: int64(len(body))})
	require.NoError(t, err)
	w, err := e.storage.NewWriter(ctx, up.Key, nil) // straight to storage, as a PUT to S3 would be
	require.NoError(t, err)
	_, err = w.Write(body)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	f, err := e.svc.Confirm(ctx, wsA, up.ID)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(f.Digest, "md5:"), f.Digest)
	assert.Equal(t, attach.StatusReady, f.Status, "the digest job does not hold the file back")

	assert.Equal(t, 1, runDue(t, attach.NewWorker(e.svc, nil)))
	sum := sha256.Sum256(body)
	want := "sha256:" + hex.EncodeToString(sum[:])
	got, err := e.svc.File(ctx, wsA, f.ID)
	require.NoError(t, err)
	assert.Equal(t, want, got.Digest)
	vs, err := e.svc.Versions(ctx, wsA, f.ID)
	require.NoError(t, err)
	assert.Equal(t, want, vs[0].Digest)
}

// TestWorkerRenewsLeases: a job that runs longer than its lease keeps it,
// because the worker renews it; another worker claims nothing meanwhile,
// and the step runs once. (Real time: leases are measured by the clock.)
func TestWorkerRenewsLeases(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	var ran atomic.Int32
	e := newEnv(t, func(o *attach.Options) {
		o.Now = time.Now
		o.Processors = []attach.Processor{{Name: "slow", Run: func(ctx context.Context, _ *attach.Service, _ *attach.ProcessInput) error {
			if ran.Add(1) > 1 {
				return nil // a second run: the lease was taken over
			}
			started <- struct{}{}
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}}}
	})
	f := e.upload(t, wsA, "a.pdf", "application/pdf", pdfBytes(1000))
	lease := 300 * time.Millisecond
	w1 := attach.NewWorker(e.svc, &attach.WorkerOptions{ID: "w1", Lease: lease})
	done := make(chan int, 1)
	go func() { n, _ := w1.RunDue(context.Background()); done <- n }()
	<-started

	w2 := attach.NewWorker(e.svc, &attach.WorkerOptions{ID: "w2", Lease: lease})
	deadline := time.Now().Add(4 * lease)
	for time.Now().Before(deadline) {
		assert.Zero(t, runDue(t, w2), "a renewed lease is not taken over")
		time.Sleep(lease / 5)
	}
	close(release)
	assert.Equal(t, 1, <-done)
	assert.Equal(t, attach.StatusReady, status(t, e, f.ID).Status)
	assert.Equal(t, int32(1), ran.Load(), "the step ran once")
}

// withFaults returns a Service like e's (options changed by mod) whose
// metadata store is e's behind a fault injector.
func withFaults(t *testing.T, e *env, mod func(*attach.Options)) (*attach.Service, *faults.Injector) {
	t.Helper()
	in := &faults.Injector{}
	opts := &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}},
		BaseURL:     baseURL,
		Now:         e.clock.Now,
	}
	if mod != nil {
		mod(opts)
	}
	svc, err := attach.New(e.storage, &faults.MetaStore{MetaStore: e.store, In: in}, opts)
	require.NoError(t, err)
	return svc, in
}

// TestWorkerSettleReadFailureRetried: with a hook configured, a failed
// read of the file while settling retries the job; it neither drops the
// job nor leaves the file processing.
func TestWorkerSettleReadFailureRetried(t *testing.T) {
	hooks := &hookLog{}
	mod := func(o *attach.Options) {
		o.Processors = []attach.Processor{{Name: "noop", Run: func(context.Context, *attach.Service, *attach.ProcessInput) error { return nil }}}
		o.OnReady = hooks.hook("ready")
	}
	e := newEnv(t, mod)
	f := e.upload(t, wsA, "doc.pdf", "application/pdf", pdfBytes(2000))
	svc, in := withFaults(t, e, mod)
	in.Arm(faults.Fault{Op: "File", Nth: 2, Kind: faults.Fail}) // the job's first read passes, settle's fails
	w := attach.NewWorker(svc, &attach.WorkerOptions{RetryDelay: time.Second})
	assert.Equal(t, 1, runDue(t, w))
	require.Len(t, in.Fired(), 1)
	assert.Equal(t, attach.StatusProcessing, status(t, e, f.ID).Status)

	e.clock.Advance(time.Minute)
	assert.Equal(t, 2, runDue(t, w), "the process job again, then its hook")
	assert.Equal(t, attach.StatusReady, status(t, e, f.ID).Status)
	assert.Equal(t, []string{"ready:" + f.ID + ":ready"}, hooks.list())
}

// greedyStore claims more jobs than asked: a store that breaks the claim
// limit, which a real one cannot be made to do on cue.
type greedyStore struct {
	driver.MetaStore
}

func (g greedyStore) ClaimJobs(ctx context.Context, c *driver.JobClaim) ([]driver.JobRecord, error) {
	more := *c
	more.Limit += 2
	return g.MetaStore.ClaimJobs(ctx, &more)
}

// TestWorkerHandsBackExtraClaims: jobs claimed beyond the worker's free
// slots are handed back at once, without counting an attempt, instead of
// running past Concurrency.
func TestWorkerHandsBackExtraClaims(t *testing.T) {
	var running, most atomic.Int32
	count := attach.Processor{Name: "count", Run: func(context.Context, *attach.Service, *attach.ProcessInput) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		return nil
	}}
	e := newEnv(t, func(o *attach.Options) { o.Processors = []attach.Processor{count} })
	var ids []string
	for i := range 3 {
		ids = append(ids, e.upload(t, wsA, fmt.Sprintf("doc%d.pdf", i), "application/pdf", pdfBytes(2000)).ID)
	}
	svc, err := attach.New(e.storage, greedyStore{e.store}, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}},
		BaseURL:     baseURL, Now: e.clock.Now,
		Processors: []attach.Processor{count},
	})
	require.NoError(t, err)
	assert.Equal(t, 3, runDue(t, attach.NewWorker(svc, &attach.WorkerOptions{Concurrency: 1, MaxAttempts: 1})))
	assert.Equal(t, int32(1), most.Load(), "one job at a time")
	for _, id := range ids {
		assert.Equal(t, attach.StatusReady, status(t, e, id).Status, "handed-back claims cost no attempt")
	}
}

// TestWorkerShutdownCostsNoAttempt: a job a shutting-down worker hands
// back is not counted, so rolling restarts never fail a clean file.
func TestWorkerShutdownCostsNoAttempt(t *testing.T) {
	started := make(chan struct{}, 1)
	var interrupt atomic.Bool
	interrupt.Store(true)
	e := newEnv(t, func(o *attach.Options) {
		o.Processors = []attach.Processor{{Name: "slow", Run: func(ctx context.Context, _ *attach.Service, _ *attach.ProcessInput) error {
			if !interrupt.Load() {
				return nil
			}
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}}}
	})
	f := e.upload(t, wsA, "doc.pdf", "application/pdf", pdfBytes(2000))
	opts := &attach.WorkerOptions{MaxAttempts: 2, PollInterval: 10 * time.Millisecond, SweepInterval: -1}
	for range 4 { // four restarts
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- attach.NewWorker(e.svc, opts).Run(ctx) }()
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the job did not start")
		}
		cancel()
		require.NoError(t, <-done)
		assert.Equal(t, []int{0}, dueAttempts(t, e), "handed back at once, the interrupted attempt not counted")
	}
	interrupt.Store(false)
	assert.Equal(t, 1, runDue(t, attach.NewWorker(e.svc, opts)))
	assert.Equal(t, attach.StatusReady, status(t, e, f.ID).Status)
}

// dueAttempts returns the attempts counted so far of every due job (a
// leased one is not due), peeking with a claim it hands back uncounted.
func dueAttempts(t *testing.T, e *env) []int {
	t.Helper()
	ctx := context.Background()
	jobs, err := e.store.ClaimJobs(ctx, &driver.JobClaim{Owner: "probe", Now: e.clock.Now(), Lease: time.Minute, Limit: 100})
	require.NoError(t, err)
	var out []int
	for i := range jobs {
		out = append(out, jobs[i].Attempts-1)
		require.NoError(t, e.store.ReleaseJob(ctx, &jobs[i], e.clock.Now()))
	}
	return out
}

// TestWorkerCapsEveryJobKind: a hook or digest job that keeps killing its
// worker (claimed, never finished) is given up after MaxAttempts like a
// process job, without running again.
func TestWorkerCapsEveryJobKind(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, e *env) (check func(t *testing.T))
	}{
		{name: "hook", prepare: func(t *testing.T, e *env) func(t *testing.T) {
			f := e.upload(t, wsA, "doc.pdf", "application/pdf", pdfBytes(2000))
			require.NoError(t, e.svc.Delete(context.Background(), wsA, f.ID, nil))
			return nil
		}},
		{name: "digest", prepare: func(t *testing.T, e *env) func(t *testing.T) {
			ctx := context.Background()
			body := pdfBytes(3000)
			up, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "doc.pdf", MIMEType: "application/pdf", Size: int64(len(body))})
			require.NoError(t, err)
			w, err := e.storage.NewWriter(ctx, up.Key, nil)
			require.NoError(t, err)
			_, err = w.Write(body)
			require.NoError(t, err)
			require.NoError(t, w.Close())
			f, err := e.svc.Confirm(ctx, wsA, up.ID)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(f.Digest, "md5:"))
			return func(t *testing.T) {
				got, err := e.svc.File(ctx, wsA, f.ID)
				require.NoError(t, err)
				assert.True(t, strings.HasPrefix(got.Digest, "md5:"), "the digest job did not run again")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var called atomic.Int32
			e := newEnv(t, func(o *attach.Options) {
				o.OnDeleted = func(context.Context, *attach.File) error { called.Add(1); return nil }
			})
			check := tt.prepare(t, e)
			ctx := context.Background()
			for range 2 { // two workers die holding it
				jobs, err := e.store.ClaimJobs(ctx, &driver.JobClaim{Owner: "dying", Now: e.clock.Now(), Lease: time.Minute, Limit: 10})
				require.NoError(t, err)
				require.Len(t, jobs, 1)
				e.clock.Advance(time.Minute)
			}
			assert.Equal(t, 1, runDue(t, attach.NewWorker(e.svc, &attach.WorkerOptions{MaxAttempts: 2})))
			assert.Zero(t, called.Load(), "the hook did not run again")
			assert.Empty(t, dueAttempts(t, e), "the job is gone")
			if check != nil {
				check(t)
			}
		})
	}
}

// TestWorkerScanSizeLimitFailsAtOnce: content the scanner will not scan
// (clamd's StreamMaxLength) gets no verdict however often it is retried,
// so the file fails closed at the first attempt, with a reason that names
// the limit.
func TestWorkerScanSizeLimitFailsAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	var served sync.WaitGroup
	t.Cleanup(served.Wait)
	var scans atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			served.Add(1)
			go func() { // a clamd past its StreamMaxLength: it stops the stream
				defer served.Done()
				scans.Add(1)
				buf := make([]byte, 10)
				_, _ = io.ReadFull(c, buf)
				_, _ = io.WriteString(c, "INSTREAM size limit exceeded. ERROR\x00")
				c.Close()
			}()
		}
	}()
	e := newEnv(t, func(o *attach.Options) { o.Scanner = clamav.New("tcp://"+ln.Addr().String(), nil) })
	f := e.upload(t, wsA, "doc.pdf", "application/pdf", pdfBytes(2000))
	assert.Equal(t, 1, runDue(t, attach.NewWorker(e.svc, &attach.WorkerOptions{RetryDelay: time.Minute})))
	assert.Equal(t, int32(1), scans.Load(), "not retried")
	st := status(t, e, f.ID)
	require.Equal(t, attach.StatusFailed, st.Status)
	require.NotNil(t, st.Error)
	assert.Equal(t, attach.CodeFileTooLarge, st.Error.Code)
	assert.Contains(t, st.Error.Message, "size limit")
	assert.Empty(t, dueAttempts(t, e), "the job is finished")
	_, err = e.svc.DownloadURL(context.Background(), wsA, f.ID, nil)
	assert.Equal(t, attach.CodeConflict, attach.CodeOf(err), "never served unscanned")
}
