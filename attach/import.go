package attach

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// Resolver looks up the addresses of a host name. *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ImportOptions configure an Importer. The zero value of every field is
// its default.
type ImportOptions struct {
	// MaxSize caps the bytes one import fetches: a larger Content-Length is
	// refused before the body is read, and a longer body aborts the import
	// with nothing stored. Default: the policy's largest size
	// (Policy.Limits().MaxSize), or 1 GiB when the policy sets no cap. The
	// policy's per-type limits apply as well. An import into a collection
	// is cut at the collection's narrower limit, and one whose declared
	// Content-Type the collection does not allow stops before any byte is
	// stored.
	MaxSize int64

	// Timeout bounds one import, from connecting to the last byte.
	// Default 5m. Connecting, the TLS handshake and waiting for the
	// response headers have their own bounds (10s, 10s, 30s).
	Timeout time.Duration

	// Concurrency is how many imports fetch at once. Default 4.
	Concurrency int
	// Queue is how many further accepted imports may wait for a fetch
	// slot; beyond that Import returns an error matching ErrRateLimited.
	// Default 64.
	Queue int

	// AllowPorts lists the ports URLs may name besides their scheme's
	// default (80 for http, 443 for https). Default: none.
	AllowPorts []int

	// AllowAddr is asked about every destination the address rules refuse
	// (loopback, private, link-local including 169.254.169.254, CGNAT,
	// ULA, multicast, unspecified, ...): for IP-literal URLs, and at
	// connect time for every address a name resolves to. Returning true
	// allows it. Use it to let imports reach one internal origin
	// explicitly. Default nil: all of them are refused.
	AllowAddr func(netip.AddrPort) bool

	// Resolver looks up host names for the default client. Default
	// net.DefaultResolver.
	Resolver Resolver

	// Client fetches the URLs. Default: a client whose dialer checks every
	// destination address at connect time (see AllowAddr), with no proxy,
	// no transparent decompression, bounded response headers and the
	// timeouts above. A custom client (an egress proxy, say) must make
	// its own destination checks; the URL, redirect, size and time checks
	// still apply, and its CheckRedirect is replaced.
	Client *http.Client

	// UserAgent is sent with every request. Default "Attachkit-Import/1".
	UserAgent string
}

// ImportRequest asks for a file fetched from a URL.
type ImportRequest struct {
	// URL is an absolute http or https URL.
	URL string
	// FileName names the file. Default: the last segment of the URL's
	// path, or "download".
	FileName     string
	Title        string
	CollectionID string
	Tags         []string
}

// Importer fetches files from URLs in the background, through the same
// lifecycle and checks as every other upload, with protection against
// server-side request forgery: only http and https, no credentials in
// URLs, default ports unless allowed, at most 5 redirects each checked
// again, and every destination address checked at connect time so that
// no connection is ever made to a loopback, private, link-local,
// CGNAT, unique-local, multicast or otherwise non-public address unless
// ImportOptions.AllowAddr allows it.
//
// An Importer runs at most Concurrency fetches at once in goroutines that
// exist only while imports do. Close (or Shutdown) it before the Service's
// storage and store are closed.
type Importer struct {
	svc      *Service
	opts     ImportOptions
	client   *http.Client
	limit    int64
	slots    chan struct{}
	resolver Resolver

	mu     sync.Mutex
	closed bool
	jobs   map[*importJob]struct{}
	wg     sync.WaitGroup
}

// importJob is one accepted import.
type importJob struct {
	cancel context.CancelCauseFunc
	scope  Scope
	url    *url.URL
	file   *driver.FileRecord
	up     *driver.UploadRecord
	// limit caps the fetched bytes: the Importer's limit, narrowed by the
	// target collection's policy.
	limit int64
	// narrowed is the target collection's policy, nil without one: a
	// declared Content-Type it refuses stops the import before any byte
	// is stored.
	narrowed *Policy
}

// errImportClosed is the cancellation cause of imports cut short by Close.
var errImportClosed = errors.New("attach: importer closed")

// NewImporter returns an Importer that stores what it fetches through svc.
// nil options mean defaults.
func NewImporter(svc *Service, opts *ImportOptions) (*Importer, error) {
	if svc == nil {
		return nil, errors.New("attach: NewImporter needs a Service")
	}
	imp := &Importer{svc: svc, jobs: map[*importJob]struct{}{}}
	if opts != nil {
		imp.opts = *opts
		imp.opts.AllowPorts = append([]int(nil), opts.AllowPorts...)
	}
	o := &imp.opts
	for _, p := range o.AllowPorts {
		if p <= 0 || p > math.MaxUint16 {
			return nil, fmt.Errorf("attach: ImportOptions.AllowPorts: %d is not a port", p)
		}
	}
	if o.MaxSize < 0 || o.Timeout < 0 || o.Concurrency < 0 || o.Queue < 0 {
		return nil, errors.New("attach: ImportOptions sizes, counts and durations must not be negative")
	}
	defaultDuration(&o.Timeout, 5*time.Minute)
	if o.Concurrency == 0 {
		o.Concurrency = 4
	}
	if o.Queue == 0 {
		o.Queue = 64
	}
	if o.UserAgent == "" {
		o.UserAgent = "Attachkit-Import/1"
	}
	imp.limit = svc.policy.Limits().MaxSize
	switch {
	case o.MaxSize > 0 && (imp.limit == 0 || o.MaxSize < imp.limit):
		imp.limit = o.MaxSize
	case imp.limit == 0:
		imp.limit = 1 << 30
	}
	imp.resolver = o.Resolver
	if imp.resolver == nil {
		imp.resolver = net.DefaultResolver
	}
	if o.Client != nil {
		c := *o.Client
		imp.client = &c
	} else {
		imp.client = imp.newImportClient()
	}
	imp.client.CheckRedirect = imp.checkRedirect
	imp.slots = make(chan struct{}, o.Concurrency)
	return imp, nil
}

