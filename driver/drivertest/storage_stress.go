package drivertest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

func testConcurrentWrites(t *testing.T, s driver.Storage) {
	const (
		distinct  = 16       // writers of their own key
		same      = 8        // writers of one shared key
		readers   = 4        // readers of the shared key meanwhile
		size      = 64 << 10 // bytes per payload
		chunkSize = 1 << 10  // written in chunks, so interleaving would show
	)
	// payload i is size bytes of byte(i); 0xEE is the shared key's
	// initial content.
	payload := func(b byte) []byte { return bytes.Repeat([]byte{b}, size) }
	writeChunked := func(key string, data []byte) error {
		w, err := s.NewWriter(t.Context(), key, &driver.WriterOptions{ContentType: "application/octet-stream"})
		if err != nil {
			return err
		}
		for off := 0; off < len(data); off += chunkSize {
			if _, err := w.Write(data[off : off+chunkSize]); err != nil {
				_ = w.Close()
				return err
			}
		}
		return w.Close()
	}
	// wholeOnePayload reports what is wrong with b, or "".
	wholeOnePayload := func(b []byte) string {
		if len(b) != size {
			return fmt.Sprintf("read %d bytes, want %d", len(b), size)
		}
		if n := bytes.Count(b, b[:1]); n != size {
			return fmt.Sprintf("payloads interleaved: only %d of %d bytes are %#x", n, size, b[0])
		}
		return ""
	}
	write(t, s, "shared", payload(0xEE), "")

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		errs    []error
		stop    = make(chan struct{})
		reports = func(err error) {
			mu.Lock()
			defer mu.Unlock()
			errs = append(errs, err)
		}
	)
	for i := range distinct {
		wg.Go(func() {
			if err := writeChunked(fmt.Sprintf("own/%02d", i), payload(byte(i+1))); err != nil {
				reports(fmt.Errorf("writer of own/%02d: %w", i, err))
			}
		})
	}
	for i := range same {
		wg.Go(func() {
			if err := writeChunked("shared", payload(byte(0x80+i))); err != nil {
				reports(fmt.Errorf("writer %d of shared: %w", i, err))
			}
		})
	}
	var rwg sync.WaitGroup
	for i := range readers {
		rwg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := readErr(t.Context(), s, "shared")
				if err != nil {
					reports(fmt.Errorf("reader %d: %w", i, err))
					return
				}
				if problem := wholeOnePayload(b); problem != "" {
					reports(fmt.Errorf("reader %d: %s", i, problem))
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	rwg.Wait()
	require.Empty(t, errs)

	for i := range distinct {
		assert.Equal(t, payload(byte(i+1)), read(t, s, fmt.Sprintf("own/%02d", i)), "own/%02d", i)
	}
	final := read(t, s, "shared")
	require.Empty(t, wholeOnePayload(final))
	assert.True(t, final[0] >= 0x80 && final[0] < 0x80+same, "shared holds %#x, not one of the concurrent writers' payloads", final[0])
	a, err := s.Attributes(t.Context(), "shared")
	require.NoError(t, err)
	assert.Equal(t, int64(size), a.Size)
	if a.MD5 != nil {
		sum := md5.Sum(final)
		assert.Equal(t, sum[:], a.MD5, "attributes must describe the object that won")
	}
	assert.Len(t, listKeys(t, s, ""), distinct+1)
}

func testLargeObject(t *testing.T, s driver.Storage) {
	const (
		size  = 8 << 20
		chunk = 4 << 10
	)
	// Stream pseudo-random bytes, hashing them on the way, so the test
	// holds one chunk rather than a second copy of the object.
	src := rand.New(rand.NewChaCha8([32]byte{'a', 't', 't', 'a', 'c', 'h'}))
	want := sha256.New()
	w, err := s.NewWriter(t.Context(), "large/object.bin", &driver.WriterOptions{ContentType: "application/octet-stream", Size: size})
	require.NoError(t, err)
	buf := make([]byte, chunk)
	for written := 0; written < size; written += chunk {
		for i := range buf {
			buf[i] = byte(src.Uint32())
		}
		want.Write(buf)
		_, err := w.Write(buf)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())

	a, err := s.Attributes(t.Context(), "large/object.bin")
	require.NoError(t, err)
	assert.Equal(t, int64(size), a.Size)

	r, err := s.NewRangeReader(t.Context(), "large/object.bin", 0, -1)
	require.NoError(t, err)
	defer r.Close()
	got := sha256.New()
	n, err := io.Copy(got, r)
	require.NoError(t, err)
	assert.Equal(t, int64(size), n)
	assert.Equal(t, want.Sum(nil), got.Sum(nil), "sha256 of the bytes read back")

	// A range deep inside reads the same bytes as the whole.
	tail := readRange(t, s, "large/object.bin", size-chunk, -1)
	assert.Equal(t, buf, tail, "last chunk")
}

// readErr reads the whole object at key, returning errors rather than
// failing the test, for use in goroutines.
func readErr(ctx context.Context, s driver.Storage, key string) ([]byte, error) {
	r, err := s.NewRangeReader(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// testIfNotExist checks create-only writes: refused over an existing
// object (which stays intact), and one winner among concurrent creators.
func testIfNotExist(t *testing.T, s driver.Storage) {
	ctx := t.Context()
	create := func(key string, data []byte) error {
		w, err := s.NewWriter(ctx, key, &driver.WriterOptions{IfNotExist: true})
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			_ = w.Close()
			return err
		}
		return w.Close()
	}
	require.NoError(t, create("once/a", []byte("first")))
	err := create("once/a", []byte("second"))
	assert.True(t, errors.Is(err, driver.ErrExists), "got %v", err)
	assert.Equal(t, []byte("first"), read(t, s, "once/a"))

	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = create("once/b", bytes.Repeat([]byte{byte('a' + i)}, 4096))
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		if err == nil {
			assert.Equal(t, -1, won, "two create-only writers both succeeded")
			won = i
			continue
		}
		assert.True(t, errors.Is(err, driver.ErrExists), "writer %d: %v", i, err)
	}
	require.NotEqual(t, -1, won, "one create-only writer must succeed")
	assert.Equal(t, bytes.Repeat([]byte{byte('a' + won)}, 4096), read(t, s, "once/b"))
}
