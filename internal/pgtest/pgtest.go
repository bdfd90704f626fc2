// Package pgtest gives tests an isolated PostgreSQL schema on the server
// that ATTACH_POSTGRES_URL names.
//
// # Isolation
//
// FreshURL creates an empty schema with a random name and returns the
// server's URL with search_path set to it, so every store a test opens on
// that URL creates its tables there, apart from every other test, package
// and concurrent test run. The schema is dropped when the test ends.
//
// # Missing server
//
// Without ATTACH_POSTGRES_URL the test is skipped, or failed when
// ATTACH_REQUIRE_BACKENDS is set (see internal/backendtest).
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/attachkit/attachkit/internal/backendtest"
)

// URL returns the test server's URL (ATTACH_POSTGRES_URL, a postgres://
// URL), or skips the test.
func URL(t testing.TB) string {
	t.Helper()
	return backendtest.RequireEnv(t, "ATTACH_POSTGRES_URL", "PostgreSQL")
}

// FreshURL creates an empty schema and returns the server URL with
// search_path set to it. The schema and everything in it is dropped at the
// end of the test, after the cleanups registered later (such as closing
// the stores opened on it) have run.
func FreshURL(t testing.TB) string {
	t.Helper()
	base := URL(t)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: ATTACH_POSTGRES_URL must be a postgres:// URL")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "attach_test_" + hex.EncodeToString(b)
	quoted := pgx.Identifier{schema}.Sanitize()

	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+quoted); err != nil {
		_ = admin.Close()
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+quoted+` CASCADE`); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
