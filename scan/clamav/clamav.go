// Package clamav implements driver.Scanner with ClamAV's clamd, over TCP
// or a unix socket:
//
//	s := clamav.New("tcp://127.0.0.1:3310", nil) // or "unix:///run/clamav/clamd.ctl"
//	res, err := s.Scan(ctx, r)
//	if err != nil { ... } // no verdict: fail closed
//	if res.Infected { ... res.Signature ... }
//
// # Protocol
//
// Scan speaks clamd's INSTREAM command: "zINSTREAM\x00", then the content
// in chunks each prefixed by its length as a 4-byte big-endian number, then
// a zero length. clamd answers "stream: OK", "stream: <signature> FOUND" or
// "<message> ERROR", terminated by a NUL byte. Replies are parsed strictly:
// anything else is an error, never a verdict. Ping sends "zPING\x00" and
// expects "PONG", for health checks.
//
// Scan streams with one fixed buffer of Options.ChunkSize, so its memory
// does not depend on the size of the content. It also listens for clamd's
// answer while it sends, so that a clamd that stops the stream early (most
// often because the content is longer than its StreamMaxLength, reported
// as ErrSizeLimit) is heard at once rather than as a broken connection.
//
// # Errors and timeouts
//
// Scan returns a verdict only when clamd gave one. An address that does
// not answer, a timeout, a broken connection, a reply it does not
// understand, content clamd would not scan (ErrSizeLimit) and a read error
// of the content are errors, so that callers can fail closed. Every wait
// is bounded: connecting by Options.DialTimeout, each send and the wait for
// the verdict by Options.IdleTimeout (a clamd that hangs fails the scan
// after that long), the whole call by Options.Timeout and by ctx. When ctx
// ends, Scan and Ping return ctx.Err() as it is.
package clamav

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/attachkit/attachkit/driver"
)

// Options configure a Scanner. A nil *Options, and every zero field, means
// the documented default.
type Options struct {
	// DialTimeout bounds connecting to clamd. Default 5 seconds.
	DialTimeout time.Duration
	// IdleTimeout bounds each wait on clamd: sending one chunk, and the
	// verdict after the last one. Default 1 minute.
	IdleTimeout time.Duration
	// Timeout bounds one Scan or Ping from start to verdict; ctx may end it
	// sooner. Default 10 minutes.
	Timeout time.Duration
	// ChunkSize is the size of the INSTREAM chunks, and of the one buffer
	// each Scan uses. Default 64 KiB.
	ChunkSize int
}

// Defaults.
const (
	defaultDialTimeout = 5 * time.Second
	defaultIdleTimeout = time.Minute
	defaultTimeout     = 10 * time.Minute
	defaultChunkSize   = 64 << 10
	maxChunkSize       = 16 << 20
)

// Scanner scans content with clamd. It implements driver.Scanner and is
// safe for concurrent use: each call opens its own connection.
type Scanner struct {
	addr             string
	network, address string
	err              error // of parsing addr, returned by every call
	opts             Options
}

var _ driver.Scanner = (*Scanner)(nil)

// New returns a Scanner for the clamd at addr: "tcp://host:port" or
// "unix:///path/to/clamd.sock". opts may be nil. New does not connect; an
// addr it cannot use makes every call fail with an error matching
// driver.ErrInvalidArgument.
func New(addr string, opts *Options) *Scanner {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = defaultIdleTimeout
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = defaultChunkSize
	}
	o.ChunkSize = min(o.ChunkSize, maxChunkSize)
	s := &Scanner{addr: addr, opts: o}
	s.network, s.address, s.err = parseAddr(addr)
	return s
}

// parseAddr splits a tcp:// or unix:// address.
func parseAddr(addr string) (network, address string, err error) {
	u, err := url.Parse(addr)
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("%w: clamav: address %q: %s (want tcp://host:port or unix:///path)",
			driver.ErrInvalidArgument, addr, why)
	}
	switch {
	case err != nil:
		return bad("not a URL")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return bad("unexpected parts")
	case u.Scheme == "tcp":
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" || port == "" || (u.Path != "" && u.Path != "/") {
			return bad("no host and port")
		}
		return "tcp", u.Host, nil
	case u.Scheme == "unix":
		if u.Host != "" || u.Path == "" {
			return bad("no absolute socket path")
		}
		return "unix", u.Path, nil
	}
	return bad("unknown scheme")
}

// ErrSizeLimit reports content longer than clamd's StreamMaxLength: clamd
// stopped reading it, so there is no verdict. It also matches
// driver.ErrScanLimit.
var ErrSizeLimit error = sizeLimitError{}

type sizeLimitError struct{}

func (sizeLimitError) Error() string {
	return "clamav: content exceeds clamd's stream size limit (StreamMaxLength)"
}

func (sizeLimitError) Is(target error) bool { return target == driver.ErrScanLimit }

// maxReply bounds what Scan and Ping read from clamd.
const maxReply = 4096

// conn is one connection to clamd for one call.
type conn struct {
	net.Conn
	ctx      context.Context
	deadline time.Time // of the whole call
	idle     time.Duration
	timeout  time.Duration
	stop     func() bool
}

