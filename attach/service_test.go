package attach_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/driver"
)

func TestRequestUploadValidation(t *testing.T) {
	e := newEnv(t, nil)
	ok := attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", Size: 100}
	tests := []struct {
		name  string
		scope attach.Scope
		mod   func(*attach.UploadRequest)
		code  attach.Code
	}{
		{name: "ok", mod: func(*attach.UploadRequest) {}},
		{name: "no workspace", scope: attach.Scope{}, mod: func(*attach.UploadRequest) {}, code: attach.CodeUnauthorized},
		{name: "workspace with slash", scope: attach.Scope{Workspace: "a/b"}, mod: func(*attach.UploadRequest) {}, code: attach.CodeUnauthorized},
		{name: "workspace dotdot", scope: attach.Scope{Workspace: ".."}, mod: func(*attach.UploadRequest) {}, code: attach.CodeUnauthorized},
		{name: "empty name", mod: func(r *attach.UploadRequest) { r.FileName = "" }, code: attach.CodeInvalidRequest},
		{name: "dot dot", mod: func(r *attach.UploadRequest) { r.FileName = ".." }, code: attach.CodeInvalidRequest},
		{name: "NUL", mod: func(r *attach.UploadRequest) { r.FileName = "a\x00.png" }, code: attach.CodeInvalidRequest},
		{name: "CRLF", mod: func(r *attach.UploadRequest) { r.FileName = "a\r\nSet-Cookie: x.png" }, code: attach.CodeInvalidRequest},
		{name: "bidi override", mod: func(r *attach.UploadRequest) { r.FileName = "invoice\u202Egnp.exe" }, code: attach.CodeInvalidRequest},
		{name: "256 bytes", mod: func(r *attach.UploadRequest) { r.FileName = strings.Repeat("a", 252) + ".png" }, code: attach.CodeInvalidRequest},
		{name: "invalid utf8", mod: func(r *attach.UploadRequest) { r.FileName = "a\xff.png" }, code: attach.CodeInvalidRequest},
		{name: "bad mime", mod: func(r *attach.UploadRequest) { r.MIMEType = "png" }, code: attach.CodeInvalidRequest},
		{name: "type not allowed", mod: func(r *attach.UploadRequest) { r.MIMEType = "text/html" }, code: attach.CodeInvalidFileType},
		{name: "zero size", mod: func(r *attach.UploadRequest) { r.Size = 0 }, code: attach.CodeInvalidRequest},
		{name: "negative size", mod: func(r *attach.UploadRequest) { r.Size = -5 }, code: attach.CodeInvalidRequest},
		{name: "too large", mod: func(r *attach.UploadRequest) { r.Size = 50*attach.MB + 1 }, code: attach.CodeFileTooLarge},
		{name: "metadata not object", mod: func(r *attach.UploadRequest) { r.Metadata = []byte(`[1]`) }, code: attach.CodeInvalidRequest},
		{name: "metadata too big", mod: func(r *attach.UploadRequest) {
			r.Metadata = []byte(`{"k":"` + strings.Repeat("x", 20000) + `"}`)
		}, code: attach.CodeInvalidRequest},
		{name: "too many tags", mod: func(r *attach.UploadRequest) { r.Tags = make([]string, 65) }, code: attach.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := ok
			tt.mod(&req)
			scope := tt.scope
			if scope == (attach.Scope{}) && tt.name != "no workspace" {
				scope = wsA
			}
			up, err := e.svc.RequestUpload(context.Background(), scope, req)
			if tt.code == "" {
				require.NoError(t, err)
				assert.Equal(t, "PUT", up.Method)
				assert.Equal(t, "image/png", up.Headers["Content-Type"])
				assert.True(t, strings.HasPrefix(up.Key, "ws-a/"+up.ID+"/v1/"), up.Key)
				assert.NotContains(t, up.Key, "a.png", "file names never become keys")
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.code, attach.CodeOf(err), err.Error())
			if tt.code == attach.CodeFileTooLarge {
				var ae *attach.Error
				require.True(t, errors.As(err, &ae))
				assert.Equal(t, int64(50*attach.MB), ae.MaxSize)
				assert.Equal(t, int64(50*attach.MB+1), ae.ActualSize)
			}
		})
	}
}

