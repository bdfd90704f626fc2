// Package benchkit holds the plumbing the benchmarks share: a generated
// PDF-like stream, the durable write a baseline performs, the baseline
// lifecycle (the SQL transactions and synced file write of one upload done
// directly), peak-RSS readings, and the bulk loader of listed files.
//
// # Users
//
// The Benchmark functions of attach, httpadapter and meta/sqlite, and the
// bench command cmd/attachbench. It is internal: nothing here is API.
package benchkit

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PDFStream yields a fixed number of bytes that start like a PDF (so type
// detection accepts them as application/pdf), without holding them.
type PDFStream struct {
	left int64
	head []byte
	fill [64 << 10]byte
}

// NewPDFStream returns a PDFStream of size bytes.
func NewPDFStream(size int64) *PDFStream {
	s := &PDFStream{left: size, head: []byte("%PDF-1.4\n%")}
	for i := range s.fill {
		s.fill[i] = byte('a' + i%26)
	}
	return s
}

// Read implements io.Reader.
func (s *PDFStream) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	var n int
	if len(s.head) > 0 {
		n = copy(p, s.head)
		s.head = s.head[n:]
	} else {
		n = copy(p, s.fill[:])
	}
	n = int(min(int64(n), s.left))
	s.left -= int64(n)
	return n, nil
}

// PDFBytes returns size bytes of a PDFStream.
func PDFBytes(size int) []byte {
	b, _ := io.ReadAll(NewPDFStream(int64(size))) // cannot fail
	return b
}

// SyncedCopy is a plain durable write, the baseline of the storage's:
// temp file in path's directory, io.Copy, fsync, rename, fsync of the
// directory.
func SyncedCopy(path string, r io.Reader) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ResetPeakRSS resets the kernel's peak-RSS counter (VmHWM) of this
// process; a no-op where /proc does not allow it.
func ResetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// PeakRSS returns this process's peak resident set size in bytes since
// the last ResetPeakRSS (VmHWM), or 0 where /proc does not tell.
func PeakRSS() int64 { return ReadRSS("VmHWM:") }

// ReadRSS returns a size field of /proc/self/status in bytes: "VmHWM:" is
// the peak resident set size, "VmRSS:" the current one; 0 where /proc does
// not tell.
func ReadRSS(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
