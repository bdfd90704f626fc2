package attach

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/signedurl"
)

// SigningKey is a key for the URLs the library signs itself (for storages
// without native signed URLs). Secret must be at least 32 random bytes; ID
// is 1 to 16 characters of [A-Za-z0-9_-].
type SigningKey struct {
	ID     string
	Secret []byte
}

// Options configure a Service. The zero value of every field is its
// default.
type Options struct {
	// Policy says which files may be stored. Default: DefaultPolicy().
	Policy *Policy

	// SigningKeys sign the URLs the library issues itself; the first signs,
	// all verify (for rotation). Required unless the storage signs URLs
	// natively (S3, Azure; see driver.Signer).
	SigningKeys []SigningKey

	// BaseURL is the absolute URL under which httpadapter serves the
	// library-signed blob endpoints, e.g. "https://api.example.com/v1/blob".
	// Required unless the storage signs URLs natively.
	BaseURL string

	// UploadExpiry is how long an upload ticket accepts bytes. Default 15m.
	UploadExpiry time.Duration
	// ConfirmGrace is how long after its expiry a ticket whose bytes
	// arrived in time can still be confirmed. Default 1h.
	ConfirmGrace time.Duration
	// DownloadExpiry is how long a signed download URL lives. Default 1h.
	DownloadExpiry time.Duration
	// TemporaryTTL is how long a temporary (persist: false) file lives
	// after confirmation. Default 24h.
	TemporaryTTL time.Duration
	// Retention keeps deleted files restorable (Service.Undelete) for this
	// long: Delete hides a file at once, but its rows and bytes stay until
	// a sweep removes them after the window (DeleteOptions.Purge skips
	// it). No URL serves a deleted file's bytes meanwhile. Default 0: Delete
	// removes rows and bytes at once.
	Retention time.Duration

	// Organisation: collections and attachments to records.

	// Sharing: public links and public upload.

	// PublicBaseURL is the absolute URL httpadapter's routes are mounted
	// under, e.g. "https://api.example.com/v1": public links and
	// public-read URLs start with it. Default: BaseURL without a final
	// "/blob" segment.
	PublicBaseURL string
	// PublicUpload enables anonymous uploads into one workspace under a
	// stricter policy. Default nil: disabled.
	PublicUpload *PublicUploadOptions

	// Processing: scanning, previews, background work, the janitor.

	// Scanner, when set, checks every confirmed version for malware:
	// confirm commits the version as processing together with a durable
	// job, and a Worker streams the bytes to the scanner. Infected
	// content makes the file rejected (code conflict, the reason naming
	// the signature); its bytes are kept, quarantined, and never served.
	// Default nil: no scanning.
	Scanner driver.Scanner
	// ScanTimeout bounds one scan. Default 5m.
	ScanTimeout time.Duration
	// ScanFailOpen makes a version the scanner gave no verdict on (an
	// error, a timeout) ready, unscanned, with a warning logged. Default
	// false: fail closed (retried with backoff, then the file is failed).
	ScanFailOpen bool
	// Processors run in order on every confirmed version, after the scan,
	// in a Worker; the file becomes ready when all succeed. Setting any
	// makes confirm answer processing. Default none.
	Processors []Processor
	// OnReady, OnRejected and OnDeleted are called by a Worker, never on
	// the request path, after a file became ready, rejected or failed
	// (OnRejected; the file's Status tells which) or was deleted. Each
	// call is a durable job: bounded by WorkerOptions.HookTimeout,
	// retried on error or panic, so it may repeat and must be idempotent.
	// Default nil: no call.
	OnReady    func(ctx context.Context, f *File) error
	OnRejected func(ctx context.Context, f *File) error
	OnDeleted  func(ctx context.Context, f *File) error
	// OrphanGrace is how old an object no row references must be before
	// Sweep removes it. Default 24h; negative: orphans are kept.
	OrphanGrace time.Duration
	// Previewer renders thumbnails (package preview: preview.New(nil)).
	// Default nil: no thumbnails; Thumbnail answers nil for every file.
	Previewer driver.Previewer
	// ThumbnailSizes are the widths and heights Thumbnail accepts, each
	// 1 to 4096. Default DefaultThumbnailSizes(): 64, 256 and 1024.
	ThumbnailSizes []int
	// ThumbnailWorkers bounds how many thumbnails this Service renders at
	// once; other first requests wait for a turn. Default
	// runtime.GOMAXPROCS(0), at most 4.
	ThumbnailWorkers int
	// MaxThumbnailBytes bounds one encoded thumbnail, which is held in
	// memory between rendering and storing it. Default 16 MiB.
	MaxThumbnailBytes int64
	// EagerThumbnails are rendered ahead of the first request: with a
	// Previewer, confirm commits each version as processing and a Worker
	// renders them (GenerateThumbnails) before the file becomes ready.
	// Their sizes must be in ThumbnailSizes. Default none.
	EagerThumbnails []ThumbnailSpec

	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
}

