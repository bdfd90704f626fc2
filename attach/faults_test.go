package attach_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/faults"
	"github.com/attachkit/attachkit/meta/sqlite"
	"github.com/attachkit/attachkit/preview"
)

// faultEnv is a Service over a real directory and a real SQLite file, both
// behind fault injectors.
type faultEnv struct {
	svc     *attach.Service
	in      *faults.Injector
	storage driver.Storage // unwrapped, for the invariants
	store   driver.MetaStore
	clock   *clock
}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := blob.OpenDir(filepath.Join(dir, "files"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	store, err := sqlite.Open(t.Context(), filepath.Join(dir, "attach.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	e := &faultEnv{in: &faults.Injector{}, storage: st, store: store,
		clock: &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	e.svc, err = attach.New(&faults.Storage{S: st, In: e.in}, &faults.MetaStore{MetaStore: store, In: e.in}, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("f"), 32)}},
		BaseURL:     baseURL,
		Now:         e.clock.Now,
		Previewer:   preview.New(nil),
	})
	require.NoError(t, err)
	return e
}

var faultScope = attach.Scope{Workspace: "ws-f", User: "u1"}

// faultCase is an operation run once with a fault and then retried.
type faultCase struct {
	name string
	// prepare makes the state the operation starts from, with no fault.
	prepare func(t *testing.T, e *faultEnv) *faultState
	// run is the operation under the fault.
	run func(ctx context.Context, e *faultEnv, s *faultState) error
	// retry is what a client does after a failure; it must succeed.
	retry func(t *testing.T, e *faultEnv, s *faultState)
	// check is the state after a successful retry.
	check func(t *testing.T, e *faultEnv, s *faultState)
}

type faultState struct {
	fileID  string
	up      *attach.Upload
	body    []byte // the content the operation stores
	oldURL  string // a download URL issued before the operation
	written bool
}

func faultBody(n int, seed byte) []byte {
	b := pdfBytes(n)
	b[len(b)-20] = seed // keep it a PDF, change its digest
	return b
}

