package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/internal/browsertest"
)

// page is a headless Chromium tab on the example server's page.
type page struct {
	ctx      context.Context
	base     string // http://127.0.0.1:port
	mu       sync.Mutex
	console  []string
	download chan string // paths of completed downloads
}

// newPage starts Chromium (stopped when the test ends), with downloads
// saved under a temporary directory and console messages collected.
func newPage(t *testing.T, base string) *page {
	t.Helper()
	ctx := browsertest.Start(t)
	p := &page{ctx: ctx, base: base, download: make(chan string, 4)}

	dir := t.TempDir()
	_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true),
	})
	require.NoError(t, err)
	require.NoError(t, chromedp.ListenBrowser(ctx, func(ev any) {
		if e, ok := ev.(*browser.EventDownloadProgress); ok && e.State == browser.DownloadProgressStateCompleted {
			select {
			case p.download <- filepath.Join(dir, e.GUID):
			default: // nobody waits for this one
			}
		}
	}))
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, string(m.Type)+": "+m.Text)
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *page) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

func eval[T any](t *testing.T, p *page, expr string) T {
	t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}

// waitFor polls a JavaScript predicate until it is true.
func (p *page) waitFor(t *testing.T, expr string) {
	t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second),
		chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		p.mu.Lock()
		defer p.mu.Unlock()
		html, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
		t.Fatalf("waiting for %s: %v\npage text:\n%s\nconsole:\n%s", expr, err, html, strings.Join(p.console, "\n"))
	}
}

func card(id string) string { return `.card[data-id="` + id + `"]` }

