package attach

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxFileNameBytes bounds a file name's length in bytes.
const MaxFileNameBytes = 255

// CleanFileName validates and normalises a client-supplied file name. File
// names are display data only: they never become storage keys or paths.
//
// Directory parts ("a/b/c.txt", `C:\x\c.txt`) are dropped, surrounding
// spaces trimmed. Empty names, ".", "..", invalid UTF-8, control characters
// (NUL, CR, LF, ...), bidirectional-override characters (which can disguise
// "gpj.exe" as "exe.jpg") and names longer than MaxFileNameBytes are
// refused with CodeInvalidRequest.
func CleanFileName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", errorf(CodeInvalidRequest, "fileName is not valid UTF-8")
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r):
			return "", errorf(CodeInvalidRequest, "fileName contains a control character (%U)", r)
		case isBidiControl(r):
			return "", errorf(CodeInvalidRequest, "fileName contains a bidirectional control character (%U)", r)
		}
	}
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "", name == ".", name == "..":
		return "", errorf(CodeInvalidRequest, "fileName is empty")
	case len(name) > MaxFileNameBytes:
		return "", errorf(CodeInvalidRequest, "fileName is %d bytes; the limit is %d", len(name), MaxFileNameBytes)
	}
	return name, nil
}

func isBidiControl(r rune) bool {
	switch {
	case r == '\u061C', r == '\u200E', r == '\u200F':
		return true
	case r >= '\u202A' && r <= '\u202E':
		return true
	case r >= '\u2066' && r <= '\u2069':
		return true
	}
	return unicode.Is(unicode.Cf, r) && r != '\u200D' // format chars, but keep ZWJ for emoji
}

// titleOf derives a default title from a file name: the name without its
// extension.
func titleOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[:i]
	}
	return name
}

// inlineSafe lists the types a browser may render inline from our origin
// without risk of running script: raster images, audio, video and PDF.
// SVG, HTML, XML and anything scriptable are always attachments.
func inlineSafe(mimeType string) bool {
	t := baseType(mimeType)
	switch t {
	case "image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/bmp",
		"application/pdf":
		return true
	}
	return strings.HasPrefix(t, "video/") || strings.HasPrefix(t, "audio/")
}

// ContentDisposition returns a Content-Disposition header value for a file
// name. It is "attachment" unless inline is requested and the type is safe
// to render inline. The name appears twice: as a quoted ASCII fallback
// (quotes, backslashes and non-ASCII replaced) and as an RFC 5987
// filename*, so no name can break out of the header.
func ContentDisposition(fileName, mimeType string, inline bool) string {
	disp := "attachment"
	if inline && inlineSafe(mimeType) {
		disp = "inline"
	}
	if fileName == "" {
		return disp
	}
	var ascii strings.Builder
	for _, r := range fileName {
		switch {
		case r == '"' || r == '\\' || r < 0x20 || r == 0x7f || r > 0x7e:
			ascii.WriteByte('_')
		default:
			ascii.WriteRune(r)
		}
	}
	return fmt.Sprintf(`%s; filename="%s"; filename*=UTF-8''%s`, disp, ascii.String(), pathEscapeRFC5987(fileName))
}

// pathEscapeRFC5987 percent-encodes everything but RFC 5987 attr-chars.
func pathEscapeRFC5987(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