func faultCases() []faultCase {
	ctx := context.Background()
	upload := func(t *testing.T, e *faultEnv, body []byte) *attach.File {
		t.Helper()
		up, err := e.svc.RequestUpload(ctx, faultScope, attach.UploadRequest{FileName: "a.pdf", MIMEType: "application/pdf", Size: int64(len(body))})
		require.NoError(t, err)
		key, q := splitURL(t, up.URL)
		require.NoError(t, e.svc.WriteSigned(ctx, key, q, "application/pdf", int64(len(body)), bytes.NewReader(body)))
		f, err := e.svc.Confirm(ctx, faultScope, up.ID)
		require.NoError(t, err)
		return f
	}
	write := func(ctx context.Context, e *faultEnv, s *faultState) error {
		u, err := url.Parse(s.up.URL)
		if err != nil {
			return err
		}
		key := strings.TrimPrefix(u.Path, "/v1/blob/")
		return e.svc.WriteSigned(ctx, key, u.Query(), "application/pdf", int64(len(s.body)), bytes.NewReader(s.body))
	}
	// finishUpload is the client's retry of a presigned upload: send the
	// bytes again unless storage already has them, then confirm.
	finishUpload := func(t *testing.T, e *faultEnv, s *faultState) {
		t.Helper()
		if s.up == nil {
			up, err := e.svc.RequestUpload(ctx, faultScope, attach.UploadRequest{FileName: "a.pdf", MIMEType: "application/pdf", Size: int64(len(s.body))})
			require.NoError(t, err)
			s.up, s.fileID = up, up.ID
		}
		if err := write(ctx, e, s); err != nil {
			require.Equal(t, attach.CodeConflict, attach.CodeOf(err), "a re-sent PUT is refused only because the bytes are there: %v", err)
		}
		_, err := e.svc.Confirm(ctx, faultScope, s.fileID)
		require.NoError(t, err)
	}
	current := func(t *testing.T, e *faultEnv, s *faultState) {
		t.Helper()
		assert.Equal(t, s.body, download(t, e, s.fileID, 0))
	}
	return []faultCase{
		{
			name: "thumbnail",
			prepare: func(t *testing.T, e *faultEnv) *faultState {
				f, err := e.svc.Put(ctx, faultScope, attach.PutRequest{FileName: "a.png", MIMEType: "image/png", Size: -1},
					bytes.NewReader(pngBytes(t, 300, 200)))
				require.NoError(t, err)
				return &faultState{fileID: f.ID}
			},
			run: func(ctx context.Context, e *faultEnv, s *faultState) error {
				_, err := e.svc.Thumbnail(ctx, faultScope, s.fileID, &attach.ThumbnailOptions{Width: 64})
				return err
			},
			retry: func(t *testing.T, e *faultEnv, s *faultState) {
				u, err := e.svc.Thumbnail(ctx, faultScope, s.fileID, &attach.ThumbnailOptions{Width: 64})
				require.NoError(t, err)
				require.NotNil(t, u)
				s.oldURL = u.URL
			},
			check: func(t *testing.T, e *faultEnv, s *faultState) {
				key, q := splitURL(t, s.oldURL)
				c, err := e.svc.OpenSigned(ctx, key, q)
				require.NoError(t, err)
				defer c.Close()
				img, _, err := image.Decode(c)
				require.NoError(t, err)
				assert.Equal(t, 64, max(img.Bounds().Dx(), img.Bounds().Dy()))
			},
		},
		{
			name: "janitor",
			prepare: func(t *testing.T, e *faultEnv) *faultState {
				e.clock.t = time.Now() // objects' modification times are real
				keep := upload(t, e, faultBody(20_000, 11))
				persist := false
				tmp, err := e.svc.Put(ctx, faultScope, attach.PutRequest{FileName: "t.pdf", MIMEType: "application/pdf", Size: -1, Persist: &persist},
					bytes.NewReader(faultBody(20_000, 12)))
				require.NoError(t, err)
				s := &faultState{fileID: keep.ID, body: faultBody(20_000, 11), oldURL: tmp.ID}
				up, err := e.svc.RequestUpload(ctx, faultScope, attach.UploadRequest{FileName: "n.pdf", MIMEType: "application/pdf", Size: 20_000})
				require.NoError(t, err)
				s.up = up
				w, err := e.storage.NewWriter(ctx, "ws-f/file_01900000-0000-7000-8000-00000000000f/v1/0123456789abcdef01234567", nil)
				require.NoError(t, err)
				_, err = w.Write([]byte("orphan"))
				require.NoError(t, err)
				require.NoError(t, w.Close())
				e.clock.Advance(72 * time.Hour)
				return s
			},
			run: func(ctx context.Context, e *faultEnv, s *faultState) error {
				_, err := e.svc.Sweep(ctx)
				return err
			},
			retry: func(t *testing.T, e *faultEnv, s *faultState) {
				_, err := e.svc.Sweep(ctx)
				require.NoError(t, err)
			},
			check: func(t *testing.T, e *faultEnv, s *faultState) {
				current(t, e, s) // the persistent file is untouched
				_, err := e.svc.File(ctx, faultScope, s.oldURL)
				assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err), "the temporary file is gone")
				_, err = e.svc.File(ctx, faultScope, s.up.ID)
				assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err), "the never-confirmed file is gone")
				var keys []string
				require.NoError(t, e.storage.List(ctx, "", func(o driver.ObjectInfo) error { keys = append(keys, o.Key); return nil }))
				assert.Len(t, keys, 1, "only the kept file's object remains: %v", keys)
			},
		},
		{
			name:    "presigned upload",
			prepare: func(t *testing.T, e *faultEnv) *faultState { return &faultState{body: faultBody(70_000, 1)} },
			run: func(ctx context.Context, e *faultEnv, s *faultState) error {
				up, err := e.svc.RequestUpload(ctx, faultScope, attach.UploadRequest{FileName: "a.pdf", MIMEType: "application/pdf", Size: int64(len(s.body))})
				if err != nil {
					return err
				}
				s.up, s.fileID = up, up.ID
				if err := write(ctx, e, s); err != nil {
					return err
				}
				_, err = e.svc.Confirm(ctx, faultScope, up.ID)
				return err
			},
			retry: finishUpload,
			check: current,
		},
		{
			name: "direct put",
			prepare: func(t *testing.T, e *faultEnv) *faultState {
				return &faultState{body: faultBody(70_000, 2)}
			},
			run: func(ctx context.Context, e *faultEnv, s *faultState) error {
				f, err := e.svc.Put(ctx, faultScope, attach.PutRequest{FileName: "a.pdf", MIMEType: "application/pdf", Size: -1}, bytes.NewReader(s.body))
				if err == nil {
					s.fileID = f.ID
				}
				return err
			},
			retry: func(t *testing.T, e *faultEnv, s *faultState) {
				if s.fileID != "" {
					return
				}
				f, err := e.svc.Put(ctx, faultScope, attach.PutRequest{FileName: "a.pdf", MIMEType: "application/pdf", Size: -1}, bytes.NewReader(s.body))
				require.NoError(t, err)
				s.fileID = f.ID
			},
			check: current,
		},
		{
			name: "confirm",
			prepare: func(t *testing.T, e *faultEnv) *faultState {
				s := &faultState{body: faultBody(70_000, 3)}
				up, err := e.svc.RequestUpload(ctx, faultScope, attach.UploadRequest{FileName: "a.pdf", MIMEType: "application/pdf", Size: int64(len(s.body))})
				require.NoError(t, err)
				s.up, s.fileID = up, up.ID
				require.NoError(t, write(ctx, e, s))
				return s
			},
			run: func(ctx context.Context, e *faultEnv, s *faultState) error {
				_, err := e.svc.Confirm(ctx, faultScope, s.fileID)
				return err
			},
			retry: finishUpload,
			check: current,
		},
		{
			name: "delete",
			prepare: func(t *testing.T, e *faultEnv) *faultState {
				f := upload(t, e, faultBody(70_000, 4))
				u, err := e.svc.DownloadURL(ctx, faultScope, f.ID, nil)
				require.NoError(t, err)
				return &faultState{fileID: f.ID, oldURL: u.URL}
			},
			run: func(ctx context.Context, e *faultEnv, s *faultState) error {
				return e.svc.Delete(ctx, faultScope, s.fileID, nil)
			},
			retry: func(t *testing.T, e *faultEnv, s *faultState) {
				err := e.svc.Delete(ctx, faultScope, s.fileID, nil)
				if err != nil {
					require.Equal(t, attach.CodeNotFound, attach.CodeOf(err), "%v", err)
				}
			},
			check: func(t *testing.T, e *faultEnv, s *faultState) {
				_, err := e.svc.File(ctx, faultScope, s.fileID)
				assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err))
				key, q := splitURL(t, s.oldURL)
				_, err = e.svc.OpenSigned(ctx, key, q)
				assert.Error(t, err, "a URL issued before the delete serves nothing")
			},
		},
		{
			name: "version update",
			prepare: func(t *testing.T, e *faultEnv) *faultState {
				f := upload(t, e, faultBody(70_000, 5))
				return &faultState{fileID: f.ID, body: faultBody(80_000, 6)}
			},
			run: func(ctx context.Context, e *faultEnv, s *faultState) error {
				_, err := e.svc.PutVersion(ctx, faultScope, s.fileID, attach.VersionPutRequest{MIMEType: "application/pdf", Size: -1, IfVersion: 1}, bytes.NewReader(s.body))
				return err
			},
			retry: func(t *testing.T, e *faultEnv, s *faultState) {
				f, err := e.svc.File(ctx, faultScope, s.fileID)
				require.NoError(t, err)
				if f.Version == 2 {
					return // it went through; only the answer was lost
				}
				_, err = e.svc.PutVersion(ctx, faultScope, s.fileID, attach.VersionPutRequest{MIMEType: "application/pdf", Size: -1, IfVersion: 1}, bytes.NewReader(s.body))
				require.NoError(t, err)
			},
			check: func(t *testing.T, e *faultEnv, s *faultState) {
				current(t, e, s)
				assert.Equal(t, faultBody(70_000, 5), download(t, e, s.fileID, 1), "the old version is intact")
			},
		},
		{
			name: "restore version",
			prepare: func(t *testing.T, e *faultEnv) *faultState {
				f := upload(t, e, faultBody(70_000, 7))
				_, err := e.svc.PutVersion(ctx, faultScope, f.ID, attach.VersionPutRequest{MIMEType: "application/pdf", Size: -1, IfVersion: 1}, bytes.NewReader(faultBody(60_000, 8)))
				require.NoError(t, err)
				return &faultState{fileID: f.ID, body: faultBody(70_000, 7)}
			},
			run: func(ctx context.Context, e *faultEnv, s *faultState) error {
				_, err := e.svc.RestoreVersion(ctx, faultScope, s.fileID, 1, &attach.RestoreOptions{IfVersion: 2})
				return err
			},
			retry: func(t *testing.T, e *faultEnv, s *faultState) {
				_, err := e.svc.RestoreVersion(ctx, faultScope, s.fileID, 1, &attach.RestoreOptions{IfVersion: 2})
				if attach.CodeOf(err) == attach.CodeVersionConflict {
					return // it went through; only the answer was lost
				}
				require.NoError(t, err)
			},
			check: current,
		},
	}
}