// Import checks req, records a file in status processing with source
// "import", and fetches the URL in the background; it returns the
// processing file at once. The file then becomes ready, rejected with
// the reason (Service.Status reports both): a refused destination or
// redirect, an error answer, a size over the limit, or any check every
// upload goes through (detected type, policy); or failed when the fetch
// itself failed (network, timeout, shutdown). A URL that is refused
// outright (scheme, credentials, port, an IP literal that is not public)
// returns an error matching ErrInvalidRequest and records nothing; so does
// a bad file name. When Concurrency+Queue imports are already under way
// the error matches ErrRateLimited.
func (imp *Importer) Import(ctx context.Context, scope Scope, req ImportRequest) (*File, error) {
	s := imp.svc
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	if req.URL == "" {
		return nil, errorf(CodeInvalidRequest, "url is required")
	}
	u, err := imp.checkURL(req.URL)
	if err != nil {
		return nil, err
	}
	name := req.FileName
	if name == "" {
		name = nameFromURL(u)
	}
	if name, err = CleanFileName(name); err != nil {
		return nil, err
	}
	f, err := s.newFileRecord(scope, name, req.Title, req.CollectionID, req.Tags, nil, nil)
	if err != nil {
		return nil, err
	}
	p, err := s.collectionPolicy(ctx, scope, f.CollectionID)
	if err != nil {
		return nil, err // unknown or foreign collection
	}
	limit := imp.limit
	if m := p.Limits().MaxSize; m > 0 && m < limit {
		limit = m
	}
	var narrowed *Policy
	if f.CollectionID != "" {
		narrowed = p
	}
	f.Status, f.Source = StatusProcessing, string(SourceImport)
	// The ticket outlives the longest an import may wait (Timeout) and
	// run (Timeout).
	up := s.newTicket(scope, f.ID, 1, 0, name, "", -1, s.policy.Limits().MaxSize,
		max(s.opts.UploadExpiry, 2*imp.opts.Timeout))

	jctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	j := &importJob{cancel: cancel, scope: scope, url: u, file: f, up: up, limit: limit, narrowed: narrowed}
	if err := imp.admit(j); err != nil {
		cancel(nil)
		return nil, err
	}
	if err := s.store.CreateUpload(ctx, f, up); err != nil {
		imp.done(j)
		return nil, wrap(err, "create upload")
	}
	go imp.run(jctx, j)
	return fileFromRecord(f), nil
}

// admit counts j in, unless the Importer is closed or full.
func (imp *Importer) admit(j *importJob) error {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	switch {
	case imp.closed:
		return &Error{Code: CodeRateLimited, Message: "the server is shutting down; retry the import later",
			Details: map[string]any{"retryAfter": 5}}
	case len(imp.jobs) >= imp.opts.Concurrency+imp.opts.Queue:
		return &Error{Code: CodeRateLimited, Message: "too many imports are under way; retry later",
			Details: map[string]any{"retryAfter": 5}}
	}
	imp.jobs[j] = struct{}{}
	imp.wg.Add(1)
	return nil
}

func (imp *Importer) done(j *importJob) {
	j.cancel(nil)
	imp.mu.Lock()
	delete(imp.jobs, j)
	imp.mu.Unlock()
	imp.wg.Done()
}

// run waits for a fetch slot, fetches and settles the file's state.
func (imp *Importer) run(ctx context.Context, j *importJob) {
	defer imp.done(j)
	wait := time.NewTimer(imp.opts.Timeout)
	defer wait.Stop()
	select {
	case imp.slots <- struct{}{}:
		defer func() { <-imp.slots }()
	case <-wait.C:
		imp.fail(ctx, j, &Error{Code: CodeRateLimited, Message: "too many imports were under way to start this one in time; import the url again"})
		return
	case <-ctx.Done():
		imp.fail(ctx, j, context.Cause(ctx))
		return
	}
	fctx, cancel := context.WithTimeout(ctx, imp.opts.Timeout)
	defer cancel()
	if err := imp.fetch(fctx, j); err != nil {
		if errors.Is(context.Cause(ctx), errImportClosed) {
			err = errImportClosed
		}
		imp.fail(ctx, j, err)
	}
}

