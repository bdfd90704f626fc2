package httpadapter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/driver"
)

// formPart is one part of a multipart/form-data body.
type formPart struct {
	name, fileName, contentType string
	body                        []byte
	header                      map[string]string // extra headers
}

func filePartOf(name, fileName, contentType string, body []byte) formPart {
	return formPart{name: name, fileName: fileName, contentType: contentType, body: body}
}

func formField(name, value string) formPart { return formPart{name: name, body: []byte(value)} }

// multipartBody encodes parts; it returns the body and its Content-Type.
func multipartBody(t testing.TB, parts ...formPart) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.fileName != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.fileName)
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		for k, v := range p.header {
			h.Set(k, v)
		}
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, err = w.Write(p.body)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return b.Bytes(), mw.FormDataContentType()
}

// postBody posts body with contentType to path as c.
func (c caller) postBody(t *testing.T, path, contentType string, body []byte) *response {
	t.Helper()
	h := map[string]string{"Authorization": "Bearer " + c.key, "Content-Type": contentType}
	if c.user != "" {
		h[UserHeader] = c.user
	}
	return c.e.fetch(t, http.MethodPost, c.e.srv.URL+"/v1"+path, h, bytes.NewReader(body))
}

// storedKeys lists the keys in storage.
func (e *env) storedKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	require.NoError(t, e.storage.List(t.Context(), "", func(o driver.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}))
	return keys
}

// requireCreated checks a 201 File answer with its Location and returns
// the file as JSON.
func (r *response) requireCreated(t *testing.T, status int) map[string]any {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	f := r.JSON(t)
	assert.Equal(t, "/v1/files/"+f["id"].(string), r.Header.Get("Location"))
	return f
}

func TestMultipartUpload(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	png := pngFile(t, 31, 17)
	tests := []struct {
		name     string
		parts    []formPart
		fileName string
		title    string
		tags     []any
	}{
		{name: "file part only", parts: []formPart{filePartOf("file", "photo.png", "image/png", png)},
			fileName: "photo.png", title: "photo", tags: []any{}},
		{name: "content part", parts: []formPart{filePartOf("content", "photo.png", "image/png", png)},
			fileName: "photo.png", title: "photo", tags: []any{}},
		{name: "fields before the file", parts: []formPart{
			formField("fileName", "renamed.png"), formField("title", "A cat"), formField("tags", "cats, pets,,cats"),
			filePartOf("file", "photo.png", "image/png", png)},
			fileName: "renamed.png", title: "A cat", tags: []any{"cats", "pets"}},
		{name: "octet-stream declares nothing", parts: []formPart{filePartOf("file", "photo.png", "application/octet-stream", png)},
			fileName: "photo.png", title: "photo", tags: []any{}},
		{name: "no part type", parts: []formPart{filePartOf("file", "photo.png", "", png)},
			fileName: "photo.png", title: "photo", tags: []any{}},
		{name: "unknown parts ignored, before and after", parts: []formPart{
			formField("csrf", "x"), filePartOf("file", "photo.png", "image/png", png), formField("submit", "Upload")},
			fileName: "photo.png", title: "photo", tags: []any{}},
		{name: "path in the part's filename", parts: []formPart{filePartOf("file", `C:\Users\me\photo.png`, "image/png", png)},
			fileName: "photo.png", title: "photo", tags: []any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := multipartBody(t, tt.parts...)
			f := c.postBody(t, "/files", ct, body).requireCreated(t, http.StatusCreated)
			assert.Equal(t, "ready", f["status"])
			assert.Equal(t, "upload", f["source"])
			assert.Equal(t, "image/png", f["mimeType"])
			assert.Equal(t, float64(31), f["width"])
			assert.Equal(t, float64(17), f["height"])
			assert.Equal(t, float64(len(png)), f["fileSize"])
			assert.Equal(t, digestOf(png), f["digest"])
			assert.Equal(t, tt.fileName, f["fileName"])
			assert.Equal(t, tt.title, f["title"])
			assert.Equal(t, tt.tags, f["tags"])
			assert.Equal(t, "u1", f["owner"])

			url := c.downloadURL(t, f["id"].(string), "")
			r := e.fetch(t, http.MethodGet, url, nil, nil)
			assert.Equal(t, png, r.Body, "the stored bytes are the uploaded ones")
		})
	}
}

