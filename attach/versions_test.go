package attach_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

// read returns the bytes of a file version through Open.
func (e *env) read(t *testing.T, scope attach.Scope, id string, version int) []byte {
	t.Helper()
	c, err := e.svc.Open(context.Background(), scope, id, &attach.DownloadOptions{Version: version})
	require.NoError(t, err)
	defer c.Close()
	b, err := io.ReadAll(c)
	require.NoError(t, err)
	return b
}

func TestPutVersion(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	v1, v2, v3 := pngBytes(t, 4, 4), pdfBytes(600), pngBytes(t, 9, 7)
	f := e.upload(t, alice, "a.png", "image/png", v1)

	got, err := e.svc.PutVersion(ctx, alice, f.ID, attach.VersionPutRequest{FileName: "a.pdf", Size: -1, IfVersion: 1}, bytes.NewReader(v2))
	require.NoError(t, err)
	assert.Equal(t, 2, got.Version)
	assert.Equal(t, "a.pdf", got.FileName)
	assert.Equal(t, "application/pdf", got.MIMEType)
	assert.Equal(t, attach.KindDocument, got.Kind)
	assert.Nil(t, got.Width, "a PDF has no dimensions")
	got, err = e.svc.PutVersion(ctx, alice, f.ID, attach.VersionPutRequest{MIMEType: "image/png", Size: int64(len(v3))}, bytes.NewReader(v3))
	require.NoError(t, err)
	assert.Equal(t, 3, got.Version)
	assert.Equal(t, "a.pdf", got.FileName, "without a name the file keeps its name")
	require.NotNil(t, got.Width)
	assert.Equal(t, 9, *got.Width)

	vs, err := e.svc.Versions(ctx, alice, f.ID)
	require.NoError(t, err)
	require.Len(t, vs, 3)
	for i, want := range [][]byte{v1, v2, v3} {
		assert.Equal(t, i+1, vs[i].Version)
		assert.Equal(t, digestOf(want), vs[i].Digest)
		assert.Equal(t, "alice", vs[i].CreatedBy)
		assert.Equal(t, want, e.read(t, alice, f.ID, i+1), "version %d keeps its bytes", i+1)
	}
	assert.Equal(t, v3, e.read(t, alice, f.ID, 0))
	assert.Len(t, e.objects(t), 3)

	tests := []struct {
		name  string
		scope attach.Scope
		req   attach.VersionPutRequest
		body  []byte
		code  attach.Code
	}{
		{name: "stale ifVersion", scope: alice, req: attach.VersionPutRequest{Size: -1, IfVersion: 2}, body: v1, code: attach.CodeVersionConflict},
		{name: "future ifVersion", scope: alice, req: attach.VersionPutRequest{Size: -1, IfVersion: 4}, body: v1, code: attach.CodeVersionConflict},
		{name: "negative ifVersion", scope: alice, req: attach.VersionPutRequest{Size: -1, IfVersion: -1}, body: v1, code: attach.CodeInvalidRequest},
		{name: "type not allowed", scope: alice, req: attach.VersionPutRequest{Size: -1}, body: htmlBytes, code: attach.CodeInvalidFileType},
		{name: "declared png, pdf sent", scope: alice, req: attach.VersionPutRequest{MIMEType: "image/png", Size: -1}, body: v2, code: attach.CodeContentMismatch},
		{name: "shorter than declared", scope: alice, req: attach.VersionPutRequest{Size: int64(len(v1)) + 1}, body: v1, code: attach.CodeContentMismatch},
		{name: "bad name", scope: alice, req: attach.VersionPutRequest{FileName: "a\x00b", Size: -1}, body: v1, code: attach.CodeInvalidRequest},
		{name: "over the limit", scope: alice, req: attach.VersionPutRequest{Size: 51 * attach.MB}, body: v1, code: attach.CodeFileTooLarge},
		{name: "no edit right", scope: bob, req: attach.VersionPutRequest{Size: -1}, body: v1, code: attach.CodeForbidden},
		{name: "another workspace", scope: wsB, req: attach.VersionPutRequest{Size: -1}, body: v1, code: attach.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.PutVersion(ctx, tt.scope, f.ID, tt.req, bytes.NewReader(tt.body))
			assert.Equal(t, tt.code, attach.CodeOf(err), "%v", err)
			cur, err := e.svc.File(ctx, alice, f.ID)
			require.NoError(t, err)
			assert.Equal(t, 3, cur.Version, "nothing committed")
			assert.Len(t, e.objects(t), 3, "nothing kept")
		})
	}

	// A file without content yet has no version to build on.
	up, err := e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "p.png", MIMEType: "image/png", Size: 10})
	require.NoError(t, err)
	_, err = e.svc.PutVersion(ctx, alice, up.ID, attach.VersionPutRequest{Size: -1}, bytes.NewReader(v1))
	assert.Equal(t, attach.CodeConflict, attach.CodeOf(err), "%v", err)
}

