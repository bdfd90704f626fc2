package httpadapter

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

// servePolicy also allows the types that must never render inline.
func servePolicy() *attach.Policy {
	p := attach.DefaultPolicy()
	for _, typ := range []string{"text/html", "text/xml"} {
		p.Types = append(p.Types, attach.TypeRule{MIMEType: typ})
	}
	return &p
}

func TestServingHeaders(t *testing.T) {
	e := newEnv(t, &envOptions{policy: servePolicy()})
	c := e.as(keyA, "u1")
	tests := []struct {
		name, fileName, mimeType string
		data                     []byte
		query                    string
		disposition              string
	}{
		{name: "png default", fileName: "a.png", mimeType: "image/png", data: pngFile(t, 4, 4), disposition: "attachment"},
		{name: "png inline", fileName: "a.png", mimeType: "image/png", data: pngFile(t, 4, 4), query: "?disposition=inline", disposition: "inline"},
		{name: "jpeg inline", fileName: "a.jpg", mimeType: "image/jpeg", data: jpegFile(t, 4, 4), query: "?disposition=inline", disposition: "inline"},
		{name: "gif inline", fileName: "a.gif", mimeType: "image/gif", data: gifFile(t, 4, 4), query: "?disposition=inline", disposition: "inline"},
		{name: "pdf default", fileName: "a.pdf", mimeType: "application/pdf", data: pdfFile(500), disposition: "attachment"},
		{name: "pdf inline", fileName: "a.pdf", mimeType: "application/pdf", data: pdfFile(500), query: "?disposition=inline", disposition: "inline"},
		{name: "pdf explicit attachment", fileName: "a.pdf", mimeType: "application/pdf", data: pdfFile(500), query: "?disposition=attachment", disposition: "attachment"},
		{name: "svg inline refused", fileName: "a.svg", mimeType: "image/svg+xml", data: []byte(svgFile), query: "?disposition=inline", disposition: "attachment"},
		{name: "html inline refused", fileName: "a.html", mimeType: "text/html", data: []byte(htmlFile), query: "?disposition=inline", disposition: "attachment"},
		// A GIF that is also an HTML page: it may be inline (it is a GIF),
		// but only as image/gif, never sniffed, and sandboxed.
		{name: "polyglot gif+html inline", fileName: "a.gif", mimeType: "image/gif", data: append(gifFile(t, 4, 4), htmlFile...), query: "?disposition=inline", disposition: "inline"},
		{name: "polyglot gif+html named .html", fileName: "a.html", mimeType: "image/gif", data: append([]byte("GIF89a/*"), htmlFile...), query: "?disposition=inline", disposition: "inline"},
		{name: "xml inline refused", fileName: "a.xml", mimeType: "text/xml", data: []byte(xmlFile), query: "?disposition=inline", disposition: "attachment"},
		{name: "quote semicolon unicode", fileName: `a"b; filename=evil.html; x=é 📄.png`, mimeType: "image/png", data: pngFile(t, 2, 2), disposition: "attachment"},
		{name: "percent and apostrophe", fileName: `100% it's.png`, mimeType: "image/png", data: pngFile(t, 2, 2), query: "?disposition=inline", disposition: "inline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := c.upload(t, tt.fileName, tt.mimeType, tt.data)
			r := e.fetch(t, http.MethodGet, c.downloadURL(t, f.ID, tt.query), nil, nil)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			assert.True(t, bytes.Equal(tt.data, r.Body))

			h := r.Header
			disp, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
			require.NoError(t, err, "Content-Disposition %q", h.Get("Content-Disposition"))
			assert.Equal(t, tt.disposition, disp)
			assert.Equal(t, map[string]string{"filename": tt.fileName}, params, "filename* round-trips and nothing is injected")
			raw := h.Get("Content-Disposition")
			assert.Contains(t, raw, `; filename="`, "an ASCII fallback for old clients")
			assert.Contains(t, raw, `; filename*=UTF-8''`)

			assert.Equal(t, tt.mimeType, h.Get("Content-Type"))
			assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
			assert.Equal(t, "default-src 'none'; sandbox", h.Get("Content-Security-Policy"))
			etag := h.Get("ETag")
			assert.Regexp(t, `^"[0-9a-f]{32}"$`, etag, "a strong ETag")
			assert.Equal(t, `"`+strings.TrimPrefix(f.Digest, "sha256:")[:32]+`"`, etag)
			assert.Equal(t, "bytes", h.Get("Accept-Ranges"))
			assert.True(t, strings.HasPrefix(h.Get("Cache-Control"), "private"), h.Get("Cache-Control"))
			assert.Empty(t, h.Values("Set-Cookie"))
			assert.Equal(t, strconv.Itoa(len(tt.data)), h.Get("Content-Length"))

			// Conditional GET.
			nm := e.fetch(t, http.MethodGet, c.downloadURL(t, f.ID, tt.query), map[string]string{"If-None-Match": etag}, nil)
			assert.Equal(t, http.StatusNotModified, nm.Status)
			assert.Empty(t, nm.Body)
		})
	}
}

