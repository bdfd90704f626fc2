package blob_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gcblob "gocloud.dev/blob"

	"github.com/attachkit/attachkit/blob"
	"github.com/attachkit/attachkit/driver"
)

// missingAzureContainer returns a storage over a container that does not
// exist, so that every upload fails when it commits.
func missingAzureContainer(t *testing.T) *blob.Storage {
	t.Helper()
	u := cloudByName(t, "Azure").baseURL(t)
	u.Host = "ak-missing-" + randomHex(t, 6)
	s, err := blob.Open(t.Context(), u.String(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestAzureGocloudWriterPanics reproduces the fault Storage guards
// against (see uploadWriter in writer.go): gocloud's azureblob Writer
// panics with a nil pointer dereference when an upload fails in Close. If
// this test fails because Close returned instead, gocloud has fixed the
// fault and Storage could write through gcblob.Writer on Azure again.
func TestAzureGocloudWriterPanics(t *testing.T) {
	s := missingAzureContainer(t)
	w, err := s.Bucket().NewWriter(t.Context(), "k", &gcblob.WriterOptions{ContentType: "text/plain"})
	require.NoError(t, err)
	_, err = w.Write([]byte("bytes the service will refuse"))
	require.NoError(t, err, "the body is buffered; the upload is sent at Close")
	var p any
	func() {
		defer func() { p = recover() }()
		_ = w.Close()
	}()
	require.NotNil(t, p, "gocloud v0.47.0's azureblob writer panics in Close")
	assert.Contains(t, fmt.Sprint(p), "nil pointer dereference", "it dereferences the nil *io.PipeReader")
}

func TestAzureFailedUploadReturnsError(t *testing.T) {
	s := missingAzureContainer(t)
	tests := []struct {
		name string
		size int
		opts *driver.WriterOptions
	}{
		{name: "small object, sent at Close", size: 1 << 10, opts: &driver.WriterOptions{ContentType: "text/plain"}},
		{name: "empty object", size: 0},
		{name: "create-only", size: 1 << 10, opts: &driver.WriterOptions{IfNotExist: true}},
		// Larger than azureblob's 8 MiB blocks: blocks are staged while
		// writing, so the failure surfaces in Write or Close.
		{name: "multi-block object", size: 9 << 20, opts: &driver.WriterOptions{ContentType: "application/octet-stream"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := s.NewWriter(t.Context(), "k", tt.opts)
			require.NoError(t, err)
			var werr error
			assert.NotPanics(t, func() {
				_, werr = io.Copy(w, bytes.NewReader(bytes.Repeat([]byte("x"), tt.size)))
				werr = errors.Join(werr, w.Close())
			})
			require.Error(t, werr, "an upload to a missing container must fail")
			assert.ErrorIs(t, werr, driver.ErrNotFound, "Azure answers 404 ContainerNotFound")
			assert.Contains(t, werr.Error(), `blob: write "k"`)
		})
	}
}

func TestAzureUploadAfterFailureStillWorks(t *testing.T) {
	// A failed upload leaves no goroutine or pipe behind that would break
	// the next one on a healthy container.
	s := cloudByName(t, "Azure").fresh(t)
	w, err := s.NewWriter(t.Context(), "exists", &driver.WriterOptions{IfNotExist: true})
	require.NoError(t, err)
	require.NoError(t, w.Close())
	for range 3 {
		w, err := s.NewWriter(t.Context(), "exists", &driver.WriterOptions{IfNotExist: true})
		require.NoError(t, err)
		_, err = w.Write([]byte("second"))
		require.NoError(t, err)
		require.ErrorIs(t, w.Close(), driver.ErrExists)
	}
	w, err = s.NewWriter(t.Context(), "other", nil)
	require.NoError(t, err)
	_, err = w.Write([]byte("fine"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
}
