package httpadapter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	"github.com/attachkit/attachkit/driver"
)

func TestLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	tests := []struct {
		name, fileName, mimeType string
		data                     []byte
		kind                     attach.Kind
		width, height            int // 0: null
	}{
		{name: "png", fileName: "photo.png", mimeType: "image/png", data: pngFile(t, 31, 17), kind: attach.KindImage, width: 31, height: 17},
		{name: "jpeg", fileName: "photo.jpg", mimeType: "image/jpeg", data: jpegFile(t, 40, 30), kind: attach.KindImage, width: 40, height: 30},
		{name: "gif", fileName: "anim.gif", mimeType: "image/gif", data: gifFile(t, 8, 9), kind: attach.KindImage, width: 8, height: 9},
		{name: "pdf", fileName: "report.pdf", mimeType: "application/pdf", data: pdfFile(2000), kind: attach.KindDocument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.clock.Now()
			tk := c.requestUpload(t, tt.fileName, tt.mimeType, len(tt.data))
			assert.True(t, strings.HasPrefix(tk.ID, "file_"), tk.ID)
			assert.True(t, strings.HasPrefix(tk.UploadURL, e.srv.URL+"/v1/blob/"+wsA+"/"+tk.ID+"/"), tk.UploadURL)
			assert.Equal(t, http.MethodPut, tk.Method)
			assert.Equal(t, map[string]string{"Content-Type": tt.mimeType}, tk.Headers)
			assert.WithinRange(t, tk.ExpiresAt, before.Add(15*time.Minute-time.Second), e.clock.Now().Add(15*time.Minute))
			assert.Contains(t, tk.FileLimits.AllowedTypes, tt.mimeType)
			assert.Equal(t, int64(50*attach.MB), tk.FileLimits.MaxSize)

			// Pending: visible, not downloadable.
			r := c.do(t, http.MethodGet, "/files/"+tk.ID+"/status", nil)
			require.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, map[string]any{"id": tk.ID, "status": "pending"}, r.JSON(t))
			r = c.do(t, http.MethodGet, "/files/"+tk.ID+"/download", nil)
			r.requireError(t, http.StatusConflict, attach.CodeConflict)

			r = e.put(t, tk, tt.data)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)

			r = c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil)
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			var f attach.File
			r.decode(t, &f)
			assert.Equal(t, tk.ID, f.ID)
			assert.Equal(t, attach.StatusReady, f.Status)
			assert.Equal(t, tt.fileName, f.FileName)
			assert.Equal(t, tt.mimeType, f.MIMEType)
			assert.Equal(t, tt.kind, f.Kind)
			assert.Equal(t, int64(len(tt.data)), f.Size)
			assert.Equal(t, digestOf(tt.data), f.Digest)
			assert.Equal(t, 1, f.Version)
			assert.Equal(t, "u1", f.Owner)
			raw := r.JSON(t)
			if tt.width == 0 {
				assert.Nil(t, raw["width"], "width must be null")
				assert.Nil(t, raw["height"], "height must be null")
				assert.Contains(t, raw, "width")
				assert.Contains(t, raw, "height")
			} else {
				assert.Equal(t, float64(tt.width), raw["width"])
				assert.Equal(t, float64(tt.height), raw["height"])
			}

			r = c.do(t, http.MethodGet, "/files/"+tk.ID, nil)
			require.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, raw, r.JSON(t), "GET returns what confirm returned")

			r = c.do(t, http.MethodGet, "/files/"+tk.ID+"/status", nil)
			require.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, map[string]any{"id": tk.ID, "status": "ready"}, r.JSON(t))

			r = c.do(t, http.MethodGet, "/files/"+tk.ID+"/download", nil)
			require.Equal(t, http.StatusOK, r.Status)
			var su attach.SignedURL
			r.decode(t, &su)
			assert.Len(t, r.JSON(t), 2, "download is {url, expiresAt}")
			assert.WithinRange(t, su.ExpiresAt, before.Add(time.Hour-time.Second), e.clock.Now().Add(time.Hour))
			got := e.fetch(t, http.MethodGet, su.URL, nil, nil)
			require.Equal(t, http.StatusOK, got.Status, "body: %s", got.Body)
			assert.True(t, bytes.Equal(tt.data, got.Body), "signed URL serves the uploaded bytes")
			assert.Equal(t, tt.mimeType, got.Header.Get("Content-Type"))

			r = c.do(t, http.MethodGet, "/files/"+tk.ID+"/content", nil)
			require.Equal(t, http.StatusFound, r.Status, "body: %s", r.Body)
			assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
			loc := r.Header.Get("Location")
			require.True(t, strings.HasPrefix(loc, e.srv.URL+"/v1/blob/"), loc)
			got = e.fetch(t, http.MethodGet, loc, nil, nil)
			require.Equal(t, http.StatusOK, got.Status)
			assert.True(t, bytes.Equal(tt.data, got.Body), "the redirect serves the uploaded bytes")

			r = c.do(t, http.MethodDelete, "/files/"+tk.ID, nil)
			require.Equal(t, http.StatusNoContent, r.Status, "body: %s", r.Body)
			assert.Empty(t, r.Body)

			// Gone everywhere.
			for _, p := range []struct{ method, path string }{
				{http.MethodGet, "/files/" + tk.ID},
				{http.MethodGet, "/files/" + tk.ID + "/status"},
				{http.MethodPost, "/files/" + tk.ID + "/confirm"},
				{http.MethodGet, "/files/" + tk.ID + "/download"},
				{http.MethodGet, "/files/" + tk.ID + "/content"},
				{http.MethodDelete, "/files/" + tk.ID},
			} {
				c.do(t, p.method, p.path, nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
			}
			e.fetch(t, http.MethodGet, su.URL, nil, nil).requireError(t, http.StatusNotFound, attach.CodeNotFound)
			e.put(t, tk, tt.data).requireError(t, http.StatusNotFound, attach.CodeNotFound)
			_, err := e.stored(t, tk.Key)
			assert.ErrorIs(t, err, driver.ErrNotFound)
			assert.Empty(t, filesUnder(t, e.dir, tk.ID), "no bytes left on disk")
		})
	}
}