// download reads a version (0: current) through a signed URL.
func download(t *testing.T, e *faultEnv, id string, version int) []byte {
	t.Helper()
	ctx := context.Background()
	u, err := e.svc.DownloadURL(ctx, faultScope, id, &attach.DownloadOptions{Version: version})
	require.NoError(t, err)
	key, q := splitURL(t, u.URL)
	c, err := e.svc.OpenSigned(ctx, key, q)
	require.NoError(t, err)
	defer c.Close()
	b, err := io.ReadAll(c)
	require.NoError(t, err)
	return b
}

var faultKinds = []faults.Fault{
	{Kind: faults.Fail},
	{Kind: faults.FailAfter},
	{Kind: faults.Cancel},
	{Kind: faults.Stall, For: 20 * time.Millisecond},
	{Kind: faults.FailAfterBytes, Bytes: 1000},
}

// TestFaults injects every kind of fault into every storage and metadata
// call each operation makes (found by a dry run), one at a time, and
// checks that the invariants hold after the failure and that the client's
// retry succeeds.
func TestFaults(t *testing.T) {
	fired := 0
	for _, fc := range faultCases() {
		// The dry run: which calls, how many times.
		e := newFaultEnv(t)
		s := fc.prepare(t, e)
		before := callCounts(e.in)
		require.NoError(t, fc.run(context.Background(), e, s))
		ops := diffCounts(before, callCounts(e.in))
		for _, op := range ops {
			for _, kind := range faultKinds {
				if kind.Kind == faults.FailAfterBytes && op.name != "NewWriter" && op.name != "NewRangeReader" {
					continue
				}
				for _, nth := range uniq(1, op.n) {
					f := kind
					f.Op, f.Nth = op.name, nth
					t.Run(fmt.Sprintf("%s/%s", fc.name, f), func(t *testing.T) {
						e := newFaultEnv(t)
						s := fc.prepare(t, e)
						e.in.Arm(f)
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						err := fc.run(ctx, e, s)
						cancel()
						e.in.Clear()
						if len(e.in.Fired()) == 0 {
							t.Skip("the fault hit no call")
						}
						fired++
						if err != nil {
							code := attach.CodeOf(err)
							assert.NotEqual(t, attach.CodeForbidden, code, "a fault is not the client's fault: %v", err)
						}
						checkInvariants(t, e)
						fc.retry(t, e, s)
						fc.check(t, e, s)
						checkInvariants(t, e)
					})
				}
			}
		}
	}
	t.Logf("%d faults injected", fired)
}

