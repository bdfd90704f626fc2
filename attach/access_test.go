package attach_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

func TestOtherWorkspaceIsNotFound(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	f := e.upload(t, wsA, "a.png", "image/png", pngBytes(t, 4, 4))
	unknown := "file_01900000-0000-7000-8000-000000000000"

	calls := []struct {
		name string
		call func(scope attach.Scope, id string) error
	}{
		{"File", func(s attach.Scope, id string) error { _, err := e.svc.File(ctx, s, id); return err }},
		{"Status", func(s attach.Scope, id string) error { _, err := e.svc.Status(ctx, s, id); return err }},
		{"Confirm", func(s attach.Scope, id string) error { _, err := e.svc.Confirm(ctx, s, id); return err }},
		{"DownloadURL", func(s attach.Scope, id string) error { _, err := e.svc.DownloadURL(ctx, s, id, nil); return err }},
		{"Open", func(s attach.Scope, id string) error { _, err := e.svc.Open(ctx, s, id, nil); return err }},
		{"Delete", func(s attach.Scope, id string) error { return e.svc.Delete(ctx, s, id, nil) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			foreign := c.call(wsB, f.ID)
			assert.True(t, errors.Is(foreign, attach.ErrNotFound), "%v", foreign)
			missing := c.call(wsA, unknown)
			var fe, me *attach.Error
			require.True(t, errors.As(foreign, &fe))
			require.True(t, errors.As(missing, &me))
			assert.Equal(t, me.Message, fe.Message, "a foreign id looks exactly like an unknown one")
			assert.Equal(t, me.ClientDetails(), fe.ClientDetails())
			bad := c.call(wsA, "file_../../etc")
			assert.True(t, errors.Is(bad, attach.ErrInvalidRequest), "%v", bad)
		})
	}
	_, err := e.svc.File(ctx, wsA, f.ID)
	require.NoError(t, err, "the file survived every foreign call")
}

func TestAccessWithinWorkspace(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	f := e.upload(t, alice, "a.png", "image/png", pngBytes(t, 4, 4))

	_, err := e.svc.File(ctx, bob, f.ID)
	assert.True(t, errors.Is(err, attach.ErrForbidden), "%v", err)
	_, err = e.svc.DownloadURL(ctx, bob, f.ID, nil)
	assert.True(t, errors.Is(err, attach.ErrForbidden), "%v", err)
	err = e.svc.Delete(ctx, bob, f.ID, nil)
	assert.True(t, errors.Is(err, attach.ErrForbidden), "%v", err)

	_, err = e.svc.File(ctx, alice, f.ID)
	require.NoError(t, err, "owner")
	_, err = e.svc.File(ctx, wsA, f.ID)
	require.NoError(t, err, "workspace admin")
}

func TestDeleteRemovesBytesAndURLs(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	f := e.upload(t, wsA, "a.png", "image/png", pngBytes(t, 4, 4))
	u, err := e.svc.DownloadURL(ctx, wsA, f.ID, nil)
	require.NoError(t, err)
	require.Len(t, e.objects(t), 1)

	require.NoError(t, e.svc.Delete(ctx, wsA, f.ID, nil))
	assert.Empty(t, e.objects(t))
	_, err = e.svc.File(ctx, wsA, f.ID)
	assert.True(t, errors.Is(err, attach.ErrNotFound))
	key, q := splitURL(t, u.URL)
	_, err = e.svc.OpenSigned(ctx, key, q)
	assert.True(t, errors.Is(err, attach.ErrNotFound), "a URL issued before the delete serves nothing: %v", err)
	err = e.svc.Delete(ctx, wsA, f.ID, nil)
	assert.True(t, errors.Is(err, attach.ErrNotFound))
}

