package httpadapter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestDataURIUpload(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	pdf := pdfFile(5000)
	png := pngFile(t, 9, 5)
	escaped := strings.ReplaceAll(b64(pdf), "/", `\/`)
	tests := []struct {
		name     string
		body     string
		want     []byte
		mimeType string
		title    string
		tags     []any
	}{
		{name: "pdf", body: `{"fileName":"report.pdf","data":"data:application/pdf;base64,` + b64(pdf) + `"}`,
			want: pdf, mimeType: "application/pdf", title: "report", tags: []any{}},
		{name: "png with fields", body: `{"fileName":"dot.png","title":"Dot","tags":["a","b"],"data":"data:image/png;base64,` + b64(png) + `"}`,
			want: png, mimeType: "image/png", title: "Dot", tags: []any{"a", "b"}},
		{name: "data first", body: `{"data":"data:application/pdf;base64,` + b64(pdf) + `","fileName":"report.pdf"}`,
			want: pdf, mimeType: "application/pdf", title: "report", tags: []any{}},
		{name: "escaped slashes", body: `{"fileName":"report.pdf","data":"data:application\/pdf;base64,` + escaped + `"}`,
			want: pdf, mimeType: "application/pdf", title: "report", tags: []any{}},
		{name: "unicode escapes and line breaks", body: `{"fileName":"report.pdf","data":"data:application/pdf;base64,` +
			b64(pdf)[:76] + `\r\n` + b64(pdf)[76:100] + `\u000a` + fmt.Sprintf(`\u%04x`, b64(pdf)[100]) + b64(pdf)[101:] + `"}`,
			want: pdf, mimeType: "application/pdf", title: "report", tags: []any{}},
		{name: "no declared type", body: `{"fileName":"report.pdf","data":"data:;base64,` + b64(pdf) + `"}`,
			want: pdf, mimeType: "application/pdf", title: "report", tags: []any{}},
		{name: "octet-stream", body: `{"fileName":"report.pdf","data":"data:application/octet-stream;base64,` + b64(pdf) + `"}`,
			want: pdf, mimeType: "application/pdf", title: "report", tags: []any{}},
		{name: "unknown members and white space", body: " \n{ \"x\" : {\"y\":[1,\"}\"]} , \"fileName\" : \"report.pdf\" ,\t\"data\" : \"data:application/pdf;base64," + b64(pdf) + "\" }\r\n",
			want: pdf, mimeType: "application/pdf", title: "report", tags: []any{}},
		{name: "duplicate data: the last wins", body: `{"fileName":"dot.png","data":"data:,x","data":"data:image/png;base64,` + b64(png) + `"}`,
			want: png, mimeType: "image/png", title: "dot", tags: []any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := c.postBody(t, "/files", "application/json", []byte(tt.body)).requireCreated(t, http.StatusCreated)
			assert.Equal(t, "ready", f["status"])
			assert.Equal(t, "upload", f["source"])
			assert.Equal(t, tt.mimeType, f["mimeType"])
			assert.Equal(t, float64(len(tt.want)), f["fileSize"])
			assert.Equal(t, digestOf(tt.want), f["digest"])
			assert.Equal(t, tt.title, f["title"])
			assert.Equal(t, tt.tags, f["tags"])
			r := e.fetch(t, http.MethodGet, c.downloadURL(t, f["id"].(string), ""), nil, nil)
			assert.Equal(t, tt.want, r.Body)
		})
	}
}