// Service is the file lifecycle over a storage and a metadata store. It is
// safe for concurrent use; several Services (in several processes) may
// share one storage and store.
type Service struct {
	storage driver.Storage
	store   driver.MetaStore
	// putSigner and getSigner sign natively, or are nil when the library
	// signs that method's URLs itself.
	putSigner, getSigner driver.Signer
	urls                 *signedurl.Signer
	opts                 Options
	policy               Policy
	log                  *slog.Logger
	owned                bool // Close closes storage and store (Open)
	thumbs               *thumbnails
}

// New returns a Service over storage and store. It does not take ownership
// of them; close them after the Service is no longer used.
func New(storage driver.Storage, store driver.MetaStore, opts *Options) (*Service, error) {
	if storage == nil || store == nil {
		return nil, errors.New("attach: New needs a storage and a metadata store")
	}
	s := &Service{storage: storage, store: store}
	if opts != nil {
		s.opts = *opts
	}
	o := &s.opts
	if o.Policy != nil {
		s.policy = *o.Policy
	} else {
		s.policy = DefaultPolicy()
	}
	defaultDuration(&o.UploadExpiry, 15*time.Minute)
	defaultDuration(&o.ConfirmGrace, time.Hour)
	defaultDuration(&o.DownloadExpiry, time.Hour)
	defaultDuration(&o.TemporaryTTL, 24*time.Hour)
	defaultDuration(&o.ScanTimeout, 5*time.Minute)
	if o.OrphanGrace == 0 {
		o.OrphanGrace = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s.log = o.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := s.initThumbnails(); err != nil {
		return nil, err
	}
	if sg, ok := storage.(driver.Signer); ok {
		if canSign(sg, "PUT") {
			s.putSigner = sg
		}
		if canSign(sg, "GET") {
			s.getSigner = sg
		}
	}
	if err := s.initSharing(); err != nil {
		return nil, err
	}
	if len(o.SigningKeys) > 0 {
		keys := make([]signedurl.Key, len(o.SigningKeys))
		for i, k := range o.SigningKeys {
			keys[i] = signedurl.Key{ID: k.ID, Secret: k.Secret}
		}
		urls, err := signedurl.New(keys)
		if err != nil {
			return nil, fmt.Errorf("attach: %w", err)
		}
		s.urls = urls
	}
	if s.putSigner == nil || s.getSigner == nil {
		if s.urls == nil {
			return nil, errors.New("attach: the storage cannot sign URLs, so Options.SigningKeys is required")
		}
		if !strings.HasPrefix(o.BaseURL, "http://") && !strings.HasPrefix(o.BaseURL, "https://") {
			return nil, fmt.Errorf("attach: Options.BaseURL must be an absolute http(s) URL, got %q", o.BaseURL)
		}
		o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	}
	return s, nil
}

// canSign asks a Signer for a throwaway URL of one method: signing is a
// local computation, and a storage that cannot sign (memory, local disk,
// an emulator without credentials; Azure without its account key for
// downloads) answers driver.ErrUnimplemented, so the library signs those
// URLs instead and httpadapter serves them.
func canSign(sg driver.Signer, method string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o := &driver.SignOptions{Method: method, Expiry: time.Minute, ContentType: "application/octet-stream", ContentLength: 1}
	if method == "GET" {
		o.ContentLength, o.ContentDisposition = 0, "attachment"
	}
	_, err := sg.SignedURL(ctx, "attachkit-probe", o)
	return !errors.Is(err, driver.ErrUnimplemented)
}

func defaultDuration(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Policy returns the policy the Service enforces.
func (s *Service) Policy() Policy { return s.policy }

// Ping checks that the storage and the metadata store answer.
func (s *Service) Ping(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return wrap(err, "ping metadata")
	}
	if p, ok := s.storage.(driver.Pinger); ok {
		if err := p.Ping(ctx); err != nil {
			return wrap(err, "ping storage")
		}
	}
	return nil
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// UploadRequest asks for an upload ticket.
type UploadRequest struct {
	FileName     string
	MIMEType     string
	Size         int64
	Title        string
	Persist      *bool // default true
	CollectionID string
	Tags         []string
	Metadata     json.RawMessage
}

// Bounds on client-supplied fields.
const (
	maxTags         = 64
	maxTagBytes     = 128
	maxMetadataSize = 16 << 10
)

// RequestUpload validates a declared upload against the policy, records a
// pending file and ticket, and returns where to PUT the bytes. Nothing is
// trusted yet: Confirm verifies what actually arrived.
func (s *Service) RequestUpload(ctx context.Context, scope Scope, req UploadRequest) (*Upload, error) {
	d, err := s.draftFile(ctx, scope, req.FileName, req.CollectionID,
		func(p *Policy) (string, int64, error) { return checkDeclared(p, req.MIMEType, req.Size) })
	if err != nil {
		return nil, err
	}
	_, up, err := s.createPending(ctx, scope, d.name, d.mimeType, req.Size, d.maxSize,
		req.Title, req.CollectionID, req.Tags, req.Metadata, req.Persist)
	if err != nil {
		return nil, err
	}
	t, err := s.ticket(ctx, up)
	if t != nil {
		t.FileLimits = d.policy.Limits()
	}
	return t, err
}

// fileDraft is what a new file's upload is checked into before anything
// is recorded.
type fileDraft struct {
	name     string  // the cleaned file name
	policy   *Policy // the target collection's policy, or the service's
	mimeType string  // the declared type ("" for a stream to be sniffed)
	maxSize  int64   // the limit for that type
}

// draftFile checks what every new file's upload starts with: the scope,
// the file name, the target collection, and (with check, against that
// collection's policy) the declared type and size.
func (s *Service) draftFile(ctx context.Context, scope Scope, fileName, collectionID string,
	check func(*Policy) (string, int64, error)) (*fileDraft, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	name, err := CleanFileName(fileName)
	if err != nil {
		return nil, err
	}
	if _, err := cleanCollectionID(collectionID); err != nil {
		return nil, err
	}
	policy, err := s.collectionPolicy(ctx, scope, collectionID)
	if err != nil {
		return nil, err
	}
	mimeType, maxSize, err := check(policy)
	if err != nil {
		return nil, err
	}
	return &fileDraft{name: name, policy: policy, mimeType: mimeType, maxSize: maxSize}, nil
}

// declaredUpload checks a presigned upload's declared type and size
// against the policy and returns the type and its size limit.
func (s *Service) declaredUpload(declared string, size int64) (string, int64, error) {
	return checkDeclared(&s.policy, declared, size)
}

// checkDeclared checks a declared type and size against a policy.
func checkDeclared(p *Policy, declared string, size int64) (string, int64, error) {
	mimeType := baseType(declared)
	if mimeType == "" {
		return "", 0, errorf(CodeInvalidRequest, "mimeType %q is not a valid media type", declared)
	}
	if size <= 0 {
		return "", 0, errorf(CodeInvalidRequest, "fileSize must be a positive number of bytes")
	}
	maxSize, ok := p.Allow(mimeType)
	if !ok {
		return "", 0, typeNotAllowedBy(p, mimeType)
	}
	if maxSize > 0 && size > maxSize {
		return "", 0, tooLarge(maxSize, size)
	}
	return mimeType, maxSize, nil
}

func (s *Service) typeNotAllowed(mimeType string) *Error {
	return typeNotAllowedBy(&s.policy, mimeType)
}

func typeNotAllowedBy(p *Policy, mimeType string) *Error {
	return &Error{Code: CodeInvalidFileType, Message: fmt.Sprintf("type %s is not allowed", mimeType),
		Details: map[string]any{"allowedTypes": p.Limits().AllowedTypes}}
}

// createPending records a new pending file and its first ticket (the
// caller has checked type and size); no URL exists before this row.
func (s *Service) createPending(ctx context.Context, scope Scope, name, mimeType string, size, maxSize int64,
	title, collection string, tags []string, metadata json.RawMessage, persist *bool) (*driver.FileRecord, *driver.UploadRecord, error) {
	f, err := s.newFileRecord(scope, name, title, collection, tags, metadata, persist)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.collectionPolicy(ctx, scope, f.CollectionID); err != nil {
		return nil, nil, err // unknown or foreign collection
	}
	up := s.newTicket(scope, f.ID, 1, 0, name, mimeType, size, maxSize, s.opts.UploadExpiry)
	if err := s.store.CreateUpload(ctx, f, up); err != nil {
		return nil, nil, wrap(err, "create upload")
	}
	return f, up, nil
}

func (s *Service) newFileRecord(scope Scope, name, title, collection string, tags []string, metadata json.RawMessage, persist *bool) (*driver.FileRecord, error) {
	tags, err := cleanTags(tags)
	if err != nil {
		return nil, err
	}
	if metadata, err = cleanMetadata(metadata); err != nil {
		return nil, err
	}
	if collection, err = cleanCollectionID(collection); err != nil {
		return nil, err
	}
	if title == "" {
		title = titleOf(name)
	} else if err := checkTitle(title); err != nil {
		return nil, err
	}
	now := s.now()
	return &driver.FileRecord{
		Workspace: scope.Workspace, ID: newID("file"), FileName: name, Title: title,
		Status: StatusPending, Source: string(SourceUpload), Owner: scope.User,
		CollectionID: collection, Tags: tags, Metadata: metadata, AccessControl: AccessPrivate,
		Persist: persist == nil || *persist, CreatedAt: now, UpdatedAt: now,
	}, nil
}

func cleanTags(tags []string) ([]string, error) {
	if len(tags) > maxTags {
		return nil, errorf(CodeInvalidRequest, "at most %d tags", maxTags)
	}
	out := []string{}
	seen := map[string]bool{}
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" || seen[t] {
			continue
		}
		if len(t) > maxTagBytes || !utf8.ValidString(t) || strings.ContainsFunc(t, func(r rune) bool { return r < 0x20 || r == 0x7f || isBidiControl(r) }) {
			return nil, errorf(CodeInvalidRequest, "tag %.32q is too long or contains control characters", t)
		}
		seen[t] = true
		out = append(out, t)
	}
	return out, nil
}

