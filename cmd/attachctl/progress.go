package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress reports a long command's advance: on a terminal a bar redrawn
// in place (at most ten times a second) with report lines printed above
// it; elsewhere only the report lines, one per event, so that logs stay
// readable. It is safe for concurrent use.
type progress struct {
	mu                 sync.Mutex
	w                  io.Writer
	tty                bool
	verb               string // "copied", "checked"
	total, totalBytes  int64  // expected; 0 when unknown
	objects, bytes     int64  // done so far
	drawn              bool
	lastDraw           time.Time
	minRedrawInterval  time.Duration
	terminalLineLength int
}

// newProgress returns a progress reporter on w expecting about total
// objects of totalBytes bytes (0 when unknown).
func newProgress(w io.Writer, verb string, total, totalBytes int64) *progress {
	return &progress{w: w, tty: isTerminal(w), verb: verb, total: total, totalBytes: totalBytes,
		minRedrawInterval: 100 * time.Millisecond, terminalLineLength: 100}
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// line prints a report line, above the bar on a terminal.
func (p *progress) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, format+"\n", args...)
	if p.tty {
		p.draw()
	}
}

// add records one finished object of size bytes.
func (p *progress) add(size int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.objects++
	p.bytes += size
	if p.tty && time.Since(p.lastDraw) >= p.minRedrawInterval {
		p.draw()
	}
}

// finish draws the final bar and ends its line.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

func (p *progress) draw() {
	s := bar(p.verb, p.objects, p.total, p.bytes, p.totalBytes, 30)
	if len(s) > p.terminalLineLength {
		s = s[:p.terminalLineLength]
	}
	fmt.Fprint(p.w, "\r\033[K"+s)
	p.drawn = true
	p.lastDraw = time.Now()
}

// bar renders a progress bar of width cells: the share done (by bytes when
// their total is known, else by objects, never above 100%), then the
// counts.
func bar(verb string, objects, total, bytes, totalBytes int64, width int) string {
	frac := -1.0
	switch {
	case totalBytes > 0:
		frac = float64(bytes) / float64(totalBytes)
	case total > 0:
		frac = float64(objects) / float64(total)
	}
	var b strings.Builder
	if frac >= 0 {
		frac = min(frac, 1)
		full := int(frac * float64(width))
		b.WriteString("[" + strings.Repeat("=", full) + strings.Repeat(" ", width-full) + "]")
		fmt.Fprintf(&b, " %3d%% ", int(frac*100))
	}
	fmt.Fprintf(&b, "%s %d", verb, objects)
	if total > 0 {
		fmt.Fprintf(&b, "/%d", total)
	}
	fmt.Fprintf(&b, " objects, %s", humanBytes(bytes))
	if totalBytes > 0 {
		fmt.Fprintf(&b, "/%s", humanBytes(totalBytes))
	}
	return b.String()
}

// humanBytes formats n bytes with a binary unit: "512 B", "1.5 KiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
