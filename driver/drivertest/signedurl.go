package drivertest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
)

// SignedURLHarness adapts one kind of upload URL to RunSignedURLTests:
// library-signed URLs served by httpadapter, or a storage's native presigned
// URLs (S3, GCS, Azure).
type SignedURLHarness struct {
	// NewUpload issues a PUT URL for one new object of exactly size bytes of
	// contentType. With expired true it returns a URL that is already past
	// its expiry. Every call must return a URL for a new object. Required.
	NewUpload func(t *testing.T, contentType string, size int64, expired bool) SignedUpload

	// SignatureParam names the query parameter that carries the signature
	// ("sig", "X-Amz-Signature", "X-Goog-Signature", ...). Required.
	SignatureParam string

	// Client sends the requests. Default http.DefaultClient.
	Client *http.Client

	// ContentType is the type uploads are issued for. Default "image/png".
	ContentType string

	// CheckRefusal, if set, is called for every refused request with the
	// case name (e.g. "LongerBody", "TamperParam/exp") and the response
	// with its body already read, for backend-specific assertions such as
	// the exact status and error body. Responses to HEAD have no body.
	CheckRefusal func(t *testing.T, caseName string, resp *http.Response, body []byte)

	// CreateOnly says a URL accepts one body: once a PUT has stored the
	// object, further PUTs are refused (409, or 412 from a service that
	// enforces a signed If-None-Match: *) and the stored bytes stay as they
	// are. Presigned URLs that overwrite leave it false.
	CreateOnly bool

	// Skip maps a case name, or a case name and subcase ("TamperParam/exp"),
	// to the reason a backend cannot enforce it (for instance a service
	// that ignores unknown query parameters). Unknown names fail the suite.
	Skip map[string]string
}

// SignedUpload is one issued upload URL.
type SignedUpload struct {
	// URL is the absolute URL to PUT the bytes to.
	URL string
	// Headers are the headers the client must send with the PUT.
	Headers map[string]string
	// Stored returns what storage holds for the upload's object now, or an
	// error matching driver.ErrNotFound when it holds nothing.
	Stored func(t *testing.T) ([]byte, error)
}

// signedURLSize is the size of every upload the suite issues: more than a
// few network packets, less than the socket buffers, so a server that
// refuses a body before reading it still gets its answer to the client.
const signedURLSize = 32<<10 + 7

// Case names of RunSignedURLTests, for SignedURLHarness.Skip and
// CheckRefusal. Cases marked with a slash run once per query parameter or
// method, named "<case>/<param or method>".
var signedURLCases = []string{
	"CorrectPut", "ConcurrentPuts",
	"LongerBody", "LongerBodyUnknownLength", "ShorterBody", "ShorterBodyUnknownLength",
	"WrongContentType", "MissingContentType",
	"Method/", "TamperParam/", "RemoveParam/", "DuplicateParam/", "ExtraParam",
	"TruncatedSignature", "SignatureLastChar", "SignatureOfOtherURL",
	"PathChanged", "PathOfOtherUpload", "Expired",
}