func (s *Service) newTicket(scope Scope, fileID string, version, base int, name, mimeType string, size, maxSize int64, ttl time.Duration) *driver.UploadRecord {
	now := s.now()
	return &driver.UploadRecord{
		Workspace: scope.Workspace, ID: newID("upl"), FileID: fileID, Version: version, BaseVersion: base,
		StorageKey: storageKey(scope.Workspace, fileID, version), FileName: name, MIMEType: mimeType,
		Size: size, MaxSize: maxSize, Status: driver.UploadPending, CreatedBy: scope.User,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}
}

// ticket turns a stored ticket into the URL and headers a client uses.
func (s *Service) ticket(ctx context.Context, up *driver.UploadRecord) (*Upload, error) {
	headers := map[string]string{"Content-Type": up.MIMEType}
	var u string
	if s.putSigner != nil {
		if h, ok := s.putSigner.(driver.UploadHeaderer); ok {
			for k, v := range h.UploadHeaders() {
				headers[k] = v
			}
		}
		var err error
		u, err = s.putSigner.SignedURL(ctx, up.StorageKey, &driver.SignOptions{Method: "PUT",
			Expiry: up.ExpiresAt.Sub(s.now()), ContentType: up.MIMEType, ContentLength: up.Size})
		if err != nil {
			return nil, wrap(err, "sign upload url")
		}
	} else {
		u = s.libraryURL(signedurl.Claims{Method: "PUT", Key: up.StorageKey, Expires: up.ExpiresAt,
			Size: up.Size, Type: up.MIMEType, Upload: up.ID})
	}
	return &Upload{ID: up.FileID, UploadID: up.ID, URL: u, Method: "PUT", Headers: headers,
		ExpiresAt: up.ExpiresAt.Truncate(time.Second), Key: up.StorageKey, FileLimits: s.policy.Limits()}, nil
}