func TestLifecyclePNG(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	body := pngBytes(t, 40, 30)
	up, err := e.svc.RequestUpload(ctx, alice, attach.UploadRequest{FileName: "dir/../photo.png",
		MIMEType: "image/png", Size: int64(len(body)), Tags: []string{"a", "a", " b "}})
	require.NoError(t, err)
	st, err := e.svc.Status(ctx, alice, up.ID)
	require.NoError(t, err)
	assert.Equal(t, attach.StatusPending, st.Status)

	require.NoError(t, e.put(t, up, "image/png", body))
	f, err := e.svc.Confirm(ctx, alice, up.ID)
	require.NoError(t, err)
	sum := sha256.Sum256(body)
	assert.Equal(t, "photo.png", f.FileName)
	assert.Equal(t, "photo", f.Title)
	assert.Equal(t, attach.StatusReady, f.Status)
	assert.Equal(t, "image/png", f.MIMEType)
	assert.Equal(t, attach.KindImage, f.Kind)
	assert.Equal(t, int64(len(body)), f.Size)
	assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), f.Digest)
	require.NotNil(t, f.Width)
	assert.Equal(t, 40, *f.Width)
	assert.Equal(t, 30, *f.Height)
	assert.Equal(t, 1, f.Version)
	assert.Equal(t, "alice", f.Owner)
	assert.Equal(t, []string{"a", "b"}, f.Tags)
	assert.Nil(t, f.ExpiresAt)

	got, err := e.svc.File(ctx, alice, up.ID)
	require.NoError(t, err)
	assert.Equal(t, f.Digest, got.Digest)

	// Download through the signed URL path, and a range through Open.
	u, err := e.svc.DownloadURL(ctx, alice, up.ID, nil)
	require.NoError(t, err)
	assert.Equal(t, e.clock.Now().Add(time.Hour), u.ExpiresAt)
	key, q := splitURL(t, u.URL)
	c, err := e.svc.OpenSigned(ctx, key, q)
	require.NoError(t, err)
	all, err := io.ReadAll(c)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.Equal(t, body, all)
	assert.Contains(t, c.ContentDisposition, "attachment")

	c, err = e.svc.Open(ctx, alice, up.ID, nil)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Seek(10, io.SeekStart)
	require.NoError(t, err)
	part := make([]byte, 20)
	_, err = io.ReadFull(c, part)
	require.NoError(t, err)
	assert.Equal(t, body[10:30], part)
}

func TestConfirmVerifies(t *testing.T) {
	png := pngBytes(t, 8, 8)
	tests := []struct {
		name     string
		declared string
		size     int64
		stored   []byte // written straight into storage, bypassing the signed PUT
		code     attach.Code
	}{
		{name: "html declared as png", declared: "image/png", stored: htmlBytes, code: attach.CodeContentMismatch},
		{name: "pdf declared as png", declared: "image/png", stored: pdfBytes(500), code: attach.CodeContentMismatch},
		{name: "size differs from declaration", declared: "image/png", size: int64(len(png)) + 10, stored: png, code: attach.CodeContentMismatch},
		{name: "over the limit", declared: "application/pdf", size: 1 << 20, stored: pdfBytes(2 << 20), code: attach.CodeFileTooLarge},
		{name: "consistent", declared: "image/png", stored: png},
		{name: "pdf", declared: "application/pdf", stored: pdfBytes(1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(o *attach.Options) {
				o.Policy = &attach.Policy{Types: []attach.TypeRule{
					{MIMEType: "image/png", MaxSize: 50 * attach.MB},
					{MIMEType: "application/pdf", MaxSize: 1 << 20},
				}}
			})
			ctx := context.Background()
			size := tt.size
			if size == 0 {
				size = int64(len(tt.stored))
			}
			up, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "f", MIMEType: tt.declared, Size: size})
			require.NoError(t, err)
			writeDirect(t, e.storage, up.Key, tt.stored)

			f, err := e.svc.Confirm(ctx, wsA, up.ID)
			if tt.code == "" {
				require.NoError(t, err)
				assert.Equal(t, attach.StatusReady, f.Status)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.code, attach.CodeOf(err), err.Error())
			assert.Empty(t, e.objects(t), "a rejected upload's object is deleted")
			st, err := e.svc.Status(ctx, wsA, up.ID)
			require.NoError(t, err)
			assert.Equal(t, attach.StatusRejected, st.Status)
			require.NotNil(t, st.Error)
			assert.Equal(t, tt.code, st.Error.Code)
			// Idempotent: the same answer again, and nothing to download.
			_, err = e.svc.Confirm(ctx, wsA, up.ID)
			assert.Equal(t, tt.code, attach.CodeOf(err))
			_, err = e.svc.DownloadURL(ctx, wsA, up.ID, nil)
			assert.Equal(t, attach.CodeConflict, attach.CodeOf(err))
		})
	}
}

