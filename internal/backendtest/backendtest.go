// Package backendtest finds the external servers integration tests use.
//
// Tests that need a server (PostgreSQL, MinIO, fake-gcs-server, Azurite,
// clamd, Chromium) read its address from an environment variable and skip
// when it is unset, so `go test ./...` passes on a machine with nothing
// installed. .ci/run starts the servers and sets ATTACH_REQUIRE_BACKENDS=1,
// which turns every such skip into a failure.
package backendtest

import (
	"os"
	"testing"
)

// RequireEnv returns the value of the environment variable name, or skips
// the test when it is unset (fails it when ATTACH_REQUIRE_BACKENDS is set).
// what describes the server for the message.
func RequireEnv(t testing.TB, name, what string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	Missing(t, what+" ("+name+" is not set)")
	return ""
}

// Missing skips the test because a needed server or tool is missing, or
// fails it when ATTACH_REQUIRE_BACKENDS is set.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("ATTACH_REQUIRE_BACKENDS") != "" {
		t.Fatalf("required backend missing: %s (ATTACH_REQUIRE_BACKENDS is set)", what)
	}
	t.Skipf("skipping: %s", what)
}