func TestConcurrentVersionWritersOneWins(t *testing.T) {
	tests := []struct {
		name string
		// write stores body as a new version of file id expecting version 1.
		write func(e *env, id string, body []byte) (*attach.File, error)
	}{
		{name: "direct", write: func(e *env, id string, body []byte) (*attach.File, error) {
			return e.svc.PutVersion(context.Background(), wsA, id, attach.VersionPutRequest{Size: -1, IfVersion: 1}, bytes.NewReader(body))
		}},
		{name: "presigned", write: func(e *env, id string, body []byte) (*attach.File, error) {
			ctx := context.Background()
			up, err := e.svc.RequestVersionUpload(ctx, wsA, id, attach.VersionUploadRequest{MIMEType: "image/png",
				Size: int64(len(body)), IfVersion: 1})
			if err != nil {
				return nil, err
			}
			u, err := url.Parse(up.URL)
			if err != nil {
				return nil, err
			}
			key := strings.TrimPrefix(u.Path, "/v1/blob/")
			if err := e.svc.WriteSigned(ctx, key, u.Query(), "image/png", int64(len(body)), bytes.NewReader(body)); err != nil {
				return nil, err
			}
			return e.svc.ConfirmTicket(ctx, wsA, id, up.UploadID)
		}},
	}
	const writers = 8
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			id := e.upload(t, wsA, "a.png", "image/png", pngBytes(t, 3, 3)).ID
			bodies := make([][]byte, writers)
			for i := range bodies {
				bodies[i] = pngBytes(t, 4+i, 4)
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			files := make([]*attach.File, writers)
			errs := make([]error, writers)
			for i := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					files[i], errs[i] = tt.write(e, id, bodies[i])
				}()
			}
			close(start)
			wg.Wait()
			winner := -1
			for i, err := range errs {
				if err == nil {
					require.Equal(t, -1, winner, "two writers won")
					winner = i
					continue
				}
				assert.Equal(t, attach.CodeVersionConflict, attach.CodeOf(err), "%v", err)
			}
			require.NotEqual(t, -1, winner, "no writer won")
			assert.Equal(t, 2, files[winner].Version)
			vs, err := e.svc.Versions(context.Background(), wsA, id)
			require.NoError(t, err)
			assert.Len(t, vs, 2)
			assert.Equal(t, bodies[winner], e.read(t, wsA, id, 0))
			assert.Len(t, e.objects(t), 2, "the losers' bytes are deleted")
		})
	}
}