type opCount struct {
	name string
	n    int
}

var faultOps = []string{"Attributes", "NewRangeReader", "NewWriter", "Delete", "List",
	"CreateUpload", "File", "Upload", "LatestUpload", "RecordWrite", "CommitUpload", "RejectUpload",
	"MarkDeleted", "FileKeys", "PurgeFile", "Versions", "Version", "ListFiles", "UpdateFile",
	"CopyVersion", "DeletedFile", "Undelete", "SweepFiles"}

func callCounts(in *faults.Injector) map[string]int {
	m := make(map[string]int)
	for _, op := range faultOps {
		m[op] = in.Calls(op)
	}
	return m
}

func diffCounts(before, after map[string]int) []opCount {
	var ops []opCount
	for op, n := range after {
		if d := n - before[op]; d > 0 {
			ops = append(ops, opCount{op, d})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].name < ops[j].name })
	return ops
}

func uniq(a, b int) []int {
	if a == b {
		return []int{a}
	}
	return []int{a, b}
}

// checkInvariants reads the real store and storage (not through the
// injectors):
//   - every undeleted file with a version is ready, its current version row
//     exists and its object holds exactly the recorded bytes;
//   - no ticket is confirmed without its version (no half-confirmed file);
//   - a deleted file is not served, through any URL.
func checkInvariants(t require.TestingT, e *faultEnv) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	ctx := context.Background()
	inv := e.store.(driver.Inventory)
	require.NoError(t, inv.WalkFiles(ctx, func(fi *driver.FileInventory) error {
		f := fi.File
		versions := map[int]driver.VersionRecord{}
		for _, v := range fi.Versions {
			versions[v.Version] = v
		}
		for _, up := range fi.Uploads {
			if up.Status == driver.UploadConfirmed {
				_, ok := versions[up.Version]
				assert.True(t, ok, "ticket %s is confirmed but version %d has no row", up.ID, up.Version)
			}
		}
		if !f.DeletedAt.IsZero() {
			_, err := e.svc.DownloadURL(ctx, attach.Scope{Workspace: f.Workspace}, f.ID, nil)
			assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err), "a deleted file gets no URL")
			return nil
		}
		if f.Version == 0 {
			assert.NotEqual(t, driver.StatusReady, f.Status, "a file without a version is not ready")
			return nil
		}
		assert.Equal(t, driver.StatusReady, f.Status, "file %s", f.ID)
		for _, v := range fi.Versions {
			ds, err := e.store.Derivatives(ctx, f.Workspace, f.ID, v.Version)
			require.NoError(t, err)
			for _, d := range ds {
				_, err := e.storage.Attributes(ctx, d.StorageKey)
				assert.NoError(t, err, "file %s v%d: derivative %s has no object", f.ID, v.Version, d.StorageKey)
			}
		}
		v, ok := versions[f.Version]
		if !assert.True(t, ok, "file %s is at version %d, which has no row", f.ID, f.Version) {
			return nil
		}
		r, err := e.storage.NewRangeReader(ctx, v.StorageKey, 0, -1)
		if !assert.NoError(t, err, "file %s v%d: its object %s is missing", f.ID, v.Version, v.StorageKey) {
			return nil
		}
		defer r.Close()
		h := sha256.New()
		n, err := io.Copy(h, r)
		require.NoError(t, err)
		assert.Equal(t, v.Size, n, "file %s v%d: object size", f.ID, v.Version)
		if d, ok := bytes.CutPrefix([]byte(v.Digest), []byte("sha256:")); ok {
			assert.Equal(t, string(d), hex.EncodeToString(h.Sum(nil)), "file %s v%d: object digest", f.ID, v.Version)
		}
		return nil
	}))
}

