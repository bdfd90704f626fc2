package attach_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

func TestParseDataURI(t *testing.T) {
	png := pngBytes(t, 3, 2)
	b64 := base64.StdEncoding.EncodeToString(png)
	tests := []struct {
		name      string
		uri       string
		mediaType string
		base64    bool
		want      []byte
		parseErr  bool // ParseDataURI fails
		readErr   bool // reading the payload fails
	}{
		{name: "png", uri: "data:image/png;base64," + b64, mediaType: "image/png", base64: true, want: png},
		{name: "upper-case scheme and marker", uri: "DATA:Image/PNG;BASE64," + b64, mediaType: "image/png", base64: true, want: png},
		{name: "parameters", uri: "data:image/svg+xml;charset=utf-8;base64," + base64.StdEncoding.EncodeToString([]byte("<svg/>")),
			mediaType: "image/svg+xml", base64: true, want: []byte("<svg/>")},
		{name: "no type", uri: "data:;base64," + b64, base64: true, want: png},
		{name: "parameters only", uri: "data:;charset=utf-8;base64,aGk=", base64: true, want: []byte("hi")},
		{name: "line breaks ignored", uri: "data:image/png;base64," + b64[:8] + "\r\n" + b64[8:16] + "\n" + b64[16:], mediaType: "image/png", base64: true, want: png},
		{name: "percent-encoded", uri: "data:text/plain,a%20b%2Cc+d", mediaType: "text/plain", want: []byte("a b,c+d")},
		{name: "empty payload", uri: "data:,", want: []byte{}},
		{name: "not a data URI", uri: "http://example.com/a.png", parseErr: true},
		{name: "no comma", uri: "data:image/png;base64", parseErr: true},
		{name: "bad media type", uri: "data:image png;base64," + b64, parseErr: true},
		{name: "type without subtype", uri: "data:png;base64," + b64, parseErr: true},
		{name: "header over 1 KiB", uri: "data:image/png;x=" + strings.Repeat("a", 2000) + ";base64," + b64, parseErr: true},
		{name: "invalid base64 character", uri: "data:image/png;base64," + b64[:12] + "!" + b64[13:], readErr: true},
		{name: "invalid base64 late", uri: "data:image/png;base64," + b64 + "*AAA", readErr: true},
		{name: "missing padding", uri: "data:;base64,aGk", readErr: true},
		{name: "space in base64", uri: "data:;base64,aG k=", readErr: true},
		{name: "url-safe alphabet", uri: "data:;base64,-_-_", readErr: true},
		{name: "bad percent escape", uri: "data:,a%zz", readErr: true},
		{name: "truncated percent escape", uri: "data:,a%2", readErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := attach.ParseDataURI(strings.NewReader(tt.uri))
			if tt.parseErr {
				require.Error(t, err)
				assert.ErrorIs(t, err, attach.ErrInvalidRequest)
				return
			}
			require.NoError(t, err)
			got, err := io.ReadAll(d)
			if tt.readErr {
				require.Error(t, err)
				assert.ErrorIs(t, err, attach.ErrInvalidRequest)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.mediaType, d.MediaType)
			assert.Equal(t, tt.base64, d.Base64)
		})
	}
}

// TestDataURIPassesReaderErrors: errors of the underlying reader are not
// mistaken for bad input.
func TestDataURIPassesReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, uri := range []string{"data:;base64,aGVsbG8g", "data:,hello"} {
		d, err := attach.ParseDataURI(io.MultiReader(strings.NewReader(uri), errReader{boom}))
		require.NoError(t, err)
		_, err = io.ReadAll(d)
		assert.ErrorIs(t, err, boom, uri)
	}
	_, err := attach.ParseDataURI(io.MultiReader(strings.NewReader("data:image/png"), errReader{boom}))
	assert.ErrorIs(t, err, boom)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestPutDataURI: a data URI is a body like any other; declared type and
// limits go through Put's checks, and bad base64 stores nothing.
func TestPutDataURI(t *testing.T) {
	ctx := context.Background()
	pdf := pdfBytes(1500)
	tests := []struct {
		name string
		uri  string
		code attach.Code
	}{
		{name: "pdf", uri: "data:application/pdf;base64," + base64.StdEncoding.EncodeToString(pdf)},
		{name: "invalid base64", uri: "data:application/pdf;base64," + base64.StdEncoding.EncodeToString(pdf)[:400] + "!!!!", code: attach.CodeInvalidRequest},
		{name: "over the limit", uri: "data:application/pdf;base64," + base64.StdEncoding.EncodeToString(pdfBytes(3000)), code: attach.CodeFileTooLarge},
		{name: "declared png", uri: "data:image/png;base64," + base64.StdEncoding.EncodeToString(pdf), code: attach.CodeContentMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(o *attach.Options) {
				o.Policy = &attach.Policy{Types: []attach.TypeRule{{MIMEType: "image/png"}, {MIMEType: "application/pdf"}}, MaxSize: 2000}
			})
			d, err := attach.ParseDataURI(strings.NewReader(tt.uri))
			require.NoError(t, err)
			f, err := e.svc.Put(ctx, wsA, attach.PutRequest{FileName: "a.pdf", MIMEType: d.MediaType, Size: -1}, d)
			if tt.code != "" {
				assert.Equal(t, tt.code, attach.CodeOf(err), "%v", err)
				assert.Empty(t, e.objects(t), "nothing stored")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "application/pdf", f.MIMEType)
			assert.Equal(t, int64(len(pdf)), f.Size)
		})
	}
}

// FuzzParseDataURI checks the streaming decoder against the standard
// library decoding the whole payload at once: both accept the same
// inputs, with the same bytes.
func FuzzParseDataURI(f *testing.F) {
	for _, s := range []string{
		"data:image/png;base64,iVBORw0KGgo=", "data:;base64,aGk=", "data:,a%20b", "data:text/plain;charset=utf-8,x",
		"DATA:IMAGE/PNG;BASE64,AAAA\r\nAAAA", "data:;base64,aGk", "data:,%zz", "data:a/b;c=\"d,e\";base64,QQ==",
		"data:;base64,AAAA=AAA", "data:;base64,=", "data:image/png;base64", "data:" + strings.Repeat(";", 1100) + ",",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		d, err := attach.ParseDataURI(strings.NewReader(uri))
		header, payload, found := strings.Cut(uri, ",")
		if err != nil {
			require.ErrorIs(t, err, attach.ErrInvalidRequest)
			return
		}
		require.True(t, found && len(header) <= 1024, "parsed %q", uri)
		require.True(t, strings.EqualFold(header[:5], "data:"))
		got, gotErr := io.ReadAll(io.LimitReader(d, 1<<20))
		var want []byte
		var wantErr error
		if d.Base64 {
			want, wantErr = base64.StdEncoding.DecodeString(payload)
		} else {
			var s string
			s, wantErr = url.PathUnescape(payload)
			want = []byte(s)
		}
		if wantErr != nil {
			require.Error(t, gotErr, "accepted %q; the reference decoder says %v", uri, wantErr)
			require.ErrorIs(t, gotErr, attach.ErrInvalidRequest)
			return
		}
		require.NoError(t, gotErr, "refused %q", uri)
		require.True(t, bytes.Equal(want, got), "%q: got %q want %q", uri, got, want)
	})
}
