package blob

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/attachkit/attachkit/driver"
)

// maxKeyLen is the longest key, in bytes, that every backend stores
// (S3 and GCS allow 1024).
const maxKeyLen = 1024

// validateKey returns an error matching driver.ErrInvalidArgument when key
// breaks the rules in the package documentation.
func validateKey(key string) error {
	if reason := keyProblem(key); reason != "" {
		return fmt.Errorf("blob: key %s: %w: %s", quoteKey(key), driver.ErrInvalidArgument, reason)
	}
	return nil
}

// keyProblem returns why key is refused, or "" when it is acceptable.
func keyProblem(key string) string {
	switch {
	case key == "":
		return "empty"
	case len(key) > maxKeyLen:
		return fmt.Sprintf("longer than %d bytes", maxKeyLen)
	case reservedName(key):
		return `last segment ends in ".attrs" or ".<hex>.tmp", reserved for local storage`
	}
	if reason := pathProblem(key); reason != "" {
		return reason
	}
	return ""
}

// pathProblem checks the rules a key shares with the directory part of a
// List prefix: UTF-8, no control characters, no backslash, no escape
// marker, and non-empty segments other than "." and "..".
func pathProblem(p string) string {
	if !utf8.ValidString(p) {
		return "not valid UTF-8"
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			return "contains a control character"
		}
		if r == '\\' {
			return "contains a backslash"
		}
	}
	if strings.Contains(p, "__0x") {
		return `contains "__0x"`
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case seg == "":
			return `has an empty segment (leading, trailing or double "/")`
		case seg == "." || strings.HasSuffix(seg, ".."):
			return `has a "." or ".." segment, or one ending in ".."`
		}
	}
	return ""
}

// validPrefix reports whether some valid key could start with prefix:
// everything up to its last "/" must be a valid key path.
func validPrefix(prefix string) bool {
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return pathProblem(prefix+"a") == ""
	}
	return pathProblem(prefix[:i]) == "" && pathProblem(prefix[i+1:]+"a") == ""
}

// reservedName reports whether the last segment of key is the name of a
// local-disk attribute sidecar ("x.attrs") or in-progress write
// ("x.<hex>.tmp", see fileblob's createTemp).
func reservedName(key string) bool {
	if strings.HasSuffix(key, ".attrs") {
		return true
	}
	base, ok := strings.CutSuffix(key[strings.LastIndexByte(key, '/')+1:], ".tmp")
	if !ok {
		return false
	}
	i := strings.LastIndexByte(base, '.')
	if i < 0 || i == len(base)-1 {
		return false
	}
	for _, c := range base[i+1:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// quoteKey quotes key for an error message, shortening long keys.
func quoteKey(key string) string {
	const keep = 64
	if len(key) <= keep {
		return strconv.Quote(key)
	}
	return strconv.Quote(key[:keep]) + fmt.Sprintf("...(%d bytes)", len(key))
}
