package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta"
)

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("verify", "-storage STORAGE_URL -meta META_URL [-quick] [-j N]", stderr)
	storageURL := fs.String("storage", "", "storage `URL` to check")
	metaURL := fs.String("meta", "", "metadata `URL` of the deployment")
	quick := fs.Bool("quick", false, "check existence and sizes only, without reading objects")
	jobs := fs.Int("j", 4, "objects checked at once (1 to 64)")
	if code := parseFlags(fs, args, stderr, "storage", "meta"); code >= 0 {
		return code
	}
	if !jobsOK("verify", *jobs, stderr) {
		return exitError
	}
	ms, err := openMeta(ctx, *metaURL)
	if err != nil {
		return fatal(stderr, "verify", err)
	}
	defer ms.Close()
	st, err := openStorage(ctx, "", *storageURL)
	if err != nil {
		return fatal(stderr, "verify", err)
	}
	defer st.Close()

	total, totalBytes := versionTotals(ctx, ms)
	if *quick {
		totalBytes = 0
	}
	v := &verifier{st: st, ms: ms, quick: *quick, p: newProgress(stdout, "checked", total, totalBytes)}
	err = v.run(ctx, *jobs)
	v.p.finish()
	problems := v.missing.Load() + v.size.Load() + v.digest.Load() + v.stray.Load() + v.unreadable.Load()
	fmt.Fprintf(stdout, "verify: checked %d objects, hashed %d bytes; problems: %d (missing %d, size %d, digest %d, stray %d, unreadable %d)\n",
		v.checked.Load(), v.hashed.Load(), problems,
		v.missing.Load(), v.size.Load(), v.digest.Load(), v.stray.Load(), v.unreadable.Load())
	switch {
	case err != nil:
		return fatal(stderr, "verify", err)
	case problems > 0:
		return exitProblems
	}
	return exitOK
}

// verifier checks that a storage and the metadata agree.
type verifier struct {
	st    driver.Storage
	ms    inventory
	quick bool
	p     *progress

	checked, hashed                          atomic.Int64
	missing, size, digest, stray, unreadable atomic.Int64
}

// run checks every object the rows reference with jobs workers, then lists
// the storage for objects no row references.
func (v *verifier) run(ctx context.Context, jobs int) error {
	queue := make(chan objectRef)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, copyBufferSize)
			for r := range queue {
				v.check(ctx, &r, buf)
			}
		}()
	}
	err := v.ms.WalkFiles(ctx, func(inv *meta.FileInventory) error {
		for _, r := range refsOf(inv) {
			select {
			case queue <- r:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	close(queue)
	wg.Wait()
	if err != nil {
		return err
	}
	return walkUnreferenced(ctx, v.st, v.ms, func(obj driver.ObjectInfo) error {
		v.stray.Add(1)
		v.p.line("stray      %s (%d bytes): no row references it", obj.Key, obj.Size)
		return nil
	})
}

// check checks one referenced object and reports what is wrong with it.
func (v *verifier) check(ctx context.Context, r *objectRef, buf []byte) {
	a, err := v.st.Attributes(ctx, r.key)
	switch {
	case errors.Is(err, driver.ErrNotFound):
		if r.required {
			v.missing.Add(1)
			v.p.line("missing    %s (%s): no object", r.key, r.file)
		}
		return
	case err != nil:
		v.unreadable.Add(1)
		v.p.line("unreadable %s (%s): %v", r.key, r.file, err)
		return
	}
	v.checked.Add(1)
	if r.size >= 0 && a.Size != r.size {
		v.size.Add(1)
		v.p.line("size       %s (%s): %d bytes, the metadata records %d", r.key, r.file, a.Size, r.size)
		v.p.add(a.Size)
		return
	}
	if v.quick || r.digest == "" {
		v.p.add(a.Size)
		return
	}
	s, err := hashObject(ctx, v.st, r.key, buf)
	v.hashed.Add(s.size)
	v.p.add(a.Size)
	switch {
	case err != nil:
		v.unreadable.Add(1)
		v.p.line("unreadable %s (%s): %v", r.key, r.file, err)
	case r.check(s) != nil:
		v.digest.Add(1)
		v.p.line("digest     %s (%s): %v", r.key, r.file, r.check(s))
	}
}
