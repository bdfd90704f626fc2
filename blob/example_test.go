package blob_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/driver"
)

func ExampleOpenDir() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "attachkit-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := blob.OpenDir(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// Write: the object appears, durably, when Close returns nil.
	w, err := s.NewWriter(ctx, "ws/report/v1/data", &driver.WriterOptions{ContentType: "text/plain"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.WriteString(w, "hello, attachkit"); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	// Read part of it back.
	r, err := s.NewRangeReader(ctx, "ws/report/v1/data", 7, -1)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	a, err := s.Attributes(ctx, "ws/report/v1/data")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	fmt.Println(a.Size, a.ContentType)
	// Output:
	// attachkit
	// 16 text/plain
}

func ExampleOpen() {
	ctx := context.Background()
	s, err := blob.Open(ctx, "mem://", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	_, err = s.Attributes(ctx, "missing")
	fmt.Println(errors.Is(err, driver.ErrNotFound))

	_, err = blob.Open(ctx, "ftp://example.com/files", nil)
	fmt.Println(err)
	// Output:
	// true
	// blob: unknown storage scheme "ftp" (available: azblob, file, gs, mem, s3)
}

func ExampleOpenS3() {
	ctx := context.Background()
	// Credentials come from the AWS SDK's chain (AWS_ACCESS_KEY_ID, ...).
	s, err := blob.OpenS3(ctx, "uploads", &blob.S3Options{
		Region:       "us-east-1",
		Endpoint:     "http://127.0.0.1:9000", // MinIO; omit for AWS
		UsePathStyle: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// A client may PUT exactly 1024 bytes of image/png to u within 15
	// minutes; S3 refuses any other body.
	u, err := s.SignedURL(ctx, "ws/file/v1/x", &driver.SignOptions{
		Method: "PUT", Expiry: 15 * time.Minute, ContentType: "image/png", ContentLength: 1024,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u)
}

func ExampleStorage_SignedURL() {
	// Memory and local disk have no signing scheme of their own: attach
	// signs their URLs itself when SignedURL says so.
	s := blob.NewMemory()
	defer s.Close()
	_, err := s.SignedURL(context.Background(), "ws/file/v1/x", &driver.SignOptions{
		Method: "GET", Expiry: time.Hour, ContentType: "image/png",
	})
	fmt.Println(errors.Is(err, driver.ErrUnimplemented))
	// Output:
	// true
}
