package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/backendtest"
)

// freshBucketURL creates an empty bucket on the S3-compatible server
// ATTACH_S3_URL names (MinIO in CI) and returns that URL naming it instead.
// The bucket and its objects are removed at the end of the test.
func freshBucketURL(t *testing.T) string {
	t.Helper()
	base := backendtest.RequireEnv(t, "ATTACH_S3_URL", "an S3-compatible server")
	ctx := context.Background()
	st, err := driver.OpenStorage(ctx, base)
	require.NoError(t, err)
	defer st.Close()
	var client *s3.Client
	as, ok := st.(interface{ As(any) bool })
	require.True(t, ok && as.As(&client), "the s3 storage exposes its *s3.Client")

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	bucket := "attachctl-" + hex.EncodeToString(b)
	_, err = client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err)
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Host = bucket
	fresh := u.String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := driver.OpenStorage(ctx, fresh)
		if err == nil {
			_ = st.List(ctx, "", func(o driver.ObjectInfo) error { return st.Delete(ctx, o.Key) })
			_ = st.Close()
		}
		_, err = client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
		assert.NoError(t, err, "delete bucket %s", bucket)
	})
	return fresh
}

// TestMigrateToS3 is the acceptance test: a populated file://
// store moves into an S3 bucket, verify then reports zero problems, and a
// rerun copies nothing.
func TestMigrateToS3(t *testing.T) {
	dst := freshBucketURL(t)
	d := newDeployment(t)

	res := attachctl(t, "migrate", "-from", d.storageURL, "-to", dst, "-meta", d.metaURL)
	require.Equal(t, exitOK, res.code, "%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, migrateLine(6, d.total(), 0, 1, 0))
	assert.Equal(t, d.objects, readAll(t, openURL(t, dst)))

	res = attachctl(t, "verify", "-storage", dst, "-meta", d.metaURL)
	assert.Equal(t, exitOK, res.code, "%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, "problems: 0 (")

	res = attachctl(t, "migrate", "-from", d.storageURL, "-to", dst, "-meta", d.metaURL)
	require.Equal(t, exitOK, res.code, "%s%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, migrateLine(0, 0, 6, 1, 0))

	// Back again: S3 as the source.
	back := "file://" + t.TempDir()
	res = attachctl(t, "migrate", "-from", dst, "-to", back, "-meta", d.metaURL)
	require.Equal(t, exitOK, res.code, "%s%s", res.stdout, res.stderr)
	assert.Equal(t, d.objects, readAll(t, openURL(t, back)))
}
