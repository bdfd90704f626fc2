package blob_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/driver/drivertest"
	"github.com/attachkit/attachkit/internal/backendtest"
)

// cloud is one object-store backend the tests run against, found through
// the environment variables .ci/lib/<server>.sh exports.
type cloud struct {
	name string
	env  string // holds the storage URL of a bucket the server has
	what string
	// create makes the bucket that s (opened on a new name) stands for,
	// and returns how to remove it.
	create func(t *testing.T, s *blob.Storage, name string) (remove func(context.Context) error)
}

var clouds = []cloud{
	{name: "S3", env: "ATTACH_S3_URL", what: "an S3 server such as MinIO (.ci/lib/minio.sh)", create: createS3},
	{name: "GCS", env: "ATTACH_GCS_URL", what: "a GCS server such as fake-gcs-server (.ci/lib/fakegcs.sh)", create: createGCS},
	{name: "Azure", env: "ATTACH_AZURE_URL", what: "an Azure Blob server such as Azurite (.ci/lib/azurite.sh)", create: createAzure},
}

// cloudByName returns the backend called name.
func cloudByName(t *testing.T, name string) cloud {
	t.Helper()
	for _, c := range clouds {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no cloud %q", name)
	return cloud{}
}

// baseURL returns the backend's storage URL, skipping the test when the
// server is not configured.
func (c cloud) baseURL(t *testing.T) *url.URL {
	t.Helper()
	raw := backendtest.RequireEnv(t, c.env, c.what)
	u, err := url.Parse(raw)
	require.NoError(t, err, c.env)
	return u
}

// fresh returns a storage over a new, empty bucket, which is removed with
// its objects when the test ends. A fresh bucket per test isolates tests
// completely, and leaves keys their full length (a key prefix would not).
func (c cloud) fresh(t *testing.T) *blob.Storage {
	t.Helper()
	s, _ := c.freshBucket(t)
	return s
}

// freshBucket is fresh, also returning the bucket's name.
func (c cloud) freshBucket(t *testing.T) (*blob.Storage, string) {
	t.Helper()
	u := c.baseURL(t)
	u.Host = "ak-" + randomHex(t, 12)
	s, err := blob.Open(t.Context(), u.String(), nil)
	require.NoError(t, err)
	remove := c.create(t, s, u.Host)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var keys []string
		_ = s.List(ctx, "", func(o driver.ObjectInfo) error {
			keys = append(keys, o.Key)
			return nil
		})
		for _, k := range keys {
			_ = s.Delete(ctx, k)
		}
		assert.NoError(t, remove(ctx), "removing bucket %s", u.Host)
		assert.NoError(t, s.Close())
	})
	return s, u.Host
}

func createS3(t *testing.T, s *blob.Storage, name string) func(context.Context) error {
	t.Helper()
	var c *s3.Client
	require.True(t, s.As(&c), "an S3 storage exposes its *s3.Client")
	_, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)})
	require.NoError(t, err)
	return func(ctx context.Context) error {
		_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
		return err
	}
}

func createGCS(t *testing.T, s *blob.Storage, name string) func(context.Context) error {
	t.Helper()
	var c *storage.Client
	require.True(t, s.As(&c), "a GCS storage exposes its *storage.Client")
	require.NoError(t, c.Bucket(name).Create(t.Context(), "attachkit-ci", nil))
	return func(ctx context.Context) error { return c.Bucket(name).Delete(ctx) }
}

func createAzure(t *testing.T, s *blob.Storage, _ string) func(context.Context) error {
	t.Helper()
	var c *container.Client
	require.True(t, s.As(&c), "an Azure storage exposes its *container.Client")
	_, err := c.Create(t.Context(), nil)
	require.NoError(t, err)
	return func(ctx context.Context) error {
		_, err := c.Delete(ctx, nil)
		return err
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func TestCloudConformance(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			c.baseURL(t) // skip (or fail) once, not per subtest
			drivertest.RunStorageTests(t, func(t *testing.T) driver.Storage { return c.fresh(t) })
		})
	}
}

func TestCloudPing(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			s, err := blob.Open(t.Context(), c.baseURL(t).String(), nil)
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			require.NoError(t, s.Ping(t.Context()), "the bucket the CI script created is reachable")

			u := c.baseURL(t)
			u.Host = "ak-missing-" + randomHex(t, 4)
			missing, err := blob.Open(t.Context(), u.String(), nil)
			require.NoError(t, err, "opening makes no request")
			t.Cleanup(func() { _ = missing.Close() })
			assert.Error(t, missing.Ping(t.Context()), "a bucket that does not exist is not reachable")
		})
	}
}

