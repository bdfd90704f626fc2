// Package blob implements driver.Storage over gocloud.dev/blob, so that
// Attachkit stores object bytes in memory, on local disk, in S3 (or an
// S3-compatible service such as MinIO), in Google Cloud Storage or in Azure
// Blob Storage through one portable type.
//
// Typed constructors are the primary API:
//
//	s := blob.NewMemory()                             // tests, demos
//	s, err := blob.OpenDir("/var/lib/app/files", nil) // embedded default
//	s, err := blob.OpenS3(ctx, "bucket", &blob.S3Options{Region: "eu-west-1"})
//	s, err := blob.OpenGCS(ctx, "bucket", nil)
//	s, err := blob.OpenAzure(ctx, "container", nil)
//	s := blob.New(bucket, nil)                        // any *gocloud.dev/blob.Bucket
//
// # URLs
//
// Open chooses a backend from a URL so that a deployment swaps storage
// without code changes. It is a thin layer over the typed constructors;
// each parameter sets the option field of the same meaning, and an unknown
// parameter is an error that lists the known ones:
//
//	mem://                      NewMemory: a new, empty in-memory store
//	file:///var/lib/app/files   OpenDir("/var/lib/app/files", opts)
//	s3://bucket?region=eu-west-1&endpoint=http://127.0.0.1:9000&use_path_style=true&profile=p
//	                            OpenS3 (endpoint and use_path_style for MinIO)
//	gs://bucket?access_id=...&private_key_path=/etc/key.pem&anonymous=false
//	                            OpenGCS
//	azblob://container?storage_account=...&domain=...&protocol=https&localemu=false
//	                            OpenAzure
//
// A file URL must hold an absolute path (three slashes); "file://relative"
// is refused rather than resolved against the working directory, because
// the host part of a URL is not a path. An object-store URL names its
// bucket as the host and takes no path. An unknown scheme is an error that
// names the schemes this build understands.
//
// Credentials never appear in URLs: they come from each SDK's usual chain
// (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or shared config files;
// Application Default Credentials, or none when STORAGE_EMULATOR_HOST
// names a GCS emulator; AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY, a
// connection string or azidentity), which this package itself never reads.
//
// # Signed URLs
//
// Storage implements driver.Signer with each service's own scheme, binding
// the method, the key and the expiry (1s to 7 days), and:
//
//   - S3 (SigV4 presigned URLs): for PUT, Content-Type and Content-Length are
//     signed headers, so S3 itself refuses a body of another size (even a
//     chunked one) or another type; for GET, the response-content-type and
//     response-content-disposition parameters, which S3 serves as headers.
//     An empty upload cannot be bound and is ErrUnimplemented.
//   - GCS (V4, only with GCSOptions.GoogleAccessID and PrivateKey; otherwise
//     ErrUnimplemented): for PUT, Content-Type as a signed header; the length
//     is not bound (GCS checks it only through an extra request header); for
//     GET, the response type and disposition as for S3.
//   - Azure (service SAS, sr=b): for PUT, the "create" permission only, so
//     the URL writes a new blob and never replaces one; a SAS cannot bind
//     headers, so neither type nor length is bound, and the client must send
//     "x-ms-blob-type: BlockBlob". For GET, the "read" permission and the rsct
//     and rscd parameters (response type and disposition), which need
//     AzureOptions.AccountKey: without it, GET is ErrUnimplemented and PUT is
//     signed with the environment's shared key, if any. HTTPS only when the
//     service URL is HTTPS.
//
// Memory and local-disk storages return ErrUnimplemented: attach then signs
// its own URLs, and what the service does not bind, attach's confirm checks.
//
// # Object stores
//
// Attributes reports the size, type, modification time (to the second),
// ETag and, where the service knows it, the MD5: always on GCS (but not for
// composite objects); on S3 for objects stored in one request (which
// includes every upload through a presigned URL, up to 5 GiB) without
// SSE-KMS or SSE-C encryption, since a multipart or encrypted object's ETag
// is no digest; on Azure for blobs stored with one Put Blob (presigned
// uploads, and writes under 8 MiB), not for blobs committed from blocks.
//
// Create-only writes (driver.WriterOptions.IfNotExist) are conditional
// requests the service decides atomically, for single and multipart
// uploads alike: If-None-Match: * on S3 (PutObject or
// CompleteMultipartUpload; MinIO and S3 support it), a does-not-exist
// precondition on GCS, If-None-Match: * on Azure.
//
// On Azure, writes stream through gocloud's Bucket.Upload, because the
// Writer of gocloud's azureblob (v0.47.0) panics when an upload fails
// during Close (a nil *io.PipeReader dereference): a failed Azure upload
// returns an error like on every other backend.
//
// # Keys
//
// Attach generates keys from A-Z, a-z, 0-9 and "._/-", but Storage
// accepts any key that every backend can store faithfully, and refuses the
// rest with an
// error matching driver.ErrInvalidArgument before touching the bucket. The
// rules are the same on every backend, so a key that works in memory works
// on disk. A key must be valid UTF-8 of 1 to 1024 bytes, without control
// characters or backslashes. Its "/"-separated segments must be non-empty,
// must not be "." and must not end in ".." (so no ".."). It must not
// contain "__0x", the escape marker of the local-disk layout, and its last
// segment must not end in ".attrs" or look like ".<hex>.tmp", the names of
// local-disk attribute sidecars and in-progress writes.
//
// On local disk a segment is a file name, limited by the file system
// (usually to 255 bytes), and a key cannot name the directory of other
// keys ("a" and "a/b"). Such keys are refused when written and not found
// when read.
//
// # Durability
//
// A write becomes visible atomically when the writer's Close returns nil.
// On local disk (OpenDir, file:// URLs) the bytes go to a temporary file
// next to the final one, which is fsynced, renamed over the final name, and
// followed by an fsync of the attribute sidecar and of the directory, so a
// nil Close means the object survives a crash. Directories created for a
// key are fsynced into their parents as well. Writes and reads of one key
// are serialized within a process, which keeps an object and its sidecar
// consistent; two processes must not share one directory. A crash during a
// write can leave a "<key>.<hex>.tmp" file behind; it is never listed.
//
// On an object store, a nil Close means the service acknowledged the
// object. Storages made with New promise what their bucket promises.
//
// # Errors
//
// Errors are classified in one place: gocloud's NotFound, AlreadyExists,
// FailedPrecondition, InvalidArgument and Unimplemented codes become errors
// matching driver.ErrNotFound, ErrExists, ErrPrecondition,
// ErrInvalidArgument and ErrUnimplemented, with the original error still in
// the chain for logs and errors.As. Context errors and io.EOF are returned
// as they are.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	gcblob "gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/gcerrors"

	"github.com/attachkit/attachkit/driver"
)

