package attach

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gabriel-vasile/mimetype"

	"github.com/attachkit/attachkit/driver"
)

// PublicUploadOptions enable anonymous uploads (Options.PublicUpload):
// anyone may ask for an upload ticket into one workspace (and optionally
// one collection), under a stricter policy. Nothing anonymous can read
// such a file back: it is private, owned by Owner, and the only anonymous
// answer about it is its id and status.
type PublicUploadOptions struct {
	// Workspace receives the files. Required.
	Workspace string
	// CollectionID, when set, is the collection the files are put in.
	CollectionID string
	// Policy is what anonymous uploads may be; the Service's own policy
	// applies too. Default: PublicUploadPolicy().
	Policy *Policy
	// Owner is recorded as the files' owner and the tickets' creator;
	// workspace administrators (and whoever the application acts as
	// Owner) see the files. Default "public-upload".
	Owner string
}

// PublicUploadPolicy is the default policy of public uploads: JPEG, PNG,
// GIF, WebP and PDF, at most 10 MB each.
func PublicUploadPolicy() Policy {
	p := Policy{MaxSize: 10 * MB}
	for _, t := range []string{"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"} {
		p.Types = append(p.Types, TypeRule{MIMEType: t})
	}
	return p
}

// PublicUploadRequest is what an anonymous client may declare.
type PublicUploadRequest struct {
	FileName string
	MIMEType string
	Size     int64
}

// initSharing checks and defaults the sharing options.
func (s *Service) initSharing() error {
	o := &s.opts
	if o.PublicBaseURL != "" {
		u := o.PublicBaseURL
		if len(u) < 8 || (u[:7] != "http://" && u[:8] != "https://") {
			return fmt.Errorf("attach: Options.PublicBaseURL must be an absolute http(s) URL, got %q", u)
		}
		for len(o.PublicBaseURL) > 0 && o.PublicBaseURL[len(o.PublicBaseURL)-1] == '/' {
			o.PublicBaseURL = o.PublicBaseURL[:len(o.PublicBaseURL)-1]
		}
	}
	if o.PublicUpload == nil {
		return nil
	}
	pu := *o.PublicUpload
	if err := checkScope(Scope{Workspace: pu.Workspace}); err != nil {
		return fmt.Errorf("attach: PublicUploadOptions.Workspace %q is not a valid workspace", pu.Workspace)
	}
	if _, err := cleanCollectionID(pu.CollectionID); err != nil {
		return fmt.Errorf("attach: PublicUploadOptions.CollectionID: %w", err)
	}
	if pu.Policy == nil {
		p := PublicUploadPolicy()
		pu.Policy = &p
	} else {
		p := *pu.Policy
		pu.Policy = &p
	}
	if pu.Owner == "" {
		pu.Owner = "public-upload"
	}
	if err := checkScope(Scope{Workspace: pu.Workspace, User: pu.Owner}); err != nil {
		return fmt.Errorf("attach: PublicUploadOptions.Owner %q is not a valid user", pu.Owner)
	}
	o.PublicUpload = &pu
	return nil
}

// PublicUploadEnabled reports whether Options.PublicUpload is set.
func (s *Service) PublicUploadEnabled() bool { return s.opts.PublicUpload != nil }

func (s *Service) publicUpload() (*PublicUploadOptions, Scope, error) {
	pu := s.opts.PublicUpload
	if pu == nil {
		return nil, Scope{}, errorf(CodeNotFound, "public upload is not enabled")
	}
	return pu, Scope{Workspace: pu.Workspace, User: pu.Owner}, nil
}

