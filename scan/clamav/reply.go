package clamav

import (
	"fmt"
	"strings"

	"github.com/attachkit/attachkit/driver"
)

// Reply forms of INSTREAM, as clamd writes them (without the NUL).
const (
	replyPrefix   = "stream: "
	replyClean    = replyPrefix + "OK"
	foundSuffix   = " FOUND"
	errorSuffix   = " ERROR"
	sizeLimitText = "INSTREAM size limit exceeded."
	// maxSignature bounds a signature name. ClamAV's are well under 200
	// bytes, even with ExtendedDetectionInfo's "(hash:size)" suffix.
	maxSignature = 512
)

// parseReply interprets clamd's reply to INSTREAM, without its NUL
// terminator. It returns a verdict only for "stream: OK" and
// "stream: <signature> FOUND" with a well-formed signature name; clamd's
// "... ERROR" replies and anything else are errors.
func parseReply(reply string) (*driver.ScanResult, error) {
	if reply == replyClean {
		return &driver.ScanResult{}, nil
	}
	if sig, ok := strings.CutPrefix(reply, replyPrefix); ok {
		if sig, ok := strings.CutSuffix(sig, foundSuffix); ok && validSignature(sig) {
			return &driver.ScanResult{Infected: true, Signature: sig}, nil
		}
	}
	if msg, ok := strings.CutSuffix(reply, errorSuffix); ok {
		if msg == sizeLimitText {
			return nil, ErrSizeLimit
		}
		return nil, fmt.Errorf("clamav: clamd reported an error: %q", clip(msg))
	}
	return nil, fmt.Errorf("clamav: unexpected reply from clamd: %q", clip(reply))
}

// validSignature reports whether s is a plausible signature name: 1 to
// maxSignature printable ASCII bytes without spaces.
func validSignature(s string) bool {
	if len(s) == 0 || len(s) > maxSignature {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// clip bounds text from clamd quoted in error messages.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