func TestTamperedURLIsForbidden(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	f := e.upload(t, wsA, "a.png", "image/png", pngBytes(t, 4, 4))
	u, err := e.svc.DownloadURL(ctx, wsA, f.ID, nil)
	require.NoError(t, err)
	key, q := splitURL(t, u.URL)
	q.Set("disp", "inline")
	_, err = e.svc.OpenSigned(ctx, key, q)
	assert.True(t, errors.Is(err, attach.ErrForbidden), "%v", err)

	// A PUT URL cannot be used to read, nor a GET URL to write.
	_, q = splitURL(t, u.URL)
	err = e.svc.WriteSigned(ctx, key, q, "image/png", 3, bytes.NewReader([]byte("abc")))
	assert.True(t, errors.Is(err, attach.ErrForbidden), "%v", err)
}

func TestPutDirect(t *testing.T) {
	ctx := context.Background()
	body := pngBytes(t, 20, 10)
	tests := []struct {
		name     string
		req      attach.PutRequest
		body     []byte
		code     attach.Code
		wantType string
	}{
		{name: "detected type, unknown size", req: attach.PutRequest{FileName: "x.png", Size: -1}, body: body, wantType: "image/png"},
		{name: "declared and known size", req: attach.PutRequest{FileName: "x.png", MIMEType: "image/png", Size: int64(len(body))}, body: body, wantType: "image/png"},
		{name: "html detected", req: attach.PutRequest{FileName: "x.html", Size: -1}, body: htmlBytes, code: attach.CodeInvalidFileType},
		{name: "declared png, html sent", req: attach.PutRequest{FileName: "x.png", MIMEType: "image/png", Size: -1}, body: htmlBytes, code: attach.CodeContentMismatch},
		{name: "longer than declared", req: attach.PutRequest{FileName: "x.png", MIMEType: "image/png", Size: 10}, body: body, code: attach.CodeContentMismatch},
		{name: "over the policy", req: attach.PutRequest{FileName: "x.pdf", Size: -1}, body: pdfBytes(3000), code: attach.CodeFileTooLarge},
		{name: "bad name", req: attach.PutRequest{FileName: "a\nb", Size: -1}, body: body, code: attach.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(o *attach.Options) {
				o.Policy = &attach.Policy{Types: []attach.TypeRule{{MIMEType: "image/png"}, {MIMEType: "application/pdf"}}, MaxSize: 2000}
			})
			f, err := e.svc.Put(ctx, wsA, tt.req, bytes.NewReader(tt.body))
			if tt.code != "" {
				assert.Equal(t, tt.code, attach.CodeOf(err), "%v", err)
				assert.Empty(t, e.objects(t), "nothing stored")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantType, f.MIMEType)
			assert.Equal(t, int64(len(tt.body)), f.Size)
			c, err := e.svc.Open(ctx, wsA, f.ID, nil)
			require.NoError(t, err)
			defer c.Close()
			got, err := io.ReadAll(c)
			require.NoError(t, err)
			assert.Equal(t, tt.body, got)
		})
	}
}

// TestDetectedTypeLimit: when no type is declared, the limit of the type
// detected from the bytes applies, not only the policy's largest.
func TestDetectedTypeLimit(t *testing.T) {
	e := newEnv(t, func(o *attach.Options) {
		o.Policy = &attach.Policy{Types: []attach.TypeRule{
			{MIMEType: "image/png", MaxSize: 100},
			{MIMEType: "application/pdf", MaxSize: 1 << 20},
		}}
	})
	body := pngBytes(t, 64, 64)
	require.Greater(t, len(body), 100)
	_, err := e.svc.Put(context.Background(), wsA, attach.PutRequest{FileName: "big.png", Size: -1}, bytes.NewReader(body))
	require.Error(t, err)
	assert.Equal(t, attach.CodeFileTooLarge, attach.CodeOf(err), "%v", err)
	var ae *attach.Error
	require.True(t, errors.As(err, &ae))
	assert.Equal(t, int64(100), ae.MaxSize)
	assert.Empty(t, e.objects(t), "nothing stored")
}
