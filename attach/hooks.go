package attach

import (
	"context"
	"encoding/json"

	"github.com/attachkit/attachkit/driver"
)

// hookEvent names the hook a hook job calls.
type hookEvent string

const (
	hookReady    hookEvent = "ready"
	hookRejected hookEvent = "rejected"
	hookDeleted  hookEvent = "deleted"
)

// hookPayload is a hook job's payload: the event and the file as it was.
type hookPayload struct {
	Event hookEvent         `json:"event"`
	File  driver.FileRecord `json:"file"`
}

func (s *Service) hook(e hookEvent) func(context.Context, *File) error {
	switch e {
	case hookReady:
		return s.opts.OnReady
	case hookRejected:
		return s.opts.OnRejected
	case hookDeleted:
		return s.opts.OnDeleted
	}
	return nil
}

// hookJob returns the job that calls e's hook with f.
func (s *Service) hookJob(e hookEvent, f *driver.FileRecord) (*driver.JobRecord, error) {
	b, err := json.Marshal(hookPayload{Event: e, File: *f})
	if err != nil {
		return nil, err
	}
	return &driver.JobRecord{ID: newID("job"), Workspace: f.Workspace, FileID: f.ID, Version: f.Version,
		Kind: driver.JobHook, Payload: b, CreatedAt: s.now()}, nil
}

// hookRun runs a hook job: the hook, bounded by HookTimeout. An error is
// retried like any job's.
func (w *Worker) hookRun(ctx context.Context, j *driver.JobRecord) error {
	var p hookPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		w.svc.log.ErrorContext(ctx, "attach: unreadable hook job dropped", "job", j.ID, "err", err)
		return w.complete(ctx, j)
	}
	fn := w.svc.hook(p.Event)
	if fn == nil {
		return w.complete(ctx, j)
	}
	hctx, cancel := context.WithTimeout(ctx, w.opts.HookTimeout)
	defer cancel()
	step := "On" + string(p.Event) + " hook"
	if err := w.protect(hctx, step, func() error { return fn(hctx, fileFromRecord(&p.File)) }); err != nil {
		return &stepError{step: step, err: err}
	}
	return w.complete(ctx, j)
}

// enqueueDeleted records the OnDeleted hook of a file just marked deleted.
// A failure is logged: the deletion stands.
func (s *Service) enqueueDeleted(ctx context.Context, f *driver.FileRecord) {
	if s.opts.OnDeleted == nil {
		return
	}
	f.DeletedAt = s.now()
	j, err := s.hookJob(hookDeleted, f)
	if err == nil {
		err = s.store.EnqueueJobs(ctx, []driver.JobRecord{*j})
	}
	if err != nil {
		s.log.ErrorContext(ctx, "attach: recording the OnDeleted hook failed", "file", f.ID, "err", err)
	}
}
