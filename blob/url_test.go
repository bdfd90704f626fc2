package blob_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/blob"
)

func TestOpen(t *testing.T) {
	dir := filepath.ToSlash(t.TempDir())
	tests := []struct {
		name    string
		url     string
		wantErr string // substring; "" means success
		wantDir bool   // success yields a local-disk storage
	}{
		{name: "mem", url: "mem://"},
		{name: "file absolute", url: "file://" + dir + "/files", wantDir: true},
		{name: "file localhost", url: "file://localhost" + dir + "/files", wantDir: true},
		{name: "file escaped space", url: "file://" + dir + "/with%20space", wantDir: true},
		{name: "file relative", url: "file://relative/dir", wantErr: `needs an absolute path, like "file:///var/lib/app/files"`},
		{name: "file opaque", url: "file:relative", wantErr: "needs an absolute path"},
		{name: "file root only", url: "file:///", wantErr: `needs a directory below "/"`},
		{name: "file no path", url: "file://", wantErr: `needs a directory below "/"`},
		{name: "file query", url: "file://" + dir + "?create_dir=1", wantErr: "takes no user, parameters or fragment"},
		{name: "mem host", url: "mem://bucket", wantErr: `use "mem://"`},
		{name: "mem query", url: "mem://?nomd5", wantErr: `use "mem://"`},
		{name: "unknown scheme", url: "ftp://host/dir", wantErr: `blob: unknown storage scheme "ftp" (available: azblob, file, gs, mem, s3)`},
		{name: "gocloud-only scheme", url: "gcppubsub://topic", wantErr: `unknown storage scheme "gcppubsub" (available: azblob, file, gs, mem, s3)`},
		{name: "no scheme", url: "/var/lib/app", wantErr: "blob: storage URL has no scheme (available: azblob, file, gs, mem, s3)"},
		{name: "empty", url: "", wantErr: "has no scheme"},
		{name: "malformed", url: "://nope", wantErr: "blob: malformed storage URL"},
		{name: "malformed escape", url: "file:///tmp/%zz", wantErr: "blob: malformed storage URL"},
		{name: "scheme case", url: "MEM://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := blob.Open(t.Context(), tt.url, nil)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Nil(t, s)
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			require.NoError(t, s.Ping(t.Context()))
			assert.Equal(t, tt.wantDir, isDisk(s))
		})
	}
}

func TestOpenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := blob.Open(ctx, "mem://", nil)
	assert.ErrorIs(t, err, context.Canceled)
}

// isDisk reports whether s keeps its objects on local disk.
func isDisk(s *blob.Storage) bool {
	var fi os.FileInfo
	return s.As(&fi)
}