// testFiles writes a generated PNG, a small PDF, a text file and an HTML
// file named .png into dir.
func testFiles(t *testing.T, dir string) (pngPath, pdfPath, txtPath, fakePath string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 240, 160))
	for y := range 160 {
		for x := range 240 {
			img.Set(x, y, color.RGBA{R: uint8(x), G: uint8(80 + y/2), B: uint8(200 - y), A: 255})
		}
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	pngPath = filepath.Join(dir, "sunset.png")
	pdfPath = filepath.Join(dir, "report.pdf")
	txtPath = filepath.Join(dir, "notes.txt")
	fakePath = filepath.Join(dir, "fake.png")
	require.NoError(t, os.WriteFile(pngPath, b.Bytes(), 0o600))
	require.NoError(t, os.WriteFile(pdfPath, []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"), 0o600))
	require.NoError(t, os.WriteFile(txtPath, []byte("plain text is not allowed\n"), 0o600))
	require.NoError(t, os.WriteFile(fakePath, []byte("<!doctype html><html><body>not a picture</body></html>"), 0o600))
	return pngPath, pdfPath, txtPath, fakePath
}

// api calls the server's API as the dev key, for checks beside the page.
func api(t *testing.T, method, url string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer dev-key")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// TestBrowserPage drives the example server's page in headless Chromium:
// key, uploads with progress, previews, download, rename, new version,
// delete, and the errors for disallowed and mismatched files.
func TestBrowserPage(t *testing.T) {
	browsertest.Path(t) // skip before starting anything
	addr, _ := startServer(t, map[string]string{"ATTACH_ADDR": "127.0.0.1:0", "ATTACH_DATA_DIR": t.TempDir()})
	base := "http://" + addr
	p := newPage(t, base)
	pngPath, pdfPath, txtPath, fakePath := testFiles(t, t.TempDir())

	// The page's own headers: only this origin, no inline script.
	resp, err := http.Get(base + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, pageCSP, resp.Header.Get("Content-Security-Policy"))
	assert.Contains(t, pageCSP, "script-src 'self';")
	assert.NotContains(t, pageCSP, "unsafe-inline")

	p.do(t, chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("api-key")),
		chromedp.SendKeys(chromedp.ID("api-key"), "dev-key"),
		chromedp.Click(chromedp.CSS("#key-form button")))
	p.waitFor(t, `document.body.classList.contains("has-key")`)
	assert.Equal(t, "dev-key", eval[string](t, p, `localStorage.getItem("attachkit.apiKey")`), "the key is kept")
	assert.Contains(t, eval[string](t, p, `document.querySelector("#limits").textContent`), "png", "limits shown before any upload")

	// Two files through the file input: progress to 100%, then ready.
	p.do(t, chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{pngPath, pdfPath}))
	p.waitFor(t, `document.querySelectorAll(".card[data-status=ready]").length === 2`)
	items := eval[[]map[string]any](t, p, `[...document.querySelectorAll(".upload-item")].map(li => ({
		name: li.querySelector(".upload-name").textContent, value: li.querySelector("progress").value,
		phase: li.dataset.phase, state: li.querySelector(".upload-state").textContent}))`)
	require.Len(t, items, 2)
	for _, it := range items {
		assert.Equal(t, float64(100), it["value"], "%v", it)
		assert.Equal(t, "ready", it["phase"], "%v", it)
		assert.Equal(t, "Ready 100%", it["state"], "%v", it)
	}
	ids := eval[map[string]string](t, p, `Object.fromEntries([...document.querySelectorAll(".card")].map(c =>
		[c.querySelector(".name").textContent, c.dataset.id]))`)
	pngID, pdfID := ids["sunset.png"], ids["report.pdf"]
	require.NotEmpty(t, pngID, "%v", ids)
	require.NotEmpty(t, pdfID, "%v", ids)

	// The PNG shows its thumbnail (the centre 160×160 of the 240×160
	// picture, for a 256 px square box); the PDF, which has no page to
	// render, a type icon.
	p.waitFor(t, `(() => { const i = document.querySelector('`+card(pngID)+` .preview img'); return i && i.naturalWidth === 160 && i.naturalHeight === 160 })()`)
	assert.Equal(t, "PDF", eval[string](t, p, `document.querySelector('`+card(pdfID)+` .icon').textContent`))

	// A disallowed type fails before any request with a clear message; an
	// HTML page named .png is refused by the server at confirm.
	p.do(t, chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{txtPath}))
	p.waitFor(t, `document.querySelector(".upload-item.failed[data-code=invalid_file_type] .error")`)
	msg := eval[string](t, p, `document.querySelector(".upload-item.failed[data-code=invalid_file_type] .error").textContent`)
	assert.Contains(t, msg, "notes.txt: type text/plain is not allowed. Allowed: ")
	assert.Contains(t, msg, "image/png")
	p.do(t, chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{fakePath}))
	p.waitFor(t, `document.querySelector(".upload-item.failed[data-code=content_mismatch] .error")`)
	assert.Contains(t, eval[string](t, p, `document.querySelector(".upload-item.failed[data-code=content_mismatch] .error").textContent`),
		"not the declared image/png")

	shot := filepath.Join(t.TempDir(), "page.png")
	p.screenshot(t, shot)
	t.Logf("screenshot of the page with files: %s", shot)
	if os.Getenv("ATTACH_UPDATE_SCREENSHOT") != "" {
		b, err := os.ReadFile(shot)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile("../../docs/screenshot.png", b, 0o644))
	}

	// Download through the button: the browser saves the same bytes.
	p.do(t, chromedp.Click(chromedp.CSS(card(pngID)+` [data-action=download]`)))
	select {
	case path := <-p.download:
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		want, err := os.ReadFile(pngPath)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), "downloaded bytes differ")
	case <-time.After(20 * time.Second):
		t.Fatal("no download completed")
	}

	// Share: a public link in the notice, which serves the bytes to anyone.
	p.do(t, chromedp.Click(chromedp.CSS(card(pngID)+` [data-action=share]`)))
	p.waitFor(t, `document.querySelector("#notice").textContent.includes("/v1/public/links/")`)
	notice := eval[string](t, p, `document.querySelector("#notice").textContent`)
	link := notice[strings.Index(notice, "http"):]
	resp, err = http.Get(link)
	require.NoError(t, err)
	shared, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", shared)
	pngBytes, err := os.ReadFile(pngPath)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(pngBytes, shared), "the link serves the file's bytes")

	// Rename in the dialog.
	p.do(t, chromedp.Click(chromedp.CSS(card(pdfID)+` [data-action=rename]`)),
		chromedp.WaitVisible(chromedp.ID("rename-input")))
	assert.Equal(t, "rename-input", eval[string](t, p, `document.activeElement.id`), "the dialog takes focus")
	p.do(t, chromedp.SetValue(chromedp.ID("rename-input"), "report-final.pdf"),
		chromedp.Click(chromedp.CSS(`#rename-form button[type=submit]`)))
	p.waitFor(t, `document.querySelector('`+card(pdfID)+` .name').textContent === "report-final.pdf"`)
	status, body := api(t, http.MethodGet, base+"/v1/files/"+pdfID)
	require.Equal(t, http.StatusOK, status)
	var f struct {
		FileName string `json:"fileName"`
		Version  int    `json:"version"`
	}
	require.NoError(t, json.Unmarshal(body, &f))
	assert.Equal(t, "report-final.pdf", f.FileName)

	// A new version of the PDF through the card's action.
	p.do(t, chromedp.Click(chromedp.CSS(card(pdfID)+` [data-action=version]`)),
		chromedp.SetUploadFiles(chromedp.ID("version-input"), []string{pdfPath}))
	p.waitFor(t, `document.querySelector('`+card(pdfID)+` .version').textContent === "v2"`)
	assert.Equal(t, "report-final.pdf", eval[string](t, p, `document.querySelector('`+card(pdfID)+` .name').textContent`),
		"a new version keeps the name")
	_, content := api(t, http.MethodGet, base+"/v1/files/"+pdfID+"/content?version=2")
	want, err := os.ReadFile(pdfPath)
	require.NoError(t, err)
	assert.Equal(t, want, content, "version 2's bytes")

	// Delete after confirming in the dialog.
	p.do(t, chromedp.Click(chromedp.CSS(card(pngID)+` [data-action=delete]`)),
		chromedp.WaitVisible(chromedp.ID("delete-dialog")),
		chromedp.Click(chromedp.CSS(`#delete-dialog button[value=delete]`)))
	p.waitFor(t, `!document.querySelector('`+card(pngID)+`') && document.querySelector("#notice").textContent === "Deleted sunset.png."`)
	status, _ = api(t, http.MethodGet, base+"/v1/files/"+pngID)
	assert.Equal(t, http.StatusNotFound, status)

	// Phone width: nothing wider than the screen.
	p.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	assert.True(t, eval[bool](t, p, `document.documentElement.scrollWidth <= window.innerWidth`), "no horizontal scrolling at 390px")
	phone := filepath.Join(filepath.Dir(shot), "page-phone.png")
	p.screenshot(t, phone)
	t.Logf("screenshot at phone width: %s", phone)

	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.console {
		assert.NotContains(t, m, "Content Security Policy", "the page runs under its CSP")
		assert.False(t, strings.HasPrefix(m, "exception"), m)
	}
}

func (p *page) screenshot(t *testing.T, path string) {
	t.Helper()
	b, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
}
