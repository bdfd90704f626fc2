package httpadapter

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/attachkit/attachkit/attach"
)

// putBlob receives the bytes of a library-signed upload URL.
func (h *Handler) putBlob(w http.ResponseWriter, r *http.Request) error {
	err := h.svc.WriteSigned(r.Context(), r.PathValue("key"), r.URL.Query(),
		r.Header.Get("Content-Type"), r.ContentLength, r.Body)
	if err != nil {
		if attach.CodeOf(err) == attach.CodePayloadTooLarge {
			w.Header().Set("Connection", "close") // don't drain the rest of an oversized body
		}
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// getBlob serves a library-signed download URL with the serving rules of
// API.md: attachment disposition unless signed inline for a safe type,
// nosniff, a sandbox CSP, a strong ETag, bounded ranges.
func (h *Handler) getBlob(w http.ResponseWriter, r *http.Request) error {
	c, err := h.svc.OpenSigned(r.Context(), r.PathValue("key"), r.URL.Query())
	if err != nil {
		return err
	}
	defer c.Close()
	h.serveContent(w, r, c)
	return nil
}

// serveContent writes c with the API's serving headers, on top of
// http.ServeContent for Range, If-Range and conditional requests.
func (h *Handler) serveContent(w http.ResponseWriter, r *http.Request, c *attach.Content) {
	hd := w.Header()
	hd.Set("Content-Type", c.MIMEType)
	hd.Set("Content-Disposition", c.ContentDisposition)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Cross-Origin-Resource-Policy", "same-site")
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("ETag", c.ETag())
	if c.Private {
		hd.Set("Cache-Control", "private, max-age=0, must-revalidate")
	} else {
		hd.Set("Cache-Control", "public, no-cache") // caches must ask again: a delete takes effect at once
	}
	// If-Range is decided here, once: http.ServeContent parses it more
	// loosely (the first quoted tag), and a Range it let through would skip
	// the checks below.
	rh := r.Header.Get("Range")
	if rh != "" && !ifRangeHolds(r, c) {
		r.Header.Del("Range") // a failed precondition means the whole content
		rh = ""
	}
	r.Header.Del("If-Range")
	if rh != "" {
		n, satisfiable, ok := checkRanges(rh, c.Size)
		switch {
		case !ok || !satisfiable:
			hd.Set("Content-Range", "bytes */"+strconv.FormatInt(c.Size, 10))
			hd.Del("Content-Disposition")
			h.writeError(w, r, apiError(attach.CodeRangeNotSatisfiable,
				fmt.Sprintf("the range %.64q cannot be satisfied for %d bytes", rh, c.Size)))
			return
		case n > h.opts.MaxRanges:
			r.Header.Del("Range") // too many ranges: serve it whole
		default:
			r.Header.Set("Range", withoutEmptySuffixes(rh))
		}
	}
	http.ServeContent(w, r, "", c.ModTime, c)
}

// ifRangeHolds reports whether an If-Range precondition (if any) lets the
// Range header apply: a strong ETag match or an exact date match.
func ifRangeHolds(r *http.Request, c *attach.Content) bool {
	ir := strings.TrimSpace(r.Header.Get("If-Range"))
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) {
		return ir == c.ETag()
	}
	if strings.HasPrefix(ir, "W/") {
		return false // weak validators never match for ranges
	}
	t, err := http.ParseTime(ir)
	return err == nil && !c.ModTime.IsZero() && c.ModTime.Truncate(time.Second).Equal(t)
}

// maxRangeHeader bounds the Range header we parse at all.
const maxRangeHeader = 64 << 10

// checkRanges parses a Range header (RFC 9110 §14.1.2) against a
// representation of size bytes. It returns the number of range specs,
// whether any is satisfiable, and ok=false when the header is malformed.
// A suffix of zero ("bytes=-0") is unsatisfiable.
func checkRanges(h string, size int64) (n int, satisfiable bool, ok bool) {
	if len(h) > maxRangeHeader {
		return 0, false, false
	}
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found {
		return 0, false, false
	}
	for _, part := range strings.Split(spec, ",") {
		part = trimOWS(part)
		if part == "" {
			continue
		}
		n++
		first, last, dash := strings.Cut(part, "-")
		if !dash {
			return n, false, false
		}
		first, last = trimOWS(first), trimOWS(last)
		if first == "" { // suffix range: the last N bytes
			sfx, err := strconv.ParseInt(last, 10, 64)
			if err != nil || sfx < 0 {
				return n, false, false
			}
			if sfx > 0 && size > 0 {
				satisfiable = true
			}
			continue
		}
		start, err := strconv.ParseInt(first, 10, 64)
		if err != nil || start < 0 {
			return n, false, false
		}
		if last != "" {
			end, err := strconv.ParseInt(last, 10, 64)
			if err != nil || end < start {
				return n, false, false
			}
		}
		if start < size {
			satisfiable = true
		}
	}
	return n, satisfiable, n > 0
}

// trimOWS trims HTTP optional white space (RFC 9110 §5.6.3: spaces and
// tabs; http.ServeContent trims no more); strings.TrimSpace would
// also trim Unicode spaces, letting through specs ServeContent then
// refuses with its own plain-text 416.
func trimOWS(s string) string { return strings.Trim(s, " \t") }

// withoutEmptySuffixes returns h without its zero-length suffix specs
// ("-0"), which select no byte: http.ServeContent would serve each as an
// empty part with an invalid Content-Range ("bytes 1000-999/1000"). h must
// have passed checkRanges.
func withoutEmptySuffixes(h string) string {
	spec, _ := strings.CutPrefix(h, "bytes=")
	parts := strings.Split(spec, ",")
	kept := parts[:0]
	for _, part := range parts {
		first, last, _ := strings.Cut(part, "-")
		if trimOWS(first) == "" {
			if n, err := strconv.ParseInt(trimOWS(last), 10, 64); err == nil && n == 0 {
				continue
			}
		}
		kept = append(kept, part)
	}
	if len(kept) == len(parts) {
		return h
	}
	return "bytes=" + strings.Join(kept, ",")
}