// Options configure a Storage. The zero value, and a nil *Options, mean the
// defaults.
type Options struct {
	// DirMode is the permission of the directories OpenDir creates: the
	// root, if missing, and the subdirectories that keys need. It is
	// ignored by New and NewMemory. The default is 0o750.
	DirMode fs.FileMode
}

// Storage is a driver.Storage and driver.Pinger over a gocloud.dev
// bucket. It is safe for concurrent use.
type Storage struct {
	bucket *gcblob.Bucket
	// disk is set for local-disk storages (OpenDir), which Storage makes
	// durable and lists itself; nil otherwise.
	disk *disk
	// signer signs URLs with the service's own scheme; nil when the
	// bucket's service has none (memory, local disk, unknown drivers).
	signer signer
	// uploadOnly makes NewWriter stream through Bucket.Upload rather than
	// a gocloud Writer (see uploadWriter).
	uploadOnly bool
	// closeClient releases a service client the storage made for its
	// bucket and owns; nil when there is none.
	closeClient func() error
}

var (
	_ driver.Storage     = (*Storage)(nil)
	_ driver.Pinger      = (*Storage)(nil)
	_ driver.Signer      = (*Storage)(nil)
	_ driver.TempSweeper = (*Storage)(nil)
)

// New returns a Storage over b and takes ownership of it: Close closes b.
// Durability is whatever b's driver promises; use OpenDir for local disk.
// A bucket of gocloud's s3blob, gcsblob or azureblob signs URLs as
// OpenS3, OpenGCS and OpenAzure describe, with the credentials it was
// opened with (an azureblob bucket signs upload URLs only, and only with a
// shared-key client). No Options field applies to an arbitrary bucket yet;
// opts may be nil.
func New(b *gcblob.Bucket, opts *Options) *Storage {
	s := &Storage{bucket: b}
	s.detectService()
	return s
}

// NewMemory returns a new, empty Storage held in memory, for tests and
// demos. Its contents disappear when it is closed.
func NewMemory() *Storage {
	return New(memblob.OpenBucket(nil), nil)
}

// OpenDir returns a Storage that keeps objects as files under dir, creating
// dir if it is missing. A relative dir is resolved against the working
// directory once, here. Writes are durable when Close returns nil; see the
// package documentation.
func OpenDir(dir string, opts *Options) (*Storage, error) {
	o := opts.withDefaults()
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: open dir %q: %w", dir, err)
	}
	if err := mkdirAll(root, o.DirMode); err != nil {
		return nil, fmt.Errorf("blob: open dir %q: %w", dir, err)
	}
	b, err := fileblob.OpenBucket(root, &fileblob.Options{
		CreateDir:   true,
		NoTempDir:   true, // temp files next to their final name: same filesystem, same directory to fsync
		DirFileMode: o.DirMode,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: open dir %q: %w", dir, err)
	}
	return &Storage{bucket: b, disk: newDisk(root, o.DirMode)}, nil
}

