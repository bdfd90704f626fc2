package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/meta/sqlite"
)

// deployment is a populated file:// storage and SQLite database, closed
// again so that attachctl opens them by URL as it would in production.
type deployment struct {
	dir        string
	storageURL string
	metaURL    string
	// objects are the keys of every object in storage with their bytes.
	objects map[string][]byte
	// pendingKey is the key of an upload ticket whose bytes never came.
	pendingKey string
	// deletedKey is the object of a file marked deleted, not yet purged.
	deletedKey string
	// The sizes of the files stored (see newDeployment): png2v1 and
	// png2v2 are b.png's two versions, deleted e.pdf's.
	png1, png2v1, png2v2, pdf1, pdf2, deleted int64
}

// pngBytes returns a real PNG image of w×h pixels; seed varies the pixels.
func pngBytes(t *testing.T, w, h int, seed uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{R: uint8(x) + seed, G: uint8(y) * seed, B: uint8(x * y), A: 255})
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

// pdfBytes returns a small real PDF document; title varies the bytes.
func pdfBytes(title string) []byte {
	return []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n" +
		"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n3 0 obj<</Title(" + title + ")>>endobj\n" +
		"trailer<</Root 1 0 R/Info 3 0 R>>\n%%EOF\n")
}

// newDeployment stores, through attach:
//
//	acme:   a.png (one version), b.png (two versions), c.pdf, and a
//	        pending upload that never received its bytes
//	globex: d.pdf, and e.pdf marked deleted (not purged)
func newDeployment(t *testing.T) *deployment {
	t.Helper()
	ctx := context.Background()
	d := &deployment{dir: t.TempDir(), objects: map[string][]byte{}}
	filesDir := filepath.Join(d.dir, "files")
	dbPath := filepath.Join(d.dir, "attach.db")
	d.storageURL, d.metaURL = "file://"+filesDir, "sqlite://"+dbPath

	storage, err := blob.OpenDir(filesDir, nil)
	require.NoError(t, err)
	defer storage.Close()
	store, err := sqlite.Open(ctx, dbPath, nil)
	require.NoError(t, err)
	defer store.Close()
	svc, err := attach.New(storage, store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: []byte("a test secret of at least 32 bytes!")}},
		BaseURL:     "http://files.test/v1/blob",
	})
	require.NoError(t, err)

	acme, globex := attach.Scope{Workspace: "acme", User: "alice"}, attach.Scope{Workspace: "globex", User: "bob"}
	put := func(scope attach.Scope, name string, data []byte) *attach.File {
		t.Helper()
		f, err := svc.Put(ctx, scope, attach.PutRequest{FileName: name, Size: -1}, bytes.NewReader(data))
		require.NoError(t, err)
		require.Equal(t, attach.StatusReady, f.Status)
		return f
	}
	a := pngBytes(t, 40, 30, 1)
	put(acme, "a.png", a)
	b1 := pngBytes(t, 64, 48, 2)
	b := put(acme, "b.png", b1)
	b2 := pngBytes(t, 80, 60, 3)
	addVersion(t, storage, store, "acme", b.ID, 2, b2)
	c := pdfBytes("c")
	put(acme, "c.pdf", c)
	up, err := svc.RequestUpload(ctx, acme, attach.UploadRequest{FileName: "never.pdf", MIMEType: "application/pdf", Size: 100})
	require.NoError(t, err)
	d.pendingKey = up.Key
	dd := pdfBytes("d, a little longer")
	put(globex, "d.pdf", dd)
	e := pdfBytes("e")
	ef := put(globex, "e.pdf", e)
	require.NoError(t, store.MarkDeleted(ctx, "globex", ef.ID, time.Now()))
	keys, err := store.FileKeys(ctx, "globex", ef.ID)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	d.deletedKey = keys[0]

	d.png1, d.png2v1, d.png2v2 = int64(len(a)), int64(len(b1)), int64(len(b2))
	d.pdf1, d.pdf2, d.deleted = int64(len(c)), int64(len(dd)), int64(len(e))
	d.objects = readAll(t, storage)
	require.Len(t, d.objects, 6)
	return d
}

// addVersion stores data as version v of a file, through the store as
// attach would: a ticket, the object, the commit with its digest.
func addVersion(t *testing.T, st driver.Storage, ms driver.MetaStore, ws, fileID string, v int, data []byte) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	up := &driver.UploadRecord{Workspace: ws, ID: fmt.Sprintf("upl_%s_v%d", fileID, v), FileID: fileID, Version: v, BaseVersion: v - 1,
		StorageKey: fmt.Sprintf("%s/%s/v%d/0123456789abcdef", ws, fileID, v), FileName: "b.png", MIMEType: "image/png",
		Size: int64(len(data)), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	require.NoError(t, ms.CreateUpload(ctx, nil, up))
	writeObject(t, st, up.StorageKey, data)
	sum := sha256.Sum256(data)
	_, err := ms.CommitUpload(ctx, &driver.Commit{Workspace: ws, UploadID: up.ID, Status: driver.StatusReady, At: now,
		Version: driver.VersionRecord{Version: v, FileName: "b.png", MIMEType: "image/png", Kind: "image", Size: int64(len(data)),
			Digest: "sha256:" + hex.EncodeToString(sum[:]), StorageKey: up.StorageKey}})
	require.NoError(t, err)
}

// writeObject stores data at key.
func writeObject(t *testing.T, st driver.Storage, key string, data []byte) {
	t.Helper()
	w, err := st.NewWriter(context.Background(), key, &driver.WriterOptions{ContentType: "application/octet-stream"})
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
}

// readAll returns every object of st with its bytes.
func readAll(t *testing.T, st driver.Storage) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	require.NoError(t, st.List(ctx, "", func(o driver.ObjectInfo) error {
		r, err := st.NewRangeReader(ctx, o.Key, 0, -1)
		if err != nil {
			return err
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		out[o.Key] = b
		return err
	}))
	return out
}

// openURL opens a storage by URL for a test, closed at its end.
func openURL(t *testing.T, rawURL string) driver.Storage {
	t.Helper()
	st, err := driver.OpenStorage(context.Background(), rawURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// result is what one attachctl run printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

// attachctl runs the command in-process.
func attachctl(t *testing.T, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// linesWith returns the output lines that start with prefix, sorted.
func linesWith(out, prefix string) []string {
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			got = append(got, l)
		}
	}
	sort.Strings(got)
	return got
}

// storageT is the storage a test damages.
type storageT = driver.Storage
