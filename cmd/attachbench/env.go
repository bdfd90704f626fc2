package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/httpadapter"
	"github.com/attachkit/attachkit/meta/sqlite"
)

const apiKey = "bench-key"

var scope = attach.Scope{Workspace: "bench"}

// env is Attachkit on the embedded defaults (SQLite, synchronous FULL, and
// local disk with synced writes) served over loopback HTTP.
type env struct {
	svc    *attach.Service
	srv    *http.Server
	api    string // http://127.0.0.1:PORT/v1
	client *http.Client
	close  []func() error
}

// newEnv opens storageURL (default: local disk under dir) and a SQLite
// database under dir, and serves the API on a free loopback port.
func newEnv(ctx context.Context, dir, storageURL string) (*env, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	e := &env{}
	var st *blob.Storage
	var err error
	if storageURL == "" {
		st, err = blob.OpenDir(filepath.Join(dir, "files"), nil)
	} else {
		st, err = blob.Open(ctx, storageURL, nil)
	}
	if err != nil {
		return nil, err
	}
	e.close = append(e.close, st.Close)
	store, err := sqlite.Open(ctx, filepath.Join(dir, "attach.db"), nil)
	if err != nil {
		e.Close()
		return nil, err
	}
	e.close = append(e.close, store.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.Close()
		return nil, err
	}
	e.api = "http://" + ln.Addr().String() + "/v1"
	p := attach.DefaultPolicy()
	p.MaxSize = 0
	p.Types = []attach.TypeRule{{MIMEType: "application/pdf", MaxSize: 1 << 40}}
	e.svc, err = attach.New(st, store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: bytes.Repeat([]byte("s"), 32)}},
		BaseURL:     e.api + "/blob", Policy: &p,
	})
	if err != nil {
		ln.Close()
		e.Close()
		return nil, err
	}
	// Rate limits are lifted: the benchmarks measure throughput, and
	// their clients are one workspace and user hammering presign.
	h, err := httpadapter.New(e.svc, &httpadapter.Options{Prefix: "/v1",
		Authenticate: httpadapter.BearerKeys(map[string]string{apiKey: scope.Workspace}),
		RateLimit:    &httpadapter.RateLimitOptions{Disabled: true}})
	if err != nil {
		ln.Close()
		e.Close()
		return nil, err
	}
	e.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go e.srv.Serve(ln)
	e.close = append([]func() error{e.srv.Close}, e.close...)
	e.client = newClient()
	return e, nil
}

// Close stops the server and closes the store and storage.
func (e *env) Close() error {
	for _, f := range e.close {
		f()
	}
	return nil
}

// newClient returns a keep-alive client that keeps enough idle
// connections for 64 clients.
func newClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 256, 256
	return &http.Client{Transport: t, Timeout: 10 * time.Minute}
}

// lifecycleInProcess presigns, writes through the signed-URL handler's
// method, confirms and reads one file of body, in process.
func (e *env) lifecycleInProcess(ctx context.Context, body []byte) error {
	up, err := e.svc.RequestUpload(ctx, scope, attach.UploadRequest{FileName: "a.pdf", MIMEType: "application/pdf", Size: int64(len(body))})
	if err != nil {
		return err
	}
	key, q, err := splitSigned(up.URL)
	if err != nil {
		return err
	}
	if err := e.svc.WriteSigned(ctx, key, q, "application/pdf", int64(len(body)), bytes.NewReader(body)); err != nil {
		return err
	}
	if _, err := e.svc.Confirm(ctx, scope, up.ID); err != nil {
		return err
	}
	_, err = e.svc.File(ctx, scope, up.ID)
	return err
}

// splitSigned returns the storage key and query of a signed blob URL.
func splitSigned(raw string) (string, url.Values, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil, err
	}
	_, key, ok := strings.Cut(u.Path, "/v1/blob/")
	if !ok {
		return "", nil, fmt.Errorf("not a signed blob URL: %s", raw)
	}
	return key, u.Query(), nil
}

// lifecycleHTTP does the same over the REST API.
func (e *env) lifecycleHTTP(body []byte) error {
	var up attach.Upload
	req := fmt.Sprintf(`{"fileName":"a.pdf","mimeType":"application/pdf","fileSize":%d}`, len(body))
	if err := e.call(http.MethodPost, "/files/upload-url", "application/json", strings.NewReader(req), http.StatusCreated, &up); err != nil {
		if !isStatus(err, http.StatusOK) {
			return err
		}
	}
	if err := e.put(up.URL, up.Headers, bytes.NewReader(body), int64(len(body))); err != nil {
		return err
	}
	if err := e.call(http.MethodPost, "/files/"+up.ID+"/confirm", "", nil, http.StatusOK, nil); err != nil {
		return err
	}
	return e.call(http.MethodGet, "/files/"+up.ID, "", nil, http.StatusOK, nil)
}

// put sends body to a signed upload URL.
func (e *env) put(u string, headers map[string]string, body io.Reader, n int64) error {
	req, err := http.NewRequest(http.MethodPut, u, body)
	if err != nil {
		return err
	}
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/pdf")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return &statusError{code: resp.StatusCode, msg: "PUT: " + string(msg)}
	}
	return nil
}

// statusError is an unexpected HTTP answer.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.code, e.msg) }

func isStatus(err error, code int) bool {
	se, ok := err.(*statusError)
	return ok && se.code == code
}

// call sends an authenticated API request, checks the status and decodes
// the JSON answer into v (when not nil). A 200 is as good as a 201.
func (e *env) call(method, path, contentType string, body io.Reader, want int, v any) error {
	req, err := http.NewRequest(method, e.api+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want && !(want == http.StatusCreated && resp.StatusCode == http.StatusOK) {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &statusError{code: resp.StatusCode, msg: method + " " + path + ": " + string(msg)}
	}
	if v == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// multipartBody returns a multipart/form-data body with one file part of
// data named a.pdf, and its content type.
func multipartBody(field string, data []byte) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, _ := mw.CreateFormFile(field, "a.pdf")
	part.Write(data)
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}
