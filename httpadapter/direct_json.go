package httpadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/attachkit/attachkit/attach"
)

// JSON data-URI uploads. The body is read once into memory, in fixed-size
// chunks (a rope: no reallocation, no second copy, whatever the
// Content-Length says), and scanned in place: the data string is located
// but never copied, then decoded as a stream (JSON escapes, then base64)
// straight into Service.Put. Memory is therefore the body itself, at most
// (limit*4/3 + 1 KiB + Options.MaxJSONBody), plus constant buffers.

// maxDataURISize caps the decoded size of a data URI whatever the policy
// allows: a JSON body is held in memory, so larger files belong in a
// multipart upload or a presigned one.
const maxDataURISize = 64 << 20

// ropeChunk is the size of the rope's chunks.
const ropeChunk = 64 << 10

// createDataURI is POST /files with {fileName, data: "data:...", title?,
// collectionId?, tags?}.
func (h *Handler) createDataURI(w http.ResponseWriter, r *http.Request, scope attach.Scope) error {
	limit := h.svc.Policy().Limits().MaxSize
	if limit <= 0 || limit > maxDataURISize {
		limit = maxDataURISize
	}
	bodyCap := (limit+2)/3*4 + 1024 + h.opts.MaxJSONBody
	tooLarge := &attach.Error{Code: attach.CodeFileTooLarge, MaxSize: limit,
		Message: fmt.Sprintf("data is larger than the %d-byte limit of data URIs; send large files as multipart/form-data", limit)}
	if r.ContentLength > bodyCap {
		w.Header().Set("Connection", "close")
		return tooLarge
	}
	doc, err := readRope(http.MaxBytesReader(w, r.Body, bodyCap), ropeChunk)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		w.Header().Set("Connection", "close")
		return tooLarge
	case err != nil:
		return apiError(attach.CodeInvalidRequest, "the request body could not be read")
	}
	up, err := parseDataUpload(doc, h.opts.MaxJSONBody)
	if err != nil {
		return err
	}
	if up.fileName == "" {
		return apiError(attach.CodeInvalidRequest, "fileName is required")
	}
	d, err := attach.ParseDataURI(up.data)
	if err != nil {
		return err
	}
	body, err := nonEmpty(d, "the data: URI has no data")
	if err != nil {
		return err
	}
	f, err := h.svc.Put(r.Context(), scope, attach.PutRequest{FileName: up.fileName, MIMEType: declaredType(d.MediaType),
		Size: -1, Title: up.title, CollectionID: up.collectionID, Tags: up.tags}, body)
	if err != nil {
		return err
	}
	return h.created(w, http.StatusCreated, f)
}

// rope is a body held in chunks of one size (all full but the last).
type rope struct {
	chunks [][]byte
	chunk  int
	size   int64
}

// readRope reads r to its end into a rope.
func readRope(r io.Reader, chunk int) (*rope, error) {
	d := &rope{chunk: chunk}
	for {
		buf := make([]byte, chunk)
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			d.chunks = append(d.chunks, buf[:n])
			d.size += int64(n)
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return d, nil
		case err != nil:
			return nil, err
		}
	}
}

func (d *rope) at(off int64) byte { return d.chunks[off/int64(d.chunk)][off%int64(d.chunk)] }

// tail returns the bytes from off to the end of off's chunk, at most to end.
func (d *rope) tail(off, end int64) []byte {
	c := d.chunks[off/int64(d.chunk)][off%int64(d.chunk):]
	return c[:min(int64(len(c)), end-off)]
}

// copyOf copies the bytes in [from, to).
func (d *rope) copyOf(from, to int64) []byte {
	b := make([]byte, 0, to-from)
	for from < to {
		t := d.tail(from, to)
		b = append(b, t...)
		from += int64(len(t))
	}
	return b
}

// dataUpload is a parsed JSON data-URI upload; data reads the data
// string's contents, unescaped.
type dataUpload struct {
	fileName, title, collectionID string
	tags                          []string
	data                          io.Reader
}

