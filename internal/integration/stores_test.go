package integration_test

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/internal/backendtest"
)

// TestLifecycleOnEveryObjectStore runs request → PUT with exactly the
// ticket's headers → confirm → download on each object store, with
// metadata in PostgreSQL. S3 and Azure sign natively; GCS's emulator has no
// signing credentials, so the library signs and the adapter serves.
func TestLifecycleOnEveryObjectStore(t *testing.T) {
	pg := backendtest.RequireEnv(t, "ATTACH_POSTGRES_URL", "PostgreSQL")
	tests := []struct {
		name, env, what string
		native          bool
		wantHeader      string
	}{
		{name: "S3", env: "ATTACH_S3_URL", what: "an S3-compatible server", native: true},
		{name: "Azure", env: "ATTACH_AZURE_URL", what: "Azurite", native: true, wantHeader: "x-ms-blob-type"},
		{name: "GCS", env: "ATTACH_GCS_URL", what: "fake-gcs-server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReplica(t, backendtest.RequireEnv(t, tt.env, tt.what), pg, "")
			ctx := context.Background()
			scope := workspace(t)
			body := pngBytes(t, 33, 22)
			up, err := r.svc.RequestUpload(ctx, scope, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", Size: int64(len(body))})
			require.NoError(t, err)
			assert.Equal(t, !tt.native, strings.HasPrefix(up.URL, r.srv.URL), "native signing: %s", up.URL)
			if tt.wantHeader != "" {
				assert.NotEmpty(t, up.Headers[tt.wantHeader], "the ticket carries the headers the store needs: %v", up.Headers)
			}
			resp := put(t, up, body, "")
			require.Less(t, resp.StatusCode, 300, "PUT: %s", resp.Status)

			f, err := r.svc.Confirm(ctx, scope, up.ID)
			require.NoError(t, err)
			assert.Equal(t, attach.StatusReady, f.Status)
			assert.Equal(t, 33, *f.Width)
			assert.NotEmpty(t, f.Digest)

			// The ticket's URL cannot replace the confirmed bytes: every
			// store's upload URL is create-only (S3 through a signed
			// If-None-Match: *, Azure's create-only SAS, the library's
			// own URLs), so what confirm verified is what is served.
			swapped := append([]byte{}, body...)
			swapped[len(swapped)-1] ^= 0xff
			again := put(t, up, swapped, "")
			assert.GreaterOrEqual(t, again.StatusCode, 400, "a second PUT to the ticket's URL: %s", again.Status)
			bare := *up // and leaving the precondition out breaks the signature
			bare.Headers = maps.Clone(up.Headers)
			delete(bare.Headers, "If-None-Match")
			again = put(t, &bare, swapped, "")
			assert.GreaterOrEqual(t, again.StatusCode, 400, "a second PUT without If-None-Match: %s", again.Status)

			link, err := r.svc.DownloadURL(ctx, scope, f.ID, nil)
			require.NoError(t, err)
			got, err := http.Get(link.URL)
			require.NoError(t, err)
			got.Body.Close()
			require.Equal(t, http.StatusOK, got.StatusCode)
			assert.Equal(t, "image/png", got.Header.Get("Content-Type"))
			assert.Contains(t, got.Header.Get("Content-Disposition"), "attachment")
			assert.Equal(t, body, get(t, link.URL))
			require.NoError(t, r.svc.Delete(ctx, scope, f.ID, nil))
		})
	}
}

// TestConfirmAfterRefusedS3Upload: MinIO itself refuses a presigned PUT
// whose size or type differs from the ticket's; a confirm afterwards finds
// nothing (upload_incomplete) and the ticket still takes the right body.
func TestConfirmAfterRefusedS3Upload(t *testing.T) {
	pg := backendtest.RequireEnv(t, "ATTACH_POSTGRES_URL", "PostgreSQL")
	r := newReplica(t, backendtest.RequireEnv(t, "ATTACH_S3_URL", "an S3-compatible server"), pg, "")
	ctx := context.Background()
	scope := workspace(t)
	body := pngBytes(t, 12, 12)
	up, err := r.svc.RequestUpload(ctx, scope, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", Size: int64(len(body))})
	require.NoError(t, err)

	longer := append(append([]byte{}, body...), 0)
	wrongType := *up
	wrongType.Headers = map[string]string{"Content-Type": "text/html"}
	for name, send := range map[string]func() *http.Response{
		"longer body":  func() *http.Response { return put(t, up, longer, "") },
		"shorter body": func() *http.Response { return put(t, up, body[:len(body)-1], "") },
		"wrong type":   func() *http.Response { return put(t, &wrongType, body, "") },
	} {
		resp := send()
		assert.GreaterOrEqual(t, resp.StatusCode, 400, "%s: S3 must refuse", name)
		_, err := r.svc.Confirm(ctx, scope, up.ID)
		assert.ErrorIs(t, err, attach.ErrUploadIncomplete, "%s", name)
	}
	require.Less(t, put(t, up, body, "").StatusCode, 300)
	f, err := r.svc.Confirm(ctx, scope, up.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(len(body)), f.Size)
}
