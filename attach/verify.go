package attach

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/signedurl"
)

// URLCheck is what VerifyURL says about a URL.
type URLCheck struct {
	// Valid is true when the URL was issued by this service for the
	// caller's workspace and would be served now.
	Valid bool `json:"valid"`
	// ExpiresAt is when the URL stops working, when it has an expiry
	// (signed URLs, links with an expiry); for an expired signed URL of the
	// caller's workspace it is the past expiry and Valid is false.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// maxVerifyURL bounds the URL VerifyURL parses.
const maxVerifyURL = 8 << 10

// VerifyURL says whether a URL is one this service issued and would serve
// now: a library-signed upload or download URL (signature, expiry, and the
// ticket still pending or the version, or the thumbnail of it, still
// downloadable), a public link (not revoked or expired, its file ready) or
// a public-read file URL, each of the shape its route serves. It
// never fetches the URL. URLs of other origins, of natively signing
// storages (S3, GCS, Azure), of other workspaces, or tampered ones are
// Valid false; a string that is not an absolute URL is CodeInvalidRequest.
func (s *Service) VerifyURL(ctx context.Context, scope Scope, raw string) (*URLCheck, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	if len(raw) > maxVerifyURL {
		return nil, errorf(CodeInvalidRequest, "url is longer than %d bytes", maxVerifyURL)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, errorf(CodeInvalidRequest, "url must be an absolute URL")
	}
	if rest, ok := under(u, s.opts.BaseURL); ok && s.urls != nil {
		return s.verifySigned(ctx, scope, rest, u.Query())
	}
	base, _ := s.publicBase()
	if rest, ok := under(u, base+"/public/links"); ok {
		token, ok := routeSegments(rest)
		if !ok {
			return &URLCheck{}, nil
		}
		l, f, err := s.store.LinkByToken(ctx, hashToken(token))
		switch {
		case errors.Is(err, driver.ErrNotFound) || !wellFormedToken(token):
			return &URLCheck{}, nil
		case err != nil:
			return nil, wrap(err, "load link")
		case l.Workspace != scope.Workspace:
			return &URLCheck{}, nil
		}
		check := &URLCheck{Valid: s.anonReady(f)}
		if !l.ExpiresAt.IsZero() {
			t := l.ExpiresAt.UTC()
			check.ExpiresAt = &t
			check.Valid = check.Valid && s.now().Before(t)
		}
		return check, nil
	}
	if rest, ok := under(u, base+"/public/files"); ok {
		id, ok := routeSegments(rest)
		if !ok || checkID("file", id) != nil {
			return &URLCheck{}, nil
		}
		f, err := s.store.PublicFile(ctx, id)
		switch {
		case errors.Is(err, driver.ErrNotFound):
			return &URLCheck{}, nil
		case err != nil:
			return nil, wrap(err, "load public file")
		}
		return &URLCheck{Valid: f.Workspace == scope.Workspace && s.anonReady(f)}, nil
	}
	return &URLCheck{}, nil
}

// verifySigned checks a library-signed URL: key is its path below
// BaseURL. Another workspace's URL is a bare invalid answer, expired or
// not; a download URL is valid for the version's bytes and for its
// derivatives (thumbnails).
func (s *Service) verifySigned(ctx context.Context, scope Scope, key string, q url.Values) (*URLCheck, error) {
	method := q.Get("m")
	if method != "GET" && method != "PUT" {
		return &URLCheck{}, nil
	}
	ws, _, _ := strings.Cut(key, "/")
	if ws != scope.Workspace { // before anything about the URL is told
		return &URLCheck{}, nil
	}
	c, err := s.urls.Verify(method, key, q, s.now())
	if errors.Is(err, signedurl.ErrExpired) {
		t := c.Expires.UTC()
		return &URLCheck{ExpiresAt: &t}, nil
	}
	if err != nil {
		return &URLCheck{}, nil
	}
	t := c.Expires.UTC()
	check := &URLCheck{ExpiresAt: &t}
	if method == "PUT" {
		up, err := s.store.Upload(ctx, ws, c.Upload)
		switch {
		case errors.Is(err, driver.ErrNotFound):
			return check, nil
		case err != nil:
			return nil, wrap(err, "load upload")
		}
		check.Valid = up.StorageKey == key && up.Status == driver.UploadPending
		return check, nil
	}
	f, err := s.store.File(ctx, ws, c.File)
	if err == nil {
		var v *driver.VersionRecord
		if v, err = s.store.Version(ctx, ws, c.File, c.Version); err == nil {
			check.Valid = f.Status == StatusReady && v.Status == StatusReady && !expired(f, s.now())
			if check.Valid && v.StorageKey != key { // a thumbnail of the version, or nothing
				check.Valid, err = s.isDerivative(ctx, ws, c.File, c.Version, key)
			}
		}
	}
	if err != nil && !errors.Is(err, driver.ErrNotFound) {
		return nil, wrap(err, "load file")
	}
	return check, nil
}

// isDerivative reports whether key is the storage key of a derivative of
// a file's version.
func (s *Service) isDerivative(ctx context.Context, ws, fileID string, version int, key string) (bool, error) {
	ds, err := s.store.Derivatives(ctx, ws, fileID, version)
	if err != nil {
		return false, err
	}
	for _, d := range ds {
		if d.StorageKey == key {
			return true, nil
		}
	}
	return false, nil
}

// routeSegments splits the rest of a public route's path,
// "{id}/{fileName}", and returns its id: both segments must be there and
// non-empty, as the routes require.
func routeSegments(rest string) (string, bool) {
	id, name, ok := strings.Cut(rest, "/")
	return id, ok && id != "" && name != "" && !strings.Contains(name, "/")
}

// anonReady reports whether an anonymous URL would serve f now.
func (s *Service) anonReady(f *driver.FileRecord) bool {
	return f.Status == StatusReady && f.Version > 0 && !expired(f, s.now())
}

// under reports whether u lies below the absolute URL base (same scheme
// and host, path below base's) and returns the rest of its path.
func under(u *url.URL, base string) (string, bool) {
	if base == "" || u.User != nil {
		return "", false
	}
	b, err := url.Parse(base)
	if err != nil || !strings.EqualFold(u.Scheme, b.Scheme) || !strings.EqualFold(u.Host, b.Host) {
		return "", false
	}
	rest, ok := strings.CutPrefix(u.Path, strings.TrimRight(b.Path, "/")+"/")
	return rest, ok && rest != ""
}