// parseDataUpload scans a JSON object in place. Members other than data
// (keys included) may take at most budget bytes; they are decoded with
// encoding/json. The data member must be a string, and is not copied.
// Member names match exactly; the last of duplicate members wins; unknown
// members are ignored.
func parseDataUpload(doc *rope, budget int64) (*dataUpload, error) {
	s := &jsonScan{doc: doc, budget: budget}
	raw := map[string][]byte{}
	var data *[2]int64
	s.ws()
	if !s.consume('{') {
		return nil, errNotJSON
	}
	s.ws()
	if !s.consume('}') {
		for {
			s.ws()
			start := s.pos
			if c, ok := s.peek(); !ok || c != '"' {
				return nil, errNotJSON
			}
			if err := s.skipString(); err != nil {
				return nil, err
			}
			var key string
			kb, err := s.take(start)
			if err != nil {
				return nil, err
			}
			if json.Unmarshal(kb, &key) != nil {
				return nil, errNotJSON
			}
			s.ws()
			if !s.consume(':') {
				return nil, errNotJSON
			}
			s.ws()
			start = s.pos
			if key == "data" && data != nil {
				// A later data member wins; the earlier one is never read,
				// so it is checked here: a duplicate must not hide invalid
				// JSON.
				if err := validString(doc, data[0], data[1]); err != nil {
					return nil, err
				}
				data = nil
			}
			if c, ok := s.peek(); ok && c == '"' && key == "data" {
				if err := s.skipString(); err != nil {
					return nil, err
				}
				data = &[2]int64{start + 1, s.pos - 1}
				delete(raw, key)
			} else {
				if err := s.skipValue(); err != nil {
					return nil, err
				}
				v, err := s.take(start)
				if err != nil {
					return nil, err
				}
				if !json.Valid(v) { // here, not later: a duplicate must not hide it
					return nil, errNotJSON
				}
				raw[key] = v
			}
			s.ws()
			if s.consume(',') {
				continue
			}
			if s.consume('}') {
				break
			}
			return nil, errNotJSON
		}
	}
	s.ws()
	if s.pos != doc.size {
		return nil, apiError(attach.CodeInvalidRequest, "request body has data after the JSON value")
	}

	up := &dataUpload{}
	fields := map[string]any{"fileName": &up.fileName, "title": &up.title, "collectionId": &up.collectionID, "tags": &up.tags}
	for k, v := range raw {
		dst, known := fields[k]
		if k == "data" {
			var str *string
			dst, known = &str, true
		}
		if !known {
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			var typ *json.UnmarshalTypeError
			if errors.As(err, &typ) {
				return nil, apiError(attach.CodeInvalidRequest, fmt.Sprintf("field %q must be %s", k, typ.Type))
			}
			return nil, errNotJSON
		}
	}
	if data == nil {
		return nil, apiError(attach.CodeInvalidRequest, `data is required: a "data:<type>;base64,..." URI`)
	}
	up.data = &jsonStringReader{doc: doc, pos: data[0], end: data[1]}
	return up, nil
}

// validString checks the contents (quotes excluded) of a JSON string at
// doc[from:to] as encoding/json would: no raw control character, and only
// valid escapes.
func validString(doc *rope, from, to int64) error {
	esc, hex := false, 0
	for pos := from; pos < to; {
		t := doc.tail(pos, to)
		for _, c := range t {
			switch {
			case hex > 0:
				if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
					return errNotJSON
				}
				hex--
			case esc:
				esc = false
				switch c {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				case 'u':
					hex = 4
				default:
					return errNotJSON
				}
			case c == '\\':
				esc = true
			case c < 0x20:
				return errNotJSON
			}
		}
		pos += int64(len(t))
	}
	if esc || hex > 0 {
		return errNotJSON
	}
	return nil
}

var errNotJSON = &attach.Error{Code: attach.CodeInvalidRequest, Message: "request body is not a valid JSON object"}

// jsonScan walks JSON held in a rope without copying it.
type jsonScan struct {
	doc    *rope
	pos    int64
	budget int64
}

func (s *jsonScan) peek() (byte, bool) {
	if s.pos >= s.doc.size {
		return 0, false
	}
	return s.doc.at(s.pos), true
}

func (s *jsonScan) consume(c byte) bool {
	if b, ok := s.peek(); ok && b == c {
		s.pos++
		return true
	}
	return false
}

