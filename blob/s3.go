package blob

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	gcblob "gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"

	"github.com/attachkit/attachkit/driver"
)

// S3Options configure OpenS3. The zero value, and a nil *S3Options, mean
// the defaults. Credentials always come from the AWS SDK's default chain
// (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, shared config and
// credentials files, SSO, web identity, the instance role).
type S3Options struct {
	// Region is the bucket's region, which also scopes signatures. The
	// default is the AWS SDK's (AWS_REGION, or the profile's region);
	// OpenS3 fails when neither names one.
	Region string
	// Endpoint is the base URL of an S3-compatible service such as MinIO,
	// like "http://127.0.0.1:9000". The default is AWS's endpoint for
	// Region.
	Endpoint string
	// UsePathStyle addresses buckets as a path below the endpoint
	// ("http://host/bucket/key") instead of as a host name
	// ("http://bucket.host/key"); MinIO and most S3-compatible services
	// need it. The default is false.
	UsePathStyle bool
	// Profile selects a profile of the shared config and credentials
	// files. The default is the AWS SDK's (AWS_PROFILE, or "default").
	Profile string
}

// s3Params are the parameters of s3 URLs, sorted; each sets the
// S3Options field of the same meaning.
var s3Params = []string{"endpoint", "profile", "region", "use_path_style"}

// OpenS3 returns a Storage over the S3 bucket named bucket, which must
// exist. It makes no request: use Ping to check that the bucket is
// reachable. Uploads and downloads can be granted with SignedURL
// (presigned SigV4 URLs; see the package documentation).
func OpenS3(ctx context.Context, bucket string, opts *S3Options) (*Storage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var o S3Options
	if opts != nil {
		o = *opts
	}
	if bucket == "" {
		return nil, errors.New("blob: OpenS3 needs a bucket name")
	}
	if o.Endpoint != "" {
		if u, err := url.Parse(o.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("blob: open s3 bucket %q: endpoint %q is not an absolute http(s) URL", bucket, o.Endpoint)
		}
	}
	var load []func(*config.LoadOptions) error
	if o.Region != "" {
		load = append(load, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		load = append(load, config.WithSharedConfigProfile(o.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("blob: open s3 bucket %q: %w", bucket, err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("blob: open s3 bucket %q: no region (set S3Options.Region, the region URL parameter, or AWS_REGION)", bucket)
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.UsePathStyle
	})
	b, err := s3blob.OpenBucket(ctx, client, bucket, &s3blob.Options{
		// Uploads use the transfer manager, which does not read the
		// client's setting (see s3blob's URL opener).
		RequestChecksumCalculation: cfg.RequestChecksumCalculation,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: open s3 bucket %q: %w", bucket, err)
	}
	return New(b, nil), nil
}

// openS3URL opens "s3://bucket?region=...&endpoint=...&use_path_style=true".
func openS3URL(ctx context.Context, u *url.URL, _ *Options) (*Storage, error) {
	bucket, params, err := bucketURL(u, s3Params...)
	if err != nil {
		return nil, err
	}
	pathStyle, err := boolParam(u.Scheme, params, "use_path_style")
	if err != nil {
		return nil, err
	}
	return OpenS3(ctx, bucket, &S3Options{
		Region:       params["region"],
		Endpoint:     params["endpoint"],
		UsePathStyle: pathStyle,
		Profile:      params["profile"],
	})
}

// s3Signer presigns S3 requests (SigV4, query-string authentication).
type s3Signer struct{}

// signedURL binds, besides the method, key and expiry: for PUT the
// Content-Type and Content-Length headers and If-None-Match: * (create
// only), which become signed headers the client must send with exactly
// these values (UploadHeaders lists the last); for GET the
// response-content-type and response-content-disposition parameters,
// which S3 serves as the response's headers.
//
// The SDK leaves both headers out of the signature of an empty upload, so
// a zero ContentLength returns an error matching driver.ErrUnimplemented
// (attach then signs the URL itself), and a PUT URL whose signed headers
// lack either is never returned.
func (s3Signer) signedURL(ctx context.Context, s *Storage, key string, o *driver.SignOptions) (string, error) {
	if o.Method == http.MethodPut && o.ContentLength == 0 {
		return "", fmt.Errorf("%w: S3 presigning cannot bind the length and type of an empty upload", driver.ErrUnimplemented)
	}
	notS3 := errors.New("the bucket's driver is not s3blob")
	signed, err := s.bucket.SignedURL(ctx, key, &gcblob.SignedURLOptions{
		Method: o.Method,
		Expiry: o.Expiry,
		BeforeSign: func(as func(any) bool) error {
			if o.Method == http.MethodPut {
				var in *s3.PutObjectInput
				if !as(&in) {
					return notS3
				}
				in.ContentType = aws.String(o.ContentType)
				in.ContentLength = aws.Int64(o.ContentLength)
				// Create-only: once a body is stored, the URL cannot
				// replace it (412), so the bytes confirm verified and a
				// scan passed are the bytes served.
				in.IfNoneMatch = aws.String("*")
				return nil
			}
			var in *s3.GetObjectInput
			if !as(&in) {
				return notS3
			}
			if o.ContentType != "" {
				in.ResponseContentType = aws.String(o.ContentType)
			}
			if o.ContentDisposition != "" {
				in.ResponseContentDisposition = aws.String(o.ContentDisposition)
			}
			return nil
		},
	})
	if err != nil || o.Method != http.MethodPut {
		return signed, err
	}
	u, err := url.Parse(signed)
	if err != nil {
		return "", err
	}
	headers := strings.Split(u.Query().Get("X-Amz-SignedHeaders"), ";")
	if !slices.Contains(headers, "content-length") || !slices.Contains(headers, "content-type") || !slices.Contains(headers, "if-none-match") {
		return "", fmt.Errorf("the AWS SDK did not sign content-length, content-type and if-none-match (signed: %s)", strings.Join(headers, ", "))
	}
	return signed, nil
}

// trustedMD5 returns the MD5 gocloud reports in a, unless a describes an S3
// object whose ETag is not its MD5 although it looks like one: S3 encrypts
// objects stored with SSE-KMS or SSE-C, and their ETag is then no digest
// of the bytes. (gocloud already leaves out multipart ETags, "<hex>-<n>".)
func trustedMD5(a *gcblob.Attributes) []byte {
	var head s3.HeadObjectOutput
	if a.MD5 != nil && a.As(&head) {
		if head.SSECustomerAlgorithm != nil || (head.ServerSideEncryption != "" && head.ServerSideEncryption != types.ServerSideEncryptionAes256) {
			return nil
		}
	}
	return a.MD5
}
