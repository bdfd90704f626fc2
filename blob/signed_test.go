package blob_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/driver/drivertest"
	"github.com/attachkit/attachkit/internal/backendtest"
)

// nativeUploads returns a harness issuing s's own presigned PUT URLs for
// fresh keys; headers are what the client sends besides Content-Type.
func nativeUploads(s *blob.Storage, headers map[string]string) func(t *testing.T, contentType string, size int64, expired bool) drivertest.SignedUpload {
	return func(t *testing.T, contentType string, size int64, expired bool) drivertest.SignedUpload {
		t.Helper()
		key := "uploads/" + randomHex(t, 8)
		expiry := time.Hour
		if expired {
			expiry = time.Second
		}
		signed := time.Now()
		u, err := s.SignedURL(t.Context(), key, &driver.SignOptions{
			Method: http.MethodPut, Expiry: expiry, ContentType: contentType, ContentLength: size,
		})
		require.NoError(t, err)
		if expired {
			// Services compare whole seconds: wait until the last second
			// the URL covers is over.
			time.Sleep(time.Until(signed.Truncate(time.Second).Add(expiry + time.Second + 100*time.Millisecond)))
		}
		h := map[string]string{"Content-Type": contentType}
		for k, v := range headers {
			h[k] = v
		}
		return drivertest.SignedUpload{URL: u, Headers: h, Stored: func(t *testing.T) ([]byte, error) {
			r, err := s.NewRangeReader(t.Context(), key, 0, -1)
			if err != nil {
				return nil, err
			}
			defer r.Close()
			return io.ReadAll(r)
		}}
	}
}

// xmlRefusal checks that the service explains a refusal in its XML error
// body (responses to HEAD have none).
func xmlRefusal(t *testing.T, name string, resp *http.Response, body []byte) {
	if resp.Request.Method != http.MethodHead {
		assert.Contains(t, string(body), "<Code>", "%s: the service explains a refusal in an XML error", name)
	}
}

func TestS3SignedUploads(t *testing.T) {
	// MinIO itself refuses every upload but the one the URL grants: the
	// Content-Length and Content-Type are signed headers.
	s := cloudByName(t, "S3").fresh(t)
	const firstValueWins = "MinIO reads only the first value of a repeated X-Amz-* parameter and leaves these out of " +
		"the canonical query, so an appended second value is ignored and the request stays exactly the signed one"
	drivertest.RunSignedURLTests(t, drivertest.SignedURLHarness{
		NewUpload:      nativeUploads(s, s.UploadHeaders()),
		SignatureParam: "X-Amz-Signature",
		CheckRefusal:   xmlRefusal,
		CreateOnly:     true, // a signed If-None-Match: *
		Skip: map[string]string{
			"DuplicateParam/X-Amz-Algorithm":     firstValueWins,
			"DuplicateParam/X-Amz-Credential":    firstValueWins,
			"DuplicateParam/X-Amz-Date":          firstValueWins,
			"DuplicateParam/X-Amz-Expires":       firstValueWins,
			"DuplicateParam/X-Amz-SignedHeaders": firstValueWins,
			"DuplicateParam/X-Amz-Signature":     firstValueWins,
		},
	})
}

func TestAzureSignedUploads(t *testing.T) {
	// A service SAS signs its own fields only (blob, permission, validity),
	// never the request's headers. Its "create" permission writes a new
	// blob and refuses to replace one (403), so after a refused-in-spirit
	// upload was stored the correct one is refused too.
	s := cloudByName(t, "Azure").fresh(t)
	const noLength = "a service SAS cannot bind Content-Length: Azure stores a body of any size " +
		"(attach's confirm compares the stored size with the declared one)"
	const noType = "a service SAS cannot bind Content-Type: Azure stores the type the client sends " +
		"(attach's confirm sniffs the bytes)"
	drivertest.RunSignedURLTests(t, drivertest.SignedURLHarness{
		NewUpload:      nativeUploads(s, s.UploadHeaders()),
		SignatureParam: "sig",
		Skip: map[string]string{
			"LongerBody":         noLength,
			"ShorterBody":        noLength,
			"ConcurrentPuts":     noLength + "; its oversized PUTs are stored",
			"WrongContentType":   noType,
			"MissingContentType": noType,
			"ExtraParam":         "Azure ignores query parameters that are not part of the SAS, which signs only its own",
		},
	})
}

