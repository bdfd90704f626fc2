package attach

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// Link is a public link: an anonymous URL that serves a file's current
// version until it expires or is revoked. Deleting the file ends its
// links too: Undelete does not bring them back.
type Link struct {
	ID     string `json:"id"`
	FileID string `json:"fileId"`
	// URL is the absolute anonymous URL. It is null in a listing when it
	// cannot be recovered (the signing key that sealed it was removed):
	// the database keeps only a hash of the URL's secret.
	URL            *string    `json:"url"`
	ExpiresAt      *time.Time `json:"expiresAt"`
	CreatedAt      time.Time  `json:"createdAt"`
	LastAccessedAt *time.Time `json:"lastAccessedAt"`
}

// LinkOptions control CreateLink.
type LinkOptions struct {
	// ExpiresAt, when non-zero, ends the link; it must be in the future
	// and at most MaxLinkLifetime away. Default: the link never expires.
	ExpiresAt time.Time
}

// Bounds of public links.
const (
	// MaxLinksPerFile bounds the live (unexpired) links of one file.
	MaxLinksPerFile = 100
	// MaxLinkLifetime bounds a link's expiry.
	MaxLinkLifetime = 10 * 365 * 24 * time.Hour
	// LinkAccessPrecision is the precision of Link.LastAccessedAt: a link
	// records an access at most once per period, so downloads under load
	// are not writes.
	LinkAccessPrecision = time.Minute

	linkTokenBytes = 24 // 192 random bits
	maxTokenLen    = 64
)

