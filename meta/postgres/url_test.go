package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta/postgres"
)

// parseURL parses a URL the test built.
func parseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

// withScheme returns raw with its scheme replaced.
func withScheme(t *testing.T, raw, scheme string) string {
	t.Helper()
	u := parseURL(t, raw)
	u.Scheme = scheme
	return u.String()
}

func TestOpenByURL(t *testing.T) {
	tests := []struct {
		name    string
		url     func(t *testing.T) string
		wantErr error // nil: opens
	}{
		{name: "postgres", url: fresh},
		{name: "postgresql", url: func(t *testing.T) string { return withScheme(t, freshDSN(t), "postgresql") }},
		{name: "upper-case scheme", url: func(t *testing.T) string { return withScheme(t, freshDSN(t), "POSTGRES") }},
		{name: "bad port", url: func(*testing.T) string { return "postgres://127.0.0.1:port/db" }, wantErr: driver.ErrInvalidArgument},
		{name: "bad sslmode", url: func(*testing.T) string { return "postgresql://127.0.0.1/db?sslmode=sometimes" }, wantErr: driver.ErrInvalidArgument},
		{name: "malformed", url: func(*testing.T) string { return "postgres://[::1/db" }, wantErr: driver.ErrInvalidArgument},
		{name: "unknown scheme", url: func(*testing.T) string { return "mysql://127.0.0.1/db" }, wantErr: driver.ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := driver.OpenMetaStore(ctx, tc.url(t))
			if tc.wantErr != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			defer s.Close()
			require.NoError(t, s.Ping(ctx))
			require.NoError(t, createAndCommit(ctx, s, "f1"))
		})
	}
}

func TestURLSchemesRegistered(t *testing.T) {
	_, err := driver.OpenMetaStore(context.Background(), "mysql://x/y")
	require.Error(t, err)
	for _, scheme := range []string{"postgres", "postgresql"} {
		assert.True(t, strings.Contains(err.Error(), scheme), "%q does not list %s", err, scheme)
	}
}

// TestPasswordNotInErrors checks that the error of a DSN pgx refuses does
// not repeat its password.
func TestPasswordNotInErrors(t *testing.T) {
	tests := []struct {
		name string
		open func() error
	}{
		{name: "Open, bad port", open: func() error {
			_, err := postgres.Open(context.Background(), "postgres://u:s3cr3t-pw@127.0.0.1:port/db", nil)
			return err
		}},
		{name: "Open, key value", open: func() error {
			_, err := postgres.Open(context.Background(), "host=127.0.0.1 password=s3cr3t-pw sslmode=sometimes", nil)
			return err
		}},
		{name: "URL, bad sslmode", open: func() error {
			_, err := driver.OpenMetaStore(context.Background(), "postgres://u:s3cr3t-pw@127.0.0.1/db?sslmode=sometimes")
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.open()
			require.Error(t, err)
			assert.ErrorIs(t, err, driver.ErrInvalidArgument)
			assert.NotContains(t, err.Error(), "s3cr3t-pw")
		})
	}
}