// dial connects to clamd. When ctx ends, the connection is closed, which
// ends any read or write in progress.
func (s *Scanner) dial(ctx context.Context) (*conn, error) {
	if s.err != nil {
		return nil, s.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(s.opts.Timeout)
	d := net.Dialer{Timeout: s.opts.DialTimeout, Deadline: deadline}
	nc, err := d.DialContext(ctx, s.network, s.address)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("clamav: connecting to clamd at %s: %w", s.addr, err)
	}
	c := &conn{Conn: nc, ctx: ctx, deadline: deadline, idle: s.opts.IdleTimeout, timeout: s.opts.Timeout}
	c.stop = context.AfterFunc(ctx, func() { nc.Close() })
	return c, nil
}

func (c *conn) close() {
	c.stop()
	c.Conn.Close()
}

// nextDeadline returns the deadline of the next wait on clamd.
func (c *conn) nextDeadline() time.Time {
	d := time.Now().Add(c.idle)
	if c.deadline.Before(d) {
		return c.deadline
	}
	return d
}

// fail turns an I/O error on the connection into the error to return.
func (c *conn) fail(what string, err error) error {
	if c.ctx.Err() != nil {
		return c.ctx.Err()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if !time.Now().Before(c.deadline) {
			return fmt.Errorf("clamav: %s: no verdict within %v: %w", what, c.timeout, err)
		}
		return fmt.Errorf("clamav: %s: clamd idle for %v: %w", what, c.idle, err)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("clamav: %s: clamd closed the connection without an answer", what)
	}
	return fmt.Errorf("clamav: %s: %w", what, err)
}

// readReply reads one NUL-terminated reply of at most maxReply bytes.
func (c *conn) readReply() (string, error) {
	buf := make([]byte, 0, 256)
	var tmp [256]byte
	for {
		n, err := c.Read(tmp[:])
		for i, b := range tmp[:n] {
			if b == 0 {
				return string(append(buf, tmp[:i]...)), nil
			}
		}
		buf = append(buf, tmp[:n]...)
		if len(buf) > maxReply {
			return "", fmt.Errorf("clamav: reply longer than %d bytes", maxReply)
		}
		if err != nil {
			if errors.Is(err, io.EOF) && len(buf) > 0 {
				return "", fmt.Errorf("clamav: reply %q not terminated", clip(string(buf)))
			}
			return "", c.fail("reading the reply", err)
		}
	}
}

// Ping checks that clamd answers PING with PONG.
func (s *Scanner) Ping(ctx context.Context) error {
	c, err := s.dial(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	c.SetDeadline(c.nextDeadline())
	if _, err := io.WriteString(c, "zPING\x00"); err != nil {
		return c.fail("sending PING", err)
	}
	reply, err := c.readReply()
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("clamav: PING answered %q", clip(reply))
	}
	return nil
}

// reply is what the reader goroutine of a Scan got: clamd's reply, or
// the error reading it.
type reply struct {
	text string
	err  error
}

// Scan sends r to clamd and returns its verdict. See the package
// documentation for what is an error.
func (s *Scanner) Scan(ctx context.Context, r io.Reader) (*driver.ScanResult, error) {
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close() // also ends the reader goroutine if it still waits

	// clamd may answer before the end of the stream (a size limit, an
	// error): listen from the start.
	c.SetReadDeadline(c.deadline)
	replies := make(chan reply, 1)
	go func() {
		text, err := c.readReply()
		replies <- reply{text, err}
	}()
	await := func() reply {
		c.SetReadDeadline(c.nextDeadline())
		return <-replies
	}
	// early handles a reply that came before the end of the stream, or a
	// failed send: clamd's reason if it gave one, else sendErr.
	early := func(rep reply, sendErr error) error {
		if rep.err != nil {
			if sendErr != nil {
				return c.fail("sending the content", sendErr)
			}
			return rep.err
		}
		if _, err := parseReply(rep.text); err != nil {
			return err
		}
		return fmt.Errorf("clamav: clamd gave a verdict before the end of the content")
	}
	// sendFailed handles a failed send: clamd's reason if it gave one (it
	// closes the connection past its size limit), else err.
	sendFailed := func(err error) error {
		if errors.Is(err, os.ErrDeadlineExceeded) || ctx.Err() != nil {
			return c.fail("sending the content", err) // clamd stopped reading: no use waiting
		}
		return early(await(), err)
	}

	c.SetWriteDeadline(c.nextDeadline())
	if _, err := io.WriteString(c, "zINSTREAM\x00"); err != nil {
		return nil, sendFailed(err)
	}
	buf := make([]byte, 4+s.opts.ChunkSize)
	for {
		select {
		case rep := <-replies:
			return nil, early(rep, nil)
		default:
		}
		n, rerr := io.ReadFull(r, buf[4:])
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("clamav: reading the content: %w", rerr)
		}
		if n > 0 {
			binary.BigEndian.PutUint32(buf, uint32(n))
			c.SetWriteDeadline(c.nextDeadline())
			if _, err := c.Write(buf[:4+n]); err != nil {
				return nil, sendFailed(err)
			}
		}
		if rerr != nil { // io.EOF or io.ErrUnexpectedEOF: that was the last chunk
			break
		}
	}
	binary.BigEndian.PutUint32(buf, 0)
	c.SetWriteDeadline(c.nextDeadline())
	if _, err := c.Write(buf[:4]); err != nil {
		return nil, sendFailed(err)
	}
	rep := await()
	if rep.err != nil {
		return nil, rep.err
	}
	return parseReply(rep.text)
}
