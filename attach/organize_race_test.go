package attach_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/driver"
)

// hookStore is a real store that runs a hook once, before the first call
// of one of its methods: it injects what another user does at that moment.
type hookStore struct {
	driver.MetaStore
	once       sync.Once
	markDelete func()
	afterSet   func()
}

func (h *hookStore) SetAttachments(ctx context.Context, set *driver.AttachmentSet) (*driver.AttachmentChange, error) {
	ch, err := h.MetaStore.SetAttachments(ctx, set)
	if h.afterSet != nil {
		h.once.Do(h.afterSet)
	}
	return ch, err
}

func (h *hookStore) MarkDeleted(ctx context.Context, workspace, id string, at time.Time) error {
	if h.markDelete != nil {
		h.once.Do(h.markDelete)
	}
	return h.MetaStore.MarkDeleted(ctx, workspace, id, at)
}

// withStore returns an env whose Service runs over store.
func (e *env) withStore(t *testing.T, store driver.MetaStore) *env {
	t.Helper()
	n := *e
	var err error
	n.svc, err = attach.New(e.storage, store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: []byte("ssssssssssssssssssssssssssssssss")}},
		BaseURL:     baseURL,
		Now:         e.clock.Now,
	})
	require.NoError(t, err)
	return &n
}

func TestDeleteCollectionRecursiveSparesFileAddedMeanwhile(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	top := e.collection(t, alice, attach.CollectionRequest{Name: "top"})
	leaf := e.collection(t, alice, attach.CollectionRequest{Name: "leaf", ParentID: top.ID})
	e.uploadWith(t, alice, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", CollectionID: leaf.ID}, pngBytes(t, 2, 2))
	var bobs *attach.File
	hs := &hookStore{MetaStore: e.store}
	hs.markDelete = func() { // after the rights check: bob puts a file into the tree
		bobs = e.uploadWith(t, bob, attach.UploadRequest{FileName: "b.png", MIMEType: "image/png", CollectionID: top.ID}, pngBytes(t, 3, 3))
	}
	err := e.withStore(t, hs).svc.DeleteCollection(ctx, alice, top.ID, &attach.DeleteCollectionOptions{Recursive: true})
	require.NotNil(t, bobs)
	requireOrgCode(t, err, attach.CodeForbidden)
	_, err = e.svc.File(ctx, bob, bobs.ID)
	require.NoError(t, err, "alice may not delete bob's file")
	_, err = e.svc.Collection(ctx, alice, top.ID)
	require.NoError(t, err, "the collection holding it stays")
}

func TestPurgeDetachedSparesFileAttachedMeanwhile(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	f := e.upload(t, alice, "f.png", "image/png", pngBytes(t, 2, 2))
	_, err := e.svc.SetAttachments(ctx, alice, orgPost, "g", []string{f.ID}, nil)
	require.NoError(t, err)
	other := attach.Record{Type: "post", ID: "43"}
	hs := &hookStore{MetaStore: e.store}
	hs.afterSet = func() { // the set found f an orphan; another record takes it before the purge
		_, _, err := e.svc.Attach(ctx, alice, other, "g", f.ID, nil)
		require.NoError(t, err)
	}
	_, err = e.withStore(t, hs).svc.SetAttachments(ctx, alice, orgPost, "g", nil, &attach.SetAttachmentsOptions{Purge: true})
	require.NoError(t, err)
	_, err = e.svc.File(ctx, alice, f.ID)
	require.NoError(t, err, "attached to another record: not purged")
	got, err := e.svc.Attachments(ctx, alice, other)
	require.NoError(t, err)
	require.Equal(t, []string{f.ID}, orgFileIDs(got["g"]))
}

func TestSetAttachmentsKeepsFilesNotReady(t *testing.T) {
	e := newEnv(t, func(o *attach.Options) {
		o.Processors = []attach.Processor{{Name: "noop", Run: func(context.Context, *attach.Service, *attach.ProcessInput) error { return nil }}}
	})
	ctx := context.Background()
	a := e.upload(t, wsA, "a.pdf", "application/pdf", pdfBytes(2000))
	b := e.upload(t, wsA, "b.pdf", "application/pdf", pdfBytes(2100))
	runDue(t, attach.NewWorker(e.svc, nil))
	_, err := e.svc.SetAttachments(ctx, wsA, orgPost, "g", []string{a.ID, b.ID}, nil)
	require.NoError(t, err)
	v2, err := e.svc.PutVersion(ctx, wsA, a.ID, attach.VersionPutRequest{Size: -1}, bytes.NewReader(pdfBytes(2200)))
	require.NoError(t, err)
	require.Equal(t, attach.StatusProcessing, v2.Status)

	got, err := e.svc.SetAttachments(ctx, wsA, orgPost, "g", []string{a.ID, b.ID}, nil)
	require.NoError(t, err, "the same set again: idempotent while a new version is processed")
	require.Equal(t, []string{a.ID, b.ID}, attachedIDs(got))
	got, err = e.svc.SetAttachments(ctx, wsA, orgPost, "g", []string{b.ID, a.ID}, nil)
	require.NoError(t, err, "reordering keeps it too")
	require.Equal(t, []string{b.ID, a.ID}, attachedIDs(got))

	_, err = e.svc.SetAttachments(ctx, bob, orgPost, "g", []string{b.ID, a.ID}, nil)
	requireOrgCode(t, err, attach.CodeForbidden, "the view right is checked on every file")

	// A file not yet in the field must be ready.
	c := e.upload(t, wsA, "c.pdf", "application/pdf", pdfBytes(2300))
	_, err = e.svc.SetAttachments(ctx, wsA, orgPost, "g", []string{b.ID, a.ID, c.ID}, nil)
	requireOrgCode(t, err, attach.CodeConflict)
	_, err = e.svc.SetAttachments(ctx, wsA, orgPost, "other", []string{a.ID}, nil)
	requireOrgCode(t, err, attach.CodeConflict, "another field does not hold it")
}

// writeCounter is a real storage that counts the bytes written to it.
type writeCounter struct {
	driver.Storage
	n atomic.Int64
}

func (w *writeCounter) NewWriter(ctx context.Context, key string, opts *driver.WriterOptions) (io.WriteCloser, error) {
	wc, err := w.Storage.NewWriter(ctx, key, opts)
	if err != nil {
		return nil, err
	}
	return &countingWriter{WriteCloser: wc, n: &w.n}, nil
}

type countingWriter struct {
	io.WriteCloser
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.WriteCloser.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func TestImportMeetsCollectionBeforeBytes(t *testing.T) {
	e := newEnv(t, nil)
	wc := &writeCounter{Storage: e.storage}
	svc, err := attach.New(wc, e.store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: []byte("ssssssssssssssssssssssssssssssss")}},
		BaseURL:     baseURL, Now: e.clock.Now})
	require.NoError(t, err)
	e.svc = svc
	png := pngBytes(t, 64, 64)
	require.Greater(t, len(png), 200)
	o := newOrigin(t, "tcp4", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.(http.Flusher).Flush() // no Content-Length: the stream must be cut
		_, _ = w.Write(png)
	}))
	allow := &attach.ImportOptions{AllowPorts: []int{o.port()}, AllowAddr: func(ap netip.AddrPort) bool { return ap == o.addr() }}

	small := e.collection(t, wsA, attach.CollectionRequest{Name: "small", MaxSize: 100})
	_, st := importAndWait(t, e, allow, attach.ImportRequest{URL: o.URL + "/a.png", CollectionID: small.ID})
	require.Equal(t, attach.StatusRejected, st.Status)
	require.NotNil(t, st.Error)
	require.Equal(t, attach.CodeFileTooLarge, st.Error.Code)
	require.LessOrEqual(t, wc.n.Load(), int64(101), "cut at the collection's limit")

	pdfs := e.collection(t, wsA, attach.CollectionRequest{Name: "pdfs", AllowedTypes: []string{"application/pdf"}})
	wc.n.Store(0)
	_, st = importAndWait(t, e, allow, attach.ImportRequest{URL: o.URL + "/b.png", CollectionID: pdfs.ID})
	require.Equal(t, attach.StatusRejected, st.Status)
	require.NotNil(t, st.Error)
	require.Equal(t, attach.CodeInvalidFileType, st.Error.Code)
	require.Zero(t, wc.n.Load(), "a declared type the collection refuses stores nothing")
}

