// Package integration_test runs Attachkit the way a scaled-out deployment
// does: several Service instances (app replicas) sharing PostgreSQL and an
// object store, each behind its own httpadapter. The servers come from
// .ci/run (ATTACH_POSTGRES_URL, ATTACH_S3_URL); without them the tests skip.
package integration_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	_ "github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/httpadapter"
	"github.com/attachkit/attachkit/internal/backendtest"
	_ "github.com/attachkit/attachkit/meta/postgres"
	_ "github.com/attachkit/attachkit/meta/sqlite"
)

// replica is one app instance: a Service and the adapter serving it.
type replica struct {
	svc *attach.Service
	srv *httptest.Server
}

var secret = []byte("integration-test-signing-secret-0123456789")

// newReplica opens a Service on the given URLs behind its own server.
// public, when set, is the origin signed URLs name (a load balancer in
// front of every replica); otherwise the replica's own server.
func newReplica(t *testing.T, storageURL, metaURL, public string) *replica {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	if public == "" {
		public = "http://" + srv.Listener.Addr().String()
	}
	svc, err := attach.Open(context.Background(), storageURL, metaURL, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: secret}},
		BaseURL:     public + "/v1/blob",
	})
	require.NoError(t, err)
	api, err := httpadapter.New(svc, &httpadapter.Options{Prefix: "/v1",
		Authenticate: httpadapter.BearerKeys(map[string]string{"k": "unused"})})
	require.NoError(t, err)
	srv.Config.Handler = api
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		svc.Close()
	})
	return &replica{svc: svc, srv: srv}
}

func workspace(t *testing.T) attach.Scope {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return attach.Scope{Workspace: "it-" + hex.EncodeToString(b[:]), User: "alice"}
}

func pngBytes(t *testing.T, w, h int) []byte {
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))))
	return b.Bytes()
}

// put sends body to a ticket's URL, optionally through another origin.
func put(t *testing.T, up *attach.Upload, body []byte, origin string) *http.Response {
	t.Helper()
	u := up.URL
	if origin != "" {
		pu, err := url.Parse(u)
		require.NoError(t, err)
		o, err := url.Parse(origin)
		require.NoError(t, err)
		pu.Scheme, pu.Host = o.Scheme, o.Host
		u = pu.String()
	}
	req, err := http.NewRequest(http.MethodPut, u, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range up.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func get(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// confirmEverywhere confirms one file from every replica at once, n times
// each, and checks they all agree on one transition.
func confirmEverywhere(t *testing.T, reps []*replica, scope attach.Scope, id string, n int) *attach.File {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var files []*attach.File
	for _, r := range reps {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f, err := r.svc.Confirm(context.Background(), scope, id)
				assert.NoError(t, err)
				mu.Lock()
				files = append(files, f)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	require.Len(t, files, n*len(reps))
	for _, f := range files {
		require.NotNil(t, f)
		assert.Equal(t, 1, f.Version)
		assert.Equal(t, files[0].Digest, f.Digest)
	}
	return files[0]
}

// TestReplicasOnS3AndPostgres: two replicas sharing PostgreSQL and S3
// behave as one.
func TestReplicasOnS3AndPostgres(t *testing.T) {
	pg := backendtest.RequireEnv(t, "ATTACH_POSTGRES_URL", "PostgreSQL")
	s3 := backendtest.RequireEnv(t, "ATTACH_S3_URL", "an S3-compatible server")
	a, b := newReplica(t, s3, pg, ""), newReplica(t, s3, pg, "")
	ctx := context.Background()
	scope := workspace(t)
	body := pngBytes(t, 64, 48)

	up, err := a.svc.RequestUpload(ctx, scope, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", Size: int64(len(body))})
	require.NoError(t, err)
	assert.NotContains(t, up.URL, a.srv.URL, "S3 signs its own upload URLs")
	resp := put(t, up, body, "")
	require.Less(t, resp.StatusCode, 300, "PUT to the presigned URL: %s", resp.Status)

	f := confirmEverywhere(t, []*replica{a, b}, scope, up.ID, 25)
	assert.Equal(t, attach.StatusReady, f.Status)
	assert.Equal(t, 64, *f.Width)
	vs, err := b.svc.File(ctx, scope, up.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, vs.Version)

	// A download URL issued by one replica serves the bytes; the other sees
	// the same file, and a delete through either is seen by both.
	link, err := b.svc.DownloadURL(ctx, scope, up.ID, nil)
	require.NoError(t, err)
	assert.Equal(t, body, get(t, link.URL))
	require.NoError(t, a.svc.Delete(ctx, scope, up.ID, nil))
	_, err = b.svc.File(ctx, scope, up.ID)
	assert.ErrorIs(t, err, attach.ErrNotFound)
}

// TestReplicasShareLibrarySignedURLs: with a storage that cannot sign
// (a shared disk here), a URL one replica signs is honoured by another.
func TestReplicasShareLibrarySignedURLs(t *testing.T) {
	pg := backendtest.RequireEnv(t, "ATTACH_POSTGRES_URL", "PostgreSQL")
	files := "file://" + filepath.ToSlash(t.TempDir())
	a := newReplica(t, files, pg, "")
	b := newReplica(t, files, pg, "")
	ctx := context.Background()
	scope := workspace(t)
	body := pngBytes(t, 10, 10)

	up, err := a.svc.RequestUpload(ctx, scope, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", Size: int64(len(body))})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(up.URL, a.srv.URL+"/v1/blob/"), "library-signed: %s", up.URL)
	resp := put(t, up, body, b.srv.URL) // signed by a, served by b
	require.Equal(t, http.StatusOK, resp.StatusCode)
	f := confirmEverywhere(t, []*replica{a, b}, scope, up.ID, 10)
	link, err := a.svc.DownloadURL(ctx, scope, f.ID, nil)
	require.NoError(t, err)
	lu, _ := url.Parse(link.URL)
	assert.Equal(t, body, get(t, b.srv.URL+lu.RequestURI()))
}

// TestStorageOutageDuringConfirm: a replica whose object store is
// unreachable cannot confirm, and leaves the file pending and retryable.
func TestStorageOutageDuringConfirm(t *testing.T) {
	pg := backendtest.RequireEnv(t, "ATTACH_POSTGRES_URL", "PostgreSQL")
	s3 := backendtest.RequireEnv(t, "ATTACH_S3_URL", "an S3-compatible server")
	dead, err := url.Parse(s3)
	require.NoError(t, err)
	q := dead.Query()
	q.Set("endpoint", "http://127.0.0.1:1") // nothing listens there
	dead.RawQuery = q.Encode()

	good := newReplica(t, s3, pg, "")
	down := newReplica(t, dead.String(), pg, "")
	ctx := context.Background()
	scope := workspace(t)
	body := pngBytes(t, 8, 8)
	up, err := good.svc.RequestUpload(ctx, scope, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", Size: int64(len(body))})
	require.NoError(t, err)
	require.Less(t, put(t, up, body, "").StatusCode, 300)

	_, err = down.svc.Confirm(ctx, scope, up.ID)
	require.Error(t, err)
	assert.Equal(t, attach.CodeInternal, attach.CodeOf(err), "%v", err)
	st, err := good.svc.Status(ctx, scope, up.ID)
	require.NoError(t, err)
	assert.Equal(t, attach.StatusPending, st.Status, "an outage changes nothing")

	f, err := good.svc.Confirm(ctx, scope, up.ID)
	require.NoError(t, err, "the retry succeeds once storage answers")
	assert.Equal(t, attach.StatusReady, f.Status)
}