// countingBody counts the bytes the handler reads from a request body.
type countingBody struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestMultipartBadInput(t *testing.T) {
	png := pngFile(t, 8, 8)
	pdf := pdfFile(3000)
	manyParts := func() []formPart {
		ps := make([]formPart, 10000)
		for i := range ps {
			ps[i] = formField(fmt.Sprintf("f%d", i), "x")
		}
		return append(ps, filePartOf("file", "a.png", "image/png", png))
	}
	longHeader := map[string]string{"X-Long": strings.Repeat("a", 1<<20)}
	policy := &attach.Policy{Types: []attach.TypeRule{{MIMEType: "image/png"}, {MIMEType: "application/pdf"}}, MaxSize: 2000}
	tests := []struct {
		name     string
		parts    []formPart
		raw      string // a raw body instead of parts
		ct       string // Content-Type instead of the writer's
		status   int
		code     attach.Code
		maxRead  int64 // > 0: the handler reads at most this much of the body
		maxSize  bool  // details carry maxSize
		policy   *attach.Policy
		contains string
	}{
		{name: "10,000 parts", parts: manyParts(), status: 400, code: attach.CodeInvalidRequest, maxRead: 64 << 10, contains: "parts"},
		{name: "1 MiB header line", parts: []formPart{{name: "file", fileName: "a.png", body: png, header: longHeader}},
			status: 400, code: attach.CodeInvalidRequest, maxRead: 64 << 10, contains: "headers"},
		{name: "1 MiB header line after a field", parts: []formPart{formField("title", "t"), {name: "file", fileName: "a.png", body: png, header: longHeader}},
			status: 400, code: attach.CodeInvalidRequest, maxRead: 64 << 10, contains: "headers"},
		{name: "1 MiB preamble line", raw: strings.Repeat("p", 1<<20) + "\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\nx\r\n--B--\r\n",
			ct: "multipart/form-data; boundary=B", status: 400, code: attach.CodeInvalidRequest, maxRead: 64 << 10},
		{name: "1 MiB field", parts: []formPart{formField("title", strings.Repeat("t", 1<<20)), filePartOf("file", "a.png", "image/png", png)},
			status: 400, code: attach.CodeInvalidRequest, maxRead: 64 << 10},
		{name: "1 MiB unknown part", parts: []formPart{formField("other", strings.Repeat("t", 1<<20)), filePartOf("file", "a.png", "image/png", png)},
			status: 400, code: attach.CodeInvalidRequest, maxRead: 64 << 10},
		{name: "field after the file", parts: []formPart{filePartOf("file", "a.png", "image/png", png), formField("title", "late")},
			status: 400, code: attach.CodeInvalidRequest, contains: "before the file part"},
		{name: "two files", parts: []formPart{filePartOf("file", "a.png", "image/png", png), filePartOf("content", "b.png", "image/png", png)},
			status: 400, code: attach.CodeInvalidRequest, contains: "one file part"},
		{name: "no file part", parts: []formPart{formField("fileName", "a.png")}, status: 400, code: attach.CodeInvalidRequest},
		{name: "empty file part", parts: []formPart{filePartOf("file", "a.png", "image/png", nil)}, status: 400, code: attach.CodeInvalidRequest, contains: "empty"},
		{name: "no file name", parts: []formPart{filePartOf("file", "", "image/png", png)}, status: 400, code: attach.CodeInvalidRequest, contains: "fileName"},
		{name: "bad file name", parts: []formPart{formField("fileName", "a\x01.png"), filePartOf("file", "x.png", "image/png", png)},
			status: 400, code: attach.CodeInvalidRequest},
		{name: "no boundary", raw: "x", ct: "multipart/form-data", status: 400, code: attach.CodeInvalidRequest},
		{name: "not multipart or JSON", raw: "x", ct: "text/plain", status: 400, code: attach.CodeInvalidRequest},
		{name: "truncated", raw: "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n" + string(png),
			ct: "multipart/form-data; boundary=B", status: 400, code: attach.CodeInvalidRequest},
		{name: "html is not allowed", parts: []formPart{filePartOf("file", "a.html", "text/html", []byte(htmlFile))},
			status: 400, code: attach.CodeInvalidFileType},
		{name: "html detected", parts: []formPart{filePartOf("file", "a.txt", "", []byte(htmlFile))},
			status: 400, code: attach.CodeInvalidFileType},
		{name: "declared png, pdf sent", parts: []formPart{filePartOf("file", "a.png", "image/png", pdfFile(500))},
			status: 422, code: attach.CodeContentMismatch},
		{name: "over the policy", parts: []formPart{filePartOf("file", "a.pdf", "application/pdf", pdf)}, policy: policy,
			status: 400, code: attach.CodeFileTooLarge, maxSize: true},
		{name: "over the policy, undeclared", parts: []formPart{filePartOf("file", "a.pdf", "", pdf)}, policy: policy,
			status: 400, code: attach.CodeFileTooLarge, maxSize: true},
		{name: "body over the bound", raw: strings.Repeat("x", 2000+multipartSlack+1), ct: "multipart/form-data; boundary=B",
			policy: policy, status: 413, code: attach.CodePayloadTooLarge, maxRead: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, &envOptions{policy: tt.policy})
			body, ct := []byte(tt.raw), tt.ct
			if tt.parts != nil {
				body, ct = multipartBody(t, tt.parts...)
			}
			// Straight into the handler, to count what it reads.
			cb := &countingBody{r: bytes.NewReader(body)}
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/files", cb)
			req.ContentLength = int64(len(body))
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", "Bearer "+keyA)
			rec := httptest.NewRecorder()
			e.api.ServeHTTP(rec, req)
			r := &response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
			details := r.requireError(t, tt.status, tt.code)
			if tt.maxRead > 0 {
				assert.LessOrEqual(t, cb.n.Load(), tt.maxRead, "bytes of a %d-byte body read", len(body))
			}
			if tt.maxSize {
				assert.Equal(t, float64(2000), details["maxSize"])
			}
			if tt.contains != "" {
				assert.Contains(t, r.JSON(t)["error"].(map[string]any)["message"], tt.contains)
			}
			assert.Empty(t, e.storedKeys(t), "nothing stored")
		})
	}
}

