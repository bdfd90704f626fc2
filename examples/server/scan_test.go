package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/internal/backendtest"
)

// TestServerScansUploads: with ATTACH_CLAMD_ADDR the server's worker scans
// confirmed uploads; a PDF carrying the EICAR test signature ends rejected
// and is never served, a clean one becomes ready.
func TestServerScansUploads(t *testing.T) {
	clamd := backendtest.RequireEnv(t, "ATTACH_CLAMD_ADDR", "clamd")
	addr, _ := startServer(t, map[string]string{"ATTACH_ADDR": "127.0.0.1:0", "ATTACH_DATA_DIR": t.TempDir(),
		"ATTACH_CLAMD_ADDR": clamd})
	api := "http://" + addr + "/v1"
	call := func(method, url string, body []byte, headers map[string]string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer dev-key")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	upload := func(content []byte) string {
		t.Helper()
		req, _ := json.Marshal(map[string]any{"fileName": "doc.pdf", "mimeType": "application/pdf", "fileSize": len(content)})
		code, tk := call(http.MethodPost, api+"/files/upload-url", req, map[string]string{"Content-Type": "application/json"})
		require.Equal(t, http.StatusCreated, code, "%v", tk)
		headers := map[string]string{}
		for k, v := range tk["headers"].(map[string]any) {
			headers[k] = v.(string)
		}
		code, _ = call(http.MethodPut, tk["uploadUrl"].(string), content, headers)
		require.Equal(t, http.StatusOK, code)
		code, f := call(http.MethodPost, api+"/files/"+tk["id"].(string)+"/confirm", nil, nil)
		require.Equal(t, http.StatusOK, code, "%v", f)
		assert.Equal(t, "processing", f["status"])
		return tk["id"].(string)
	}
	pdf := func(comment string) []byte {
		return []byte("%PDF-1.4\n%" + comment + "\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
	}
	infected := upload(pdf(`X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`))
	clean := upload(pdf(strings.Repeat("clean ", 20)))
	settled := func(id string) map[string]any {
		var st map[string]any
		require.Eventually(t, func() bool {
			_, st = call(http.MethodGet, api+"/files/"+id+"/status", nil, nil)
			return st["status"] != "processing"
		}, 30*time.Second, 50*time.Millisecond)
		return st
	}
	st := settled(infected)
	assert.Equal(t, "rejected", st["status"], "%v", st)
	code, _ := call(http.MethodGet, api+"/files/"+infected+"/download", nil, nil)
	assert.Equal(t, http.StatusConflict, code)
	assert.Equal(t, "ready", settled(clean)["status"])
	code, _ = call(http.MethodGet, api+"/files/"+clean+"/download", nil, nil)
	assert.Equal(t, http.StatusOK, code)
}