// CreateLink makes a public link to a file. It needs the edit right on the
// file (like listing and revoking links): a link hands its bytes to
// anyone. The file must have content (CodeConflict before its first
// confirm).
func (s *Service) CreateLink(ctx context.Context, scope Scope, fileID string, opts *LinkOptions) (*Link, error) {
	if opts == nil {
		opts = &LinkOptions{}
	}
	f, err := s.fileRecord(ctx, scope, fileID, rightEdit)
	if err != nil {
		return nil, err
	}
	if f.Version == 0 {
		return nil, errorf(CodeConflict, "the file has no content yet")
	}
	now := s.now()
	exp := opts.ExpiresAt
	if !exp.IsZero() {
		exp = exp.UTC().Truncate(time.Second)
		switch {
		case !exp.After(now):
			return nil, errorf(CodeInvalidRequest, "expiresAt must be in the future")
		case exp.Sub(now) > MaxLinkLifetime:
			return nil, errorf(CodeInvalidRequest, "expiresAt must be within %d days", MaxLinkLifetime/(24*time.Hour))
		}
	}
	base, err := s.publicBase()
	if err != nil {
		return nil, err
	}
	var b [linkTokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, wrap(err, "link token")
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	rec := &driver.LinkRecord{Workspace: scope.Workspace, ID: newID("lnk"), FileID: fileID,
		TokenHash: hashToken(token), CreatedBy: scope.User, CreatedAt: now, ExpiresAt: exp}
	rec.Sealed = s.sealToken(rec.ID, token)
	err = s.store.CreateLink(ctx, rec, MaxLinksPerFile)
	if errors.Is(err, driver.ErrPrecondition) {
		return nil, errorf(CodeInvalidRequest, "a file has at most %d live links; revoke one first", MaxLinksPerFile)
	}
	if err != nil {
		return nil, wrap(err, "create link")
	}
	l := linkFromRecord(rec)
	u := linkURL(base, token, f.FileName)
	l.URL = &u
	return l, nil
}

// Links lists a file's public links, oldest first, expired ones included
// (their ExpiresAt says so). It needs the edit right on the file.
func (s *Service) Links(ctx context.Context, scope Scope, fileID string) ([]Link, error) {
	f, err := s.fileRecord(ctx, scope, fileID, rightEdit)
	if err != nil {
		return nil, err
	}
	recs, err := s.store.Links(ctx, scope.Workspace, fileID)
	if err != nil {
		return nil, wrap(err, "list links")
	}
	base, _ := s.publicBase()
	out := make([]Link, 0, len(recs))
	for i := range recs {
		l := linkFromRecord(&recs[i])
		if token, ok := s.openToken(recs[i].ID, recs[i].Sealed); ok && base != "" {
			u := linkURL(base, token, f.FileName)
			l.URL = &u
		}
		out = append(out, *l)
	}
	return out, nil
}

// RevokeLink deletes a public link; it stops working at once. It needs
// the edit right on the link's file. Another workspace's link is
// CodeNotFound.
func (s *Service) RevokeLink(ctx context.Context, scope Scope, linkID string) error {
	if err := checkScope(scope); err != nil {
		return err
	}
	if err := checkID("lnk", linkID); err != nil {
		return err
	}
	l, err := s.store.Link(ctx, scope.Workspace, linkID)
	if err != nil {
		return wrap(err, "load link")
	}
	if _, err := s.fileRecord(ctx, scope, l.FileID, rightEdit); err != nil {
		return err
	}
	return wrap(s.store.DeleteLink(ctx, scope.Workspace, linkID), "delete link")
}

// linkMiss is what OpenLink and OpenPublic return for every link or
// public file they cannot serve: unknown, malformed, expired, revoked, or
// whose file is deleted, expired or not ready. The causes are
// indistinguishable on purpose.
func linkMiss() *Error { return errorf(CodeNotFound, "no such link or file") }

// OpenLink serves a public link's file: token is the secret segment of
// the link's URL. Only opts.Inline is used (for types safe to render);
// links always serve the current version. Every miss is the same
// CodeNotFound error and costs one indexed lookup, whatever its cause.
// An access is recorded in LastAccessedAt at most once per
// LinkAccessPrecision.
func (s *Service) OpenLink(ctx context.Context, token string, opts *DownloadOptions) (*Content, error) {
	if opts == nil {
		opts = &DownloadOptions{}
	}
	hash := hashToken(token)
	if !wellFormedToken(token) {
		hash = hashToken("") // still one lookup, which finds nothing
	}
	l, f, err := s.store.LinkByToken(ctx, hash)
	if errors.Is(err, driver.ErrNotFound) {
		return nil, linkMiss()
	}
	if err != nil {
		return nil, wrap(err, "load link")
	}
	now := s.now()
	if !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt) {
		return nil, linkMiss()
	}
	c, err := s.servable(ctx, f, opts.Inline)
	if err != nil {
		return nil, err
	}
	stale := now.Add(-LinkAccessPrecision)
	if l.LastAccessedAt.Before(stale) {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := s.store.TouchLink(tctx, l.Workspace, l.ID, now, stale); err != nil && !errors.Is(err, driver.ErrNotFound) {
			s.log.WarnContext(ctx, "attach: record link access failed", "link", l.ID, "err", err)
		}
	}
	return c, nil
}

// OpenPublic serves the current version of a public-read file: the
// stable anonymous URL of PublicURL. Anything else (private, unknown,
// deleted, not ready) is the same CodeNotFound as a link miss.
func (s *Service) OpenPublic(ctx context.Context, fileID string, opts *DownloadOptions) (*Content, error) {
	if opts == nil {
		opts = &DownloadOptions{}
	}
	if checkID("file", fileID) != nil {
		fileID = "file_" // still one lookup, which finds nothing
	}
	f, err := s.store.PublicFile(ctx, fileID)
	if errors.Is(err, driver.ErrNotFound) {
		return nil, linkMiss()
	}
	if err != nil {
		return nil, wrap(err, "load public file")
	}
	return s.servable(ctx, f, opts.Inline)
}