func TestImportRoute(t *testing.T) {
	e := newEnv(t, nil)
	png := pngFile(t, 12, 7)
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(png)
	}))
	defer o.Close()
	origin := o.Listener.Addr().String()
	imp, err := attach.NewImporter(e.svc, &attach.ImportOptions{AllowPorts: []int{int(netip.MustParseAddrPort(origin).Port())},
		AllowAddr: func(ap netip.AddrPort) bool { return ap == netip.MustParseAddrPort(origin) }})
	require.NoError(t, err)
	h, err := New(e.svc, &Options{Prefix: "/v1", Authenticate: BearerKeys(map[string]string{keyA: wsA}), Importer: imp})
	require.NoError(t, err)
	call := func(t *testing.T, method, path string, body string) *response {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req := httptest.NewRequestWithContext(t.Context(), method, "/v1"+path, rd)
		req.Header.Set("Authorization", "Bearer "+keyA)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return &response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	}

	f := call(t, http.MethodPost, "/files/import", fmt.Sprintf(`{"url": %q, "fileName": "logo.png"}`, o.URL+"/img?id=1")).
		requireCreated(t, http.StatusAccepted)
	assert.Equal(t, "processing", f["status"])
	assert.Equal(t, "import", f["source"])
	assert.Equal(t, "logo.png", f["fileName"])
	id := f["id"].(string)

	require.NoError(t, imp.Shutdown(context.Background())) // wait for the fetch
	r := call(t, http.MethodGet, "/files/"+id+"/status", "")
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, map[string]any{"id": id, "status": "ready"}, r.JSON(t))
	got := call(t, http.MethodGet, "/files/"+id, "").JSON(t)
	assert.Equal(t, "import", got["source"])
	assert.Equal(t, "image/png", got["mimeType"])
	assert.Equal(t, float64(12), got["width"])
	assert.Equal(t, digestOf(png), got["digest"])

	r = call(t, http.MethodPost, "/files/import", `{"url": "https://example.com/a.png"}`)
	r.requireError(t, http.StatusTooManyRequests, attach.CodeRateLimited)
	assert.Equal(t, "5", r.Header.Get("Retry-After"))
}

// TestImportRouteRefusals runs on the default Importer: refused URLs are
// answered at once, and nothing is recorded.
func TestImportRouteRefusals(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	tests := []struct {
		name   string
		body   any
		status int
		code   attach.Code
	}{
		{name: "no url", body: map[string]any{"fileName": "a.png"}, status: 400, code: attach.CodeInvalidRequest},
		{name: "url not a string", body: map[string]any{"url": 5}, status: 400, code: attach.CodeInvalidRequest},
		{name: "loopback", body: map[string]any{"url": "http://127.0.0.1/"}, status: 400, code: attach.CodeInvalidRequest},
		{name: "IPv6 loopback", body: map[string]any{"url": "http://[::1]/"}, status: 400, code: attach.CodeInvalidRequest},
		{name: "cloud metadata", body: map[string]any{"url": "http://169.254.169.254/latest/meta-data/iam"}, status: 400, code: attach.CodeInvalidRequest},
		{name: "the API's own port", body: map[string]any{"url": e.srv.URL + "/v1/healthz"}, status: 400, code: attach.CodeInvalidRequest},
		{name: "ftp", body: map[string]any{"url": "ftp://example.com/a.png"}, status: 400, code: attach.CodeInvalidRequest},
		{name: "credentials", body: map[string]any{"url": "https://u:p@example.com/a.png"}, status: 400, code: attach.CodeInvalidRequest},
		{name: "bad file name", body: map[string]any{"url": "https://example.com/a.png", "fileName": "a\nb"}, status: 400, code: attach.CodeInvalidRequest},
		{name: "1 MiB body", body: map[string]any{"url": "https://example.com/" + strings.Repeat("a", 1<<20)}, status: 413, code: attach.CodePayloadTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.do(t, http.MethodPost, "/files/import", tt.body).requireError(t, tt.status, tt.code)
		})
	}
	assert.Empty(t, e.storedKeys(t))
}
