package httpadapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/preview"
)

// thumbnailURL asks for a thumbnail and returns the signed URL, or ""
// for a null answer.
func (c caller) thumbnailURL(t *testing.T, id, query string) string {
	t.Helper()
	r := c.do(t, http.MethodGet, "/files/"+id+"/thumbnail"+query, nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	if strings.TrimSpace(string(r.Body)) == "null" {
		return ""
	}
	var u attach.SignedURL
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&u), "body: %s", r.Body)
	require.NotEmpty(t, u.URL)
	require.False(t, u.ExpiresAt.IsZero())
	return u.URL
}

func TestThumbnailRoute(t *testing.T) {
	e := newEnv(t, &envOptions{previewer: preview.New(nil)})
	alice := e.as(keyA, "alice")
	f := alice.upload(t, "photo.png", "image/png", pngFile(t, 600, 400))

	tests := []struct {
		name, query string
		format      string
		size        image.Point
	}{
		{"contain", "?w=256&fit=contain", "png", image.Pt(256, 171)},
		{"cover square from h", "?h=64", "png", image.Pt(64, 64)},
		{"cover box", "?w=1024&h=256&fit=cover", "png", image.Pt(600, 150)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := alice.thumbnailURL(t, f.ID, tt.query)
			require.NotEmpty(t, u)
			r := e.fetch(t, http.MethodGet, u, nil, nil)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			assert.Equal(t, "image/"+tt.format, r.Header.Get("Content-Type"))
			assert.Equal(t, "inline", r.Header.Get("Content-Disposition"))
			assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
			assert.NotEmpty(t, r.Header.Get("ETag"))
			img, format, err := image.Decode(bytes.NewReader(r.Body))
			require.NoError(t, err)
			assert.Equal(t, tt.format, format)
			assert.Equal(t, tt.size, img.Bounds().Size())

			again := alice.thumbnailURL(t, f.ID, tt.query)
			assert.Equal(t, keyOf(t, u), keyOf(t, again), "the stored thumbnail is served again")
		})
	}

	// The thumbnail goes with the file.
	u := alice.thumbnailURL(t, f.ID, "?w=64")
	key := keyOf(t, u)
	_, err := e.stored(t, key)
	require.NoError(t, err)
	r := alice.do(t, http.MethodDelete, "/files/"+f.ID, nil)
	require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
	e.fetch(t, http.MethodGet, u, nil, nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
	_, err = e.stored(t, key)
	assert.Error(t, err, "the thumbnail's object was deleted with the file")
}

// keyOf is the storage key of a library-signed URL.
func keyOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	key, ok := strings.CutPrefix(u.Path, "/v1/blob/")
	require.True(t, ok, raw)
	return key
}

func TestThumbnailRouteNull(t *testing.T) {
	withPreviews := newEnv(t, &envOptions{previewer: preview.New(nil)})
	alice := withPreviews.as(keyA, "alice")
	svg := alice.upload(t, "x.svg", "image/svg+xml", []byte(svgFile))
	assert.Empty(t, alice.thumbnailURL(t, svg.ID, "?w=256"), "SVG with script is never rasterised")

	without := newEnv(t, nil)
	png := without.as(keyA, "alice").upload(t, "a.png", "image/png", pngFile(t, 40, 30))
	assert.Empty(t, without.as(keyA, "alice").thumbnailURL(t, png.ID, "?w=256"), "no previewer: null")
}

func TestThumbnailRouteErrors(t *testing.T) {
	e := newEnv(t, &envOptions{previewer: preview.New(nil)})
	alice := e.as(keyA, "alice")
	f := alice.upload(t, "photo.png", "image/png", pngFile(t, 120, 80))
	full := jpegFile(t, 800, 600)
	cut := alice.upload(t, "cut.jpg", "image/jpeg", full[:len(full)/2])

	tests := []struct {
		name   string
		c      caller
		path   string
		status int
		code   attach.Code
	}{
		{"size not allowed", alice, "/files/" + f.ID + "/thumbnail?w=100", 400, attach.CodeInvalidRequest},
		{"no size", alice, "/files/" + f.ID + "/thumbnail", 400, attach.CodeInvalidRequest},
		{"not a number", alice, "/files/" + f.ID + "/thumbnail?w=abc", 400, attach.CodeInvalidRequest},
		{"leading zero", alice, "/files/" + f.ID + "/thumbnail?w=0256", 400, attach.CodeInvalidRequest},
		{"negative", alice, "/files/" + f.ID + "/thumbnail?w=-64", 400, attach.CodeInvalidRequest},
		{"huge", alice, "/files/" + f.ID + "/thumbnail?w=99999999999999999999", 400, attach.CodeInvalidRequest},
		{"bad height", alice, "/files/" + f.ID + "/thumbnail?w=64&h=65", 400, attach.CodeInvalidRequest},
		{"bad fit", alice, "/files/" + f.ID + "/thumbnail?w=64&fit=stretch", 400, attach.CodeInvalidRequest},
		{"bad id", alice, "/files/nope/thumbnail?w=64", 400, attach.CodeInvalidRequest},
		{"no credentials", e.as("", ""), "/files/" + f.ID + "/thumbnail?w=64", 401, attach.CodeUnauthorized},
		{"other workspace", e.as(keyB, "alice"), "/files/" + f.ID + "/thumbnail?w=64", 404, attach.CodeNotFound},
		{"no right", e.as(keyA, "bob"), "/files/" + f.ID + "/thumbnail?w=64", 403, attach.CodeForbidden},
		{"truncated image", alice, "/files/" + cut.ID + "/thumbnail?w=64", 422, attach.CodeContentMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.do(t, http.MethodGet, tt.path, nil).requireError(t, tt.status, tt.code)
		})
	}
}

func TestThumbnailRoutePDF(t *testing.T) {
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		t.Skip("pdftoppm (poppler-utils) is not on PATH")
	}
	e := newEnv(t, &envOptions{previewer: preview.New(nil)})
	alice := e.as(keyA, "alice")
	f := alice.upload(t, "doc.pdf", "application/pdf", pagePDF())
	u := alice.thumbnailURL(t, f.ID, "?w=256&fit=contain")
	require.NotEmpty(t, u, "a PDF gets a first-page thumbnail")
	r := e.fetch(t, http.MethodGet, u, nil, nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "image/jpeg", r.Header.Get("Content-Type"))
	img, _, err := image.Decode(bytes.NewReader(r.Body))
	require.NoError(t, err)
	assert.Equal(t, image.Pt(256, 128), img.Bounds().Size())
}

// pagePDF is a valid one-page PDF of 200×100 points, drawn red.
func pagePDF() []byte {
	content := "1 0 0 rg 0 0 200 100 re f"
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

func FuzzSizeParam(f *testing.F) {
	for _, s := range []string{"", "64", "0", "0256", "-1", "99999", "100000", "1e3", " 64", "６４"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := sizeParam(s, "w")
		if err != nil {
			require.Zero(t, n)
			return
		}
		if s == "" {
			require.Zero(t, n)
			return
		}
		require.Positive(t, n)
		require.LessOrEqual(t, n, 99999)
		require.Equal(t, s, strconv.Itoa(n), "only canonical decimal numbers are accepted")
	})
}
