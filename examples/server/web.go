package main

import (
	"embed"
	"io/fs"
	"net/http"
)

// webFiles is the page at /: plain HTML, CSS and a module on top of
// attach.js (served by httpadapter at /v1/attach.js). No build step.
//
//go:embed web
var webFiles embed.FS

// pageCSP allows only this origin: no inline script or style, no other
// origin for scripts, images or API calls, no framing.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// pageHandler serves the page's files with a strict Content-Security-Policy.
func pageHandler() http.Handler {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded directory is part of the build
	}
	serve := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", pageCSP)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cache-Control", "no-cache") // revalidate: the page changes with the server
			http.ServeFileFS(w, r, sub, name)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", serve("index.html"))
	for _, name := range []string{"app.js", "app.css", "favicon.svg"} {
		mux.Handle("GET /"+name, serve(name))
	}
	return mux
}