// RunSignedURLTests checks that URLs issued for uploads accept exactly the
// upload they were issued for and nothing else. Every case starts from a
// fresh upload; a refused request must get a 4xx answer and leave nothing
// in storage, and where the refusal did not consume the ticket the same
// URL must still accept the correct body afterwards:
//
//   - CorrectPut: the right body with the right headers is stored as sent.
//   - ConcurrentPuts: correct and oversized PUTs racing on one URL store
//     exactly the correct body.
//   - LongerBody, ShorterBody (with a Content-Length) and their
//     UnknownLength variants (chunked): a body of another size.
//   - WrongContentType, MissingContentType.
//   - Method/GET, HEAD, DELETE, POST: the PUT URL grants nothing else, before
//     or after the upload (GET must not return the bytes, DELETE and POST
//     must not change them).
//   - TamperParam/<p>: one character of parameter p's value changed, for
//     every parameter; RemoveParam/<p>: p removed; DuplicateParam/<p>: p
//     repeated with a changed value; ExtraParam: an unknown parameter added.
//   - TruncatedSignature, SignatureLastChar (the last character of the
//     signature changed, which must matter even for base64 encodings with
//     spare bits), SignatureOfOtherURL (another upload's signature).
//   - PathChanged (one character of the key changed), PathOfOtherUpload
//     (one upload's query on another's path: neither object is written).
//   - Expired: a URL past its expiry refuses even the correct body.
func RunSignedURLTests(t *testing.T, h SignedURLHarness) {
	t.Helper()
	require.NotNil(t, h.NewUpload, "SignedURLHarness.NewUpload is required")
	require.NotEmpty(t, h.SignatureParam, "SignedURLHarness.SignatureParam is required")
	for name := range h.Skip {
		base, _, _ := strings.Cut(name, "/")
		if !slices.Contains(signedURLCases, base) && !slices.Contains(signedURLCases, base+"/") {
			t.Errorf("SignedURLHarness.Skip names unknown case %q", name)
		}
	}
	s := &signedSuite{h: h, client: h.Client, ct: h.ContentType}
	if s.client == nil {
		s.client = http.DefaultClient
	}
	if s.ct == "" {
		s.ct = "image/png"
	}

	// One probe upload tells which parameters the URLs carry.
	probe := s.issue(t, false)
	pu, err := url.Parse(probe.URL)
	require.NoError(t, err)
	var params []string
	for _, p := range rawParams(pu.RawQuery) {
		if !slices.Contains(params, p.name) {
			params = append(params, p.name)
		}
	}
	require.Contains(t, params, h.SignatureParam, "the signature parameter must be in the URL's query")

	s.run(t, "CorrectPut", s.testCorrectPut)
	s.run(t, "ConcurrentPuts", s.testConcurrentPuts)
	s.run(t, "LongerBody", func(t *testing.T, name string) { s.testSize(t, name, +1, true) })
	s.run(t, "LongerBodyUnknownLength", func(t *testing.T, name string) { s.testSize(t, name, +1, false) })
	s.run(t, "ShorterBody", func(t *testing.T, name string) { s.testSize(t, name, -1, true) })
	s.run(t, "ShorterBodyUnknownLength", func(t *testing.T, name string) { s.testSize(t, name, -1, false) })
	s.run(t, "WrongContentType", func(t *testing.T, name string) { s.testContentType(t, name, "application/octet-stream") })
	s.run(t, "MissingContentType", func(t *testing.T, name string) { s.testContentType(t, name, "") })
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodPost} {
		s.run(t, "Method/"+m, func(t *testing.T, name string) { s.testMethod(t, name, m) })
	}
	for _, p := range params {
		s.run(t, "TamperParam/"+p, func(t *testing.T, name string) {
			s.testRewrite(t, name, func(u *url.URL) { setParam(u, p, tamper(getParam(u, p))) })
		})
	}
	for _, p := range params {
		s.run(t, "RemoveParam/"+p, func(t *testing.T, name string) {
			s.testRewrite(t, name, func(u *url.URL) { removeParam(u, p) })
		})
	}
	for _, p := range params {
		s.run(t, "DuplicateParam/"+p, func(t *testing.T, name string) {
			s.testRewrite(t, name, func(u *url.URL) { addParam(u, p, tamper(getParam(u, p))) })
		})
	}
	s.run(t, "ExtraParam", func(t *testing.T, name string) {
		s.testRewrite(t, name, func(u *url.URL) { addParam(u, "extra", "1") })
	})
	sig := h.SignatureParam
	s.run(t, "TruncatedSignature", func(t *testing.T, name string) {
		s.testRewrite(t, name, func(u *url.URL) {
			v := getParam(u, sig)
			setParam(u, sig, v[:len(v)-1])
		})
	})
	s.run(t, "SignatureLastChar", func(t *testing.T, name string) {
		s.testRewrite(t, name, func(u *url.URL) {
			v := getParam(u, sig)
			setParam(u, sig, v[:len(v)-1]+string(flipLowBit(v[len(v)-1])))
		})
	})
	s.run(t, "SignatureOfOtherURL", s.testOtherSignature)
	s.run(t, "PathChanged", func(t *testing.T, name string) {
		s.testRewrite(t, name, func(u *url.URL) {
			i := strings.LastIndexByte(u.Path, '/') + 1
			u.Path = u.Path[:i] + tamper(u.Path[i:])
			u.RawPath = ""
		})
	})
	s.run(t, "PathOfOtherUpload", s.testOtherPath)
	s.run(t, "Expired", s.testExpired)
}

type signedSuite struct {
	h      SignedURLHarness
	client *http.Client
	ct     string
}

func (s *signedSuite) run(t *testing.T, name string, fn func(t *testing.T, name string)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		if reason, ok := s.h.Skip[name]; ok {
			t.Skip(reason)
		}
		if base, _, found := strings.Cut(name, "/"); found {
			if reason, ok := s.h.Skip[base]; ok {
				t.Skip(reason)
			}
		}
		fn(t, name)
	})
}