func TestReadersSeeTheirVersionWhileTheNextIsWritten(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	v1, v2 := pdfBytes(300<<10), pdfBytes(500<<10)
	f := e.upload(t, wsA, "doc.pdf", "application/pdf", v1)
	u1, err := e.svc.DownloadURL(ctx, wsA, f.ID, nil)
	require.NoError(t, err)
	reader, err := e.svc.Open(ctx, wsA, f.ID, nil)
	require.NoError(t, err)
	defer reader.Close()
	head := make([]byte, 1000)
	_, err = io.ReadFull(reader, head)
	require.NoError(t, err)

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var v2File *attach.File
	go func() {
		var err error
		v2File, err = e.svc.PutVersion(ctx, wsA, f.ID, attach.VersionPutRequest{Size: int64(len(v2)), IfVersion: 1}, pr)
		done <- err
	}()
	// Half of version 2 is in storage's writer: the write is under way.
	_, err = pw.Write(v2[:len(v2)/2])
	require.NoError(t, err)

	rest, err := io.ReadAll(reader)
	require.NoError(t, err)
	assert.Equal(t, v1, append(head, rest...), "an open reader sees version 1")
	assert.Equal(t, v1, e.read(t, wsA, f.ID, 0), "a new reader sees version 1")
	key, q := splitURL(t, u1.URL)
	c, err := e.svc.OpenSigned(ctx, key, q)
	require.NoError(t, err)
	b, err := io.ReadAll(c)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.Equal(t, v1, b, "a URL issued for version 1 serves version 1")

	_, err = pw.Write(v2[len(v2)/2:])
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	require.NoError(t, <-done)
	assert.Equal(t, 2, v2File.Version)
	assert.Equal(t, v2, e.read(t, wsA, f.ID, 0))

	_, err = reader.Seek(0, io.SeekStart)
	require.NoError(t, err)
	again, err := io.ReadAll(reader)
	require.NoError(t, err)
	assert.Equal(t, v1, again, "version 1's bytes outlive version 2's commit")
	c, err = e.svc.OpenSigned(ctx, key, q)
	require.NoError(t, err)
	b, err = io.ReadAll(c)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.Equal(t, v1, b, "the old URL still names version 1")
}

func TestVersionUploadPresigned(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	f := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 4, 4))
	body := pngBytes(t, 8, 8)

	up, err := e.svc.RequestVersionUpload(ctx, alice, f.ID, attach.VersionUploadRequest{FileName: "b.png", MIMEType: "image/png", Size: int64(len(body))})
	require.NoError(t, err)
	assert.Equal(t, f.ID, up.ID)
	assert.Contains(t, up.Key, "/v2/")
	// The current version stays downloadable while the ticket is open.
	assert.Equal(t, pngBytes(t, 4, 4), e.read(t, alice, f.ID, 0))
	_, err = e.svc.Confirm(ctx, alice, f.ID)
	assert.Equal(t, attach.CodeUploadIncomplete, attach.CodeOf(err))
	require.NoError(t, e.put(t, up, "image/png", body))
	got, err := e.svc.Confirm(ctx, alice, f.ID)
	require.NoError(t, err)
	assert.Equal(t, 2, got.Version)
	assert.Equal(t, "b.png", got.FileName)
	again, err := e.svc.Confirm(ctx, alice, f.ID)
	require.NoError(t, err)
	assert.Equal(t, got, again, "idempotent")

	// A ticket overtaken by another version is refused at confirm, and its
	// bytes are deleted.
	stale, err := e.svc.RequestVersionUpload(ctx, alice, f.ID, attach.VersionUploadRequest{MIMEType: "image/png", Size: int64(len(body))})
	require.NoError(t, err)
	require.NoError(t, e.put(t, stale, "image/png", body))
	_, err = e.svc.PutVersion(ctx, alice, f.ID, attach.VersionPutRequest{Size: -1}, bytes.NewReader(pngBytes(t, 5, 5)))
	require.NoError(t, err)
	for range 2 {
		_, err = e.svc.ConfirmTicket(ctx, alice, f.ID, stale.UploadID)
		assert.Equal(t, attach.CodeVersionConflict, attach.CodeOf(err), "%v", err)
	}
	assert.NotContains(t, e.objects(t), stale.Key)

	tests := []struct {
		name  string
		scope attach.Scope
		req   attach.VersionUploadRequest
		code  attach.Code
	}{
		{name: "stale ifVersion", scope: alice, req: attach.VersionUploadRequest{MIMEType: "image/png", Size: 10, IfVersion: 2}, code: attach.CodeVersionConflict},
		{name: "no type", scope: alice, req: attach.VersionUploadRequest{Size: 10}, code: attach.CodeInvalidRequest},
		{name: "type not allowed", scope: alice, req: attach.VersionUploadRequest{MIMEType: "text/html", Size: 10}, code: attach.CodeInvalidFileType},
		{name: "zero size", scope: alice, req: attach.VersionUploadRequest{MIMEType: "image/png"}, code: attach.CodeInvalidRequest},
		{name: "too large", scope: alice, req: attach.VersionUploadRequest{MIMEType: "image/png", Size: 51 * attach.MB}, code: attach.CodeFileTooLarge},
		{name: "bad name", scope: alice, req: attach.VersionUploadRequest{FileName: "..", MIMEType: "image/png", Size: 10}, code: attach.CodeInvalidRequest},
		{name: "no edit right", scope: bob, req: attach.VersionUploadRequest{MIMEType: "image/png", Size: 10}, code: attach.CodeForbidden},
		{name: "another workspace", scope: wsB, req: attach.VersionUploadRequest{MIMEType: "image/png", Size: 10}, code: attach.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.RequestVersionUpload(ctx, tt.scope, f.ID, tt.req)
			assert.Equal(t, tt.code, attach.CodeOf(err), "%v", err)
		})
	}
	other := e.upload(t, alice, "o.png", "image/png", body)
	for _, id := range []string{"upl_x", other.ID} {
		_, err = e.svc.ConfirmTicket(ctx, alice, f.ID, id)
		assert.Contains(t, []attach.Code{attach.CodeInvalidRequest, attach.CodeNotFound}, attach.CodeOf(err), "%v", err)
	}
	_, err = e.svc.ConfirmTicket(ctx, alice, other.ID, up.UploadID)
	assert.Equal(t, attach.CodeNotFound, attach.CodeOf(err), "a ticket of another file")
}