// filesUnder lists the regular files on disk whose path mentions id.
func filesUnder(t *testing.T, root, id string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(p, id) {
			found = append(found, p)
		}
		return nil
	})
	require.NoError(t, err)
	return found
}

func TestConfirmBeforePut(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	data := pngFile(t, 4, 4)
	tk := c.requestUpload(t, "a.png", "image/png", len(data))

	c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil).requireError(t, http.StatusConflict, attach.CodeUploadIncomplete)
	r := c.do(t, http.MethodGet, "/files/"+tk.ID+"/status", nil)
	assert.Equal(t, map[string]any{"id": tk.ID, "status": "pending"}, r.JSON(t), "nothing changed")

	// The ticket is still usable.
	require.Equal(t, http.StatusOK, e.put(t, tk, data).Status)
	r = c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var f attach.File
	r.decode(t, &f)
	assert.Equal(t, attach.StatusReady, f.Status)
	assert.Equal(t, digestOf(data), f.Digest)
}

func TestConfirmIdempotent(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	data := pngFile(t, 5, 5)
	tk := c.requestUpload(t, "a.png", "image/png", len(data))
	require.Equal(t, http.StatusOK, e.put(t, tk, data).Status)

	first := c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil)
	require.Equal(t, http.StatusOK, first.Status)
	e.clock.Advance(time.Minute) // a second transition would show in updatedAt
	second := c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil)
	require.Equal(t, http.StatusOK, second.Status)
	assert.Equal(t, first.JSON(t), second.JSON(t), "the same file, unchanged")
	assertOneVersion(t, e, tk.ID)

	// Bytes PUT after the confirm are refused and change nothing.
	e.put(t, tk, pngFile(t, 5, 5)).requireError(t, http.StatusConflict, attach.CodeConflict)
	other := pngFile(t, 6, 5)[:len(data)]
	e.put(t, tk, other).requireError(t, http.StatusConflict, attach.CodeConflict)
	b, err := e.stored(t, tk.Key)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, b), "confirmed bytes are immutable")
}

func assertOneVersion(t *testing.T, e *env, id string) {
	t.Helper()
	vs, err := e.store.Versions(t.Context(), wsA, id)
	require.NoError(t, err)
	require.Len(t, vs, 1, "exactly one version")
	assert.Equal(t, 1, vs[0].Version)
}