// File returns a file's metadata.
func (s *Service) File(ctx context.Context, scope Scope, id string) (*File, error) {
	r, err := s.fileRecord(ctx, scope, id, rightView)
	if err != nil {
		return nil, err
	}
	return fileFromRecord(r), nil
}

// Status returns a file's processing state, with the reason of a
// rejection or failure.
func (s *Service) Status(ctx context.Context, scope Scope, id string) (*StatusInfo, error) {
	r, err := s.fileRecord(ctx, scope, id, rightView)
	if err != nil {
		return nil, err
	}
	info := &StatusInfo{ID: r.ID, Status: r.Status}
	if r.Status == StatusRejected || r.Status == StatusFailed {
		info.Error = &StatusError{Code: Code(r.StatusCode), Message: r.StatusReason}
	}
	return info, nil
}

// DeleteOptions control Delete.
type DeleteOptions struct {
	// Purge removes rows and bytes at once even when Options.Retention
	// keeps deleted files.
	Purge bool
}

// Delete removes a file: it is invisible at once (no URL issued earlier
// serves its bytes), then its bytes and rows are removed. The row is
// marked first and the objects removed after, so a crash never leaves a
// visible row pointing at nothing; whatever a crash leaves behind stays
// invisible and is swept later. With Options.Retention the file stays
// restorable (Undelete) and its bytes are kept until the window ends,
// unless opts.Purge is set.
func (s *Service) Delete(ctx context.Context, scope Scope, id string, opts *DeleteOptions) error {
	f, err := s.fileRecord(ctx, scope, id, rightDelete)
	if err != nil {
		return err
	}
	// Finish the state change even if the caller goes away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := s.store.MarkDeleted(ctx, scope.Workspace, id, s.now()); err != nil {
		return wrap(err, "mark deleted")
	}
	s.enqueueDeleted(ctx, f) // Options.OnDeleted, run by a Worker
	if s.opts.Retention > 0 && (opts == nil || !opts.Purge) {
		return nil // kept for the retention window, invisible
	}
	return s.purge(ctx, scope.Workspace, id)
}

