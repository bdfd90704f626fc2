package httpadapter

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/internal/browsertest"
)

// faultyAPI answers attach.js like the API would, but drops connections
// and rate-limits on purpose: faults a real server cannot be made to
// produce on cue. It counts requests by "METHOD path".
type faultyAPI struct {
	mu      sync.Mutex
	hits    map[string]int
	putBody map[string]int // bytes received by the last complete PUT
}

func (f *faultyAPI) hit(r *http.Request) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hits[r.Method+" "+r.URL.Path]++
	return f.hits[r.Method+" "+r.URL.Path]
}

func (f *faultyAPI) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[key]
}

// drop closes the connection without an answer: a network error.
func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func newFaultyAPI(t *testing.T) (*faultyAPI, *httptest.Server) {
	t.Helper()
	f := &faultyAPI{hits: map[string]int{}, putBody: map[string]int{}}
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<!doctype html><title>attach.js</title>")
	})
	mux.HandleFunc("GET /v1/attach.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write(BrowserClient)
	})
	mux.HandleFunc("POST /v1/files/upload-url", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			FileName string `json:"fileName"`
			FileSize int64  `json:"fileSize"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		if f.hit(r) == 1 {
			drop(w)
			return
		}
		id := map[string]string{"ok.png": "f1", "slow.png": "f2"}[req.FileName]
		writeJSON(w, http.StatusCreated, map[string]any{
			"id": id, "uploadId": "u-" + id, "uploadUrl": srv.URL + "/put/" + id, "method": "PUT",
			"headers":    map[string]string{"Content-Type": "image/png", "Content-Length": strconv.FormatInt(req.FileSize, 10)},
			"fileLimits": map[string]any{"allowedTypes": []string{"image/png", "image/*"}, "maxSize": 8 << 20},
		})
	})
	mux.HandleFunc("PUT /put/f1", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if f.hit(r) == 1 {
			drop(w) // the bytes went, the answer is lost
			return
		}
		f.mu.Lock()
		f.putBody["f1"] = int(n)
		f.mu.Unlock()
	})
	mux.HandleFunc("PUT /put/f2", func(w http.ResponseWriter, r *http.Request) {
		f.hit(r)
		buf := make([]byte, 64<<10)
		for { // slowly, until the client cancels
			if _, err := r.Body.Read(buf); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	mux.HandleFunc("POST /v1/files/f1/confirm", func(w http.ResponseWriter, r *http.Request) {
		f.hit(r)
		writeJSON(w, http.StatusOK, map[string]any{"id": "f1", "status": "processing"})
	})
	mux.HandleFunc("GET /v1/files/f1/status", func(w http.ResponseWriter, r *http.Request) {
		switch f.hit(r) {
		case 1:
			w.Header().Set("Retry-After", "0")
			writeJSON(w, http.StatusTooManyRequests, errorBody{errorDetail{Code: "rate_limited", Message: "slow down", Details: map[string]any{}}})
		case 2:
			writeJSON(w, http.StatusOK, map[string]any{"id": "f1", "status": "processing"})
		default:
			writeJSON(w, http.StatusOK, map[string]any{"id": "f1", "status": "ready"})
		}
	})
	mux.HandleFunc("GET /v1/files/f1", func(w http.ResponseWriter, r *http.Request) {
		f.hit(r)
		writeJSON(w, http.StatusOK, map[string]any{"id": "f1", "status": "ready", "fileName": "ok.png"})
	})
	mux.HandleFunc("DELETE /v1/files/f2", func(w http.ResponseWriter, r *http.Request) {
		f.hit(r)
		w.WriteHeader(http.StatusNoContent)
	})
	// No keep-alive: Chromium silently retries a request whose reused
	// connection drops, so each request gets a fresh one and a drop
	// reaches the page as a network error.
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, srv
}

// TestBrowserClientFaults runs attach.js in Chromium against faultyAPI:
// retries after network errors and 429, status polling, pre-checks and
// cancellation.
func TestBrowserClientFaults(t *testing.T) {
	browsertest.Path(t)
	f, srv := newFaultyAPI(t)
	ctx := browsertest.Start(t)
	require.NoError(t, browsertest.Run(t, ctx, 30*time.Second, chromedp.Navigate(srv.URL+"/")))
	run := func(t *testing.T, body string) map[string]any {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		v, err := chromedp.Run(tctx, chromedp.Evaluate[map[string]any](`(async () => {
			const m = await import("/v1/attach.js");
			const retries = [];
			const client = new m.Client({ apiKey: "k", backoff: 10, onRetry: (e) => retries.push(e.code) });
			const png = (n) => new File([new Uint8Array(n)], "x.png", { type: "image/png" });
			`+body+`
		})()`, chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		return v
	}

	t.Run("retries then ready", func(t *testing.T) {
		v := run(t, `
			const phases = [];
			const file = await client.upload(new File([new Uint8Array(3000)], "ok.png", { type: "image/png" }),
				{ onProgress: (p) => phases.push(p.phase + ":" + Math.round(100 * p.loaded / p.total)) });
			return { file, retries, phases: [...new Set(phases)], limits: client.fileLimits };`)
		assert.Equal(t, "ready", v["file"].(map[string]any)["status"])
		retries := map[string]int{}
		for _, r := range v["retries"].([]any) {
			retries[r.(string)]++
		}
		assert.Equal(t, map[string]int{"network": 2, "rate_limited": 1}, retries, "upload-url and PUT, then status")
		phases := v["phases"].([]any)
		assert.Equal(t, "uploading:0", phases[0])
		assert.Contains(t, phases, "uploading:100")
		assert.Equal(t, []any{"confirming:100", "processing:100", "ready:100"}, phases[len(phases)-3:])
		assert.Equal(t, float64(8<<20), v["limits"].(map[string]any)["maxSize"], "learned from the ticket")
		assert.Equal(t, 2, f.count("PUT /put/f1"))
		assert.Equal(t, 3000, f.putBody["f1"])
		assert.Equal(t, 1, f.count("POST /v1/files/f1/confirm"))
		assert.Equal(t, 3, f.count("GET /v1/files/f1/status"))
	})

	t.Run("pre-checks send nothing", func(t *testing.T) {
		before := f.count("POST /v1/files/upload-url")
		v := run(t, `
			client.learn({ allowedTypes: ["image/png", "video/*"], maxSize: 100 });
			const codes = [];
			for (const file of [new File(["hi"], "a.txt", { type: "text/plain" }), png(101), png(0)]) {
				try { await client.upload(file); codes.push("uploaded"); }
				catch (e) { codes.push(e.code + ": " + m.describeError(e)); }
			}
			return { codes, video: m.typeAllowed("video/webm", client.fileLimits.allowedTypes) };`)
		assert.Equal(t, []any{
			"invalid_file_type: a.txt: type text/plain is not allowed. Allowed: image/png, video/*.",
			"file_too_large: The file is too large (101 B); the limit is 100 B.",
			"invalid_request: x.png is empty.",
		}, v["codes"])
		assert.Equal(t, true, v["video"])
		assert.Equal(t, before, f.count("POST /v1/files/upload-url"))
	})

	t.Run("cancel aborts the PUT and removes the pending file", func(t *testing.T) {
		v := run(t, `
			const ctl = new AbortController();
			const big = new File([new Uint8Array(4 << 20)], "slow.png", { type: "image/png" });
			const p = client.upload(big, { signal: ctl.signal, onProgress: (e) => {
				if (e.phase === "uploading" && e.loaded === 0) setTimeout(() => ctl.abort(), 200);
			} });
			try { await p; return { code: "none" }; } catch (e) { return { code: e.code, text: m.describeError(e) }; }`)
		assert.Equal(t, "aborted", v["code"])
		assert.Equal(t, "Cancelled.", v["text"])
		assert.Equal(t, 1, f.count("PUT /put/f2"))
		assert.Eventually(t, func() bool { return f.count("DELETE /v1/files/f2") == 1 }, 5*time.Second, 20*time.Millisecond)
	})
}