func TestSignedURLOptions(t *testing.T) {
	// The same options are refused on every storage, before it is asked
	// whether it can sign at all.
	put := func(mod func(o *driver.SignOptions)) *driver.SignOptions {
		o := &driver.SignOptions{Method: http.MethodPut, Expiry: time.Hour, ContentType: "image/png", ContentLength: 10}
		if mod != nil {
			mod(o)
		}
		return o
	}
	tests := []struct {
		name string
		key  string
		opts *driver.SignOptions
		want error
	}{
		{name: "nil options", opts: nil, want: driver.ErrInvalidArgument},
		{name: "DELETE", opts: put(func(o *driver.SignOptions) { o.Method = http.MethodDelete }), want: driver.ErrInvalidArgument},
		{name: "lower-case method", opts: put(func(o *driver.SignOptions) { o.Method = "put" }), want: driver.ErrInvalidArgument},
		{name: "no expiry", opts: put(func(o *driver.SignOptions) { o.Expiry = 0 }), want: driver.ErrInvalidArgument},
		{name: "sub-second expiry", opts: put(func(o *driver.SignOptions) { o.Expiry = 500 * time.Millisecond }), want: driver.ErrInvalidArgument},
		{name: "expiry past a week", opts: put(func(o *driver.SignOptions) { o.Expiry = 7*24*time.Hour + time.Second }), want: driver.ErrInvalidArgument},
		{name: "PUT without type", opts: put(func(o *driver.SignOptions) { o.ContentType = "" }), want: driver.ErrInvalidArgument},
		{name: "negative length", opts: put(func(o *driver.SignOptions) { o.ContentLength = -1 }), want: driver.ErrInvalidArgument},
		{name: "PUT with disposition", opts: put(func(o *driver.SignOptions) { o.ContentDisposition = "attachment" }), want: driver.ErrInvalidArgument},
		{name: "malformed type", opts: put(func(o *driver.SignOptions) { o.ContentType = "image/" }), want: driver.ErrInvalidArgument},
		{name: "header injection in type", opts: put(func(o *driver.SignOptions) { o.ContentType = "text/plain\r\nX-Evil: 1" }), want: driver.ErrInvalidArgument},
		{name: "malformed disposition", opts: &driver.SignOptions{Method: http.MethodGet, Expiry: time.Hour, ContentDisposition: `attachment; filename="x`}, want: driver.ErrInvalidArgument},
		{name: "invalid key", key: "../x", opts: put(nil), want: driver.ErrInvalidArgument},
		{name: "valid PUT", opts: put(nil), want: driver.ErrUnimplemented},
		{name: "valid GET", opts: &driver.SignOptions{Method: http.MethodGet, Expiry: 7 * 24 * time.Hour, ContentType: "image/png", ContentDisposition: `inline; filename="a.png"`}, want: driver.ErrUnimplemented},
	}
	for name, s := range storages(t) {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				key := tt.key
				if key == "" {
					key = "k"
				}
				u, err := s.SignedURL(t.Context(), key, tt.opts)
				assert.Empty(t, u)
				require.ErrorIs(t, err, tt.want)
				assert.Contains(t, err.Error(), "blob: ")
			})
		}
		t.Run(name+"/cancelled", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := s.SignedURL(ctx, "k", put(nil))
			assert.ErrorIs(t, err, context.Canceled)
		})
	}
}

// azureWithKey opens the container s stands for again, with the account
// key the environment holds for Azurite given explicitly, as an
// application would pass it in AzureOptions.
func azureWithKey(t *testing.T, s *blob.Storage) *blob.Storage {
	t.Helper()
	base := cloudByName(t, "Azure").baseURL(t)
	var c *container.Client
	require.True(t, s.As(&c))
	name := c.URL()[strings.LastIndexByte(strings.TrimSuffix(c.URL(), "/"), '/')+1:]
	q := base.Query()
	keyed, err := blob.OpenAzure(t.Context(), strings.TrimSuffix(name, "/"), &blob.AzureOptions{
		AccountName:   backendtest.RequireEnv(t, "AZURE_STORAGE_ACCOUNT", "Azurite's account name"),
		AccountKey:    backendtest.RequireEnv(t, "AZURE_STORAGE_KEY", "Azurite's account key"),
		Domain:        q.Get("domain"),
		Protocol:      q.Get("protocol"),
		LocalEmulator: q.Get("localemu") == "true",
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = keyed.Close() })
	return keyed
}

