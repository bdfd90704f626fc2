package attach_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/attach"
)

// origin is a real HTTP server on loopback that counts the connections it
// accepts, to prove which destinations an import never reached.
type origin struct {
	*httptest.Server
	conns atomic.Int64
}

func newOrigin(t *testing.T, network string, h http.Handler) *origin {
	t.Helper()
	o := &origin{Server: httptest.NewUnstartedServer(h)}
	if network == "tcp6" {
		l, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		o.Listener.Close()
		o.Listener = l
	}
	o.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			o.conns.Add(1)
		}
	}
	o.Start()
	t.Cleanup(o.Close)
	return o
}

func (o *origin) addr() netip.AddrPort { return netip.MustParseAddrPort(o.Listener.Addr().String()) }
func (o *origin) port() int            { return int(o.addr().Port()) }

// at is the origin's URL with its host replaced.
func (o *origin) at(host, path string) string {
	return "http://" + net.JoinHostPort(host, strconv.Itoa(o.port())) + path
}

// fakeDNS answers chosen names with chosen addresses: a public name
// resolving to a private address is the fault a real resolver cannot be
// made to produce on cue. Other names go to the system resolver.
type fakeDNS map[string][]netip.Addr

func (f fakeDNS) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

// importAndWait imports u with a fresh Importer and waits for the import
// to settle; it returns the accepted file and its final status.
func importAndWait(t *testing.T, e *env, opts *attach.ImportOptions, req attach.ImportRequest) (*attach.File, *attach.StatusInfo) {
	t.Helper()
	imp, err := attach.NewImporter(e.svc, opts)
	require.NoError(t, err)
	f, err := imp.Import(t.Context(), wsA, req)
	require.NoError(t, err)
	assert.Equal(t, attach.StatusProcessing, f.Status)
	assert.Equal(t, attach.SourceImport, f.Source)
	require.NoError(t, imp.Shutdown(t.Context()))
	st, err := e.svc.Status(t.Context(), wsA, f.ID)
	require.NoError(t, err)
	return f, st
}

func serveBytes(contentType string, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	})
}

func TestImport(t *testing.T) {
	e := newEnv(t, nil)
	png := pngBytes(t, 21, 13)
	o := newOrigin(t, "tcp4", serveBytes("image/png", png))
	allow := &attach.ImportOptions{AllowPorts: []int{o.port()}, AllowAddr: func(ap netip.AddrPort) bool { return ap == o.addr() }}

	f, st := importAndWait(t, e, allow, attach.ImportRequest{URL: o.URL + "/photos/cat.png?size=big", Tags: []string{"imported"}})
	require.Equal(t, attach.StatusReady, st.Status, "%+v", st.Error)
	assert.Equal(t, "cat.png", f.FileName, "named after the URL's path")

	got, err := e.svc.File(t.Context(), wsA, f.ID)
	require.NoError(t, err)
	assert.Equal(t, attach.SourceImport, got.Source)
	assert.Equal(t, "image/png", got.MIMEType)
	assert.Equal(t, int64(len(png)), got.Size)
	require.NotNil(t, got.Width)
	assert.Equal(t, 21, *got.Width)
	assert.Equal(t, 13, *got.Height)
	assert.Equal(t, []string{"imported"}, got.Tags)
	assert.Equal(t, 1, got.Version)

	vs, err := e.store.Versions(t.Context(), wsA.Workspace, f.ID)
	require.NoError(t, err)
	require.Len(t, vs, 1)
	assert.Equal(t, "import", vs[0].Source)
}