func TestCloudAttributes(t *testing.T) {
	// What each service reports beyond the conformance suite's checks:
	// whether the MD5 is known for objects written in one request and in
	// parts (S3 above 8 MiB, Azure above its 8 MiB blocks). An MD5 that is
	// reported must be right.
	const large = 9 << 20
	tests := []struct {
		cloud       string
		size        int
		wantMD5     bool // known; otherwise it may be nil
		wantETagMD5 bool // the ETag is the quoted hex MD5
	}{
		{cloud: "S3", size: 1000, wantMD5: true, wantETagMD5: true},
		// AWS's multipart ETag ("<hex>-2") is no MD5, so nil; MinIO's is.
		{cloud: "S3", size: large},
		{cloud: "GCS", size: 1000, wantMD5: true},
		{cloud: "GCS", size: large, wantMD5: true},
		{cloud: "Azure", size: 1000, wantMD5: true},
		{cloud: "Azure", size: large}, // committed from blocks: Azure records none
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d bytes", tt.cloud, tt.size), func(t *testing.T) {
			s := cloudByName(t, tt.cloud).fresh(t)
			data := bytes.Repeat([]byte("attachkit"), tt.size/9+1)[:tt.size]
			before := time.Now()
			w, err := s.NewWriter(t.Context(), "obj", &driver.WriterOptions{ContentType: "application/pdf", Size: int64(tt.size)})
			require.NoError(t, err)
			_, err = io.Copy(w, bytes.NewReader(data))
			require.NoError(t, err)
			require.NoError(t, w.Close())

			a, err := s.Attributes(t.Context(), "obj")
			require.NoError(t, err)
			assert.Equal(t, int64(tt.size), a.Size)
			assert.Equal(t, "application/pdf", a.ContentType)
			assert.NotEmpty(t, a.ETag)
			assert.WithinRange(t, a.ModTime, before.Add(-2*time.Second), time.Now().Add(2*time.Second))
			sum := md5.Sum(data)
			if tt.wantMD5 || a.MD5 != nil {
				assert.Equal(t, sum[:], a.MD5)
			}
			if tt.wantETagMD5 {
				assert.Equal(t, `"`+hex.EncodeToString(sum[:])+`"`, a.ETag)
			}
		})
	}
}

func TestCloudCreateOnlyLarge(t *testing.T) {
	// IfNotExist holds for objects written in parts too: S3 sends
	// If-None-Match with CompleteMultipartUpload, Azure with Put Block
	// List, GCS with the resumable upload.
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			s := c.fresh(t)
			w, err := s.NewWriter(t.Context(), "k", nil)
			require.NoError(t, err)
			_, err = w.Write([]byte("first"))
			require.NoError(t, err)
			require.NoError(t, w.Close())

			w, err = s.NewWriter(t.Context(), "k", &driver.WriterOptions{IfNotExist: true})
			require.NoError(t, err)
			_, err = io.Copy(w, bytes.NewReader(make([]byte, 17<<20)))
			if err == nil {
				err = w.Close()
			} else {
				_ = w.Close()
			}
			require.ErrorIs(t, err, driver.ErrExists)

			r, err := s.NewRangeReader(t.Context(), "k", 0, -1)
			require.NoError(t, err)
			defer r.Close()
			b, err := io.ReadAll(r)
			require.NoError(t, err)
			assert.Equal(t, "first", string(b))
		})
	}
}

func TestS3EncryptedObjectMD5(t *testing.T) {
	// The ETag of an SSE-KMS object is not its MD5, although it looks like
	// one: Attributes must not report it as the digest. (.ci/lib/minio.sh
	// gives MinIO a KMS key.)
	s, bucket := cloudByName(t, "S3").freshBucket(t)
	var c *s3.Client
	require.True(t, s.As(&c))
	data := []byte("encrypted at rest")
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("kms"),
		Body: bytes.NewReader(data), ServerSideEncryption: s3types.ServerSideEncryptionAwsKms})
	require.NoError(t, err)
	a, err := s.Attributes(t.Context(), "kms")
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), a.Size)
	assert.NotEmpty(t, a.ETag)
	assert.Nil(t, a.MD5, "ETag %s of an SSE-KMS object is no digest", a.ETag)
}
