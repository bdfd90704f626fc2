package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
	_ "github.com/attachkit/attachkit/blob"
	_ "github.com/attachkit/attachkit/meta/sqlite"
)

// The crash tests run the example server as a child process on one data
// directory and kill it with SIGKILL: no deferred function, no graceful
// shutdown, no buffered write flushed after the kill.

const crashKey = "crash-key"

// buildServer compiles the example server once per test binary.
func buildServer(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("crash test: builds and runs the server as a child process")
	}
	bin := filepath.Join(t.TempDir(), "server")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Run(), "go build")
	return bin
}

// child is one run of the server process.
type child struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port/v1
}

var listening = regexp.MustCompile(`Attachkit example server on (http://\S+)/v1`)

func startChild(t *testing.T, bin, dataDir string) *child {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"ATTACH_ADDR=127.0.0.1:0",
		"ATTACH_DATA_DIR="+dataDir,
		"ATTACH_API_KEYS="+crashKey+":crash",
		"ATTACH_SECRET="+strings.Repeat("c", 32),
	)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd}
	t.Cleanup(c.kill)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case origin := <-found:
		c.base = origin + "/v1"
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not start")
	}
	return c
}

// kill sends SIGKILL and reaps the process.
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
}

func (c *child) request(t *testing.T, method, path string, body io.Reader, ct string) (int, []byte) {
	t.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = c.base + path
	}
	req, err := http.NewRequest(method, target, body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+crashKey)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// waitReady polls a file's status until it leaves processing.
func waitReady(t *testing.T, c *child, id string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, b := c.request(t, "GET", "/files/"+id+"/status", nil, "")
		require.Equal(t, 200, s, "%s", b)
		if !strings.Contains(string(b), `"processing"`) || time.Now().After(deadline) {
			require.Contains(t, string(b), `"ready"`, "file %s", id)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ticket is the part of a presign answer the crash tests use.
type ticket struct {
	ID        string            `json:"id"`
	UploadURL string            `json:"uploadUrl"`
	Headers   map[string]string `json:"headers"`
}

// presign asks for an upload URL for a PDF of size bytes.
func (c *child) presign(t *testing.T, size int) ticket {
	t.Helper()
	req, _ := json.Marshal(map[string]any{"fileName": "a.pdf", "mimeType": "application/pdf", "fileSize": size})
	s, b := c.request(t, "POST", "/files/upload-url", bytes.NewReader(req), "application/json")
	require.Equal(t, 201, s, "%s", b)
	var tk ticket
	require.NoError(t, json.Unmarshal(b, &tk))
	return tk
}

type acked struct {
	id, digest string
	body       []byte
}

func crashBody(i int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	for b.Len() < 40_000+i*997 {
		fmt.Fprintf(&b, "%% line %d of file %d\n", b.Len(), i)
	}
	b.WriteString("%%EOF\n")
	return b.Bytes()
}

// TestCrashAfterAcknowledgement kills the server right after each
// acknowledged write (a confirm, a multipart upload, a new version), then
// restarts it: every acknowledged file is there with its digest and bytes.
func TestCrashAfterAcknowledgement(t *testing.T) {
	bin := buildServer(t)
	dir := t.TempDir()
	var files []acked
	for i := 0; i < 12; i++ {
		c := startChild(t, bin, dir)
		body := crashBody(i)
		var f struct{ ID, Digest string }
		switch i % 3 {
		case 0: // presign, PUT, confirm
			tk := c.presign(t, len(body))
			s, b := c.request(t, "PUT", tk.UploadURL, bytes.NewReader(body), tk.Headers["Content-Type"])
			require.Less(t, s, 300, "%s", b)
			s, b = c.request(t, "POST", "/files/"+tk.ID+"/confirm", nil, "")
			require.Equal(t, 200, s, "%s", b)
			require.NoError(t, json.Unmarshal(b, &f))
		case 1: // multipart
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			fw, _ := mw.CreateFormFile("file", "b.pdf")
			fw.Write(body)
			mw.Close()
			s, b := c.request(t, "POST", "/files", &buf, mw.FormDataContentType())
			require.Equal(t, 201, s, "%s", b)
			require.NoError(t, json.Unmarshal(b, &f))
		case 2: // a new version of the previous file
			prev := &files[len(files)-1]
			s, b := c.request(t, "PUT", "/files/"+prev.id+"/content", bytes.NewReader(body), "application/pdf")
			require.Equal(t, 201, s, "%s", b)
			require.NoError(t, json.Unmarshal(b, &f))
			prev.digest, prev.body = f.Digest, body
			c.kill() // at once, after the acknowledgement
			continue
		}
		c.kill() // at once, after the acknowledgement
		files = append(files, acked{id: f.ID, digest: f.Digest, body: body})
	}

	c := startChild(t, bin, dir)
	for _, a := range files {
		// With ATTACH_CLAMD_ADDR set the server scans uploads: a file
		// acknowledged as processing must still become ready, from the
		// job its confirm recorded, in the restarted process.
		waitReady(t, c, a.id)
		s, b := c.request(t, "GET", "/files/"+a.id, nil, "")
		require.Equal(t, 200, s, "acknowledged file %s: %s", a.id, b)
		var f struct{ Digest, Status string }
		require.NoError(t, json.Unmarshal(b, &f))
		assert.Equal(t, "ready", f.Status)
		sum := sha256.Sum256(a.body)
		assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), f.Digest)
		assert.Equal(t, a.digest, f.Digest, "the digest acknowledged")
		s, b = c.request(t, "GET", "/files/"+a.id+"/download", nil, "")
		require.Equal(t, 200, s, "%s", b)
		var u struct{ URL string }
		require.NoError(t, json.Unmarshal(b, &u))
		s, got := c.request(t, "GET", u.URL, nil, "")
		require.Equal(t, 200, s)
		assert.True(t, bytes.Equal(a.body, got), "file %s: bytes after the crash", a.id)
	}
}

