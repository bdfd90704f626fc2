package clamav_test

// Faults a real clamd cannot be made to produce on demand (hanging,
// garbage replies) come from real TCP listeners in the test.

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/scan/clamav"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// fakeClamd listens on loopback and runs serve for each connection. It
// returns the tcp:// address and a channel that receives each accepted
// connection.
func fakeClamd(t *testing.T, serve func(net.Conn)) (addr string, accepted <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	acc := make(chan struct{}, 100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			acc <- struct{}{}
			wg.Go(func() { serve(c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "tcp://" + l.Addr().String(), acc
}

// hang accepts and then never reads nor answers; the connection stays
// open until the test ends.
func hang(net.Conn) {}

// drainSilently reads everything and never answers.
func drainSilently(c net.Conn) { io.Copy(io.Discard, c) }

// answer reads the command and the stream, then writes reply.
func answer(reply string) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			// The zero-length terminator ends this test's small streams.
			if n >= 4 && string(buf[n-4:n]) == "\x00\x00\x00\x00" || err != nil {
				break
			}
		}
		io.WriteString(c, reply)
		c.Close()
	}
}

func TestHangingClamd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		serve   func(net.Conn)
		opts    clamav.Options
		content func() io.Reader
		want    string
	}{
		{name: "reads but never answers", serve: drainSilently, opts: clamav.Options{IdleTimeout: 200 * time.Millisecond},
			content: func() io.Reader { return strings.NewReader(eicar) }, want: "idle"},
		{name: "never reads", serve: hang, opts: clamav.Options{IdleTimeout: 200 * time.Millisecond},
			content: func() io.Reader { return io.LimitReader(zeros{}, 1<<30) }, want: "idle"},
		{name: "overall timeout", serve: drainSilently, opts: clamav.Options{Timeout: 300 * time.Millisecond, IdleTimeout: time.Hour},
			content: func() io.Reader { return strings.NewReader(eicar) }, want: "no verdict within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, _ := fakeClamd(t, tt.serve)
			res, err := clamav.New(addr, &tt.opts).Scan(context.Background(), tt.content())
			require.Error(t, err)
			assert.Nil(t, res)
			assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
			assert.ErrorContains(t, err, tt.want)
			assert.NotErrorIs(t, err, context.DeadlineExceeded, "the caller's ctx did not end")
		})
	}

	t.Run("ping", func(t *testing.T) {
		t.Parallel()
		addr, _ := fakeClamd(t, drainSilently)
		err := clamav.New(addr, &clamav.Options{IdleTimeout: 200 * time.Millisecond}).Ping(context.Background())
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	})
}

func TestHangingClamdCancelled(t *testing.T) {
	t.Parallel()
	for _, serve := range []func(net.Conn){drainSilently, hang} {
		addr, accepted := fakeClamd(t, serve)
		ctx, cancel := context.WithCancel(context.Background())
		s := clamav.New(addr, &clamav.Options{IdleTimeout: time.Hour}) // only ctx can end it
		done := make(chan error, 1)
		go func() {
			_, err := s.Scan(ctx, io.LimitReader(zeros{}, 1<<30))
			done <- err
		}()
		<-accepted
		cancel()
		require.Equal(t, context.Canceled, <-done)
	}

	addr, _ := fakeClamd(t, drainSilently)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := clamav.New(addr, nil).Scan(ctx, strings.NewReader(eicar))
	require.Equal(t, context.DeadlineExceeded, err)
}

func TestStrictReplies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reply string
		want  error
	}{
		{name: "garbage", reply: "HTTP/1.1 400 Bad Request\r\n\r\n\x00"},
		{name: "close without a reply", reply: ""},
		{name: "unterminated", reply: "stream: OK"},
		{name: "overlong", reply: strings.Repeat("A", 5000) + "\x00"},
		{name: "newline-terminated", reply: "stream: OK\n"},
		{name: "found without a name", reply: "stream:  FOUND\x00"},
		{name: "found with control characters", reply: "stream: Evil\x1b[2J FOUND\x00"},
		{name: "two verdicts", reply: "stream: A FOUND\nstream: B FOUND\x00"},
		{name: "clamd error", reply: "stream: Can't allocate memory ERROR\x00"},
		{name: "size limit", reply: "INSTREAM size limit exceeded. ERROR\x00", want: clamav.ErrSizeLimit},
		{name: "unknown command", reply: "UNKNOWN COMMAND\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, _ := fakeClamd(t, answer(tt.reply))
			res, err := clamav.New(addr, &clamav.Options{IdleTimeout: 5 * time.Second}).Scan(context.Background(), strings.NewReader(eicar))
			require.Error(t, err)
			assert.Nil(t, res)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
			assert.False(t, errors.Is(err, os.ErrDeadlineExceeded), "answered at once: %v", err)
		})
	}
}

func TestEarlyAnswer(t *testing.T) {
	t.Parallel()
	// A clamd that stops the stream after the command, as a real one does
	// past StreamMaxLength, while the client still has a lot to send.
	addr, _ := fakeClamd(t, func(c net.Conn) {
		buf := make([]byte, 10)
		io.ReadFull(c, buf)
		io.WriteString(c, "INSTREAM size limit exceeded. ERROR\x00")
		c.Close()
	})
	_, err := clamav.New(addr, nil).Scan(context.Background(), io.LimitReader(zeros{}, 1<<30))
	require.ErrorIs(t, err, clamav.ErrSizeLimit)
}
