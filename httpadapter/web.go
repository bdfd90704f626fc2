package httpadapter

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

// BrowserClient is attach.js, the dependency-free ES module for browsers
// that the Handler serves at GET {prefix}/attach.js: presigned uploads with
// progress, confirmation, status polling, pre-checks against the ticket's
// fileLimits, retries with backoff and cancellation. Serve it yourself
// (or bundle it) to pin a copy.
//
//go:embed web/attach.js
var BrowserClient []byte

// browserClientETag is a strong validator of BrowserClient, computed once.
var browserClientETag = func() string {
	sum := sha256.Sum256(BrowserClient)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}()

// webRoutes: static assets for browsers, anonymous (no credentials in them).
func (h *Handler) webRoutes(_ authed, public anon) {
	public("GET /attach.js", h.attachJS)
}

func (h *Handler) attachJS(w http.ResponseWriter, r *http.Request) error {
	hd := w.Header()
	hd.Set("Content-Type", "text/javascript; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	// Short freshness, then a cheap revalidation with the ETag: a new
	// release reaches browsers within minutes.
	hd.Set("Cache-Control", "public, max-age=300, must-revalidate")
	hd.Set("ETag", browserClientETag)
	http.ServeContent(w, r, "attach.js", time.Time{}, bytes.NewReader(BrowserClient))
	return nil
}
