// Package faults wraps a driver.Storage and a driver.MetaStore so tests
// can make a chosen call fail: the Nth call of an operation, a write or a
// read after N bytes, a call that stalls until its context ends, or a call
// whose context is cancelled under it. The wrapped components are real;
// only the fault is made up, because a real disk or database cannot be
// told to fail on cue.
//
// An Injector holds the armed faults. Each fault fires once (or on every
// matching call, with Every) and is then spent, so a test can arm a fault,
// run an operation, check the invariants, and retry the operation on the
// now-healthy component.
package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// ErrInjected is the error an injected failure returns unless the Fault
// names another.
var ErrInjected = errors.New("faults: injected failure")

// Kind is what a fault does to the call it hits.
type Kind int

// Kinds of fault.
const (
	// Fail returns the error at once, before the call reaches the
	// component.
	Fail Kind = iota
	// FailAfterBytes lets Bytes bytes through a writer or reader, then
	// fails it (a write fails, and Close reports the error; a read
	// returns the error).
	FailAfterBytes
	// Stall blocks the call until its context ends (or Fault.For
	// passes), then fails it: a component that hangs.
	Stall
	// Cancel cancels the call's context and then makes the call, so the
	// component sees a cancelled context: a client or deadline gone
	// mid-operation.
	Cancel
	// FailAfter makes the call, then reports the error anyway: the
	// change may have happened but the caller is told it failed (a lost
	// acknowledgement).
	FailAfter
)

func (k Kind) String() string {
	switch k {
	case Fail:
		return "fail"
	case FailAfterBytes:
		return "fail-after-bytes"
	case Stall:
		return "stall"
	case Cancel:
		return "cancel"
	case FailAfter:
		return "fail-after"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Fault is one armed failure.
type Fault struct {
	// Op is the method it hits: a driver.Storage or driver.MetaStore
	// method name ("NewWriter", "Delete", "CommitUpload", ...).
	Op string
	// Nth is which matching call it hits, counted from when it was
	// armed: 1 (or 0) is the next one.
	Nth int
	// Kind is what it does.
	Kind Kind
	// Bytes is where a FailAfterBytes fault cuts the stream.
	Bytes int64
	// Err is returned instead of ErrInjected when set.
	Err error
	// For bounds a Stall (0: until the context ends), for callers that
	// give the call a long deadline of their own.
	For time.Duration
	// Every makes the fault hit every matching call from the Nth on,
	// until Clear.
	Every bool
}

func (f Fault) String() string {
	return fmt.Sprintf("%s on %s #%d", f.Kind, f.Op, max(f.Nth, 1))
}

func (f *Fault) err() error {
	if f.Err != nil {
		return f.Err
	}
	return ErrInjected
}

// stall blocks until ctx ends or f.For passes.
func (f *Fault) stall(ctx context.Context) error {
	if f.For <= 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	t := time.NewTimer(f.For)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("%w: stalled for %s", context.DeadlineExceeded, f.For)
	}
}

// Injector holds armed faults and counts what they hit. The zero value is
// ready; it is safe for concurrent use.
type Injector struct {
	mu    sync.Mutex
	armed []*armed
	calls map[string]int
	fired []Fault
}

type armed struct {
	Fault
	seen int
}

// Arm adds faults.
func (in *Injector) Arm(fs ...Fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, f := range fs {
		in.armed = append(in.armed, &armed{Fault: f})
	}
}

// Clear disarms every fault.
func (in *Injector) Clear() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.armed = nil
}

// Fired returns the faults that hit a call, in order.
func (in *Injector) Fired() []Fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Fault(nil), in.fired...)
}

// Calls returns how many calls of op went through the wrappers.
func (in *Injector) Calls(op string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.calls[op]
}

// hit counts a call of op and returns the fault that hits it, if any.
func (in *Injector) hit(op string) *Fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.calls == nil {
		in.calls = make(map[string]int)
	}
	in.calls[op]++
	for i, a := range in.armed {
		if a.Op != op {
			continue
		}
		a.seen++
		if a.seen < max(a.Nth, 1) {
			continue
		}
		if !a.Every {
			in.armed = append(in.armed[:i:i], in.armed[i+1:]...)
		}
		in.fired = append(in.fired, a.Fault)
		f := a.Fault
		return &f
	}
	return nil
}

// call runs fn under the fault armed for op, if any. Faults that act on a
// stream (FailAfterBytes) are left to the caller: call returns them with
// a nil error without running fn.
func call[T any](ctx context.Context, in *Injector, op string, fn func(context.Context) (T, error)) (T, *Fault, error) {
	var zero T
	f := in.hit(op)
	if f == nil {
		v, err := fn(ctx)
		return v, nil, err
	}
	switch f.Kind {
	case Fail:
		return zero, f, f.err()
	case Stall:
		return zero, f, f.stall(ctx)
	case Cancel:
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		v, err := fn(cctx)
		return v, f, err
	case FailAfter:
		v, err := fn(ctx)
		if err != nil {
			return v, f, err
		}
		if c, ok := any(v).(io.Closer); ok {
			c.Close() // the caller never sees it
		}
		return zero, f, f.err()
	}
	v, err := fn(ctx)
	return v, f, err
}

// call0 is call for methods that return only an error.
func call0(ctx context.Context, in *Injector, op string, fn func(context.Context) error) error {
	_, _, err := call(ctx, in, op, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}
