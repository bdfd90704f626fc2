package attach_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/httpadapter"
	"github.com/attachkit/attachkit/meta/sqlite"
)

// Example runs the whole lifecycle: a ticket, a PUT to its signed URL (here
// served by httpadapter, as it would be in an application), a confirm that
// verifies the bytes, and a download URL.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "attach-example")
	defer os.RemoveAll(dir)

	storage := blob.NewMemory()
	defer storage.Close()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "attach.db"), nil)
	if err != nil {
		panic(err)
	}
	defer store.Close()

	// Memory and disk storages can't sign URLs, so the library signs them and
	// httpadapter serves them under BaseURL.
	srv := httptest.NewUnstartedServer(nil)
	svc, err := attach.New(storage, store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: []byte("an example secret of 32+ bytes!!")}},
		BaseURL:     "http://" + srv.Listener.Addr().String() + "/v1/blob",
	})
	if err != nil {
		panic(err)
	}
	api, _ := httpadapter.New(svc, &httpadapter.Options{Prefix: "/v1",
		Authenticate: httpadapter.BearerKeys(map[string]string{"key": "acme"})})
	srv.Config.Handler = api
	srv.Start()
	defer srv.Close()

	scope := attach.Scope{Workspace: "acme", User: "alice"}
	pdf := []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
	up, err := svc.RequestUpload(ctx, scope, attach.UploadRequest{
		FileName: "hello.pdf", MIMEType: "application/pdf", Size: int64(len(pdf)),
	})
	if err != nil {
		panic(err)
	}

	// The client sends the bytes straight to the signed URL.
	req, _ := http.NewRequest(up.Method, up.URL, bytes.NewReader(pdf))
	for k, v := range up.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println("PUT:", resp.Status)

	f, err := svc.Confirm(ctx, scope, up.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(f.FileName, f.Status, f.MIMEType, f.Kind, f.Size, "bytes, version", f.Version)

	link, _ := svc.DownloadURL(ctx, scope, f.ID, nil)
	fmt.Println("download URL signed:", strings.Contains(link.URL, "sig="))
	// Output:
	// PUT: 200 OK
	// hello.pdf ready application/pdf document 69 bytes, version 1
	// download URL signed: true
}

// ExampleService_Put stores bytes that flow through the application. They
// get the same checks as a presigned upload: here a file that claims to be
// a PNG but is HTML is refused, and nothing is kept.
func ExampleService_Put() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "attach-example")
	defer os.RemoveAll(dir)
	storage := blob.NewMemory()
	store, _ := sqlite.Open(ctx, filepath.Join(dir, "attach.db"), nil)
	defer store.Close()
	svc, _ := attach.New(storage, store, &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: []byte("an example secret of 32+ bytes!!")}},
		BaseURL:     "https://files.example.com/v1/blob",
	})
	scope := attach.Scope{Workspace: "acme"}

	html := strings.NewReader("<html><script>alert(1)</script></html>")
	_, err := svc.Put(ctx, scope, attach.PutRequest{FileName: "cat.png", MIMEType: "image/png", Size: -1}, html)
	var e *attach.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code+":", e.Message)
	}
	fmt.Println("is content mismatch:", errors.Is(err, attach.ErrContentMismatch))
	// Output:
	// content_mismatch: the content looks like text/html, not the declared image/png
	// is content mismatch: true
}