func (s *jsonScan) ws() {
	for {
		switch c, _ := s.peek(); c {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// take copies the bytes from start to the current position, within the
// budget.
func (s *jsonScan) take(start int64) ([]byte, error) {
	n := s.pos - start
	if n > s.budget {
		return nil, apiError(attach.CodePayloadTooLarge, "the fields besides data are too long")
	}
	s.budget -= n
	return s.doc.copyOf(start, s.pos), nil
}

// skipString moves past the string that starts at the current position.
// It only finds the closing quote; the contents are checked when decoded.
func (s *jsonScan) skipString() error {
	s.pos++ // the opening quote
	for s.pos < s.doc.size {
		t := s.doc.tail(s.pos, s.doc.size)
		i := bytes.IndexAny(t, `"\`)
		if i < 0 {
			s.pos += int64(len(t))
			continue
		}
		s.pos += int64(i)
		if t[i] == '"' {
			s.pos++
			return nil
		}
		s.pos += 2 // a backslash and the byte it escapes
	}
	return errNotJSON
}

// skipValue moves past the value that starts at the current position. It
// finds the value's end; encoding/json checks the value itself.
func (s *jsonScan) skipValue() error {
	c, ok := s.peek()
	switch {
	case !ok:
		return errNotJSON
	case c == '"':
		return s.skipString()
	case c == '{' || c == '[':
		depth := 0
		for {
			c, ok := s.peek()
			switch {
			case !ok:
				return errNotJSON
			case c == '"':
				if err := s.skipString(); err != nil {
					return err
				}
				continue
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
			}
			s.pos++
			if depth == 0 {
				return nil
			}
		}
	}
	start := s.pos
	for {
		c, ok := s.peek()
		if !ok || c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			break
		}
		s.pos++
	}
	if s.pos == start {
		return errNotJSON
	}
	return nil
}

// jsonStringReader reads the contents of a JSON string held in a rope,
// unescaped. A data URI is ASCII, so anything that is not (raw or
// escaped), and raw control characters (invalid JSON), are refused.
type jsonStringReader struct {
	doc      *rope
	pos, end int64
	err      error
}

var errDataNotASCII = &attach.Error{Code: attach.CodeInvalidRequest,
	Message: "data must be a data: URI of ASCII characters (base64 or percent-encoded)"}

func (u *jsonStringReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := 0
	for n < len(p) && u.pos < u.end && u.err == nil {
		t := u.doc.tail(u.pos, u.end)
		t = t[:min(len(t), len(p)-n)]
		i := 0
		for i < len(t) && t[i] >= 0x20 && t[i] < 0x80 && t[i] != '\\' && t[i] != '"' {
			i++
		}
		n += copy(p[n:], t[:i])
		u.pos += int64(i)
		if i == len(t) {
			continue
		}
		if t[i] != '\\' {
			if t[i] >= 0x80 {
				u.err = errDataNotASCII
			} else {
				u.err = errNotJSON
			}
			break
		}
		c, width := u.unescape()
		if width == 0 {
			break
		}
		p[n] = c
		n++
		u.pos += width
	}
	if n > 0 {
		return n, nil
	}
	if u.err != nil {
		return 0, u.err
	}
	return 0, io.EOF
}

// unescape decodes the escape at pos, setting err (and returning width 0)
// when it is invalid or not ASCII.
func (u *jsonStringReader) unescape() (byte, int64) {
	if u.pos+1 >= u.end {
		u.err = errNotJSON
		return 0, 0
	}
	switch c := u.doc.at(u.pos + 1); c {
	case '"', '\\', '/':
		return c, 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		if u.pos+6 > u.end {
			break
		}
		var v rune
		for k := int64(2); k < 6; k++ {
			h := u.doc.at(u.pos + k)
			switch {
			case '0' <= h && h <= '9':
				v = v<<4 | rune(h-'0')
			case 'a' <= h && h <= 'f':
				v = v<<4 | rune(h-'a'+10)
			case 'A' <= h && h <= 'F':
				v = v<<4 | rune(h-'A'+10)
			default:
				u.err = errNotJSON
				return 0, 0
			}
		}
		if v >= 0x80 {
			u.err = errDataNotASCII
			return 0, 0
		}
		return byte(v), 6
	}
	u.err = errNotJSON
	return 0, 0
}