func TestRestoreVersion(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	v1, v2 := pngBytes(t, 4, 4), pdfBytes(700)
	f := e.upload(t, alice, "a.png", "image/png", v1)
	_, err := e.svc.PutVersion(ctx, alice, f.ID, attach.VersionPutRequest{FileName: "a.pdf", Size: -1}, bytes.NewReader(v2))
	require.NoError(t, err)

	got, err := e.svc.RestoreVersion(ctx, alice, f.ID, 1, nil)
	require.NoError(t, err)
	assert.Equal(t, 3, got.Version)
	assert.Equal(t, "a.png", got.FileName)
	assert.Equal(t, "image/png", got.MIMEType)
	assert.Equal(t, digestOf(v1), got.Digest)
	assert.Equal(t, v1, e.read(t, alice, f.ID, 0))
	assert.Equal(t, v2, e.read(t, alice, f.ID, 2))
	vs, err := e.svc.Versions(ctx, alice, f.ID)
	require.NoError(t, err)
	assert.Len(t, vs, 3)
	assert.Len(t, e.objects(t), 2, "the restored version shares version 1's bytes")

	tests := []struct {
		name    string
		scope   attach.Scope
		version int
		opts    *attach.RestoreOptions
		code    attach.Code
	}{
		{name: "unknown version", scope: alice, version: 9, code: attach.CodeNotFound},
		{name: "version 0", scope: alice, version: 0, code: attach.CodeInvalidRequest},
		{name: "stale ifVersion", scope: alice, version: 2, opts: &attach.RestoreOptions{IfVersion: 2}, code: attach.CodeVersionConflict},
		{name: "no edit right", scope: bob, version: 2, code: attach.CodeForbidden},
		{name: "another workspace", scope: wsB, version: 2, code: attach.CodeNotFound},
		{name: "matching ifVersion", scope: alice, version: 2, opts: &attach.RestoreOptions{IfVersion: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.RestoreVersion(ctx, tt.scope, f.ID, tt.version, tt.opts)
			assert.Equal(t, tt.code, attach.CodeOf(err), "%v", err)
		})
	}
	assert.Equal(t, v2, e.read(t, alice, f.ID, 0))

	// Deleting removes every object once, shared or not.
	require.NoError(t, e.svc.Delete(ctx, alice, f.ID, nil))
	assert.Empty(t, e.objects(t))
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