func TestDataURIBadInput(t *testing.T) {
	pdf := pdfFile(1500)
	policy := &attach.Policy{Types: []attach.TypeRule{{MIMEType: "image/png"}, {MIMEType: "application/pdf"}}, MaxSize: 2000}
	upload := func(data string) string { return `{"fileName":"a.pdf","data":"` + data + `"}` }
	const pdfURI = "data:application/pdf;base64,"
	tests := []struct {
		name   string
		body   string
		policy *attach.Policy
		status int
		code   attach.Code
	}{
		{name: "invalid base64", body: upload(pdfURI + "not*base64"), status: 400, code: attach.CodeInvalidRequest},
		{name: "invalid base64 after 1 KiB", body: upload(pdfURI + b64(pdf)[:1024] + "!!!!" + b64(pdf)[1028:]), status: 400, code: attach.CodeInvalidRequest},
		{name: "unpadded base64", body: upload("data:;base64," + strings.TrimRight(b64(pdf[:1001]), "=")), status: 400, code: attach.CodeInvalidRequest},
		{name: "over the limit", body: upload(pdfURI + b64(pdfFile(3000))), policy: policy, status: 400, code: attach.CodeFileTooLarge},
		{name: "over the limit, undeclared", body: upload("data:;base64," + b64(pdfFile(3000))), policy: policy, status: 400, code: attach.CodeFileTooLarge},
		{name: "body over the bound", body: upload(pdfURI + b64(pdfFile(200<<10))), policy: policy, status: 400, code: attach.CodeFileTooLarge},
		{name: "declared png, pdf sent", body: upload("data:image/png;base64," + b64(pdf)), status: 422, code: attach.CodeContentMismatch},
		{name: "type not allowed", body: upload("data:text/html;base64," + b64([]byte(htmlFile))), status: 400, code: attach.CodeInvalidFileType},
		{name: "html detected", body: upload("data:;base64," + b64([]byte(htmlFile))), status: 400, code: attach.CodeInvalidFileType},
		{name: "not a data URI", body: upload("https://example.com/a.pdf"), status: 400, code: attach.CodeInvalidRequest},
		{name: "bad media type", body: upload("data:pdf;base64," + b64(pdf)), status: 400, code: attach.CodeInvalidRequest},
		{name: "non-ASCII data", body: upload(pdfURI + "é" + b64(pdf)), status: 400, code: attach.CodeInvalidRequest},
		{name: "escaped non-ASCII data", body: upload(pdfURI + `\u00e9` + b64(pdf)), status: 400, code: attach.CodeInvalidRequest},
		{name: "raw control character", body: upload(pdfURI + "\x01" + b64(pdf)), status: 400, code: attach.CodeInvalidRequest},
		{name: "bad escape", body: upload(pdfURI + `\x` + b64(pdf)), status: 400, code: attach.CodeInvalidRequest},
		{name: "empty payload", body: upload(pdfURI), status: 400, code: attach.CodeInvalidRequest},
		{name: "no data", body: `{"fileName":"a.pdf"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "null data", body: `{"fileName":"a.pdf","data":null}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "data not a string", body: `{"fileName":"a.pdf","data":["x"]}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "no fileName", body: `{"data":"` + pdfURI + b64(pdf) + `"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "fileName not a string", body: `{"fileName":1,"data":"` + pdfURI + b64(pdf) + `"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "tags not strings", body: `{"fileName":"a.pdf","tags":[1],"data":"` + pdfURI + b64(pdf) + `"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "bad file name", body: `{"fileName":"a\u0000.pdf","data":"` + pdfURI + b64(pdf) + `"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "empty body", body: "", status: 400, code: attach.CodeInvalidRequest},
		{name: "null", body: "null", status: 400, code: attach.CodeInvalidRequest},
		{name: "array", body: `[1]`, status: 400, code: attach.CodeInvalidRequest},
		{name: "unterminated data", body: `{"fileName":"a.pdf","data":"` + pdfURI + b64(pdf), status: 400, code: attach.CodeInvalidRequest},
		{name: "unterminated object", body: `{"fileName":"a.pdf","data":"` + pdfURI + b64(pdf) + `"`, status: 400, code: attach.CodeInvalidRequest},
		{name: "trailing comma", body: upload(pdfURI + b64(pdf))[:len(upload(pdfURI+b64(pdf)))-1] + `,}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "trailing garbage", body: upload(pdfURI+b64(pdf)) + ` x`, status: 400, code: attach.CodeInvalidRequest},
		{name: "trailing object", body: upload(pdfURI+b64(pdf)) + `{}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "invalid unknown member", body: `{"x":[1,}],"fileName":"a.pdf","data":"` + pdfURI + b64(pdf) + `"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "invalid literal", body: `{"x":tru,"fileName":"a.pdf","data":"` + pdfURI + b64(pdf) + `"}`, status: 400, code: attach.CodeInvalidRequest},
		{name: "1 MiB unknown member", body: `{"x":"` + strings.Repeat("x", 1<<20) + `","fileName":"a.pdf","data":"` + pdfURI + b64(pdf) + `"}`,
			status: 413, code: attach.CodePayloadTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, &envOptions{policy: tt.policy})
			r := e.as(keyA, "u1").postBody(t, "/files", "application/json", []byte(tt.body))
			details := r.requireError(t, tt.status, tt.code)
			if tt.code == attach.CodeFileTooLarge {
				assert.Equal(t, float64(2000), details["maxSize"])
			}
			assert.Empty(t, e.storedKeys(t), "nothing stored")
		})
	}
}

// TestDataURIContentLengthOverBound: a declared length over the bound is
// refused before the body is read.
func TestDataURIContentLengthOverBound(t *testing.T) {
	e := newEnv(t, nil)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+"/v1/files", io.LimitReader(zeros{}, 100<<20))
	require.NoError(t, err)
	req.ContentLength = 100 << 20
	req.Header.Set("Authorization", "Bearer "+keyA)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := &response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	details := r.requireError(t, http.StatusBadRequest, attach.CodeFileTooLarge)
	assert.Equal(t, float64(50*attach.MB), details["maxSize"])
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// ropeOf splits b into a rope of chunk-byte chunks.
func ropeOf(b []byte, chunk int) *rope {
	d, err := readRope(bytes.NewReader(b), chunk)
	if err != nil {
		panic(err)
	}
	return d
}

// TestParseDataUploadChunks: the scan does not depend on where chunks
// split the body.
func TestParseDataUploadChunks(t *testing.T) {
	body := []byte(`{"x":{"a":["\"}",1.5e3,null]},"fileName":"a\"b.pdf","tags":["t"],"data":"data:,a\/b\u0041\"\\%41"}`)
	for chunk := 1; chunk <= len(body)+1; chunk++ {
		up, err := parseDataUpload(ropeOf(body, chunk), 1<<10)
		require.NoError(t, err, "chunk %d", chunk)
		assert.Equal(t, `a"b.pdf`, up.fileName)
		assert.Equal(t, []string{"t"}, up.tags)
		data, err := io.ReadAll(up.data)
		require.NoError(t, err)
		assert.Equal(t, `data:,a/bA"\%41`, string(data), "chunk %d", chunk)
	}
}

// FuzzParseDataUpload checks the in-place scan against encoding/json
// decoding the whole body: both accept the same bodies (data aside, which
// must be ASCII), with the same fields and the same data string.
func FuzzParseDataUpload(f *testing.F) {
	for _, s := range []string{
		`{"fileName":"a.pdf","data":"data:application/pdf;base64,JVBERi0="}`,
		`{"data":"data:,x\/y\u0041","fileName":"a","title":"t","collectionId":"c","tags":["a","b"]}`,
		`{"x":{"y":[1,"}",{"z":null}]},"data":"d","data":1}`,
		`{"data":1,"data":"x"}`, `{"d\u0061ta":"x"}`, `{"data":"\ud83d\ude00"}`, `{"data":"é"}`, `{"data":"\u00e9"}`,
		`{}`, `null`, `[]`, `{"data":"x",}`, `{"data":"x"} `, `{"data":"x"}x`, `{"tags":null,"data":""}`,
		`{"fileName":["x"],"data":"x"}`, `{"x":01,"data":"x"}`, `{"x":"\x01","data":"x"}`, "{\"data\":\"a\x01\"}",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, body []byte, chunk uint8) {
		up, err := parseDataUpload(ropeOf(body, int(chunk%16)+1), 1<<20)
		var data []byte
		if err == nil {
			data, err = io.ReadAll(up.data)
		}

		// The reference: encoding/json on the whole body.
		var raw map[string]json.RawMessage
		ref := json.Unmarshal(body, &raw)
		if ref == nil && raw == nil {
			ref = errors.New("not an object")
		}
		want := dataUpload{}
		var wantData *string
		for k, dst := range map[string]any{"fileName": &want.fileName, "title": &want.title,
			"collectionId": &want.collectionID, "tags": &want.tags, "data": &wantData} {
			if v, ok := raw[k]; ok && ref == nil {
				ref = json.Unmarshal(v, dst)
			}
		}
		if ref == nil && wantData == nil {
			ref = errors.New("no data")
		}
		if ref == nil && strings.ContainsFunc(*wantData, func(r rune) bool { return r >= 0x80 }) {
			ref = errors.New("data not ASCII")
		}

		if ref != nil {
			require.Error(t, err, "accepted %q; encoding/json: %v", body, ref)
			var e *attach.Error
			require.ErrorAs(t, err, &e)
			return
		}
		require.NoError(t, err, "refused %q", body)
		assert.Equal(t, want.fileName, up.fileName)
		assert.Equal(t, want.title, up.title)
		assert.Equal(t, want.collectionID, up.collectionID)
		assert.Equal(t, want.tags, up.tags)
		assert.Equal(t, *wantData, string(data))
	})
}