func writeDirect(t *testing.T, s driver.Storage, key string, body []byte) {
	t.Helper()
	w, err := s.NewWriter(context.Background(), key, &driver.WriterOptions{})
	require.NoError(t, err)
	_, err = w.Write(body)
	require.NoError(t, err)
	require.NoError(t, w.Close())
}

func TestConfirmBeforeUploadKeepsTicket(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	body := pdfBytes(2000)
	up, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "a.pdf", MIMEType: "application/pdf", Size: int64(len(body))})
	require.NoError(t, err)
	_, err = e.svc.Confirm(ctx, wsA, up.ID)
	assert.True(t, errors.Is(err, attach.ErrUploadIncomplete), "%v", err)
	require.NoError(t, e.put(t, up, "application/pdf", body))
	f, err := e.svc.Confirm(ctx, wsA, up.ID)
	require.NoError(t, err)
	assert.Equal(t, attach.StatusReady, f.Status)
	assert.Nil(t, f.Width)
}

func TestConcurrentConfirmOneTransition(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	body := pngBytes(t, 16, 16)
	up, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", Size: int64(len(body))})
	require.NoError(t, err)
	require.NoError(t, e.put(t, up, "image/png", body))

	const n = 50
	var wg sync.WaitGroup
	files := make([]*attach.File, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			files[i], errs[i] = e.svc.Confirm(ctx, wsA, up.ID)
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, 1, files[i].Version)
		assert.Equal(t, files[0].Digest, files[i].Digest)
	}
	vs, err := e.store.Versions(ctx, "ws-a", up.ID)
	require.NoError(t, err)
	assert.Len(t, vs, 1, "exactly one transition")
}

func TestConfirmTrustsDigestComputedWhileWriting(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	body := pdfBytes(4 << 20)

	up, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "big.pdf", MIMEType: "application/pdf", Size: int64(len(body))})
	require.NoError(t, err)
	require.NoError(t, e.put(t, up, "application/pdf", body))
	e.storage.read.Store(0)
	f, err := e.svc.Confirm(ctx, wsA, up.ID)
	require.NoError(t, err)
	assert.LessOrEqual(t, e.storage.read.Load(), int64(3072), "confirm reads only the head")
	sum := sha256.Sum256(body)
	assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), f.Digest)

	// Bytes sent straight to storage (as to an object store's presigned
	// URL) take the storage's own MD5: still no full read.
	up2, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "big.pdf", MIMEType: "application/pdf", Size: int64(len(body))})
	require.NoError(t, err)
	writeDirect(t, e.storage, up2.Key, body)
	e.storage.read.Store(0)
	f2, err := e.svc.Confirm(ctx, wsA, up2.ID)
	require.NoError(t, err)
	assert.LessOrEqual(t, e.storage.read.Load(), int64(3072))
	md := md5.Sum(body)
	assert.Equal(t, "md5:"+hex.EncodeToString(md[:]), f2.Digest)

	// A storage that knows no MD5 is hashed in full.
	up3, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "big.pdf", MIMEType: "application/pdf", Size: int64(len(body))})
	require.NoError(t, err)
	writeDirect(t, e.storage, up3.Key, body)
	e.storage.noMD5.Store(true)
	e.storage.read.Store(0)
	f3, err := e.svc.Confirm(ctx, wsA, up3.ID)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, e.storage.read.Load(), int64(len(body)))
	assert.Equal(t, f.Digest, f3.Digest)
}