func (s *signedSuite) issue(t *testing.T, expired bool) SignedUpload {
	t.Helper()
	up := s.h.NewUpload(t, s.ct, signedURLSize, expired)
	require.NotEmpty(t, up.URL, "NewUpload returned no URL")
	require.NotNil(t, up.Stored, "NewUpload returned no Stored func")
	return up
}

// newBody returns n random bytes, so that every upload's content differs.
func newBody(t *testing.T, n int64) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

type sentRequest struct {
	method, url string
	headers     map[string]string
	body        []byte
	// knownLength sends a Content-Length; otherwise the body is chunked.
	knownLength bool
}

// send performs req and returns the response with its body read.
func (s *signedSuite) send(t *testing.T, req sentRequest) (*http.Response, []byte) {
	t.Helper()
	resp, b, err := s.do(t, req)
	require.NoError(t, err, "%s %s", req.method, req.url)
	return resp, b
}

// do is send for any goroutine: it reports failures as an error.
func (s *signedSuite) do(t *testing.T, req sentRequest) (*http.Response, []byte, error) {
	var body io.Reader
	if req.body != nil {
		if req.knownLength {
			body = bytes.NewReader(req.body)
		} else {
			body = struct{ io.Reader }{bytes.NewReader(req.body)} // hides the length
		}
	}
	r, err := http.NewRequestWithContext(t.Context(), req.method, req.url, body)
	if err != nil {
		return nil, nil, err
	}
	if body != nil && !req.knownLength {
		r.ContentLength = -1
	}
	for k, v := range req.headers {
		r.Header.Set(k, v)
	}
	resp, err := s.client.Do(r)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// put sends body to up's URL with up's headers.
func (s *signedSuite) put(t *testing.T, rawURL string, up SignedUpload, body []byte) (*http.Response, []byte) {
	t.Helper()
	return s.send(t, sentRequest{method: http.MethodPut, url: rawURL, headers: up.Headers, body: body, knownLength: true})
}

// refused asserts a 4xx answer and runs the harness's own checks.
func (s *signedSuite) refused(t *testing.T, name string, resp *http.Response, body []byte) {
	t.Helper()
	assert.GreaterOrEqual(t, resp.StatusCode, 400, "%s: want a 4xx refusal, got %d %s", name, resp.StatusCode, snippet(body))
	assert.Less(t, resp.StatusCode, 500, "%s: want a 4xx refusal, got %d %s", name, resp.StatusCode, snippet(body))
	if s.h.CheckRefusal != nil {
		s.h.CheckRefusal(t, name, resp, body)
	}
}

// nothingStored asserts that up's object does not exist.
func nothingStored(t *testing.T, up SignedUpload) {
	t.Helper()
	b, err := up.Stored(t)
	assert.Truef(t, errors.Is(err, driver.ErrNotFound),
		"nothing must be stored: got %d bytes, err %v", len(b), err)
}

// storedEquals asserts that up's object holds exactly want.
func storedEquals(t *testing.T, up SignedUpload, want []byte) {
	t.Helper()
	got, err := up.Stored(t)
	require.NoError(t, err, "the object must be stored")
	assert.Truef(t, bytes.Equal(want, got), "stored %d bytes differ from the %d bytes sent", len(got), len(want))
}

// accepts asserts that the correct body is accepted at up and stored.
func (s *signedSuite) accepts(t *testing.T, up SignedUpload) []byte {
	t.Helper()
	body := newBody(t, signedURLSize)
	resp, rb := s.put(t, up.URL, up, body)
	require.Truef(t, resp.StatusCode >= 200 && resp.StatusCode < 300,
		"the correct PUT must succeed: got %d %s", resp.StatusCode, snippet(rb))
	storedEquals(t, up, body)
	return body
}

func (s *signedSuite) testCorrectPut(t *testing.T, _ string) {
	up := s.issue(t, false)
	nothingStored(t, up)
	body := s.accepts(t, up)
	// Sending bytes again is harmless: a create-only URL refuses with 409
	// and keeps the first body; an overwriting URL stores the same bytes.
	resp, rb := s.put(t, up.URL, up, newBody(t, signedURLSize))
	if s.h.CreateOnly {
		assert.True(t, refusedAgain(resp.StatusCode), "CorrectPut: a second PUT to a create-only URL: %d %s", resp.StatusCode, snippet(rb))
	} else if resp.StatusCode >= 300 {
		s.refused(t, "CorrectPut", resp, rb)
	} else {
		_, _ = s.put(t, up.URL, up, body)
	}
	storedEquals(t, up, body)
}

// refusedAgain reports whether status is a create-only URL's refusal to
// store a second body: 409 Conflict (the library), or 412 Precondition
// Failed (a service enforcing a signed If-None-Match: *).
func refusedAgain(status int) bool {
	return status == http.StatusConflict || status == http.StatusPreconditionFailed
}

func (s *signedSuite) testConcurrentPuts(t *testing.T, name string) {
	up := s.issue(t, false)
	body := newBody(t, signedURLSize)
	long := append(newBody(t, signedURLSize), 'x')
	type result struct {
		long   bool
		status int
		err    error
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results []result
	)
	for i := range 8 {
		wg.Go(func() {
			b := body
			if i%2 == 1 {
				b = long
			}
			resp, _, err := s.do(t, sentRequest{method: http.MethodPut, url: up.URL, headers: up.Headers, body: b, knownLength: true})
			r := result{long: i%2 == 1, err: err}
			if err == nil {
				r.status = resp.StatusCode
			}
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		})
	}
	wg.Wait()
	succeeded := 0
	for _, r := range results {
		if !assert.NoError(t, r.err) {
			continue
		}
		switch {
		case r.long:
			assert.True(t, r.status >= 400 && r.status < 500, "%s: an oversized PUT must be refused, got %d", name, r.status)
		case r.status >= 200 && r.status < 300:
			succeeded++
		case s.h.CreateOnly && refusedAgain(r.status): // another correct PUT stored first
		default:
			t.Errorf("%s: a correct PUT must succeed, got %d", name, r.status)
		}
	}
	if s.h.CreateOnly {
		assert.Equal(t, 1, succeeded, "%s: exactly one PUT to a create-only URL stores its body", name)
	}
	storedEquals(t, up, body)
}

// testSize sends a body one byte longer (delta +1) or shorter (-1) than
// declared, with or without a Content-Length.
func (s *signedSuite) testSize(t *testing.T, name string, delta int64, knownLength bool) {
	up := s.issue(t, false)
	resp, rb := s.send(t, sentRequest{method: http.MethodPut, url: up.URL, headers: up.Headers,
		body: newBody(t, signedURLSize+delta), knownLength: knownLength})
	s.refused(t, name, resp, rb)
	nothingStored(t, up)
	s.accepts(t, up)
}

func (s *signedSuite) testContentType(t *testing.T, name, contentType string) {
	up := s.issue(t, false)
	headers := map[string]string{}
	for k, v := range up.Headers {
		if http.CanonicalHeaderKey(k) != "Content-Type" {
			headers[k] = v
		}
	}
	if contentType != "" {
		headers["Content-Type"] = contentType
	}
	resp, rb := s.send(t, sentRequest{method: http.MethodPut, url: up.URL, headers: headers,
		body: newBody(t, signedURLSize), knownLength: true})
	s.refused(t, name, resp, rb)
	nothingStored(t, up)
	s.accepts(t, up)
}

func (s *signedSuite) testMethod(t *testing.T, name, method string) {
	up := s.issue(t, false)
	attempt := func() {
		t.Helper()
		req := sentRequest{method: method, url: up.URL, headers: up.Headers}
		if method == http.MethodPost {
			req.body, req.knownLength = newBody(t, signedURLSize), true
		}
		resp, rb := s.send(t, req)
		s.refused(t, name, resp, rb)
		if stored, err := up.Stored(t); err == nil && len(stored) > 0 {
			assert.False(t, bytes.Contains(rb, stored[:64]), "%s must not return the uploaded bytes", name)
		}
	}
	attempt()
	nothingStored(t, up)
	body := s.accepts(t, up)
	attempt()
	storedEquals(t, up, body)
}

// testRewrite refuses a correct body sent to a rewritten URL, and then
// accepts it at the original one.
func (s *signedSuite) testRewrite(t *testing.T, name string, rewrite func(u *url.URL)) {
	up := s.issue(t, false)
	u, err := url.Parse(up.URL)
	require.NoError(t, err)
	rewrite(u)
	require.NotEqual(t, up.URL, u.String(), "the rewrite must change the URL")
	resp, rb := s.put(t, u.String(), up, newBody(t, signedURLSize))
	s.refused(t, name, resp, rb)
	nothingStored(t, up)
	s.accepts(t, up)
}

func (s *signedSuite) testOtherSignature(t *testing.T, name string) {
	a, b := s.issue(t, false), s.issue(t, false)
	ua, err := url.Parse(a.URL)
	require.NoError(t, err)
	ub, err := url.Parse(b.URL)
	require.NoError(t, err)
	require.NotEqual(t, getParam(ua, s.h.SignatureParam), getParam(ub, s.h.SignatureParam))
	setParam(ua, s.h.SignatureParam, getParam(ub, s.h.SignatureParam))
	resp, rb := s.put(t, ua.String(), a, newBody(t, signedURLSize))
	s.refused(t, name, resp, rb)
	nothingStored(t, a)
	nothingStored(t, b)
	s.accepts(t, a)
	s.accepts(t, b)
}

func (s *signedSuite) testOtherPath(t *testing.T, name string) {
	a, b := s.issue(t, false), s.issue(t, false)
	ua, err := url.Parse(a.URL)
	require.NoError(t, err)
	ub, err := url.Parse(b.URL)
	require.NoError(t, err)
	require.NotEqual(t, ua.Path, ub.Path, "two uploads must get two objects")
	ub.RawQuery = ua.RawQuery // b's object, a's grant
	resp, rb := s.put(t, ub.String(), a, newBody(t, signedURLSize))
	s.refused(t, name, resp, rb)
	nothingStored(t, a)
	nothingStored(t, b)
	s.accepts(t, a)
	s.accepts(t, b)
}

func (s *signedSuite) testExpired(t *testing.T, name string) {
	up := s.issue(t, true)
	resp, rb := s.put(t, up.URL, up, newBody(t, signedURLSize))
	s.refused(t, name, resp, rb)
	nothingStored(t, up)
}

// rawParam is one name=value pair of a query, kept as sent.
type rawParam struct {
	name     string // decoded
	rawName  string
	rawValue string
	hasEq    bool
}

func rawParams(rawQuery string) []rawParam {
	var ps []rawParam
	for _, part := range strings.Split(rawQuery, "&") {
		if part == "" {
			continue
		}
		rn, rv, eq := strings.Cut(part, "=")
		name, err := url.QueryUnescape(rn)
		if err != nil {
			name = rn
		}
		ps = append(ps, rawParam{name: name, rawName: rn, rawValue: rv, hasEq: eq})
	}
	return ps
}

func encodeParams(ps []rawParam) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.rawName
		if p.hasEq {
			parts[i] += "=" + p.rawValue
		}
	}
	return strings.Join(parts, "&")
}