func TestConcurrentConfirms(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	data := pngFile(t, 12, 12)
	tk := c.requestUpload(t, "a.png", "image/png", len(data))
	require.Equal(t, http.StatusOK, e.put(t, tk, data).Status)

	const n = 50
	results := make([]*response, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+"/v1/files/"+tk.ID+"/confirm", nil)
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Authorization", "Bearer "+keyA)
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			results[i], errs[i] = &response{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
		})
	}
	close(start)
	wg.Wait()

	var want map[string]any
	for i := range n {
		require.NoError(t, errs[i])
		r := results[i]
		require.Equal(t, http.StatusOK, r.Status, "confirm %d: %s", i, r.Body)
		got := r.JSON(t)
		if want == nil {
			want = got
		}
		assert.Equal(t, "ready", got["status"], "confirm %d", i)
		assert.Equal(t, float64(1), got["version"], "confirm %d", i)
		assert.Equal(t, want["updatedAt"], got["updatedAt"], "confirm %d: one transition, one updatedAt", i)
	}
	assertOneVersion(t, e, tk.ID)
}

// gatedStore is the real store with a hook before LatestUpload, to hold
// one confirm at a chosen point while another runs.
type gatedStore struct {
	driver.MetaStore
	mu   sync.Mutex
	gate func()
}

func (g *gatedStore) LatestUpload(ctx context.Context, workspace, fileID string) (*driver.UploadRecord, error) {
	g.mu.Lock()
	gate := g.gate
	g.gate = nil
	g.mu.Unlock()
	if gate != nil {
		gate()
	}
	return g.MetaStore.LatestUpload(ctx, workspace, fileID)
}

// TestConfirmRaceReturnsCurrentFile holds one confirm after it loaded the
// file and before it loads the ticket, lets another confirm win, then
// releases the first: it must answer with the confirmed file.
func TestConfirmRaceReturnsCurrentFile(t *testing.T) {
	gs := &gatedStore{}
	e := newEnv(t, &envOptions{wrapStore: func(s driver.MetaStore) driver.MetaStore { gs.MetaStore = s; return gs }})
	c := e.as(keyA, "u1")
	data := pngFile(t, 3, 3)
	tk := c.requestUpload(t, "a.png", "image/png", len(data))
	require.Equal(t, http.StatusOK, e.put(t, tk, data).Status)

	held, release := make(chan struct{}), make(chan struct{})
	gs.mu.Lock()
	gs.gate = func() { close(held); <-release }
	gs.mu.Unlock()
	var slow *response
	done := make(chan struct{})
	go func() {
		defer close(done)
		slow = c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil)
	}()
	<-held
	fast := c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil)
	require.Equal(t, http.StatusOK, fast.Status, "body: %s", fast.Body)
	close(release)
	<-done

	require.Equal(t, http.StatusOK, slow.Status, "body: %s", slow.Body)
	assert.Equal(t, fast.JSON(t), slow.JSON(t), "the loser answers with the winner's file, not the stale pending one")
}

// blockingReader returns head, then blocks until release is closed, then
// returns tail.
type blockingReader struct {
	head, tail io.Reader
	release    <-chan struct{}
	waited     bool
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if n, err := b.head.Read(p); n > 0 || !errors.Is(err, io.EOF) {
		return n, err
	}
	if !b.waited {
		<-b.release
		b.waited = true
	}
	return b.tail.Read(p)
}

// TestPutRacingConfirm streams a second body into a ticket's URL while the
// first body is confirmed: the confirmed bytes must not change.
func TestPutRacingConfirm(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	good := pngFile(t, 20, 20)
	evil := []byte(strings.Repeat(htmlFile, len(good)/len(htmlFile)+1)[:len(good)])
	tk := c.requestUpload(t, "a.png", "image/png", len(good))
	require.Equal(t, http.StatusOK, e.put(t, tk, good).Status)

	// Know when the adapter has started reading the second body: it has
	// passed every check by then.
	reading := make(chan struct{})
	var once sync.Once
	hook := func(r *http.Request) {
		if r.Method == http.MethodPut {
			r.Body = readNotifier{r.Body, func() { once.Do(func() { close(reading) }) }}
		}
	}
	e.onRequest.Store(&hook)

	release := make(chan struct{})
	var second *response
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, tk.UploadURL,
			&blockingReader{head: bytes.NewReader(evil[:100]), tail: bytes.NewReader(evil[100:]), release: release})
		if err != nil {
			return
		}
		req.ContentLength = int64(len(evil))
		req.Header.Set("Content-Type", "image/png")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		second = &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	}()
	<-reading
	r := c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil)
	require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
	var f attach.File
	r.decode(t, &f)
	require.Equal(t, digestOf(good), f.Digest)
	close(release)
	<-done
	e.onRequest.Store(nil)

	require.NotNil(t, second)
	second.requireError(t, http.StatusConflict, attach.CodeConflict)
	got := e.fetch(t, http.MethodGet, c.downloadURL(t, tk.ID, ""), nil, nil)
	require.Equal(t, http.StatusOK, got.Status)
	assert.True(t, bytes.Equal(good, got.Body), "the confirmed bytes were replaced by an unverified PUT")
	assert.Equal(t, `"`+strings.TrimPrefix(digestOf(good), "sha256:")[:32]+`"`, got.Header.Get("ETag"))
}

