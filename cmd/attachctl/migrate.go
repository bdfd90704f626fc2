package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("migrate", "-from STORAGE_URL -to STORAGE_URL -meta META_URL [-all] [-j N] [-v]", stderr)
	from := fs.String("from", "", "storage `URL` to copy objects from")
	to := fs.String("to", "", "storage `URL` to copy objects to")
	metaURL := fs.String("meta", "", "metadata `URL` of the deployment")
	all := fs.Bool("all", false, "also copy the objects no metadata row references")
	jobs := fs.Int("j", 4, "objects copied at once (1 to 64)")
	verbose := fs.Bool("v", false, "also print the objects skipped")
	if code := parseFlags(fs, args, stderr, "from", "to", "meta"); code >= 0 {
		return code
	}
	switch {
	case !jobsOK("migrate", *jobs, stderr):
		return exitError
	case *from == *to:
		fmt.Fprintln(stderr, "attachctl migrate: -from and -to name the same storage")
		return exitError
	}

	ms, err := openMeta(ctx, *metaURL)
	if err != nil {
		return fatal(stderr, "migrate", err)
	}
	defer ms.Close()
	src, err := openStorage(ctx, "source", *from)
	if err != nil {
		return fatal(stderr, "migrate", err)
	}
	defer src.Close()
	dst, err := openStorage(ctx, "destination", *to)
	if err != nil {
		return fatal(stderr, "migrate", err)
	}
	defer dst.Close()

	total, totalBytes := versionTotals(ctx, ms)
	m := &migrator{src: src, dst: dst, ms: ms, verbose: *verbose,
		p: newProgress(stdout, "copied", total, totalBytes)}
	err = m.run(ctx, *all, *jobs)
	m.p.finish()
	fmt.Fprintf(stdout, "migrate: copied %d (%d bytes), skipped %d, absent %d, failed %d\n",
		m.copied.Load(), m.copiedBytes.Load(), m.skipped.Load(), m.absent.Load(), m.failed.Load())
	if *all {
		fmt.Fprintf(stdout, "migrate: %d of those objects are referenced by no row (-all)\n", m.unreferenced.Load())
	}
	switch {
	case err != nil:
		return fatal(stderr, "migrate", err)
	case m.failed.Load() > 0:
		return exitProblems
	}
	return exitOK
}

// migrator copies objects between two storages.
type migrator struct {
	src, dst driver.Storage
	ms       inventory
	p        *progress
	verbose  bool

	copied, copiedBytes, skipped, absent, failed, unreferenced atomic.Int64
}

// copyJob is one object to copy; unreferenced marks the -all extras.
type copyJob struct {
	ref          objectRef
	unreferenced bool
}

// run copies with jobs workers every object the metadata references and,
// with all, every other object of the source. It returns an error only
// when the walk itself fails (or ctx ends); failed objects are counted.
func (m *migrator) run(ctx context.Context, all bool, jobs int) error {
	queue := make(chan copyJob)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, copyBufferSize)
			for job := range queue {
				m.copy(ctx, job, buf)
			}
		}()
	}
	send := func(job copyJob) error {
		select {
		case queue <- job:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := m.ms.WalkFiles(ctx, func(inv *meta.FileInventory) error {
		for _, ref := range refsOf(inv) {
			if err := send(copyJob{ref: ref}); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && all {
		err = walkUnreferenced(ctx, m.src, m.ms, func(obj driver.ObjectInfo) error {
			return send(copyJob{ref: objectRef{key: obj.Key, size: -1, required: true, file: "no row"}, unreferenced: true})
		})
	}
	close(queue)
	wg.Wait()
	return err
}

// copy copies one object unless the destination already has it, and
// counts the outcome.
func (m *migrator) copy(ctx context.Context, job copyJob, buf []byte) {
	r := &job.ref
	if job.unreferenced {
		m.unreferenced.Add(1)
	}
	n, err := m.copyObject(ctx, r, buf)
	switch {
	case errors.Is(err, errAbsent):
		m.absent.Add(1)
		if m.verbose {
			m.p.line("absent  %s (%s): not at the source", r.key, r.file)
		}
	case errors.Is(err, errPresent):
		m.skipped.Add(1)
		if m.verbose {
			m.p.line("skipped %s: already at the destination", r.key)
		}
	case err != nil:
		m.failed.Add(1)
		m.p.line("failed  %s (%s): %v", r.key, r.file, err)
	default:
		m.copied.Add(1)
		m.copiedBytes.Add(n)
		if !m.p.tty {
			m.p.line("copied  %s (%d bytes)", r.key, n)
		}
	}
	m.p.add(n)
}

var (
	errAbsent  = errors.New("not at the source")
	errPresent = errors.New("already at the destination")
)

// copyObject streams one object from the source to the destination,
// checking its size and digest against the row on the way; bytes that do
// not match are never written. It returns errPresent when the destination
// already holds the object (with the object's size, for progress) and
// errAbsent when an optional object is not at the source.
func (m *migrator) copyObject(ctx context.Context, r *objectRef, buf []byte) (int64, error) {
	sa, err := m.src.Attributes(ctx, r.key)
	switch {
	case errors.Is(err, driver.ErrNotFound) && !r.required:
		return 0, errAbsent
	case errors.Is(err, driver.ErrNotFound):
		return 0, errors.New("missing at the source")
	case err != nil:
		return 0, err
	case r.size >= 0 && sa.Size != r.size:
		return 0, fmt.Errorf("%w: %d bytes at the source, the metadata records %d", errDigest, sa.Size, r.size)
	}
	if ok, err := m.present(ctx, r, sa, buf); err != nil {
		return 0, fmt.Errorf("checking the destination: %w", err)
	} else if ok {
		return sa.Size, errPresent
	}

	rd, err := m.src.NewRangeReader(ctx, r.key, 0, -1)
	if err != nil {
		return 0, err
	}
	defer rd.Close()
	wctx, abort := context.WithCancel(ctx)
	defer abort()
	w, err := m.dst.NewWriter(wctx, r.key, &driver.WriterOptions{ContentType: sa.ContentType, Size: sa.Size})
	if err != nil {
		return 0, err
	}
	s, err := hashingCopy(w, rd, buf)
	if err == nil {
		err = r.check(s)
	}
	if err == nil && r.digest == "" && len(sa.MD5) > 0 && !bytes.Equal(s.md5, sa.MD5) {
		err = fmt.Errorf("%w: the bytes read do not match the source's MD5", errDigest)
	}
	if err != nil {
		abort() // a cancelled write stores nothing
		_ = w.Close()
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return s.size, nil
}

// present reports whether the destination already holds the object: same
// size, and the same MD5 when both storages know it, else bytes that hash
// to the recorded digest (or to the source's MD5).
func (m *migrator) present(ctx context.Context, r *objectRef, sa *driver.Attributes, buf []byte) (bool, error) {
	da, err := m.dst.Attributes(ctx, r.key)
	switch {
	case errors.Is(err, driver.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case da.Size != sa.Size:
		return false, nil
	case len(da.MD5) > 0 && len(sa.MD5) > 0:
		return bytes.Equal(da.MD5, sa.MD5), nil
	case r.digest == "" && len(sa.MD5) == 0:
		return true, nil // nothing more to compare
	}
	s, err := hashObject(ctx, m.dst, r.key, buf)
	if err != nil {
		return false, err
	}
	if r.digest != "" {
		return r.check(s) == nil, nil
	}
	return bytes.Equal(s.md5, sa.MD5), nil
}