// TestImportRefusedURLs: URLs refused outright, before any file is
// recorded or any connection made.
func TestImportRefusedURLs(t *testing.T) {
	e := newEnv(t, nil)
	o := newOrigin(t, "tcp4", serveBytes("image/png", pngBytes(t, 2, 2)))
	imp, err := attach.NewImporter(e.svc, &attach.ImportOptions{AllowPorts: []int{o.port()}})
	require.NoError(t, err)
	defer imp.Close()
	tests := []struct{ name, url string }{
		{"empty", ""},
		{"relative", "/a.png"},
		{"no host", "http:///a.png"},
		{"ftp", "ftp://example.com/a.png"},
		{"file", "file:///etc/passwd"},
		{"gopher", "gopher://example.com/"},
		{"userinfo", "http://user:pass@example.com/a.png"},
		{"user only", "https://user@example.com/a.png"},
		{"port not allowed", "http://example.com:8080/a.png"},
		{"port zero", "http://example.com:0/a.png"},
		{"https on 80", "https://example.com:80/a.png"},
		{"loopback at the origin's port", o.at("127.0.0.1", "/a.png")},
		{"loopback", "http://127.0.0.1/"},
		{"loopback elsewhere in 127/8", "http://127.9.9.9/"},
		{"IPv6 loopback", "http://[::1]/"},
		{"IPv6 loopback at the origin's port", o.at("::1", "/a.png")},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data/"},
		{"link-local", "http://169.254.1.1/"},
		{"private 10/8", "http://10.0.0.1/"},
		{"private 172.16/12", "http://172.16.5.4/"},
		{"private 192.168/16", "http://192.168.1.1/"},
		{"CGNAT", "http://100.64.0.1/"},
		{"unspecified", "http://0.0.0.0/"},
		{"this network", "http://0.1.2.3/"},
		{"broadcast", "http://255.255.255.255/"},
		{"multicast", "http://224.0.0.1/"},
		{"documentation", "http://192.0.2.1/"},
		{"ULA", "http://[fc00::1]/"},
		{"ULA fd", "http://[fd12:3456::1]/"},
		{"IPv6 link-local", "http://[fe80::1]/"},
		{"IPv6 link-local with zone", "http://[fe80::1%25eth0]/"},
		{"IPv6 unspecified", "http://[::]/"},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/"},
		{"IPv4-mapped metadata", "http://[::ffff:169.254.169.254]/"},
		{"IPv4-mapped private", "http://[::ffff:10.1.2.3]/"},
		{"NAT64 of loopback", "http://[64:ff9b::7f00:1]/"},
		{"too long", "http://example.com/" + strings.Repeat("a", 5000)},
		{"bad file name from request", "http://example.com/a.png#x"}, // with FileName below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := attach.ImportRequest{URL: tt.url}
			if strings.HasPrefix(tt.name, "bad file name") {
				req.FileName = "a\nb.png"
			}
			f, err := imp.Import(t.Context(), wsA, req)
			assert.Nil(t, f)
			assert.Equal(t, attach.CodeInvalidRequest, attach.CodeOf(err), "%v", err)
		})
	}
	require.NoError(t, imp.Shutdown(t.Context()))
	assert.Zero(t, o.conns.Load(), "no connection reached the loopback origin")
	assert.Empty(t, e.objects(t))
}

// TestImportRefusedAtConnect: names are checked by what they resolve to,
// at connect time. The loopback origin that a public-looking name resolves
// to sees no connection at all.
func TestImportRefusedAtConnect(t *testing.T) {
	e := newEnv(t, nil)
	o4 := newOrigin(t, "tcp4", serveBytes("image/png", pngBytes(t, 2, 2)))
	dns := fakeDNS{
		"files.example.com":   {netip.MustParseAddr("127.0.0.1")},
		"mapped.example.com":  {netip.MustParseAddr("::ffff:127.0.0.1")},
		"meta.example.com":    {netip.MustParseAddr("169.254.169.254")},
		"private.example.com": {netip.MustParseAddr("10.20.30.40"), netip.MustParseAddr("192.168.0.1")},
		"cgnat.example.com":   {netip.MustParseAddr("100.100.100.100")},
		"ula.example.com":     {netip.MustParseAddr("fd00::1")},
	}
	tests := []struct {
		name, url, reason string
	}{
		{name: "public name to loopback", url: o4.at("files.example.com", "/a.png"), reason: "loopback"},
		{name: "public name to IPv4-mapped loopback", url: o4.at("mapped.example.com", "/a.png"), reason: "loopback"},
		{name: "localhost", url: o4.at("localhost", "/a.png"), reason: "loopback"},
		{name: "public name to cloud metadata", url: "http://meta.example.com/latest/meta-data/", reason: "link-local"},
		{name: "public name to private addresses", url: "http://private.example.com/a.png", reason: "private"},
		{name: "public name to CGNAT", url: "http://cgnat.example.com/a.png", reason: "CGNAT"},
		{name: "public name to ULA", url: "http://ula.example.com/a.png", reason: "private"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, st := importAndWait(t, e, &attach.ImportOptions{AllowPorts: []int{o4.port()}, Resolver: dns}, attach.ImportRequest{URL: tt.url})
			require.Equal(t, attach.StatusRejected, st.Status)
			require.NotNil(t, st.Error)
			assert.Equal(t, attach.CodeInvalidRequest, st.Error.Code)
			assert.Contains(t, st.Error.Message, tt.reason)
			assert.NotContains(t, st.Error.Message, "127.0.0.1", "resolved addresses are not disclosed")
		})
	}
	assert.Zero(t, o4.conns.Load(), "no connection reached the loopback origin")
	assert.Empty(t, e.objects(t))

	t.Run("IPv6 loopback origin", func(t *testing.T) {
		o6 := newOrigin(t, "tcp6", serveBytes("image/png", pngBytes(t, 2, 2)))
		dns := fakeDNS{"v6.example.com": {netip.MustParseAddr("::1")}}
		_, st := importAndWait(t, e, &attach.ImportOptions{AllowPorts: []int{o6.port()}, Resolver: dns},
			attach.ImportRequest{URL: o6.at("v6.example.com", "/a.png")})
		assert.Equal(t, attach.StatusRejected, st.Status)
		assert.Zero(t, o6.conns.Load())
	})
}