// purge removes a deleted file's objects and then its rows.
func (s *Service) purge(ctx context.Context, workspace, id string) error {
	keys, err := s.store.FileKeys(ctx, workspace, id)
	if err != nil {
		return wrap(err, "file keys")
	}
	for _, k := range keys {
		if err := s.storage.Delete(ctx, k); err != nil && !errors.Is(err, driver.ErrNotFound) {
			// The row stays marked deleted (invisible); a later sweep retries.
			s.log.WarnContext(ctx, "attach: delete object failed; will be swept", "key", k, "err", err)
			return nil
		}
	}
	if err := s.store.PurgeFile(ctx, workspace, id); err != nil && !errors.Is(err, driver.ErrNotFound) {
		s.log.WarnContext(ctx, "attach: purge rows failed; will be swept", "file", id, "err", err)
	}
	return nil
}

type right int

const (
	rightView right = iota
	rightEdit
	rightDelete
)

// fileRecord loads a file of the scope's workspace and checks the acting
// user's right on it.
func (s *Service) fileRecord(ctx context.Context, scope Scope, id string, need right) (*driver.FileRecord, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	if err := checkID("file", id); err != nil {
		return nil, err
	}
	r, err := s.store.File(ctx, scope.Workspace, id)
	if err == nil && expired(r, s.now()) {
		err = fmt.Errorf("file %s expired: %w", id, driver.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(err, "load file")
	}
	if !allowed(scope, r, need) {
		return nil, errorf(CodeForbidden, "you do not have permission to %s this file", [...]string{"view", "edit", "delete"}[need])
	}
	return r, nil
}

func allowed(scope Scope, r *driver.FileRecord, need right) bool {
	if scope.Admin() || scope.User == r.Owner {
		return true
	}
	list := [...][]string{r.ACL.View, r.ACL.Edit, r.ACL.Delete}[need]
	if need == rightView && r.AccessControl == AccessPublicRead {
		return true
	}
	for _, p := range list {
		if p == "workspace" || p == "user:"+scope.User {
			return true
		}
	}
	return false
}

// checkScope validates a workspace name; workspaces become the first
// segment of storage keys, so they are restricted to [A-Za-z0-9._-].
func checkScope(scope Scope) error {
	ws := scope.Workspace
	if ws == "" || len(ws) > 64 || ws == "." || ws == ".." {
		return errorf(CodeUnauthorized, "no workspace in scope")
	}
	for i := 0; i < len(ws); i++ {
		c := ws[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errorf(CodeUnauthorized, "invalid workspace in scope")
		}
	}
	if len(scope.User) > 256 || strings.ContainsFunc(scope.User, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errorf(CodeUnauthorized, "invalid user in scope")
	}
	return nil
}

func newID(prefix string) string {
	return prefix + "_" + uuid.Must(uuid.NewV7()).String()
}

// checkID validates an id's shape (prefix and UUID) before any lookup.
func checkID(prefix, id string) error {
	rest, ok := strings.CutPrefix(id, prefix+"_")
	if !ok || len(rest) != 36 {
		return errorf(CodeInvalidRequest, "%q is not a valid %s id", truncate(id, 64), prefix)
	}
	if _, err := uuid.Parse(rest); err != nil {
		return errorf(CodeInvalidRequest, "%q is not a valid %s id", truncate(id, 64), prefix)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// storageKey is {workspace}/{fileID}/v{n}/{random}: library-generated, never
// derived from a user's file name.
func storageKey(workspace, fileID string, version int) string {
	var b [12]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return fmt.Sprintf("%s/%s/v%d/%s", workspace, fileID, version, hex.EncodeToString(b[:]))
}