// withDefaults returns a copy of o with defaults filled in; o may be nil.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.DirMode == 0 {
		c.DirMode = 0o750
	}
	return c
}

// Bucket returns the underlying bucket, for operations Storage does not
// offer. Writing through it bypasses Storage's key rules and, on local
// disk, its durability.
func (s *Storage) Bucket() *gcblob.Bucket { return s.bucket }

// As exposes the driver-specific type behind the bucket, as
// gocloud.dev/blob.Bucket.As does (for example *os.FileInfo of the root
// directory on local disk, or **s3.Client for S3).
func (s *Storage) As(i any) bool { return s.bucket.As(i) }

// Close closes the underlying bucket, and the service client the storage
// made for it, if any.
func (s *Storage) Close() error {
	err := s.bucket.Close()
	if c := s.closeClient; c != nil {
		s.closeClient = nil
		err = errors.Join(err, c())
	}
	return s.wrap(context.Background(), "close", "", err)
}

// Ping reports whether the bucket is reachable: on local disk, that the
// root is still a directory.
func (s *Storage) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.disk != nil {
		fi, err := os.Stat(s.disk.root)
		if err != nil {
			return s.wrap(ctx, "ping", "", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("blob: ping: %s is not a directory: %w", s.disk.root, driver.ErrNotFound)
		}
		return nil
	}
	ok, err := s.bucket.IsAccessible(ctx)
	if err != nil {
		return s.wrap(ctx, "ping", "", err)
	}
	if !ok {
		return fmt.Errorf("blob: ping: bucket is not accessible: %w", driver.ErrNotFound)
	}
	return nil
}

// Attributes implements driver.Storage.
func (s *Storage) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validateKey(key); err != nil {
		return nil, err
	}
	defer s.disk.rlock(key)()
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return nil, s.wrap(ctx, opRead, key, err)
	}
	return &driver.Attributes{
		Size:        a.Size,
		ContentType: a.ContentType,
		MD5:         trustedMD5(a),
		ETag:        a.ETag,
		ModTime:     a.ModTime,
	}, nil
}

// NewRangeReader implements driver.Storage. The reader it returns is a
// *gocloud.dev/blob.Reader, which also implements io.Seeker within the
// range, except when the range starts at or past the end of an object
// store's object: that reads nothing, as the contract wants, although S3
// and Azure refuse such a range (416).
func (s *Storage) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validateKey(key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("blob: read %s: negative offset %d: %w", quoteKey(key), offset, driver.ErrInvalidArgument)
	}
	defer s.disk.rlock(key)()
	r, err := s.bucket.NewRangeReader(ctx, key, offset, length, nil)
	if err != nil {
		if s.disk == nil && gcerrors.Code(err) != gcerrors.NotFound && ctx.Err() == nil {
			if a, aerr := s.bucket.Attributes(ctx, key); aerr == nil && offset >= a.Size {
				return http.NoBody, nil
			}
		}
		return nil, s.wrap(ctx, opRead, key, err)
	}
	return r, nil
}

// Delete implements driver.Storage.
func (s *Storage) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateKey(key); err != nil {
		return err
	}
	if s.disk != nil {
		defer s.disk.lock(key)()
		// A directory left behind by deleted deeper keys is not an object;
		// fileblob would remove it and report success.
		if fi, err := os.Lstat(s.disk.path(key)); err == nil && fi.IsDir() {
			return s.wrap(ctx, opDelete, key, &fs.PathError{Op: "delete", Path: s.disk.path(key), Err: fs.ErrNotExist})
		}
	}
	if err := s.bucket.Delete(ctx, key); err != nil {
		return s.wrap(ctx, opDelete, key, err)
	}
	if s.disk != nil {
		// Make the removal durable, so a deleted object cannot come back
		// after a power loss once its rows are gone.
		if err := syncPath(filepath.Dir(s.disk.path(key))); err != nil {
			return s.wrap(ctx, opDelete, key, err)
		}
	}
	return nil
}

// List implements driver.Storage. A prefix that no valid key can start
// with (one whose directory part breaks the key rules) lists nothing.
func (s *Storage) List(ctx context.Context, prefix string, fn func(driver.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !validPrefix(prefix) {
		return nil
	}
	if s.disk != nil {
		return s.listDisk(ctx, prefix, fn)
	}
	it := s.bucket.List(&gcblob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return s.wrap(ctx, opList, prefix, err)
		}
		if obj.IsDir || reservedName(obj.Key) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(driver.ObjectInfo{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime}); err != nil {
			return err
		}
	}
}
