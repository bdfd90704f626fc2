package httpadapter

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

func TestBrowserClientServed(t *testing.T) {
	e := newEnv(t, nil)
	url := e.srv.URL + "/v1/attach.js"
	r := e.fetch(t, http.MethodGet, url, nil, nil) // anonymous
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, BrowserClient, r.Body)
	assert.Equal(t, "text/javascript; charset=utf-8", r.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
	assert.Contains(t, r.Header.Get("Cache-Control"), "max-age=")
	etag := r.Header.Get("ETag")
	require.True(t, strings.HasPrefix(etag, `"`), "strong ETag: %q", etag)
	assert.Contains(t, string(r.Body), "export class Client")

	tests := []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{name: "same ETag", headers: map[string]string{"If-None-Match": etag}, status: http.StatusNotModified},
		{name: "other ETag", headers: map[string]string{"If-None-Match": `"other"`}, status: http.StatusOK},
		{name: "bad credentials are ignored", headers: map[string]string{"Authorization": "Bearer nope"}, status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.status, e.fetch(t, http.MethodGet, url, tt.headers, nil).Status)
		})
	}
	assert.Equal(t, http.StatusNotFound, e.fetch(t, http.MethodPost, url, nil, nil).Status, "like every unknown route")
}

// TestBrowserClientLimitsProbe pins what attach.js's limits() relies on: an
// upload-url request declaring a type no policy allows is answered
// invalid_file_type with the allowed types, and records nothing.
func TestBrowserClientLimitsProbe(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	probe := map[string]any{"fileName": "limits.probe", "mimeType": "application/x-attachkit-limits-probe", "fileSize": 1}
	details := c.do(t, http.MethodPost, "/files/upload-url", probe).requireError(t, http.StatusBadRequest, attach.CodeInvalidFileType)
	assert.Equal(t, toAny(attach.DefaultPolicy().Limits().AllowedTypes), details["allowedTypes"])

	e.as("bad-key", "").do(t, http.MethodPost, "/files/upload-url", probe).requireError(t, http.StatusUnauthorized, attach.CodeUnauthorized)
}