// fetch streams the URL's body into the ticket's object and confirms it.
func (imp *Importer) fetch(ctx context.Context, j *importJob) error {
	s := imp.svc
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url.String(), nil)
	if err != nil {
		return errorf(CodeInvalidRequest, "url is not a valid URL")
	}
	req.Header.Set("User-Agent", imp.opts.UserAgent)
	req.Header.Set("Accept", "*/*")
	resp, err := imp.client.Do(req)
	if err != nil {
		return cmpOr(ctx.Err(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errorf(CodeInvalidRequest, "the url answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	if resp.ContentLength > j.limit {
		return tooLarge(j.limit, resp.ContentLength)
	}
	if ct := baseType(resp.Header.Get("Content-Type")); j.narrowed != nil && ct != "" && ct != "application/octet-stream" {
		if _, ok := j.narrowed.Allow(ct); !ok {
			return typeNotAllowedBy(j.narrowed, ct)
		}
	}
	w, err := s.writeObject(ctx, j.up.StorageKey, "", j.limit, false, resp.Body)
	if errors.Is(err, errTooLong) {
		return &Error{Code: CodeFileTooLarge, MaxSize: j.limit, Message: "the remote file is larger than the limit"}
	}
	if err != nil {
		return cmpOr(ctx.Err(), err)
	}
	if w.size == 0 {
		s.deleteQuietly(ctx, j.up.StorageKey)
		return errorf(CodeInvalidRequest, "the url answered an empty body")
	}
	// The bytes are in: finish the state change even if the import is
	// being cancelled.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	if err := s.recordWrite(sctx, j.up, w); err != nil {
		if CodeOf(err) == CodeConflict {
			// A confirm settled the ticket while the bytes were written: its
			// outcome stands, and so do the bytes it may have committed.
			_, err = s.settled(sctx, j.scope, j.up)
			return err
		}
		s.deleteQuietly(sctx, j.up.StorageKey)
		return err
	}
	j.up.Size, j.up.WrittenSize, j.up.WrittenDigest, j.up.WrittenMD5 = w.size, w.size, w.digest, w.md5
	_, err = s.confirmUpload(sctx, j.scope, j.file, j.up, SourceImport)
	return err
}

// fail records why an import did not produce a file, and any stored
// bytes are removed: the file becomes rejected when the URL or its content
// was refused, and failed when the fetch itself failed (the network, a
// timeout, a shutdown; see importFault). A ticket that is no longer
// pending (confirm already rejected it, or the file was deleted meanwhile)
// is left as it is.
func (imp *Importer) fail(ctx context.Context, j *importJob, cause error) {
	s := imp.svc
	code, msg := imp.importFailure(cause)
	s.log.InfoContext(ctx, "attach: import failed", "file", j.file.ID, "host", j.url.Hostname(), "code", code, "err", cause)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	settle := s.store.RejectUpload
	if importFault(cause) {
		settle = s.store.FailUpload
	}
	err := settle(ctx, j.scope.Workspace, j.up.ID, string(code), msg, s.now())
	switch {
	case err == nil:
		s.deleteQuietly(ctx, j.up.StorageKey)
	case !errors.Is(err, driver.ErrPrecondition) && !errors.Is(err, driver.ErrNotFound):
		s.log.WarnContext(ctx, "attach: recording a failed import failed", "file", j.file.ID, "err", err)
	}
}

// importFault reports whether an import failed for a fault rather than a
// verdict on the URL or its content: a network error, a name that did not
// resolve, a timeout, a shutdown, no fetch slot in time.
func importFault(err error) bool {
	var (
		e       *Error
		refused *refusedAddrError
	)
	switch {
	case errors.As(err, &e):
		return e.Code == CodeInternal || e.Code == CodeRateLimited
	case errors.As(err, &refused):
		return false
	}
	return true
}

// Shutdown stops accepting imports and waits for those under way to
// finish. If ctx ends first, it cancels them (their files become failed
// with a reason), waits for that, and returns ctx's error.
func (imp *Importer) Shutdown(ctx context.Context) error {
	imp.mu.Lock()
	imp.closed = true
	imp.mu.Unlock()
	done := make(chan struct{})
	go func() {
		imp.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		imp.client.CloseIdleConnections()
		return nil
	case <-ctx.Done():
	}
	imp.cancelAll()
	<-done
	imp.client.CloseIdleConnections()
	return ctx.Err()
}

// Close stops accepting imports, cancels those under way (their files
// become failed with a reason) and waits for them to wind down.
func (imp *Importer) Close() error {
	imp.mu.Lock()
	imp.closed = true
	imp.mu.Unlock()
	imp.cancelAll()
	imp.wg.Wait()
	imp.client.CloseIdleConnections()
	return nil
}

func (imp *Importer) cancelAll() {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	for j := range imp.jobs {
		j.cancel(errImportClosed)
	}
}

// checkSource validates PutRequest.Source; "" is SourceUpload.
func checkSource(src Source) (Source, error) {
	switch src {
	case "":
		return SourceUpload, nil
	case SourceUpload, SourceImport, SourceGenerated, SourceEdited:
		return src, nil
	}
	return "", errorf(CodeInvalidRequest, "source %.32q is not one of upload, import, generated, edited", src)
}