func TestSignedDownloads(t *testing.T) {
	tests := []struct {
		name       string
		open       func(t *testing.T) *blob.Storage
		typeParam  string // the query parameter that sets the response's type
		tamperedOK bool
	}{
		{name: "S3", open: func(t *testing.T) *blob.Storage { return cloudByName(t, "S3").fresh(t) }, typeParam: "response-content-type"},
		{name: "Azure", open: func(t *testing.T) *blob.Storage { return azureWithKey(t, cloudByName(t, "Azure").fresh(t)) }, typeParam: "rsct"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.open(t)
			// The key holds every character Azure's blob names escape.
			const key = `ws/f/v1/"odd" #1?%.bin`
			data := []byte("\x89PNG\r\n\x1a\n not really a PNG")
			w, err := s.NewWriter(t.Context(), key, &driver.WriterOptions{ContentType: "text/html"})
			require.NoError(t, err)
			_, err = w.Write(data)
			require.NoError(t, err)
			require.NoError(t, w.Close())

			const disposition = `attachment; filename="report.png"`
			signed, err := s.SignedURL(t.Context(), key, &driver.SignOptions{Method: http.MethodGet, Expiry: time.Hour,
				ContentType: "image/png", ContentDisposition: disposition})
			require.NoError(t, err)
			resp, body := httpDo(t, http.MethodGet, signed)
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
			assert.Equal(t, data, body)
			assert.Equal(t, "image/png", resp.Header.Get("Content-Type"), "the signed type, not the stored one")
			assert.Equal(t, disposition, resp.Header.Get("Content-Disposition"))

			u, err := url.Parse(signed)
			require.NoError(t, err)
			q := u.Query()
			require.Equal(t, "image/png", q.Get(tt.typeParam))
			q.Set(tt.typeParam, "text/html")
			u.RawQuery = q.Encode()
			resp, body = httpDo(t, http.MethodGet, u.String())
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a changed response type breaks the signature: %s", body)
			assert.NotContains(t, string(body), "not really a PNG")

			put, err := s.SignedURL(t.Context(), key, &driver.SignOptions{Method: http.MethodPut, Expiry: time.Hour,
				ContentType: "image/png", ContentLength: int64(len(data))})
			require.NoError(t, err)
			resp, body = httpDo(t, http.MethodGet, put)
			assert.True(t, resp.StatusCode >= 400 && resp.StatusCode < 500, "an upload URL does not download: %d %s", resp.StatusCode, body)
			assert.NotContains(t, string(body), "not really a PNG")
		})
	}
}