func TestSignedGetRefusals(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	f := c.upload(t, "a.png", "image/png", pngFile(t, 4, 4))
	u := c.downloadURL(t, f.ID, "")
	tests := []struct {
		name   string
		url    string
		status int
		code   attach.Code
	}{
		{name: "signature changed", url: strings.Replace(u, "sig=", "sig=A", 1), status: 403, code: attach.CodeForbidden},
		{name: "disposition changed", url: u + "&disp=inline", status: 403, code: attach.CodeForbidden},
		{name: "no query", url: u[:strings.IndexByte(u, '?')], status: 403, code: attach.CodeForbidden},
		{name: "other key", url: strings.Replace(u, "/v1/blob/ws-a/", "/v1/blob/ws-b/", 1), status: 403, code: attach.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.fetch(t, http.MethodGet, tt.url, nil, nil)
			r.requireError(t, tt.status, tt.code)
			assert.Empty(t, r.Header.Get("Content-Disposition"))
		})
	}
	// An upload URL does not download, and a download URL does not upload.
	tk := c.requestUpload(t, "b.png", "image/png", 10)
	e.fetch(t, http.MethodGet, tk.UploadURL, nil, nil).requireError(t, http.StatusForbidden, attach.CodeForbidden)
	e.fetch(t, http.MethodPut, u, map[string]string{"Content-Type": "image/png"}, strings.NewReader("0123456789")).
		requireError(t, http.StatusForbidden, attach.CodeForbidden)
}

