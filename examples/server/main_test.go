package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/internal/backendtest"
)

// syncBuffer is a bytes.Buffer safe for the server's log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs the example server on a free port until the test ends.
func startServer(t *testing.T, env map[string]string) (addr string, out *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	out = &syncBuffer{}
	go func() { done <- run(ctx, func(k string) string { return env[k] }, out, ready) }()
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "graceful shutdown")
		case <-time.After(20 * time.Second):
			t.Error("server did not shut down")
		}
	})
	return addr, out
}

// readmeScript returns the README's script between <!-- name:begin --> and
// <!-- name:end -->.
func readmeScript(t *testing.T, name string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "<!-- "+name+":begin -->")
	require.True(t, ok, "README has no %s:begin marker", name)
	block, _, ok := strings.Cut(rest, "<!-- "+name+":end -->")
	require.True(t, ok, "README has no %s:end marker", name)
	block = strings.TrimSpace(block)
	block = strings.TrimPrefix(block, "```sh")
	return strings.TrimSuffix(block, "```")
}

// TestREADMEScripts runs the README's curl scripts verbatim against the
// example server.
func TestREADMEScripts(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("ATTACH_REQUIRE_BACKENDS") != "" {
				t.Fatalf("%s is required for the README walkthrough", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	addr, _ := startServer(t, map[string]string{"ATTACH_ADDR": "127.0.0.1:0", "ATTACH_DATA_DIR": t.TempDir()})
	tests := []struct {
		name string
		want []string
	}{
		{name: "walkthrough", want: []string{
			`{"status":"ready","mimeType":"application/pdf","fileSize":`,
			`"digest":"sha256:`,
			"hello.pdf\n",
			`"status":"ready"}`,
			"downloaded the same bytes\n",
			"delete: 204\n",
			"old URL: 404\n",
		}},
		{name: "versions", want: []string{
			`{"version":1,"fileName":"plan.pdf"}`,
			`{"version":2,"fileName":"plan-reviewed.pdf"}`,
			`"code":"version_conflict"`,
			`{"version":3}`,
			"version 1 is intact\n",
			`{"version":4,`,
			`{"total":1,"names":["plan.pdf"],"more":false}`,
		}},
		{name: "sharing", want: []string{
			"anyone with the link gets the bytes\n",
			"%PDF-1.4\n",
			`[{"expires":true,"used":true}]`,
			`{"valid":true}`,
			"revoke: 204\n",
			"revoked link: 404\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("bash", "-euo", "pipefail", "-c", readmeScript(t, tt.name))
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(), "API=http://"+addr+"/v1")
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s failed:\n%s", tt.name, out)
			for _, want := range tt.want {
				assert.Contains(t, string(out), want)
			}
		})
	}
}

func TestSecretIsKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"ATTACH_ADDR": "127.0.0.1:0", "ATTACH_DATA_DIR": dir}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	require.NoError(t, err)
	s1, err := cfg.signingSecret()
	require.NoError(t, err)
	s2, err := cfg.signingSecret()
	require.NoError(t, err)
	assert.Equal(t, s1, s2)
	info, err := os.Stat(filepath.Join(dir, "secret"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		bad  bool
		keys map[string]string
	}{
		{name: "defaults", env: map[string]string{}, keys: map[string]string{"dev-key": "default"}},
		{name: "several keys", env: map[string]string{"ATTACH_API_KEYS": "a:ws1, b:ws2"}, keys: map[string]string{"a": "ws1", "b": "ws2"}},
		{name: "key without workspace", env: map[string]string{"ATTACH_API_KEYS": "a"}, bad: true},
		{name: "short secret", env: map[string]string{"ATTACH_SECRET": "short"}, bad: true},
		{name: "trusted proxies", env: map[string]string{"ATTACH_TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8"}, keys: map[string]string{"dev-key": "default"}},
		{name: "bad trusted proxy", env: map[string]string{"ATTACH_TRUSTED_PROXIES": "10.0.0.1"}, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(func(k string) string { return tt.env[k] })
			if tt.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.keys, cfg.keys)
			assert.Equal(t, "127.0.0.1:8080", cfg.addr)
		})
	}
}

// TestBackendsByURL runs the walkthrough's first steps against the
// example server on PostgreSQL and S3 chosen by URL, as the README's
// worked example does.
func TestBackendsByURL(t *testing.T) {
	pg := backendtest.RequireEnv(t, "ATTACH_POSTGRES_URL", "PostgreSQL")
	s3 := backendtest.RequireEnv(t, "ATTACH_S3_URL", "an S3-compatible server")
	addr, out := startServer(t, map[string]string{"ATTACH_ADDR": "127.0.0.1:0", "ATTACH_DATA_DIR": t.TempDir(),
		"ATTACH_STORAGE_URL": s3, "ATTACH_META_URL": pg})
	assert.Contains(t, out.String(), "storage: s3://")
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