func TestOpenCloudURLs(t *testing.T) {
	// Opening makes no request, so these need no server. Credentials and
	// defaults come from the environment through the SDKs; the variables
	// that could make a case depend on the machine are fixed here.
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AZURE_STORAGE_ACCOUNT", "")
	t.Setenv("AZURE_STORAGE_KEY", "")
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	t.Setenv("AZURE_STORAGEBLOB_CONNECTIONSTRING", "")
	t.Setenv("AZURE_STORAGE_SAS_TOKEN", "")
	t.Setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:1")

	var (
		s3c *s3.Client
		gcs *storage.Client
		az  *container.Client
	)
	isS3 := func(s *blob.Storage) bool { return s.As(&s3c) }
	isGCS := func(s *blob.Storage) bool { return s.As(&gcs) }
	isAzure := func(s *blob.Storage) bool { return s.As(&az) }
	const azureDev = "storage_account=devstoreaccount1&domain=127.0.0.1:10000&protocol=http"
	tests := []struct {
		name    string
		url     string
		wantErr string // substring; "" means success
		is      func(*blob.Storage) bool
	}{
		{name: "s3", url: "s3://bucket?region=us-east-1", is: isS3},
		{name: "s3 MinIO", url: "s3://bucket?region=us-east-1&endpoint=http://127.0.0.1:9000&use_path_style=true", is: isS3},
		{name: "s3 escaped endpoint", url: "s3://bucket?region=eu-west-1&endpoint=https%3A%2F%2Fs3.example.com", is: isS3},
		{name: "s3 unknown parameter", url: "s3://bucket?region=us-east-1&ssetype=AES256",
			wantErr: `blob: unknown s3 URL parameter "ssetype" (available: endpoint, profile, region, use_path_style)`},
		{name: "s3 repeated parameter", url: "s3://bucket?region=us-east-1&region=eu-west-1", wantErr: `s3 URL parameter "region" given 2 times`},
		{name: "s3 bad boolean", url: "s3://bucket?region=us-east-1&use_path_style=yes please", wantErr: `use_path_style="yes please" is not true or false`},
		{name: "s3 relative endpoint", url: "s3://bucket?region=us-east-1&endpoint=127.0.0.1:9000", wantErr: "is not an absolute http(s) URL"},
		{name: "s3 no region", url: "s3://bucket", wantErr: "no region (set S3Options.Region, the region URL parameter, or AWS_REGION)"},
		{name: "s3 no bucket", url: "s3://?region=us-east-1", wantErr: `a s3 URL names its bucket as the host, like "s3://bucket"`},
		{name: "s3 path", url: "s3://bucket/prefix?region=us-east-1", wantErr: "takes no path after the bucket"},
		{name: "s3 credentials in URL", url: "s3://key:secret@bucket?region=us-east-1", wantErr: "takes no user, port or fragment"},
		{name: "gs", url: "gs://bucket", is: isGCS},
		{name: "gs anonymous", url: "gs://bucket?anonymous=true", is: isGCS},
		{name: "gs unknown parameter", url: "gs://bucket?grpc=true",
			wantErr: `blob: unknown gs URL parameter "grpc" (available: access_id, anonymous, private_key_path)`},
		{name: "gs access id without key", url: "gs://bucket?access_id=a@b.iam.gserviceaccount.com", wantErr: "set both or neither"},
		{name: "gs missing key file", url: "gs://bucket?access_id=a@b&private_key_path=/nonexistent/key.pem", wantErr: "private_key_path"},
		{name: "azblob", url: "azblob://container?" + azureDev + "&localemu=true", is: isAzure},
		{name: "azblob unknown parameter", url: "azblob://container?" + azureDev + "&key=secret",
			wantErr: `blob: unknown azblob URL parameter "key" (available: domain, localemu, protocol, storage_account)`},
		{name: "azblob bad protocol", url: "azblob://container?" + azureDev[:strings.Index(azureDev, "&protocol")] + "&protocol=ftp", wantErr: `invalid protocol "ftp"`},
		{name: "azblob no account", url: "azblob://container", wantErr: "no storage account (set AzureOptions.AccountName, the storage_account URL parameter, or AZURE_STORAGE_ACCOUNT)"},
		{name: "azblob fragment", url: "azblob://container#x", wantErr: "takes no user, port or fragment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := blob.Open(t.Context(), tt.url, nil)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Nil(t, s)
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			assert.True(t, tt.is(s), "the storage is over the scheme's service")
			assert.False(t, isDisk(s))
		})
	}
}

func TestOpenCloudTyped(t *testing.T) {
	// The typed constructors refuse what their URLs refuse.
	t.Setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:1")
	_, err := blob.OpenS3(t.Context(), "", &blob.S3Options{Region: "us-east-1"})
	assert.ErrorContains(t, err, "needs a bucket name")
	_, err = blob.OpenGCS(t.Context(), "", nil)
	assert.ErrorContains(t, err, "needs a bucket name")
	_, err = blob.OpenGCS(t.Context(), "b", &blob.GCSOptions{PrivateKey: []byte("pem")})
	assert.ErrorContains(t, err, "set both or neither")
	_, err = blob.OpenAzure(t.Context(), "", nil)
	assert.ErrorContains(t, err, "needs a container name")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = blob.OpenAzure(ctx, "c", nil)
	assert.ErrorIs(t, err, context.Canceled)
}
