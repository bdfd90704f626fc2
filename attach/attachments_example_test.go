package attach_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/meta/sqlite"
)

// ExampleService_SetAttachments attaches files to an application's own
// record from its record handler: the call replaces the field's set and
// can be retried. When the record is deleted, ClearAttachments with Purge
// deletes the files that existed only for it.
func ExampleService_SetAttachments() {
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
	scope := attach.Scope{Workspace: "acme", User: "alice"}
	pdf := "%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
	invoice, _ := svc.Put(ctx, scope, attach.PutRequest{FileName: "invoice.pdf", Size: -1}, strings.NewReader(pdf))
	receipt, _ := svc.Put(ctx, scope, attach.PutRequest{FileName: "receipt.pdf", Size: -1}, strings.NewReader(pdf))

	order := attach.Record{Type: "order", ID: "1001"}
	for range 2 { // a retried request changes nothing
		if _, err := svc.SetAttachments(ctx, scope, order, "documents", []string{invoice.ID, receipt.ID}, nil); err != nil {
			panic(err)
		}
	}
	byField, _ := svc.Attachments(ctx, scope, order)
	for _, f := range byField["documents"] {
		fmt.Println("documents:", f.FileName)
	}
	used, _ := svc.FileAttachments(ctx, scope, receipt.ID)
	fmt.Println("receipt used by:", used[0].RecordType, used[0].RecordID, used[0].Field)

	// The order is deleted.
	if err := svc.ClearAttachments(ctx, scope, order, &attach.SetAttachmentsOptions{Purge: true}); err != nil {
		panic(err)
	}
	_, err := svc.File(ctx, scope, invoice.ID)
	fmt.Println("invoice after purge:", attach.CodeOf(err))
	// Output:
	// documents: invoice.pdf
	// documents: receipt.pdf
	// receipt used by: order 1001 documents
	// invoice after purge: not_found
}