func TestRanges(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	data := pdfFile(100_000)
	const size = 100_000
	f := c.upload(t, "big.pdf", "application/pdf", data)
	u := c.downloadURL(t, f.ID, "")
	etag := `"` + strings.TrimPrefix(f.Digest, "sha256:")[:32] + `"`
	lastModified := e.fetch(t, http.MethodHead, u, nil, nil).Header.Get("Last-Modified")
	require.NotEmpty(t, lastModified)

	many := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf("%d-%d", i*2, i*2)
		}
		return "bytes=" + strings.Join(parts, ",")
	}
	type part struct{ start, end int } // inclusive
	tests := []struct {
		name    string
		method  string
		headers map[string]string
		status  int
		parts   []part // 206: the ranges served, in order
	}{
		{name: "no range", status: 200},
		{name: "first 100", headers: map[string]string{"Range": "bytes=0-99"}, status: 206, parts: []part{{0, 99}}},
		{name: "suffix", headers: map[string]string{"Range": "bytes=-100"}, status: 206, parts: []part{{size - 100, size - 1}}},
		{name: "open ended", headers: map[string]string{"Range": "bytes=100-"}, status: 206, parts: []part{{100, size - 1}}},
		{name: "end past size", headers: map[string]string{"Range": "bytes=99990-200000"}, status: 206, parts: []part{{99990, size - 1}}},
		{name: "suffix longer than size", headers: map[string]string{"Range": "bytes=-200000"}, status: 206, parts: []part{{0, size - 1}}},
		{name: "multi", headers: map[string]string{"Range": "bytes=0-9,20-29"}, status: 206, parts: []part{{0, 9}, {20, 29}}},
		{name: "multi with spaces", headers: map[string]string{"Range": "bytes= 0-9 , 20-29"}, status: 206, parts: []part{{0, 9}, {20, 29}}},
		{name: "multi with a zero suffix", headers: map[string]string{"Range": "bytes=0-9,-0"}, status: 206, parts: []part{{0, 9}}},
		{name: "multi with one beyond size", headers: map[string]string{"Range": "bytes=0-9,200000-"}, status: 206, parts: []part{{0, 9}}},
		{name: "16 ranges (the cap)", headers: map[string]string{"Range": many(16)}, status: 206},
		{name: "17 ranges", headers: map[string]string{"Range": many(17)}, status: 200},
		{name: "5000 ranges", headers: map[string]string{"Range": many(5000)}, status: 200},
		{name: "zero suffix", headers: map[string]string{"Range": "bytes=-0"}, status: 416},
		{name: "start at size", headers: map[string]string{"Range": fmt.Sprintf("bytes=%d-", size)}, status: 416},
		{name: "start beyond size", headers: map[string]string{"Range": "bytes=200000-200010"}, status: 416},
		{name: "malformed", headers: map[string]string{"Range": "bytes=abc"}, status: 416},
		{name: "reversed", headers: map[string]string{"Range": "bytes=50-10"}, status: 416},
		{name: "empty set", headers: map[string]string{"Range": "bytes="}, status: 416},
		{name: "no unit", headers: map[string]string{"Range": "0-99"}, status: 416},
		{name: "non-ASCII space", headers: map[string]string{"Range": "bytes=0-99\u00a0"}, status: 416},
		{name: "three numbers", headers: map[string]string{"Range": "bytes=1-2-3"}, status: 416},
		{name: "If-Range strong match", headers: map[string]string{"Range": "bytes=0-99", "If-Range": etag}, status: 206, parts: []part{{0, 99}}},
		{name: "If-Range weak", headers: map[string]string{"Range": "bytes=0-99", "If-Range": "W/" + etag}, status: 200},
		{name: "If-Range stale", headers: map[string]string{"Range": "bytes=0-99", "If-Range": `"0123456789abcdef0123456789abcdef"`}, status: 200},
		{name: "If-Range date", headers: map[string]string{"Range": "bytes=0-99", "If-Range": lastModified}, status: 206, parts: []part{{0, 99}}},
		{name: "If-Range stale with unsatisfiable range", headers: map[string]string{"Range": "bytes=-0", "If-Range": `"stale"`}, status: 200},
		// ServeContent reads only the first quoted tag of If-Range; junk after
		// our ETag must not smuggle an unchecked Range past the range cap.
		{name: "If-Range with junk after the ETag", headers: map[string]string{"Range": manyRanges(200), "If-Range": etag + "x"}, status: 200},
		{name: "If-Range with junk, unsatisfiable range", headers: map[string]string{"Range": "bytes=999999999-", "If-Range": etag + "x"}, status: 200},
		{name: "HEAD", method: http.MethodHead, status: 200},
		{name: "HEAD with range", method: http.MethodHead, headers: map[string]string{"Range": "bytes=0-99"}, status: 206},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			r := e.fetch(t, method, u, tt.headers, nil)
			require.Equal(t, tt.status, r.Status, "body: %.200s", r.Body)
			assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
			assert.Empty(t, r.Header.Values("Set-Cookie"))
			switch {
			case method == http.MethodHead:
				assert.Empty(t, r.Body)
				if tt.status == 200 {
					assert.Equal(t, strconv.Itoa(size), r.Header.Get("Content-Length"))
				} else {
					assert.Equal(t, "100", r.Header.Get("Content-Length"))
				}
			case tt.status == http.StatusOK:
				assert.True(t, bytes.Equal(data, r.Body), "the whole content")
				assert.Empty(t, r.Header.Get("Content-Range"))
			case tt.status == http.StatusRequestedRangeNotSatisfiable:
				r.requireError(t, tt.status, attach.CodeRangeNotSatisfiable)
				assert.Equal(t, fmt.Sprintf("bytes */%d", size), r.Header.Get("Content-Range"))
				assert.Empty(t, r.Header.Get("Content-Disposition"))
			case len(tt.parts) == 1:
				p := tt.parts[0]
				assert.Equal(t, fmt.Sprintf("bytes %d-%d/%d", p.start, p.end, size), r.Header.Get("Content-Range"))
				assert.True(t, bytes.Equal(data[p.start:p.end+1], r.Body), "exact bytes")
			default:
				got := byteranges(t, r)
				if tt.parts != nil {
					require.Len(t, got, len(tt.parts))
					for i, p := range tt.parts {
						assert.Equal(t, fmt.Sprintf("bytes %d-%d/%d", p.start, p.end, size), got[i].contentRange)
						assert.True(t, bytes.Equal(data[p.start:p.end+1], got[i].body), "part %d", i)
					}
				}
			}
		})
	}
}

type rangePart struct {
	contentRange string
	body         []byte
}

// byteranges parses a multipart/byteranges answer.
func byteranges(t *testing.T, r *response) []rangePart {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/byteranges", mt)
	mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
	var parts []rangePart
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		assert.Equal(t, "application/pdf", p.Header.Get("Content-Type"))
		parts = append(parts, rangePart{contentRange: p.Header.Get("Content-Range"), body: b})
	}
	return parts
}