// failures records what an invariant check reports.
type failures struct{ msgs []string }

func (f *failures) Errorf(format string, args ...any) {
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}
func (f *failures) FailNow() { panic("FailNow") }

// TestFaultInvariantsCanFail: the invariant check notices a ready file
// whose object is gone or altered, and a deleted file still served.
func TestFaultInvariantsCanFail(t *testing.T) {
	ctx := context.Background()
	e := newFaultEnv(t)
	body := faultBody(5000, 9)
	f, err := e.svc.Put(ctx, faultScope, attach.PutRequest{FileName: "a.pdf", MIMEType: "application/pdf", Size: -1}, bytes.NewReader(body))
	require.NoError(t, err)
	checkInvariants(t, e)
	v, err := e.store.Version(ctx, faultScope.Workspace, f.ID, 1)
	require.NoError(t, err)

	w, err := e.storage.NewWriter(ctx, v.StorageKey, &driver.WriterOptions{ContentType: "application/pdf"})
	require.NoError(t, err)
	_, err = w.Write(faultBody(5000, 10))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	var rec failures
	checkInvariants(&rec, e)
	assert.NotEmpty(t, rec.msgs, "altered bytes are noticed")

	require.NoError(t, e.storage.Delete(ctx, v.StorageKey))
	rec = failures{}
	checkInvariants(&rec, e)
	assert.NotEmpty(t, rec.msgs, "a missing object is noticed")
}
