package httpadapter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/internal/backendtest"
	"github.com/attachkit/attachkit/scan/clamav"
)

// newProcessEnv is newEnv whose API runs on a Service with processing
// options (the library-signed blob URLs stay on the first server, over the
// same storage, store and keys).
func newProcessEnv(t *testing.T, mod func(*attach.Options)) *env {
	t.Helper()
	e := newEnv(t, nil)
	mod(&e.opts)
	e.svc = e.service(t, 0)
	h, err := New(e.svc, &Options{Prefix: "/v1", Authenticate: BearerKeys(map[string]string{keyA: wsA, keyB: "ws-b"})})
	require.NoError(t, err)
	e.api = h
	mux := http.NewServeMux()
	mux.Handle("/v1/", h)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// confirmProcessing uploads data and confirms it, expecting processing.
func (c caller) confirmProcessing(t *testing.T, name, mimeType string, data []byte) string {
	t.Helper()
	tk := c.requestUpload(t, name, mimeType, len(data))
	r := c.e.put(t, tk, data)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	r = c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	assert.Equal(t, "processing", r.JSON(t)["status"])
	return tk.ID
}

// TestProcessingStatusHTTP: a processed file is processing after confirm,
// polled through GET /files/{id}/status, not downloadable (409 conflict)
// until a Worker makes it ready.
func TestProcessingStatusHTTP(t *testing.T) {
	e := newProcessEnv(t, func(o *attach.Options) {
		o.Processors = []attach.Processor{{Name: "noop", Run: func(context.Context, *attach.Service, *attach.ProcessInput) error { return nil }}}
	})
	c := e.as(keyA, "")
	id := c.confirmProcessing(t, "doc.pdf", "application/pdf", pdfFile(2000))
	r := c.do(t, http.MethodGet, "/files/"+id+"/status", nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, map[string]any{"id": id, "status": "processing"}, r.JSON(t))
	for _, path := range []string{"/download", "/content"} {
		c.do(t, http.MethodGet, "/files/"+id+path, nil).requireError(t, http.StatusConflict, attach.CodeConflict)
	}
	r = c.do(t, http.MethodPost, "/files/download-urls", []map[string]any{{"id": id}})
	require.Equal(t, http.StatusOK, r.Status)
	assert.Contains(t, string(r.Body), `"conflict"`)

	_, err := attach.NewWorker(e.svc, nil).RunDue(t.Context())
	require.NoError(t, err)
	r = c.do(t, http.MethodGet, "/files/"+id+"/status", nil)
	assert.Equal(t, map[string]any{"id": id, "status": "ready"}, r.JSON(t))
	u := c.downloadURL(t, id, "")
	assert.Equal(t, http.StatusOK, e.fetch(t, http.MethodGet, u, nil, nil).Status)
}

// TestEICARRejectedHTTP: with a real clamd, an EICAR upload ends rejected
// with the signature in the status, and no route serves it.
func TestEICARRejectedHTTP(t *testing.T) {
	addr := backendtest.RequireEnv(t, "ATTACH_CLAMD_ADDR", "clamd")
	e := newProcessEnv(t, func(o *attach.Options) {
		o.Policy = &attach.Policy{Types: []attach.TypeRule{{MIMEType: "text/plain", MaxSize: 1 << 20}}}
		o.Scanner = clamav.New(addr, nil)
	})
	c := e.as(keyA, "")
	eicar := `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
	id := c.confirmProcessing(t, "eicar.txt", "text/plain", []byte(eicar))
	_, err := attach.NewWorker(e.svc, nil).RunDue(t.Context())
	require.NoError(t, err)

	r := c.do(t, http.MethodGet, "/files/"+id+"/status", nil)
	require.Equal(t, http.StatusOK, r.Status)
	st := r.JSON(t)
	assert.Equal(t, "rejected", st["status"])
	require.IsType(t, map[string]any{}, st["error"])
	errObj := st["error"].(map[string]any)
	assert.Equal(t, "conflict", errObj["code"])
	assert.Contains(t, errObj["message"], "Eicar")
	for _, path := range []string{"/download", "/content"} {
		c.do(t, http.MethodGet, "/files/"+id+path, nil).requireError(t, http.StatusConflict, attach.CodeConflict)
	}
	r = c.do(t, http.MethodGet, "/files/"+id, nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "rejected", r.JSON(t)["status"])
}
