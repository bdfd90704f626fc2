package blob

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"cloud.google.com/go/storage"
	gcblob "gocloud.dev/blob"
	"gocloud.dev/blob/gcsblob"
	"google.golang.org/api/option"

	"github.com/attachkit/attachkit/driver"
)

// GCSOptions configure OpenGCS. The zero value, and a nil *GCSOptions,
// mean the defaults. Credentials come from the Cloud Storage client's
// default chain (Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS,
// gcloud's credentials, the metadata server); when STORAGE_EMULATOR_HOST
// is set, the client talks to that emulator without credentials.
type GCSOptions struct {
	// GoogleAccessID is the email of the service account whose key signs
	// URLs, and PrivateKey that key (PEM), as in a service account's JSON
	// key file ("client_email" and "private_key"). Set both to sign URLs;
	// the default, neither, makes SignedURL return an error matching
	// driver.ErrUnimplemented, and attach signs its own URLs instead.
	GoogleAccessID string
	PrivateKey     []byte
	// Anonymous makes requests without credentials, for public buckets.
	// The default is false.
	Anonymous bool
}

// gcsParams are the parameters of gs URLs, sorted: access_id sets
// GCSOptions.GoogleAccessID, private_key_path names a PEM file holding
// GCSOptions.PrivateKey, anonymous sets GCSOptions.Anonymous.
var gcsParams = []string{"access_id", "anonymous", "private_key_path"}

// OpenGCS returns a Storage over the Google Cloud Storage bucket named
// bucket, which must exist. It makes no request to the bucket: use Ping to
// check that it is reachable.
func OpenGCS(ctx context.Context, bucket string, opts *GCSOptions) (*Storage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var o GCSOptions
	if opts != nil {
		o = *opts
	}
	if bucket == "" {
		return nil, errors.New("blob: OpenGCS needs a bucket name")
	}
	if (o.GoogleAccessID == "") != (len(o.PrivateKey) == 0) {
		return nil, fmt.Errorf("blob: open gcs bucket %q: GoogleAccessID and PrivateKey sign URLs together: set both or neither", bucket)
	}
	var copts []option.ClientOption
	if o.Anonymous {
		copts = append(copts, option.WithoutAuthentication())
	}
	client, err := storage.NewClient(ctx, copts...)
	if err != nil {
		return nil, fmt.Errorf("blob: open gcs bucket %q: %w", bucket, err)
	}
	b, err := gcsblob.OpenBucket(ctx, nil, bucket, &gcsblob.Options{
		Client:         client,
		GoogleAccessID: o.GoogleAccessID,
		PrivateKey:     o.PrivateKey,
	})
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("blob: open gcs bucket %q: %w", bucket, err)
	}
	s := New(b, nil)
	s.closeClient = client.Close
	return s, nil
}

// openGCSURL opens "gs://bucket?access_id=...&private_key_path=...".
func openGCSURL(ctx context.Context, u *url.URL, _ *Options) (*Storage, error) {
	bucket, params, err := bucketURL(u, gcsParams...)
	if err != nil {
		return nil, err
	}
	o := GCSOptions{GoogleAccessID: params["access_id"]}
	if o.Anonymous, err = boolParam(u.Scheme, params, "anonymous"); err != nil {
		return nil, err
	}
	if path := params["private_key_path"]; path != "" {
		if o.PrivateKey, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("blob: gs URL parameter private_key_path: %w", err)
		}
	}
	return OpenGCS(ctx, bucket, &o)
}

// gcsSigner signs GCS URLs with the V4 scheme, through gcsblob, which
// reports Unimplemented when the bucket has no signing credentials.
type gcsSigner struct{}

// signedURL binds, besides the method, key and expiry: for PUT the
// Content-Type header (a signed header the client must send as is); for GET
// the response-content-type and response-content-disposition parameters,
// which GCS serves as the response's headers. The length is not bound: GCS
// checks it only through an x-goog-content-length-range header the client
// would have to send, and a URL cannot carry that.
func (gcsSigner) signedURL(ctx context.Context, s *Storage, key string, o *driver.SignOptions) (string, error) {
	opts := &gcblob.SignedURLOptions{
		Method: o.Method,
		Expiry: o.Expiry,
		BeforeSign: func(as func(any) bool) error {
			var so *storage.SignedURLOptions
			if !as(&so) {
				return errors.New("the bucket's driver is not gcsblob")
			}
			so.Scheme = storage.SigningSchemeV4
			if o.Method == http.MethodGet {
				q := url.Values{}
				if o.ContentType != "" {
					q.Set("response-content-type", o.ContentType)
				}
				if o.ContentDisposition != "" {
					q.Set("response-content-disposition", o.ContentDisposition)
				}
				so.QueryParameters = q
			}
			return nil
		},
	}
	if o.Method == http.MethodPut {
		opts.ContentType = o.ContentType
	}
	return s.bucket.SignedURL(ctx, key, opts)
}