// TestImportRedirects: every redirect is checked again, by URL and at
// connect time, and there are at most five.
func TestImportRedirects(t *testing.T) {
	e := newEnv(t, nil)
	png := pngBytes(t, 4, 4)
	target := newOrigin(t, "tcp4", serveBytes("image/png", png))
	var front *origin
	front = newOrigin(t, "tcp4", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/final.png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(png)
		case strings.HasPrefix(r.URL.Path, "/hops/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hops/"))
			next := "/final.png"
			if n > 1 {
				next = fmt.Sprintf("/hops/%d", n-1)
			}
			http.Redirect(w, r, next, http.StatusFound)
		default:
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		}
	}))
	dns := fakeDNS{"files.example.com": {netip.MustParseAddr("127.0.0.1")}}
	opts := &attach.ImportOptions{
		AllowPorts: []int{front.port(), target.port()},
		AllowAddr:  func(ap netip.AddrPort) bool { return ap == front.addr() }, // the front only
		Resolver:   dns,
	}
	via := func(to string) string { return front.URL + "/r?to=" + to }
	tests := []struct {
		name   string
		url    string
		status attach.Status
		reason string
	}{
		{name: "five redirects", url: front.URL + "/hops/5", status: attach.StatusReady},
		{name: "six redirects", url: front.URL + "/hops/6", status: attach.StatusRejected, reason: "more than 5"},
		{name: "to a loopback literal", url: via(target.at("127.0.0.1", "/a.png")), status: attach.StatusRejected, reason: "loopback"},
		{name: "to an IPv6 loopback literal", url: via(target.at("::1", "/a.png")), status: attach.StatusRejected, reason: "loopback"},
		{name: "to cloud metadata", url: via("http://169.254.169.254/latest/meta-data/"), status: attach.StatusRejected, reason: "link-local"},
		{name: "to a name resolving to loopback", url: via(target.at("files.example.com", "/a.png")), status: attach.StatusRejected, reason: "loopback"},
		{name: "to localhost", url: via(target.at("localhost", "/a.png")), status: attach.StatusRejected, reason: "loopback"},
		{name: "to ftp", url: via("ftp://example.com/a.png"), status: attach.StatusRejected, reason: "http or https"},
		{name: "to userinfo", url: via("http://u:p@example.com/a.png"), status: attach.StatusRejected, reason: "credentials"},
		{name: "to a port not allowed", url: via("http://example.com:8081/a.png"), status: attach.StatusRejected, reason: "default port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, st := importAndWait(t, e, opts, attach.ImportRequest{URL: tt.url, FileName: "a.png"})
			require.Equal(t, tt.status, st.Status, "%+v", st.Error)
			if tt.reason != "" {
				require.NotNil(t, st.Error)
				assert.Equal(t, attach.CodeInvalidRequest, st.Error.Code)
				assert.Contains(t, st.Error.Message, tt.reason)
			}
		})
	}
	assert.Zero(t, target.conns.Load(), "no redirect reached the loopback target")
}

