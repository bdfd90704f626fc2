package httpadapter

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/driver/drivertest"
)

// TestSignedUploadURLs runs the signed-URL conformance suite against the
// library-signed upload URLs this adapter serves.
func TestSignedUploadURLs(t *testing.T) {
	e := newEnv(t, nil)
	past := e.service(t, -time.Hour) // its tickets expired 45 minutes ago
	scope := attach.Scope{Workspace: wsA, User: "u1"}

	drivertest.RunSignedURLTests(t, drivertest.SignedURLHarness{
		NewUpload: func(t *testing.T, contentType string, size int64, expired bool) drivertest.SignedUpload {
			svc := e.svc
			if expired {
				svc = past
			}
			up, err := svc.RequestUpload(t.Context(), scope, attach.UploadRequest{
				FileName: "upload.png", MIMEType: contentType, Size: size})
			require.NoError(t, err)
			return drivertest.SignedUpload{URL: up.URL, Headers: up.Headers,
				Stored: func(t *testing.T) ([]byte, error) { return e.stored(t, up.Key) }}
		},
		SignatureParam: "sig",
		Client:         e.srv.Client(),
		CheckRefusal:   checkLibraryRefusal,
		CreateOnly:     true,
	})
}

// checkLibraryRefusal holds the adapter to the exact status and error code
// of every refusal.
func checkLibraryRefusal(t *testing.T, name string, resp *http.Response, body []byte) {
	t.Helper()
	base, sub, _ := strings.Cut(name, "/")
	var (
		status int
		code   attach.Code
	)
	switch base {
	case "LongerBody", "LongerBodyUnknownLength":
		status, code = http.StatusRequestEntityTooLarge, attach.CodePayloadTooLarge
	case "ShorterBody", "ShorterBodyUnknownLength", "WrongContentType", "MissingContentType":
		status, code = http.StatusBadRequest, attach.CodeInvalidRequest
	case "Method":
		switch sub {
		case http.MethodGet, http.MethodHead: // the blob route exists for GET; the signature says PUT
			status, code = http.StatusForbidden, attach.CodeForbidden
		default: // no such route
			status, code = http.StatusNotFound, attach.CodeNotFound
		}
	case "Expired":
		status, code = http.StatusGone, attach.CodeExpired
	default: // any other change to the URL is a bad signature
		status, code = http.StatusForbidden, attach.CodeForbidden
	}
	r := &response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if resp.Request.Method == http.MethodHead {
		assert.Equal(t, status, r.Status)
		return
	}
	r.requireError(t, status, code)
	if code == attach.CodePayloadTooLarge {
		assert.True(t, resp.Close, "an oversized body is not drained: Connection: close")
	}
}