// readNotifier calls notify on the first Read.
type readNotifier struct {
	io.ReadCloser
	notify func()
}

func (r readNotifier) Read(p []byte) (int, error) {
	r.notify()
	return r.ReadCloser.Read(p)
}

func TestContentMismatch(t *testing.T) {
	e := newEnv(t, nil)
	c := e.as(keyA, "u1")
	data := []byte(htmlFile)
	tk := c.requestUpload(t, "innocent.png", "image/png", len(data))
	require.Equal(t, http.StatusOK, e.put(t, tk, data).Status)
	b, err := e.stored(t, tk.Key)
	require.NoError(t, err)
	require.Equal(t, data, b, "the PUT does not sniff; confirm does")

	c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil).requireError(t, http.StatusUnprocessableEntity, attach.CodeContentMismatch)

	r := c.do(t, http.MethodGet, "/files/"+tk.ID+"/status", nil)
	require.Equal(t, http.StatusOK, r.Status)
	st := r.JSON(t)
	assert.Equal(t, "rejected", st["status"])
	require.IsType(t, map[string]any{}, st["error"])
	errObj := st["error"].(map[string]any)
	assert.Equal(t, string(attach.CodeContentMismatch), errObj["code"])
	assert.NotEmpty(t, errObj["message"])

	_, err = e.stored(t, tk.Key)
	assert.ErrorIs(t, err, driver.ErrNotFound, "the object is removed")
	assert.Empty(t, filesUnder(t, e.dir, tk.ID), "nothing left on disk")

	c.do(t, http.MethodGet, "/files/"+tk.ID+"/download", nil).requireError(t, http.StatusConflict, attach.CodeConflict)
	c.do(t, http.MethodGet, "/files/"+tk.ID+"/content", nil).requireError(t, http.StatusConflict, attach.CodeConflict)
	c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil).requireError(t, http.StatusUnprocessableEntity, attach.CodeContentMismatch)
	// The rejected ticket takes no more bytes.
	e.put(t, tk, pngFile(t, 2, 2)[:len(data)]).requireError(t, http.StatusConflict, attach.CodeConflict)
	_, err = e.stored(t, tk.Key)
	assert.ErrorIs(t, err, driver.ErrNotFound)
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
		put     bool // PUT the bytes before the clock moves
		check   func(t *testing.T, e *env, c caller, tk ticket, data []byte)
	}{
		{name: "PUT after the ticket expired", advance: 16 * time.Minute,
			check: func(t *testing.T, e *env, _ caller, tk ticket, data []byte) {
				e.put(t, tk, data).requireError(t, http.StatusGone, attach.CodeExpired)
				_, err := e.stored(t, tk.Key)
				assert.ErrorIs(t, err, driver.ErrNotFound)
			}},
		{name: "confirm within the grace period", advance: 16 * time.Minute, put: true,
			check: func(t *testing.T, _ *env, c caller, tk ticket, _ []byte) {
				r := c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil)
				assert.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			}},
		{name: "confirm after the grace period", advance: 76 * time.Minute, put: true,
			check: func(t *testing.T, _ *env, c caller, tk ticket, _ []byte) {
				c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil).requireError(t, http.StatusGone, attach.CodeExpired)
			}},
		{name: "download URL after an hour", advance: 0, put: true,
			check: func(t *testing.T, e *env, c caller, tk ticket, _ []byte) {
				require.Equal(t, http.StatusOK, c.do(t, http.MethodPost, "/files/"+tk.ID+"/confirm", nil).Status)
				u := c.downloadURL(t, tk.ID, "")
				e.clock.Advance(time.Hour + time.Second)
				e.fetch(t, http.MethodGet, u, nil, nil).requireError(t, http.StatusGone, attach.CodeExpired)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			c := e.as(keyA, "u1")
			data := pngFile(t, 3, 2)
			tk := c.requestUpload(t, "a.png", "image/png", len(data))
			if tt.put {
				require.Equal(t, http.StatusOK, e.put(t, tk, data).Status)
			}
			e.clock.Advance(tt.advance)
			tt.check(t, e, c, tk, data)
		})
	}
}