// TestImportBounds: size cap, remote errors, type checks, time limit.
// Failed imports store nothing and say why.
func TestImportBounds(t *testing.T) {
	const limit = 64 << 10
	big := pdfBytes(limit + 1)
	o := newOrigin(t, "tcp4", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/declared-large.pdf": // Content-Length over the cap: refused before reading
			w.Header().Set("Content-Length", strconv.Itoa(10<<20))
			_, _ = w.Write(big)
		case "/streamed-large.pdf": // no length; the body never ends
			w.Header().Set("Content-Type", "application/pdf")
			for i := 0; i < 10000 && r.Context().Err() == nil; i++ {
				if _, err := w.Write(big[:8<<10]); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		case "/empty.pdf":
			w.WriteHeader(http.StatusOK)
		case "/at-limit.pdf":
			_, _ = w.Write(pdfBytes(limit))
		case "/page.html":
			_, _ = w.Write(htmlBytes)
		case "/slow.pdf":
			w.Header().Set("Content-Type", "application/pdf")
			_, _ = w.Write(big[:100])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	tests := []struct {
		name    string
		path    string
		timeout bool
		code    attach.Code // "": ready
		message string
	}{
		{name: "at the limit", path: "/at-limit.pdf"},
		{name: "declared length over the limit", path: "/declared-large.pdf", code: attach.CodeFileTooLarge},
		{name: "streamed body over the limit", path: "/streamed-large.pdf", code: attach.CodeFileTooLarge},
		{name: "empty body", path: "/empty.pdf", code: attach.CodeInvalidRequest, message: "empty"},
		{name: "not found", path: "/missing.pdf", code: attach.CodeInvalidRequest, message: "404"},
		{name: "type not allowed", path: "/page.html", code: attach.CodeInvalidFileType},
		{name: "too slow", path: "/slow.pdf", timeout: true, code: attach.CodeInvalidRequest, message: "did not finish"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			opts := &attach.ImportOptions{MaxSize: limit, AllowPorts: []int{o.port()},
				AllowAddr: func(ap netip.AddrPort) bool { return ap == o.addr() }}
			if tt.timeout {
				opts.Timeout = 100e6 // 100ms: what is asserted is the outcome, not the time
			}
			_, st := importAndWait(t, e, opts, attach.ImportRequest{URL: o.URL + tt.path})
			if tt.code == "" {
				assert.Equal(t, attach.StatusReady, st.Status, "%+v", st.Error)
				return
			}
			want := attach.StatusRejected
			if tt.timeout { // a fault, not a verdict on the content
				want = attach.StatusFailed
			}
			require.Equal(t, want, st.Status)
			require.NotNil(t, st.Error)
			assert.Equal(t, tt.code, st.Error.Code, st.Error.Message)
			assert.Contains(t, st.Error.Message, tt.message)
			assert.Empty(t, e.objects(t), "nothing stored")
		})
	}
}

// TestImporterLifecycle: bounded admission, and Close cancels imports
// under way without leaving files in processing.
func TestImporterLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	release := make(chan struct{})
	o := newOrigin(t, "tcp4", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer close(release)
	imp, err := attach.NewImporter(e.svc, &attach.ImportOptions{Concurrency: 1, Queue: 1, AllowPorts: []int{o.port()},
		AllowAddr: func(ap netip.AddrPort) bool { return ap == o.addr() }})
	require.NoError(t, err)
	req := attach.ImportRequest{URL: o.URL + "/a.pdf"}
	a, err := imp.Import(t.Context(), wsA, req)
	require.NoError(t, err)
	b, err := imp.Import(t.Context(), wsA, req)
	require.NoError(t, err)
	_, err = imp.Import(t.Context(), wsA, req)
	assert.Equal(t, attach.CodeRateLimited, attach.CodeOf(err), "%v", err)

	require.NoError(t, imp.Close())
	for _, id := range []string{a.ID, b.ID} {
		st, err := e.svc.Status(t.Context(), wsA, id)
		require.NoError(t, err)
		assert.Equal(t, attach.StatusFailed, st.Status, "interrupted, not refused")
		require.NotNil(t, st.Error)
		assert.Contains(t, st.Error.Message, "shutdown")
	}
	_, err = imp.Import(t.Context(), wsA, req)
	assert.Equal(t, attach.CodeRateLimited, attach.CodeOf(err), "a closed importer accepts nothing")
	assert.Empty(t, e.objects(t))
}

func TestNewImporterOptions(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name string
		opts *attach.ImportOptions
		ok   bool
	}{
		{name: "nil", opts: nil, ok: true},
		{name: "zero", opts: &attach.ImportOptions{}, ok: true},
		{name: "port out of range", opts: &attach.ImportOptions{AllowPorts: []int{70000}}},
		{name: "negative size", opts: &attach.ImportOptions{MaxSize: -1}},
		{name: "negative concurrency", opts: &attach.ImportOptions{Concurrency: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imp, err := attach.NewImporter(e.svc, tt.opts)
			if !tt.ok {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.NoError(t, imp.Close())
		})
	}
	_, err := attach.NewImporter(nil, nil)
	assert.Error(t, err)
}

func TestPutSource(t *testing.T) {
	e := newEnv(t, nil)
	png := pngBytes(t, 2, 2)
	tests := []struct {
		name string
		src  attach.Source
		want attach.Source
		code attach.Code
	}{
		{name: "default", want: attach.SourceUpload},
		{name: "import", src: attach.SourceImport, want: attach.SourceImport},
		{name: "generated", src: attach.SourceGenerated, want: attach.SourceGenerated},
		{name: "unknown", src: "scraped", code: attach.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := e.svc.Put(t.Context(), wsA, attach.PutRequest{FileName: "a.png", Size: -1, Source: tt.src}, strings.NewReader(string(png)))
			if tt.code != "" {
				assert.Equal(t, tt.code, attach.CodeOf(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.Source)
		})
	}
}
