package blob

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/attachkit/attachkit/driver"
)

// scheme is one kind of URL that Open understands.
type scheme struct {
	name string
	open func(ctx context.Context, u *url.URL, opts *Options) (*Storage, error)
}

// schemes returns the URL schemes Open understands, sorted by name. A new
// backend is one entry here over its typed constructor.
func schemes() []scheme {
	return []scheme{
		{name: "azblob", open: openAzureURL},
		{name: "file", open: openFileURL},
		{name: "gs", open: openGCSURL},
		{name: "mem", open: openMemURL},
		{name: "s3", open: openS3URL},
	}
}

// init makes every scheme of this package available to driver.OpenStorage
// (and so to attach.Open), as database/sql drivers register themselves.
func init() {
	for _, sc := range schemes() {
		open := sc.open
		driver.RegisterStorage(sc.name, func(ctx context.Context, u *url.URL) (driver.Storage, error) {
			return open(ctx, u, nil)
		})
	}
}

// Open returns the Storage that rawURL names; see the package
// documentation for the URL forms. opts apply as they do to the typed
// constructor the URL selects; nil means defaults.
func Open(ctx context.Context, rawURL string, opts *Options) (*Storage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the URL, which may one day carry credentials.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("blob: malformed storage URL: %w", err)
	}
	all := schemes()
	names := make([]string, len(all))
	for i, s := range all {
		if s.name == u.Scheme {
			return s.open(ctx, u, opts)
		}
		names[i] = s.name
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("blob: storage URL has no scheme (available: %s)", strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("blob: unknown storage scheme %q (available: %s)", u.Scheme, strings.Join(names, ", "))
}

// openMemURL opens "mem://", which takes no host, path or parameters.
func openMemURL(_ context.Context, u *url.URL, _ *Options) (*Storage, error) {
	if u.Opaque != "" || u.Host != "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New(`blob: a mem URL takes no host, path or parameters; use "mem://"`)
	}
	return NewMemory(), nil
}

// openFileURL opens "file:///abs/dir" (or "file://localhost/abs/dir") with
// OpenDir. A host is not a path, so "file://relative" is refused rather
// than resolved against the working directory.
func openFileURL(_ context.Context, u *url.URL, opts *Options) (*Storage, error) {
	switch {
	case u.Opaque != "" || (u.Host != "" && u.Host != "localhost"):
		return nil, errors.New(`blob: a file URL needs an absolute path, like "file:///var/lib/app/files" (three slashes)`)
	case u.Path == "" || u.Path == "/":
		return nil, errors.New(`blob: a file URL needs a directory below "/", like "file:///var/lib/app/files"`)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("blob: a file URL takes no user, parameters or fragment")
	}
	return OpenDir(u.Path, opts)
}

// bucketURL checks the parts of an object-store URL ("s3://bucket?...")
// other than its parameters, and returns the bucket name (the host) and the
// parameters, each given at most once, from the set allowed. An unknown
// parameter's error lists the allowed ones.
func bucketURL(u *url.URL, allowed ...string) (string, map[string]string, error) {
	example := u.Scheme + "://bucket"
	switch {
	case u.Opaque != "" || u.Host == "":
		return "", nil, fmt.Errorf("blob: a %s URL names its bucket as the host, like %q", u.Scheme, example)
	case u.Path != "" && u.Path != "/":
		return "", nil, fmt.Errorf("blob: a %s URL takes no path after the bucket, like %q (use a key prefix in the application instead)", u.Scheme, example)
	case u.User != nil || u.Fragment != "" || u.Port() != "":
		return "", nil, fmt.Errorf("blob: a %s URL takes no user, port or fragment, like %q", u.Scheme, example)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", nil, fmt.Errorf("blob: malformed %s URL parameters: %w", u.Scheme, err)
	}
	params := make(map[string]string, len(q))
	for name, values := range q {
		if !slices.Contains(allowed, name) {
			return "", nil, fmt.Errorf("blob: unknown %s URL parameter %q (available: %s)", u.Scheme, name, strings.Join(allowed, ", "))
		}
		if len(values) > 1 {
			return "", nil, fmt.Errorf("blob: %s URL parameter %q given %d times", u.Scheme, name, len(values))
		}
		params[name] = values[0]
	}
	return u.Hostname(), params, nil
}

// boolParam parses the boolean URL parameter name, false when absent.
func boolParam(scheme string, params map[string]string, name string) (bool, error) {
	v, ok := params[name]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("blob: %s URL parameter %s=%q is not true or false", scheme, name, v)
	}
	return b, nil
}
