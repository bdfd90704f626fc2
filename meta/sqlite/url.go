package sqlite

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// init registers the "sqlite" scheme with driver.OpenMetaStore (and so
// attach.Open): sqlite:///var/lib/app/attach.db, with optional parameters
// busy_timeout (a Go duration) and synchronous (full or normal).
func init() {
	driver.RegisterMetaStore("sqlite", func(ctx context.Context, u *url.URL) (driver.MetaStore, error) {
		path, opts, err := parseURL(u)
		if err != nil {
			return nil, err
		}
		return Open(ctx, path, opts)
	})
}

func parseURL(u *url.URL) (string, *Options, error) {
	if u.Opaque != "" || (u.Host != "" && u.Host != "localhost") || u.Path == "" || u.Path == "/" {
		return "", nil, fmt.Errorf(`sqlite: a URL needs an absolute file path, like "sqlite:///var/lib/app/attach.db" (three slashes): %w`, driver.ErrInvalidArgument)
	}
	o := &Options{}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "busy_timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return "", nil, fmt.Errorf("sqlite: busy_timeout %q is not a positive duration: %w", v, driver.ErrInvalidArgument)
			}
			o.BusyTimeout = d
		case "synchronous":
			o.Synchronous = Synchronous(strings.ToUpper(v))
		default:
			return "", nil, fmt.Errorf("sqlite: unknown URL parameter %q (available: busy_timeout, synchronous): %w", k, driver.ErrInvalidArgument)
		}
	}
	return u.Path, o, nil
}
