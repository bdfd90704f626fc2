package main

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta"
)

// objectRef is a storage key the metadata names, with what the rows say
// about its bytes.
type objectRef struct {
	key    string
	size   int64  // expected size, or -1 when no row knows it
	digest string // "sha256:<hex>", or empty when no row knows it
	// required is set for the versions of undeleted files, whose objects
	// must exist. Other keys (unconfirmed upload tickets, files marked
	// deleted but not purged) may legitimately have no object.
	required bool
	file     string // "workspace/fileID vN", for messages
}

// refsOf returns the distinct keys a file's rows name: its versions' keys
// first (several versions may share one), then its tickets' other keys.
func refsOf(inv *meta.FileInventory) []objectRef {
	f := &inv.File
	deleted := !f.DeletedAt.IsZero()
	seen := make(map[string]bool, len(inv.Versions)+len(inv.Uploads))
	var refs []objectRef
	for _, v := range inv.Versions {
		if v.StorageKey == "" || seen[v.StorageKey] {
			continue
		}
		seen[v.StorageKey] = true
		refs = append(refs, objectRef{key: v.StorageKey, size: v.Size, digest: v.Digest, required: !deleted,
			file: fmt.Sprintf("%s/%s v%d", f.Workspace, f.ID, v.Version)})
	}
	for _, u := range inv.Uploads {
		if u.StorageKey == "" || seen[u.StorageKey] {
			continue
		}
		seen[u.StorageKey] = true
		r := objectRef{key: u.StorageKey, size: -1, file: fmt.Sprintf("%s/%s v%d, %s upload", f.Workspace, f.ID, u.Version, u.Status)}
		if u.WrittenDigest != "" {
			r.size, r.digest = u.WrittenSize, u.WrittenDigest
		}
		refs = append(refs, r)
	}
	return refs
}

// copyBufferSize is the streaming buffer of every copy and hash: memory
// use never depends on object sizes.
const copyBufferSize = 256 << 10

// errDigest reports bytes that do not match what the metadata recorded.
var errDigest = errors.New("digest mismatch")

// sums is what a stream of bytes hashed to.
type sums struct {
	size   int64
	sha256 string // "sha256:<hex>"
	md5    []byte
}

// hashingCopy copies r to w (io.Discard to only hash), computing SHA-256
// and MD5 on the way.
func hashingCopy(w io.Writer, r io.Reader, buf []byte) (sums, error) {
	sha, sum := sha256.New(), md5.New()
	n, err := io.CopyBuffer(io.MultiWriter(w, hashes{sha, sum}), r, buf)
	if err != nil {
		return sums{}, err
	}
	return sums{size: n, sha256: "sha256:" + hex.EncodeToString(sha.Sum(nil)), md5: sum.Sum(nil)}, nil
}

// hashes feeds several hashes; hash writes never fail.
type hashes []hash.Hash

func (hs hashes) Write(p []byte) (int, error) {
	for _, h := range hs {
		h.Write(p)
	}
	return len(p), nil
}

// hashObject streams the object at key and returns its sums.
func hashObject(ctx context.Context, st driver.Storage, key string, buf []byte) (sums, error) {
	r, err := st.NewRangeReader(ctx, key, 0, -1)
	if err != nil {
		return sums{}, err
	}
	defer r.Close()
	return hashingCopy(io.Discard, r, buf)
}

// check compares what an object hashed to with what a row expects.
func (r *objectRef) check(s sums) error {
	switch {
	case r.size >= 0 && s.size != r.size:
		return fmt.Errorf("%w: %d bytes, the metadata records %d", errDigest, s.size, r.size)
	case r.digest != "" && !strings.EqualFold(s.sha256, r.digest):
		return fmt.Errorf("%w: %s, the metadata records %s", errDigest, s.sha256, r.digest)
	}
	return nil
}

// fileOfKey returns the workspace and file id of a key attach generated
// ("{workspace}/{fileID}/v{n}/{random}"), or ok false for any other key.
func fileOfKey(key string) (workspace, fileID string, ok bool) {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// walkUnreferenced calls fn for every object of st that no row of ms
// names. Listing is in key order, so the keys under one file's prefix
// ("{workspace}/{fileID}/") arrive together: each file's keys are fetched
// once with FileKeys, and memory is bounded by one file's keys whatever the
// size of the storage. Keys of no file's shape are never referenced.
func walkUnreferenced(ctx context.Context, st driver.Storage, ms driver.MetaStore, fn func(driver.ObjectInfo) error) error {
	var (
		curWS, curID string
		known        map[string]bool
	)
	return st.List(ctx, "", func(obj driver.ObjectInfo) error {
		ws, id, ok := fileOfKey(obj.Key)
		if !ok {
			return fn(obj)
		}
		if known == nil || ws != curWS || id != curID {
			keys, err := ms.FileKeys(ctx, ws, id)
			if err != nil && !errors.Is(err, driver.ErrNotFound) {
				return fmt.Errorf("keys of file %s/%s: %w", ws, id, err)
			}
			curWS, curID = ws, id
			known = make(map[string]bool, len(keys))
			for _, k := range keys {
				known[k] = true
			}
		}
		if known[obj.Key] {
			return nil
		}
		return fn(obj)
	})
}
