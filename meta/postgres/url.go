package postgres

import (
	"context"
	"net/url"

	"github.com/attachkit/attachkit/driver"
)

// init registers the "postgres" and "postgresql" schemes with
// driver.OpenMetaStore (and so attach.Open):
// postgres://user:password@host:5432/db?sslmode=verify-full. The URL is
// handed to pgx as the DSN, so every parameter pgx understands works, and
// any other is sent to the server as a run-time setting (search_path=...).
func init() {
	for _, scheme := range []string{"postgres", "postgresql"} {
		driver.RegisterMetaStore(scheme, func(ctx context.Context, u *url.URL) (driver.MetaStore, error) {
			return Open(ctx, u.String(), nil)
		})
	}
}