func TestWriteSignedBounds(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	body := pngBytes(t, 8, 8)
	up, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", Size: int64(len(body))})
	require.NoError(t, err)
	key, q := splitURL(t, up.URL)
	long := append(append([]byte{}, body...), 'x')

	tests := []struct {
		name   string
		ct     string
		length int64
		body   []byte
		code   attach.Code
	}{
		{name: "longer, length declared", ct: "image/png", length: int64(len(long)), body: long, code: attach.CodePayloadTooLarge},
		{name: "longer, chunked", ct: "image/png", length: -1, body: long, code: attach.CodePayloadTooLarge},
		{name: "shorter, chunked", ct: "image/png", length: -1, body: body[:10], code: attach.CodeInvalidRequest},
		{name: "shorter, length declared", ct: "image/png", length: 10, body: body[:10], code: attach.CodeInvalidRequest},
		{name: "wrong type", ct: "text/html", length: int64(len(body)), body: body, code: attach.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.svc.WriteSigned(ctx, key, q, tt.ct, tt.length, bytes.NewReader(tt.body))
			assert.Equal(t, tt.code, attach.CodeOf(err), "%v", err)
			assert.Empty(t, e.objects(t), "nothing stored")
		})
	}
	// The ticket is still usable.
	require.NoError(t, e.svc.WriteSigned(ctx, key, q, "image/png", int64(len(body)), bytes.NewReader(body)))
	_, err = e.svc.Confirm(ctx, wsA, up.ID)
	require.NoError(t, err)
	// And refuses bytes once confirmed.
	err = e.svc.WriteSigned(ctx, key, q, "image/png", int64(len(body)), bytes.NewReader(body))
	assert.Equal(t, attach.CodeConflict, attach.CodeOf(err))
}

func TestExpiry(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	body := pngBytes(t, 4, 4)
	up, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "a.png", MIMEType: "image/png", Size: int64(len(body))})
	require.NoError(t, err)
	assert.Equal(t, e.clock.Now().Add(15*time.Minute), up.ExpiresAt)

	e.clock.Advance(15*time.Minute + time.Second)
	err = e.put(t, up, "image/png", body)
	assert.True(t, errors.Is(err, attach.ErrExpired), "%v", err)

	// Bytes that arrived in time can be confirmed within the grace period.
	up2, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "b.png", MIMEType: "image/png", Size: int64(len(body))})
	require.NoError(t, err)
	require.NoError(t, e.put(t, up2, "image/png", body))
	e.clock.Advance(15*time.Minute + 30*time.Minute)
	_, err = e.svc.Confirm(ctx, wsA, up2.ID)
	require.NoError(t, err)

	up3, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "c.png", MIMEType: "image/png", Size: int64(len(body))})
	require.NoError(t, err)
	require.NoError(t, e.put(t, up3, "image/png", body))
	e.clock.Advance(2 * time.Hour)
	_, err = e.svc.Confirm(ctx, wsA, up3.ID)
	assert.True(t, errors.Is(err, attach.ErrExpired), "%v", err)

	// Signed download URLs expire after an hour.
	f := e.upload(t, wsA, "d.png", "image/png", body)
	u, err := e.svc.DownloadURL(ctx, wsA, f.ID, nil)
	require.NoError(t, err)
	e.clock.Advance(time.Hour)
	key, q := splitURL(t, u.URL)
	_, err = e.svc.OpenSigned(ctx, key, q)
	assert.True(t, errors.Is(err, attach.ErrExpired), "%v", err)
}

func TestTemporaryFileExpires(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	body := pngBytes(t, 4, 4)
	no := false
	up, err := e.svc.RequestUpload(ctx, wsA, attach.UploadRequest{FileName: "t.png", MIMEType: "image/png", Size: int64(len(body)), Persist: &no})
	require.NoError(t, err)
	require.NoError(t, e.put(t, up, "image/png", body))
	f, err := e.svc.Confirm(ctx, wsA, up.ID)
	require.NoError(t, err)
	assert.False(t, f.Persist)
	require.NotNil(t, f.ExpiresAt)
	assert.Equal(t, e.clock.Now().Add(24*time.Hour), *f.ExpiresAt)
}