// httpDo sends a bodiless request and returns the response and its body.
func httpDo(t *testing.T, method, rawURL string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func TestAzureUploadURLCreatesOnly(t *testing.T) {
	// The SAS grants "create", not "write": it stores a new blob and never
	// replaces one, so a confirmed upload cannot be swapped afterwards.
	s := cloudByName(t, "Azure").fresh(t)
	signed, err := s.SignedURL(t.Context(), "once", &driver.SignOptions{Method: http.MethodPut, Expiry: time.Hour,
		ContentType: "text/plain", ContentLength: 5})
	require.NoError(t, err)
	send := func(body string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, signed, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("x-ms-blob-type", "BlockBlob")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusCreated, send("first"))
	assert.Equal(t, http.StatusForbidden, send("other"))
	r, err := s.NewRangeReader(t.Context(), "once", 0, -1)
	require.NoError(t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, "first", string(b))
}

func TestSignedURLUnimplemented(t *testing.T) {
	// Where the service cannot sign what attach needs, SignedURL says
	// ErrUnimplemented and attach signs its own URLs.
	put := &driver.SignOptions{Method: http.MethodPut, Expiry: time.Hour, ContentType: "text/plain", ContentLength: 5}
	get := &driver.SignOptions{Method: http.MethodGet, Expiry: time.Hour, ContentType: "text/plain"}
	tests := []struct {
		name  string
		cloud string
		opts  *driver.SignOptions
	}{
		{name: "GCS without signing credentials, PUT", cloud: "GCS", opts: put},
		{name: "GCS without signing credentials, GET", cloud: "GCS", opts: get},
		{name: "S3 empty upload", cloud: "S3", opts: &driver.SignOptions{Method: http.MethodPut, Expiry: time.Hour, ContentType: "text/plain"}},
		{name: "Azure download without the account key", cloud: "Azure", opts: get},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := blob.Open(t.Context(), cloudByName(t, tt.cloud).baseURL(t).String(), nil)
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			_, err = s.SignedURL(t.Context(), "k", tt.opts)
			assert.ErrorIs(t, err, driver.ErrUnimplemented)
		})
	}
	t.Run("Azure upload with the environment's shared key", func(t *testing.T) {
		s, err := blob.Open(t.Context(), cloudByName(t, "Azure").baseURL(t).String(), nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		u, err := s.SignedURL(t.Context(), "k", put)
		require.NoError(t, err)
		assert.Contains(t, u, "sp=c&")
	})
}

func TestGCSSignedURLs(t *testing.T) {
	// fake-gcs-server checks no signatures, so this checks what a V4 URL
	// binds; it needs no server.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	require.NoError(t, os.WriteFile(keyFile, pemKey, 0o600))
	const signer = "uploader@project.iam.gserviceaccount.com"

	opens := []struct {
		name string
		open func(t *testing.T) (*blob.Storage, error)
	}{
		{name: "OpenGCS", open: func(t *testing.T) (*blob.Storage, error) {
			return blob.OpenGCS(t.Context(), "bucket", &blob.GCSOptions{GoogleAccessID: signer, PrivateKey: pemKey, Anonymous: true})
		}},
		{name: "gs URL", open: func(t *testing.T) (*blob.Storage, error) {
			return blob.Open(t.Context(), "gs://bucket?anonymous=true&access_id="+url.QueryEscape(signer)+"&private_key_path="+url.QueryEscape(keyFile), nil)
		}},
	}
	for _, o := range opens {
		t.Run(o.name, func(t *testing.T) {
			s, err := o.open(t)
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })

			put, err := s.SignedURL(t.Context(), "ws/f/v1/x", &driver.SignOptions{Method: http.MethodPut, Expiry: 15 * time.Minute,
				ContentType: "image/png", ContentLength: 10})
			require.NoError(t, err)
			u, err := url.Parse(put)
			require.NoError(t, err)
			q := u.Query()
			assert.Equal(t, "GOOG4-RSA-SHA256", q.Get("X-Goog-Algorithm"))
			expires, err := strconv.Atoi(q.Get("X-Goog-Expires"))
			require.NoError(t, err)
			assert.InDelta(t, 900, expires, 60, "X-Goog-Expires counts from the signing time")
			assert.Contains(t, q.Get("X-Goog-Credential"), signer+"/")
			assert.Equal(t, []string{"content-type", "host"}, strings.Split(q.Get("X-Goog-SignedHeaders"), ";"))
			assert.NotEmpty(t, q.Get("X-Goog-Signature"))
			assert.True(t, strings.HasSuffix(u.Path, "/bucket/ws/f/v1/x"), u.Path)

			get, err := s.SignedURL(t.Context(), "ws/f/v1/x", &driver.SignOptions{Method: http.MethodGet, Expiry: time.Hour,
				ContentType: "image/png", ContentDisposition: `attachment; filename="a.png"`})
			require.NoError(t, err)
			u, err = url.Parse(get)
			require.NoError(t, err)
			q = u.Query()
			assert.Equal(t, "image/png", q.Get("response-content-type"))
			assert.Equal(t, `attachment; filename="a.png"`, q.Get("response-content-disposition"))
			assert.NotEqual(t, put, get)
		})
	}
}