// TestCrashDuringUpload kills the server while a PUT is streaming and
// while a multipart upload is streaming. After a restart nothing partial
// is visible: the presigned file still awaits its bytes (and takes them),
// the multipart file does not exist, and no object holds partial bytes.
func TestCrashDuringUpload(t *testing.T) {
	bin := buildServer(t)
	dir := t.TempDir()
	c := startChild(t, bin, dir)
	body := crashBody(99)

	tk := c.presign(t, len(body))

	// Half the body, then the process dies mid-request.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		put, _ := http.NewRequest("PUT", tk.UploadURL, pr)
		put.ContentLength = int64(len(body))
		put.Header.Set("Content-Type", "application/pdf")
		resp, err := http.DefaultClient.Do(put)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("the PUT finished: %s", resp.Status)
		}
		done <- err
	}()
	// And a multipart upload, streaming at the same time.
	mr, mw := io.Pipe()
	form := multipart.NewWriter(mw)
	mdone := make(chan error, 1)
	go func() {
		post, _ := http.NewRequest("POST", c.base+"/files", mr)
		post.Header.Set("Authorization", "Bearer "+crashKey)
		post.Header.Set("Content-Type", form.FormDataContentType())
		resp, err := http.DefaultClient.Do(post)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("the POST finished: %s", resp.Status)
		}
		mdone <- err
	}()
	fw, err := form.CreateFormFile("file", "m.pdf")
	require.NoError(t, err)
	_, err = fw.Write(body[:len(body)/2])
	require.NoError(t, err)

	_, err = pw.Write(body[:len(body)/2])
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond) // let the server write what it has
	c.kill()
	pw.Close()
	mw.Close()
	require.Error(t, <-done, "the PUT cannot have succeeded")
	require.Error(t, <-mdone, "the POST cannot have succeeded")

	c = startChild(t, bin, dir)
	s, b := c.request(t, "GET", "/files", nil, "")
	require.Equal(t, 200, s, "%s", b)
	assert.Contains(t, string(b), `"items":[]`, "no file was made of a killed upload")
	s, b = c.request(t, "GET", "/files/"+tk.ID+"/status", nil, "")
	require.Equal(t, 200, s, "%s", b)
	assert.Contains(t, string(b), `"pending"`, "the file still awaits its bytes")
	s, b = c.request(t, "POST", "/files/"+tk.ID+"/confirm", nil, "")
	assert.Equal(t, 409, s, "nothing partial can be confirmed: %s", b)
	assert.Contains(t, string(b), "upload_incomplete")

	// The ticket still takes the whole body (on the new process's port:
	// the signature covers the path and query, not the origin).
	u, err := url.Parse(tk.UploadURL)
	require.NoError(t, err)
	s, b = c.request(t, "PUT", strings.TrimSuffix(c.base, "/v1")+u.RequestURI(), bytes.NewReader(body), "application/pdf")
	require.Less(t, s, 300, "%s", b)
	s, b = c.request(t, "POST", "/files/"+tk.ID+"/confirm", nil, "")
	require.Equal(t, 200, s, "%s", b)
	sum := sha256.Sum256(body)
	assert.Contains(t, string(b), hex.EncodeToString(sum[:]))

	// Every object on disk is whole: the only objects are the one file's.
	var objects []string
	require.NoError(t, filepath.WalkDir(filepath.Join(dir, "files"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".attrs") && !strings.HasSuffix(p, ".tmp") {
			objects = append(objects, p)
		}
		return err
	}))
	require.Len(t, objects, 1, "objects: %v", objects)
	got, err := os.ReadFile(objects[0])
	require.NoError(t, err)
	assert.True(t, bytes.Equal(body, got))

	// The killed write's temporary file, if it left one, goes with the
	// janitor's sweep of local disk.
	c.kill()
	tmp := tempFiles(t, filepath.Join(dir, "files"))
	t.Logf("temporary files left by the killed write: %d", len(tmp))
	r := sweepAfterCrash(t, dir)
	t.Logf("janitor: %+v", *r)
	assert.Empty(t, tempFiles(t, filepath.Join(dir, "files")), "no temporary file survives the janitor")
	assert.Equal(t, len(tmp), r.TempFiles)
	assert.Equal(t, 1, r.ExpiredTickets, "the killed multipart upload's ticket and pending file")
	c = startChild(t, bin, dir)
	s, b = c.request(t, "GET", "/files/"+tk.ID, nil, "")
	assert.Equal(t, 200, s, "the confirmed file outlives the janitor: %s", b)
}

func tempFiles(t *testing.T, root string) []string {
	var tmp []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".tmp") {
			tmp = append(tmp, p)
		}
		return err
	}))
	return tmp
}

// sweepAfterCrash runs the janitor over the (stopped) server's data
// directory, two days later: past every ticket's expiry and the orphan
// grace period.
func sweepAfterCrash(t *testing.T, dataDir string) *attach.SweepReport {
	ctx := context.Background()
	svc, err := attach.Open(ctx, "file://"+filepath.Join(dataDir, "files"), "sqlite://"+filepath.Join(dataDir, "attach.db"), &attach.Options{
		SigningKeys: []attach.SigningKey{{ID: "k1", Secret: []byte(strings.Repeat("c", 32))}},
		BaseURL:     "http://127.0.0.1/v1/blob",
		Now:         func() time.Time { return time.Now().Add(48 * time.Hour) },
	})
	require.NoError(t, err)
	defer svc.Close()
	r, err := svc.Sweep(ctx)
	require.NoError(t, err)
	return r
}
