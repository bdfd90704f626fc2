package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublicUploadEnv: anonymous upload is off unless
// ATTACH_PUBLIC_UPLOAD names a workspace (and collection).
func TestPublicUploadEnv(t *testing.T) {
	body := `{"fileName": "a.png", "mimeType": "image/png", "fileSize": 100}`
	post := func(addr string) int {
		t.Helper()
		resp, err := http.Post("http://"+addr+"/v1/public/upload-url", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	off, _ := startServer(t, map[string]string{"ATTACH_ADDR": "127.0.0.1:0", "ATTACH_DATA_DIR": t.TempDir()})
	assert.Equal(t, http.StatusNotFound, post(off))
	on, _ := startServer(t, map[string]string{"ATTACH_ADDR": "127.0.0.1:0", "ATTACH_DATA_DIR": t.TempDir(),
		"ATTACH_PUBLIC_UPLOAD": "default"})
	assert.Equal(t, http.StatusCreated, post(on))
}