// getParam returns the decoded value of the first parameter called name.
func getParam(u *url.URL, name string) string {
	for _, p := range rawParams(u.RawQuery) {
		if p.name == name {
			v, err := url.QueryUnescape(p.rawValue)
			if err != nil {
				return p.rawValue
			}
			return v
		}
	}
	return ""
}

// setParam replaces the value of the first parameter called name,
// leaving every other parameter byte for byte as it was.
func setParam(u *url.URL, name, value string) {
	ps := rawParams(u.RawQuery)
	for i := range ps {
		if ps[i].name == name {
			ps[i].rawValue, ps[i].hasEq = url.QueryEscape(value), true
			break
		}
	}
	u.RawQuery = encodeParams(ps)
}

func removeParam(u *url.URL, name string) {
	ps := slices.DeleteFunc(rawParams(u.RawQuery), func(p rawParam) bool { return p.name == name })
	u.RawQuery = encodeParams(ps)
}

func addParam(u *url.URL, name, value string) {
	ps := append(rawParams(u.RawQuery), rawParam{name: name, rawName: url.QueryEscape(name),
		rawValue: url.QueryEscape(value), hasEq: true})
	u.RawQuery = encodeParams(ps)
}

// tamper changes one character in the middle of v, keeping its class
// (digit, lower or upper case letter) so the value stays well-formed; an
// empty value becomes "0".
func tamper(v string) string {
	if v == "" {
		return "0"
	}
	b := []byte(v)
	i := len(b) / 2
	c := b[i]
	switch {
	case '0' <= c && c <= '9':
		b[i] = '0' + (c-'0'+1)%10
	case 'a' <= c && c <= 'z':
		b[i] = 'a' + (c-'a'+1)%26
	case 'A' <= c && c <= 'Z':
		b[i] = 'A' + (c-'A'+1)%26
	case c == 'x':
		b[i] = 'y'
	default:
		b[i] = 'x'
	}
	return string(b)
}

// flipLowBit changes an alphanumeric character to its neighbour that
// differs in the lowest bit of its value in the usual hex and base64
// alphabets ('A' <-> 'B', '0' <-> '1', ...).
func flipLowBit(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return '0' + ((c - '0') ^ 1)
	case 'a' <= c && c <= 'z':
		return 'a' + ((c - 'a') ^ 1)
	case 'A' <= c && c <= 'Z':
		return 'A' + ((c - 'A') ^ 1)
	case c == '-':
		return '_'
	case c == '_':
		return '-'
	}
	return 'A'
}

func snippet(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return fmt.Sprintf("%q", b)
}