// fileCounter is a real store that counts single-file reads.
type fileCounter struct {
	driver.MetaStore
	n atomic.Int64
}

func (c *fileCounter) File(ctx context.Context, workspace, id string) (*driver.FileRecord, error) {
	c.n.Add(1)
	return c.MetaStore.File(ctx, workspace, id)
}

func TestAttachmentsReadFilesPerField(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	ids := e.orgPNGs(t, alice, 5)
	_, err := e.svc.SetAttachments(ctx, alice, orgPost, "g", ids, nil)
	require.NoError(t, err)
	_, err = e.svc.SetAttachments(ctx, alice, orgPost, "cover", ids[3:], nil)
	require.NoError(t, err)
	require.NoError(t, e.svc.Delete(ctx, alice, ids[1], nil))
	fc := &fileCounter{MetaStore: e.store}
	got, err := e.withStore(t, fc).svc.Attachments(ctx, alice, orgPost)
	require.NoError(t, err)
	require.Equal(t, []string{ids[0], ids[2], ids[3], ids[4]}, orgFileIDs(got["g"]))
	require.Equal(t, ids[3:], orgFileIDs(got["cover"]))
	require.Zero(t, fc.n.Load(), "no read per attachment")
}

func TestAttachmentsTooManyReported(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	at := e.clock.Now()
	var ids []string
	for i := range attach.MaxAttachments {
		id := fmt.Sprintf("file_many-%04d", i)
		ids = append(ids, id)
		require.NoError(t, e.store.CreateUpload(ctx, &driver.FileRecord{Workspace: wsA.Workspace, ID: id, FileName: "f.png",
			Status: driver.StatusPending, Source: "upload", AccessControl: "private", CreatedAt: at, UpdatedAt: at},
			&driver.UploadRecord{Workspace: wsA.Workspace, ID: "up_" + id, FileID: id, Version: 1, FileName: "f.png",
				StorageKey: "k/" + id, Status: driver.UploadPending, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}))
	}
	for f := range 11 { // 11,000 attachments
		_, err := e.store.SetAttachments(ctx, &driver.AttachmentSet{Workspace: wsA.Workspace, RecordType: orgPost.Type,
			RecordID: orgPost.ID, Field: fmt.Sprintf("f%02d", f), FileIDs: ids, At: at})
		require.NoError(t, err)
	}
	_, err := e.svc.Attachments(ctx, wsA, orgPost)
	require.Error(t, err, "more than the answer holds is reported, not cut silently")
}
