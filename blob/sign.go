package blob

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/attachkit/attachkit/driver"
)

// Bounds of SignOptions.Expiry. A second is the granularity of every
// service's expiry; seven days is the longest S3 (SigV4) and GCS (V4)
// signatures allow, applied to every backend so that the rules are the same
// everywhere.
const (
	minSignExpiry = time.Second
	maxSignExpiry = 7 * 24 * time.Hour
)

// opSign names signing in error messages.
const opSign = "sign"

// signer signs URLs with one service's own scheme. Its errors are not yet
// wrapped: SignedURL wraps them.
type signer interface {
	signedURL(ctx context.Context, s *Storage, key string, o *driver.SignOptions) (string, error)
}

// detectService recognises the bucket's gocloud driver and sets up what
// Storage does differently for it: native URL signing for S3, GCS and
// Azure, and uploads through Bucket.Upload for Azure (see uploadWriter).
func (s *Storage) detectService() {
	var (
		s3c *s3.Client
		gcs *storage.Client
		az  *container.Client
	)
	switch {
	case s.bucket.As(&s3c):
		s.signer = s3Signer{}
	case s.bucket.As(&gcs):
		s.signer = gcsSigner{}
	case s.bucket.As(&az):
		s.signer = &azureSigner{client: az}
		s.uploadOnly = true
	}
}

// SignedURL implements driver.Signer. It returns a URL, signed with the
// service's own scheme, that grants one GET or PUT of key until
// opts.Expiry (1s to 7 days) has passed. What each service binds into the
// signature is listed in the package documentation ("Signed URLs").
//
// Options no backend honours (a method other than GET or PUT, a PUT
// without a content type, an expiry out of bounds, a malformed type or
// disposition) return an error matching driver.ErrInvalidArgument, on
// every storage. Storages whose service has no signing scheme (memory,
// local disk), GCS storages without signing credentials, and Azure storages
// without the account key for a download URL return an error matching
// driver.ErrUnimplemented, after which attach signs its own URLs.
func (s *Storage) SignedURL(ctx context.Context, key string, opts *driver.SignOptions) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := validateKey(key); err != nil {
		return "", err
	}
	o, problem := checkSignOptions(opts)
	if problem != "" {
		return "", fmt.Errorf("blob: %s %s: %w: %s", opSign, quoteKey(key), driver.ErrInvalidArgument, problem)
	}
	if s.signer == nil {
		return "", fmt.Errorf("blob: %s %s: %w: this storage's service cannot sign URLs", opSign, quoteKey(key), driver.ErrUnimplemented)
	}
	u, err := s.signer.signedURL(ctx, s, key, &o)
	if err != nil {
		return "", s.wrap(ctx, opSign, key, err)
	}
	return u, nil
}

// checkSignOptions returns a copy of opts, or why it is refused.
func checkSignOptions(opts *driver.SignOptions) (driver.SignOptions, string) {
	if opts == nil {
		return driver.SignOptions{}, "no SignOptions"
	}
	o := *opts
	switch {
	case o.Method != http.MethodGet && o.Method != http.MethodPut:
		return o, fmt.Sprintf("method %q (want GET or PUT)", o.Method)
	case o.Expiry < minSignExpiry || o.Expiry > maxSignExpiry:
		return o, fmt.Sprintf("expiry %v out of range [%v, %v]", o.Expiry, minSignExpiry, maxSignExpiry)
	case o.Method == http.MethodPut && o.ContentType == "":
		return o, "a PUT URL needs the content type the upload must send"
	case o.Method == http.MethodPut && o.ContentLength < 0:
		return o, fmt.Sprintf("negative content length %d", o.ContentLength)
	case o.Method == http.MethodPut && o.ContentDisposition != "":
		return o, "a PUT URL takes no content disposition"
	}
	if o.ContentType != "" {
		if _, _, err := mime.ParseMediaType(o.ContentType); err != nil || hasControl(o.ContentType) {
			return o, fmt.Sprintf("malformed content type %q", o.ContentType)
		}
	}
	if o.ContentDisposition != "" {
		if _, _, err := mime.ParseMediaType(o.ContentDisposition); err != nil || hasControl(o.ContentDisposition) {
			return o, fmt.Sprintf("malformed content disposition %q", o.ContentDisposition)
		}
	}
	return o, ""
}

// hasControl reports whether v holds a byte that cannot appear in an HTTP
// header value.
func hasControl(v string) bool {
	return strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f })
}

// UploadHeaders implements driver.UploadHeaderer: Azure's Put Blob needs
// the blob type, which a SAS cannot carry; S3's presigned PUTs are
// create-only through a signed If-None-Match; other services need nothing
// beyond Content-Type.
func (s *Storage) UploadHeaders() map[string]string {
	switch s.signer.(type) {
	case *azureSigner:
		return map[string]string{"x-ms-blob-type": "BlockBlob"}
	case s3Signer:
		return map[string]string{"If-None-Match": "*"}
	}
	return nil
}