// RequestPublicUpload issues an anonymous upload ticket into the public
// upload workspace and collection. The declaration must meet both the
// public upload policy and the target collection's (the Service's when
// there is none); the ticket's fileLimits are their intersection, which
// also applies when the ticket is confirmed by Confirm. PUT the bytes to the ticket's URL, then call
// ConfirmPublicUpload with its UploadID. Disabled: CodeNotFound.
func (s *Service) RequestPublicUpload(ctx context.Context, req PublicUploadRequest) (*Upload, error) {
	pu, scope, err := s.publicUpload()
	if err != nil {
		return nil, err
	}
	name, err := CleanFileName(req.FileName)
	if err != nil {
		return nil, err
	}
	target, err := s.collectionPolicy(ctx, scope, pu.CollectionID)
	if err != nil {
		return nil, err
	}
	policy := intersectPolicy(*target, *pu.Policy)
	mimeType, maxSize, err := checkDeclared(&policy, req.MIMEType, req.Size)
	if err != nil {
		return nil, err
	}
	_, up, err := s.createPending(ctx, scope, name, mimeType, req.Size, maxSize, "", pu.CollectionID, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	t, err := s.ticket(ctx, up)
	if err != nil {
		return nil, err
	}
	t.FileLimits = policy.Limits()
	return t, nil
}

// ConfirmPublicUpload confirms an anonymous upload, named by the ticket's
// UploadID, with the checks of Confirm plus the public upload policy on
// the detected type. It answers only the file's id and status (and why it
// was rejected): nothing of the stored file is read back. A ticket that
// is not a public upload ticket is CodeNotFound, as is every ticket when
// public upload is disabled.
func (s *Service) ConfirmPublicUpload(ctx context.Context, uploadID string) (*StatusInfo, error) {
	pu, scope, err := s.publicUpload()
	if err != nil {
		return nil, err
	}
	if err := checkID("upl", uploadID); err != nil {
		return nil, err
	}
	up, err := s.store.Upload(ctx, scope.Workspace, uploadID)
	if err == nil && (up.CreatedBy != pu.Owner || up.BaseVersion != 0) {
		err = fmt.Errorf("upload %s is not a public upload: %w", uploadID, driver.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(err, "load upload")
	}
	f, err := s.store.File(ctx, scope.Workspace, up.FileID)
	if err != nil {
		return nil, wrap(err, "load file")
	}
	// The state change must finish even if the client disconnects.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	file, err := s.confirmUpload(ctx, scope, f, up, SourceUpload)
	if err != nil {
		return nil, err
	}
	return &StatusInfo{ID: file.ID, Status: file.Status}, nil
}

// checkPublicType rejects a pending public upload whose stored bytes are
// of a type the public upload policy p does not allow. Confirm and
// ConfirmPublicUpload both call it (in confirmUpload) for public tickets.
func (s *Service) checkPublicType(ctx context.Context, scope Scope, p *Policy, up *driver.UploadRecord) error {
	head, err := s.readHead(ctx, up.StorageKey, headSize)
	if errors.Is(err, driver.ErrNotFound) || CodeOf(err) == CodeNotFound {
		return nil // confirm answers upload_incomplete
	}
	if err != nil {
		return err
	}
	detected := baseType(mimetype.Detect(head).String())
	if _, ok := p.Allow(detected); ok {
		return nil
	}
	return s.reject(ctx, scope, up, &Error{Code: CodeInvalidFileType, Message: fmt.Sprintf("type %s is not allowed", detected),
		Details: map[string]any{"allowedTypes": p.Limits().AllowedTypes}})
}

// publicPolicy returns the public upload policy when up is a public
// upload ticket (the first version of a file the public upload owner
// created in its workspace), else nil: such a ticket must meet it
// whichever route confirms it.
func (s *Service) publicPolicy(up *driver.UploadRecord) *Policy {
	pu := s.opts.PublicUpload
	if pu == nil || up.Workspace != pu.Workspace || up.CreatedBy != pu.Owner || up.BaseVersion != 0 {
		return nil
	}
	return pu.Policy
}

// intersectPolicy returns the policy of what both a and b allow: a type
// allowed by both, up to the smaller of their limits.
func intersectPolicy(a, b Policy) Policy {
	types := make([]string, len(b.Types))
	for i, r := range b.Types {
		types[i] = strings.ToLower(r.MIMEType)
	}
	out := narrowPolicy(a, types, b.MaxSize)
	for i := range out.Types {
		r := &out.Types[i]
		if m, ok := b.Allow(r.MIMEType); ok && m > 0 && (r.MaxSize <= 0 || m < r.MaxSize) {
			r.MaxSize = m
		}
	}
	return out
}
