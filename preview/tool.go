package preview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// videoDemuxers maps the video types rendered with ffmpeg to the demuxer
// ffmpeg must use. Naming the demuxer (rather than letting ffmpeg probe)
// keeps a source from posing as a playlist or another format that reads
// further files.
var videoDemuxers = map[string]string{
	"video/mp4":        "mov",
	"video/quicktime":  "mov",
	"video/x-m4v":      "mov",
	"video/3gpp":       "mov",
	"video/3gpp2":      "mov",
	"video/webm":       "matroska",
	"video/x-matroska": "matroska",
	"video/x-msvideo":  "avi",
	"video/mpeg":       "mpeg",
	"video/mp2t":       "mpegts",
	"video/ogg":        "ogg",
	"video/x-flv":      "flv",
}

// maxToolSide bounds the size of what the tools render; the in-process
// scaler takes it from there.
const maxToolSide = 4096

// renderPDF renders the first page of a PDF with pdftoppm.
func (r *Renderer) renderPDF(ctx context.Context, src io.ReaderAt, size int64, mimeType string, spec driver.PreviewSpec, w io.Writer) error {
	// Twice the box's long side leaves room for FitCover on pages up to
	// 2:1 and for a sharp downscale.
	side := strconv.Itoa(min(2*max(spec.Width, spec.Height), maxToolSide))
	return r.runTool(ctx, r.pdftoppm, ".pdf", src, size, spec, w, func(path string) []string {
		// No output file name: pdftoppm writes the page to stdout.
		return []string{"-f", "1", "-l", "1", "-singlefile", "-png", "-scale-to", side, path}
	})
}

// renderVideo renders a poster frame of a video with ffmpeg: the most
// representative of the first frames (ffmpeg's thumbnail filter), which
// skips the black frame many videos open with.
func (r *Renderer) renderVideo(ctx context.Context, src io.ReaderAt, size int64, mimeType string, spec driver.PreviewSpec, w io.Writer) error {
	demuxer := videoDemuxers[mimeType]
	return r.runTool(ctx, r.ffmpeg, ".video", src, size, spec, w, func(path string) []string {
		return []string{
			"-nostdin", "-hide_banner", "-loglevel", "error",
			"-protocol_whitelist", "file",
			"-f", demuxer, "-i", path,
			"-map", "0:v:0", "-an", "-sn", "-dn",
			"-vf", "thumbnail=24,scale=w='min(iw,2048)':h='min(ih,2048)':force_original_aspect_ratio=decrease",
			"-frames:v", "1",
			"-f", "image2pipe", "-c:v", "png", "-",
		}
	})
}

// runTool copies the source to a temporary file, runs program with the
// arguments args returns for that file, and renders the PNG the program
// writes to stdout.
func (r *Renderer) runTool(ctx context.Context, program, ext string, src io.ReaderAt, size int64, spec driver.PreviewSpec, w io.Writer, args func(path string) []string) error {
	name := filepath.Base(program)
	if size > r.opts.MaxToolInput {
		return fmt.Errorf("%w: preview: %d bytes is more than %s is given (%d)", driver.ErrNoPreview, size, name, r.opts.MaxToolInput)
	}
	path, err := r.tempCopy(ctx, src, size, ext)
	if err != nil {
		return err
	}
	defer os.Remove(path)

	tctx, cancel := context.WithTimeout(ctx, r.opts.ToolTimeout)
	defer cancel()
	stdout := &cappedBuffer{max: r.opts.MaxToolOutput, overflow: cancel}
	stderr := &cappedBuffer{max: 2048}
	cmd := exec.CommandContext(tctx, program, args(path)...)
	cmd.Stdin = nil
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Run()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case stdout.overflowed:
		return fmt.Errorf("preview: %s wrote more than %d bytes", name, r.opts.MaxToolOutput)
	case tctx.Err() != nil:
		return fmt.Errorf("preview: %s did not finish within %v", name, r.opts.ToolTimeout)
	case err != nil:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("%w: preview: %s failed (%v): %s", driver.ErrInvalidArgument, name, err, firstLine(stderr.buf.Bytes()))
		}
		return fmt.Errorf("preview: running %s: %w", name, err)
	case stdout.buf.Len() == 0:
		return fmt.Errorf("%w: preview: %s rendered nothing", driver.ErrNoPreview, name)
	}
	out := stdout.buf.Bytes()
	return r.renderDecoded(ctx, bytes.NewReader(out), int64(len(out)), "image/png", 1, spec, w)
}

// tempCopy writes the source to a new temporary file and returns its
// absolute path. The name is the Renderer's own ("attachkit-preview-*"),
// never derived from the source.
func (r *Renderer) tempCopy(ctx context.Context, src io.ReaderAt, size int64, ext string) (string, error) {
	f, err := os.CreateTemp(r.opts.TempDir, "attachkit-preview-*"+ext)
	if err != nil {
		return "", fmt.Errorf("preview: temporary file: %w", err)
	}
	_, err = io.Copy(f, &ctxReader{ctx: ctx, r: io.NewSectionReader(src, 0, size)})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("preview: copying the source: %w", err)
	}
	return f.Name(), nil
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// cappedBuffer collects at most max bytes. Past that it drops the rest
// and, when overflow is set, calls it (to stop the writer) and fails.
type cappedBuffer struct {
	buf        bytes.Buffer
	max        int64
	overflow   func()
	overflowed bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	room := c.max - int64(c.buf.Len())
	if int64(len(p)) <= room {
		return c.buf.Write(p)
	}
	c.buf.Write(p[:max(room, 0)])
	if c.overflow == nil {
		return len(p), nil // stderr: keep the beginning, drain the rest
	}
	c.overflowed = true
	c.overflow()
	return 0, errors.New("output limit exceeded")
}

// firstLine returns the first line of a tool's error output, for messages.
func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return clip(strings.ToValidUTF8(s, "?"))
}
