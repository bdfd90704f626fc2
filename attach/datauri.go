package attach

import (
	"bufio"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"strings"
)

// maxDataURIHeader bounds the part of a data URI before its comma: the
// scheme, the media type with its parameters and ";base64".
const maxDataURIHeader = 1024

// DataURI is an RFC 2397 data URI ("data:[<mediatype>][;base64],<data>")
// being read: its declared media type, and its payload, decoded as it is
// read. Pass it to Service.Put as the body:
//
//	d, err := attach.ParseDataURI(strings.NewReader(uri))
//	...
//	f, err := svc.Put(ctx, scope, attach.PutRequest{FileName: "a.png", MIMEType: d.MediaType, Size: -1}, d)
type DataURI struct {
	// MediaType is the declared type, lower-cased and without parameters;
	// "" when the URI declares none (RFC 2397 then implies text/plain, but
	// an empty declaration lets Put detect the type instead).
	MediaType string
	// Base64 reports whether the payload is base64; otherwise it is
	// percent-encoded.
	Base64 bool

	r io.Reader
}

// Read reads the decoded payload. A payload that is not valid padded
// base64 (standard alphabet; line breaks are ignored), or that has an
// invalid percent escape, gives an error matching ErrInvalidRequest once
// the bad input is reached; errors of the underlying reader are returned
// as they are.
func (d *DataURI) Read(p []byte) (int, error) { return d.r.Read(p) }

// ParseDataURI reads the header of a data URI from r, up to and including
// its comma (at most 1 KiB), and returns the DataURI whose Read decodes the
// rest of r. Memory use does not depend on the payload's size. A missing
// "data:" scheme, a missing comma or an invalid media type give an error
// matching ErrInvalidRequest.
func ParseDataURI(r io.Reader) (*DataURI, error) {
	br := bufio.NewReaderSize(r, 4096)
	header := make([]byte, 0, 64)
	for {
		c, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return nil, errorf(CodeInvalidRequest, "data is not a data: URI (no comma after the header)")
		}
		if err != nil {
			return nil, err
		}
		if c == ',' {
			break
		}
		if len(header) == maxDataURIHeader {
			return nil, errorf(CodeInvalidRequest, "the data: URI's header is longer than %d bytes", maxDataURIHeader)
		}
		header = append(header, c)
	}
	d, err := parseDataURIHeader(string(header))
	if err != nil {
		return nil, err
	}
	if d.Base64 {
		d.r = &base64Reader{r: base64.NewDecoder(base64.StdEncoding, br)}
	} else {
		d.r = &percentReader{r: br}
	}
	return d, nil
}

// parseDataURIHeader parses "data:[<mediatype>][;base64]".
func parseDataURIHeader(h string) (*DataURI, error) {
	if len(h) < 5 || !strings.EqualFold(h[:5], "data:") {
		return nil, errorf(CodeInvalidRequest, "data must be a data: URI")
	}
	meta := h[5:]
	d := &DataURI{}
	if n := len(meta) - len(";base64"); n >= 0 && strings.EqualFold(meta[n:], ";base64") {
		d.Base64, meta = true, meta[:n]
	}
	if meta == "" {
		return d, nil
	}
	typed := meta
	if strings.HasPrefix(meta, ";") { // parameters only: the type is implied
		typed = "text/plain" + meta
	}
	t, _, err := mime.ParseMediaType(typed)
	if err != nil || !strings.Contains(t, "/") || len(t) > 255 {
		return nil, errorf(CodeInvalidRequest, "the data: URI's media type %.64q is not valid", meta)
	}
	if meta != typed {
		return d, nil
	}
	d.MediaType = strings.ToLower(t)
	return d, nil
}

// base64Reader turns a base64 decoder's complaints about its input into
// ErrInvalidRequest errors.
type base64Reader struct{ r io.Reader }

func (b *base64Reader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var corrupt base64.CorruptInputError
	switch {
	case errors.As(err, &corrupt):
		err = errorf(CodeInvalidRequest, "data is not valid base64")
	case errors.Is(err, io.ErrUnexpectedEOF): // a final quantum without its padding
		err = errorf(CodeInvalidRequest, "data is not valid base64: it ends mid-quantum (missing padding?)")
	}
	return n, err
}

// percentReader decodes percent-encoded bytes ("%41" is "A"); other bytes
// pass through as they are.
type percentReader struct {
	r   *bufio.Reader
	err error
}

func (d *percentReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && d.err == nil {
		c, err := d.r.ReadByte()
		if err != nil {
			d.err = err
			break
		}
		if c == '%' {
			var hi, lo byte
			hi, err = d.r.ReadByte()
			if err == nil {
				lo, err = d.r.ReadByte()
			}
			if err != nil && !errors.Is(err, io.EOF) {
				d.err = err
				break
			}
			h, ok1 := unhex(hi)
			l, ok2 := unhex(lo)
			if err != nil || !ok1 || !ok2 {
				d.err = errorf(CodeInvalidRequest, "data has an invalid percent escape")
				break
			}
			c = h<<4 | l
		}
		p[n] = c
		n++
	}
	if n > 0 {
		return n, nil
	}
	return 0, d.err
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