// refRanges is a reference for checkRanges, written from RFC 9110
// §14.1.2 (numbers as strconv.ParseInt reads them).
func refRanges(h string, size int64) (n int, satisfiable, ok bool) {
	if len(h) > maxRangeHeader || !strings.HasPrefix(h, "bytes=") {
		return 0, false, false
	}
	ows := func(s string) string { return strings.Trim(s, " \t") } // RFC 9110 §5.6.3
	for _, spec := range strings.Split(h[len("bytes="):], ",") {
		spec = ows(spec)
		if spec == "" {
			continue
		}
		n++
		i := strings.IndexByte(spec, '-')
		if i < 0 {
			return n, false, false
		}
		first, last := ows(spec[:i]), ows(spec[i+1:])
		num := func(s string) (int64, bool) {
			v, err := strconv.ParseInt(s, 10, 64)
			return v, err == nil && v >= 0
		}
		if first == "" {
			sfx, good := num(last)
			if !good {
				return n, false, false
			}
			satisfiable = satisfiable || (sfx > 0 && size > 0)
			continue
		}
		start, good := num(first)
		if !good {
			return n, false, false
		}
		if last != "" {
			if end, good := num(last); !good || end < start {
				return n, false, false
			}
		}
		satisfiable = satisfiable || start < size
	}
	return n, satisfiable, n > 0
}

func FuzzCheckRanges(f *testing.F) {
	for _, seed := range []struct {
		h    string
		size int64
	}{
		{"bytes=0-99", 100_000}, {"bytes=-100", 100_000}, {"bytes=100-", 100_000}, {"bytes=0-9,20-29", 100},
		{"bytes=-0", 100}, {"bytes=200-300", 100}, {"bytes=abc", 100}, {"bytes=", 100}, {"", 100},
		{"bytes=5-1", 100}, {"bytes=0-0,-0", 10}, {"bytes= 1 - 2 ,, 3-", 10}, {"bytes=0-", 0}, {"bytes=-1", 0},
		{"items=0-1", 10}, {"bytes=+1-2", 10}, {"bytes=0--0", 10}, {"bytes=99999999999999999999-", 10},
		{"bytes=-1\f", 224}, {"bytes=0-1\u00a0", 10}, {"bytes=\t0-1\t", 10},
	} {
		f.Add(seed.h, seed.size)
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		n, sat, ok := checkRanges(h, size)
		rn, rsat, rok := refRanges(h, size)
		require.Equal(t, rok, ok, "ok for %q (size %d)", h, size)
		if !ok {
			return
		}
		require.Positive(t, n)
		require.Equal(t, rn, n, "n for %q", h)
		require.Equal(t, rsat, sat, "satisfiable for %q (size %d)", h, size)
		require.LessOrEqual(t, n, strings.Count(h, ",")+1)

		// What the adapter passes on to http.ServeContent (satisfiable,
		// within the cap, empty suffixes dropped) must come back as a 206
		// with valid Content-Ranges, never as ServeContent's own 416.
		if !sat || n > 16 || size > 1<<16 {
			return
		}
		pass := withoutEmptySuffixes(h)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Range", pass)
		http.ServeContent(rec, req, "", time.Time{}, bytes.NewReader(make([]byte, size)))
		require.NotEqual(t, http.StatusRequestedRangeNotSatisfiable, rec.Code,
			"checkRanges passed %q as %q (size %d) but ServeContent refused it: %s", h, pass, size, rec.Body)
		if rec.Code != http.StatusPartialContent {
			return
		}
		ranges := rec.Header().Values("Content-Range")
		if mt, params, err := mime.ParseMediaType(rec.Header().Get("Content-Type")); err == nil && mt == "multipart/byteranges" {
			mr := multipart.NewReader(rec.Body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				ranges = append(ranges, p.Header.Get("Content-Range"))
			}
		}
		require.NotEmpty(t, ranges)
		for _, cr := range ranges {
			var a, b, total int64
			_, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &a, &b, &total)
			require.NoError(t, err, "Content-Range %q", cr)
			assert.True(t, 0 <= a && a <= b && b < total && total == size, "Content-Range %q for %q (size %d)", cr, h, size)
		}
	})
}

// manyRanges is a Range header of n one-byte ranges.
func manyRanges(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("%d-%d", 2*i, 2*i)
	}
	return "bytes=" + strings.Join(parts, ",")
}