// servable returns the content of a file's current version for an
// anonymous reader, or a link miss.
func (s *Service) servable(ctx context.Context, f *driver.FileRecord, inline bool) (*Content, error) {
	if !s.anonReady(f) {
		return nil, linkMiss()
	}
	v, err := s.store.Version(ctx, f.Workspace, f.ID, f.Version)
	if errors.Is(err, driver.ErrNotFound) {
		return nil, linkMiss()
	}
	if err != nil {
		return nil, wrap(err, "load version")
	}
	return s.content(ctx, f, v, ContentDisposition(v.FileName, v.MIMEType, inline)), nil
}

// PublicURL returns the stable anonymous URL of a public-read file (its
// current version, for as long as it stays public-read):
// PublicBaseURL/public/files/{id}/{fileName}. A private file is
// CodeConflict.
func (s *Service) PublicURL(ctx context.Context, scope Scope, fileID string) (string, error) {
	f, err := s.fileRecord(ctx, scope, fileID, rightView)
	if err != nil {
		return "", err
	}
	if f.AccessControl != AccessPublicRead {
		return "", errorf(CodeConflict, "the file is not public-read")
	}
	base, err := s.publicBase()
	if err != nil {
		return "", err
	}
	return base + "/public/files/" + f.ID + "/" + url.PathEscape(nameOrFile(f.FileName)), nil
}

func linkFromRecord(r *driver.LinkRecord) *Link {
	l := &Link{ID: r.ID, FileID: r.FileID, CreatedAt: r.CreatedAt.UTC()}
	if !r.ExpiresAt.IsZero() {
		t := r.ExpiresAt.UTC()
		l.ExpiresAt = &t
	}
	if !r.LastAccessedAt.IsZero() {
		t := r.LastAccessedAt.UTC()
		l.LastAccessedAt = &t
	}
	return l
}

func linkURL(base, token, fileName string) string {
	return base + "/public/links/" + token + "/" + url.PathEscape(nameOrFile(fileName))
}

func nameOrFile(name string) string {
	if name == "" {
		return "file"
	}
	return name
}

// publicBase is the absolute URL the adapter's routes are mounted under.
func (s *Service) publicBase() (string, error) {
	if b := s.opts.PublicBaseURL; b != "" {
		return b, nil
	}
	if b, ok := strings.CutSuffix(s.opts.BaseURL, "/blob"); ok && b != "" {
		return b, nil
	}
	return "", &Error{Code: CodeInternal, Message: "internal error",
		Err: errors.New("attach: Options.PublicBaseURL is not set, so public URLs cannot be made")}
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// wellFormedToken reports whether token could be one CreateLink made:
// bounded base64url.
func wellFormedToken(token string) bool {
	if len(token) == 0 || len(token) > maxTokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// sealToken encrypts a link's token (AES-256-GCM, with a key derived from
// the first signing key and the link id as additional data) so that a
// listing can show the URL while the database alone cannot. Without
// signing keys it returns "" and listings show no URL.
func (s *Service) sealToken(linkID, token string) string {
	if len(s.opts.SigningKeys) == 0 {
		return ""
	}
	k := s.opts.SigningKeys[0]
	aead, err := sealer(k.Secret)
	if err != nil {
		return ""
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(token)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return ""
	}
	return k.ID + "." + base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(token), []byte(linkID)))
}

// openToken reverses sealToken with whichever configured key sealed it.
func (s *Service) openToken(linkID, sealed string) (string, bool) {
	kid, b64, ok := strings.Cut(sealed, ".")
	if !ok {
		return "", false
	}
	for _, k := range s.opts.SigningKeys {
		if k.ID != kid {
			continue
		}
		aead, err := sealer(k.Secret)
		raw, derr := base64.RawURLEncoding.DecodeString(b64)
		if err != nil || derr != nil || len(raw) < aead.NonceSize() {
			return "", false
		}
		pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(linkID))
		if err != nil {
			return "", false
		}
		return string(pt), true
	}
	return "", false
}

func sealer(secret []byte) (cipher.AEAD, error) {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("attachkit link token seal v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
