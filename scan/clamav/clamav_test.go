package clamav_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attachkit/attachkit/driver"
	"github.com/attachkit/attachkit/internal/backendtest"
	"github.com/attachkit/attachkit/scan/clamav"
)

// eicar is the EICAR anti-virus test file: harmless, and detected by every
// scanner as if it were malware.
const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// clamdAddrs returns the addresses of the real clamd .ci/lib/clamd.sh
// starts, by TCP and by unix socket.
func clamdAddrs(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"tcp":  backendtest.RequireEnv(t, "ATTACH_CLAMD_ADDR", "clamd (.ci/lib/clamd.sh)"),
		"unix": backendtest.RequireEnv(t, "ATTACH_CLAMD_UNIX_ADDR", "clamd's unix socket (.ci/lib/clamd.sh)"),
	}
}

// streamMaxLength is the StreamMaxLength of the test clamd.
func streamMaxLength(t *testing.T) int64 {
	t.Helper()
	n, err := strconv.ParseInt(os.Getenv("ATTACH_CLAMD_STREAM_MAX_LENGTH"), 10, 64)
	if err != nil || n <= 0 {
		return 25 << 20 // clamd's default
	}
	return n
}

// zeros is an endless reader of zero bytes that allocates nothing.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestScanWithClamd(t *testing.T) {
	t.Parallel()
	for network, addr := range clamdAddrs(t) {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			small := clamav.New(addr, &clamav.Options{ChunkSize: 1000}) // EICAR across chunks
			tests := []struct {
				name         string
				scanner      *clamav.Scanner
				content      func() io.Reader
				wantInfected bool
			}{
				{name: "empty", content: func() io.Reader { return strings.NewReader("") }},
				{name: "clean text", content: func() io.Reader { return strings.NewReader("hello, attachments\n") }},
				{name: "clean, many chunks", scanner: small, content: func() io.Reader {
					return io.LimitReader(zeros{}, 300_000)
				}},
				{name: "eicar", content: func() io.Reader { return strings.NewReader(eicar) }, wantInfected: true},
				{name: "eicar inside, split across chunks", scanner: small, wantInfected: true, content: func() io.Reader {
					return io.MultiReader(io.LimitReader(zeros{}, 99_990), strings.NewReader(eicar), io.LimitReader(zeros{}, 5000))
				}},
				{name: "eicar one byte short is clean", content: func() io.Reader { return strings.NewReader(eicar[:len(eicar)-1]) }},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s := tt.scanner
					if s == nil {
						s = clamav.New(addr, nil)
					}
					res, err := s.Scan(context.Background(), tt.content())
					require.NoError(t, err)
					assert.Equal(t, tt.wantInfected, res.Infected)
					if tt.wantInfected {
						// Unsigned local databases get ".UNOFFICIAL" appended.
						assert.True(t, strings.HasPrefix(res.Signature, "Eicar-Test-Signature"), res.Signature)
					} else {
						assert.Empty(t, res.Signature)
					}
				})
			}
		})
	}
}

func TestPingClamd(t *testing.T) {
	t.Parallel()
	for network, addr := range clamdAddrs(t) {
		t.Run(network, func(t *testing.T) {
			require.NoError(t, clamav.New(addr, nil).Ping(context.Background()))
		})
	}
}

func TestScanLongerThanStreamMaxLength(t *testing.T) {
	t.Parallel()
	addr := clamdAddrs(t)["tcp"]
	max := streamMaxLength(t)
	res, err := clamav.New(addr, nil).Scan(context.Background(), io.LimitReader(zeros{}, max+(1<<20)))
	require.ErrorIs(t, err, clamav.ErrSizeLimit)
	assert.Nil(t, res, "no verdict: the caller fails closed")
}

func TestScanMemoryDoesNotGrowWithSize(t *testing.T) {
	addr := clamdAddrs(t)["tcp"]
	size := streamMaxLength(t) - 4096 // as much as clamd accepts
	s := clamav.New(addr, nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := s.Scan(context.Background(), io.LimitReader(zeros{}, size))
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	assert.False(t, res.Infected)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(512<<10),
		"bytes allocated to scan %d bytes", size)
}

// failingReader returns some content, then an error.
type failingReader struct {
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	n := min(len(p), f.n)
	clear(p[:n])
	f.n -= n
	return n, nil
}

func TestScanContentReadError(t *testing.T) {
	t.Parallel()
	addr := clamdAddrs(t)["tcp"]
	errStore := errors.New("store unavailable")
	res, err := clamav.New(addr, nil).Scan(context.Background(), &failingReader{n: 200_000, err: errStore})
	require.ErrorIs(t, err, errStore)
	assert.Nil(t, res)
}

func TestScanCancelledContext(t *testing.T) {
	t.Parallel()
	addr := clamdAddrs(t)["tcp"]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := clamav.New(addr, nil).Scan(ctx, strings.NewReader(eicar))
	assert.Nil(t, res)
	require.Equal(t, context.Canceled, err, "context errors are returned as they are")
	require.Equal(t, context.Canceled, clamav.New(addr, nil).Ping(ctx))
}

func TestScanConcurrently(t *testing.T) {
	t.Parallel()
	addr := clamdAddrs(t)["tcp"]
	s := clamav.New(addr, nil)
	errs := make(chan error, 16)
	for i := range cap(errs) {
		go func() {
			content, want := "clean "+strconv.Itoa(i), false
			if i%2 == 0 {
				content, want = eicar, true
			}
			res, err := s.Scan(context.Background(), strings.NewReader(content))
			if err == nil && res.Infected != want {
				err = errors.New("wrong verdict for " + content)
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		require.NoError(t, <-errs)
	}
}

func TestBadAddress(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{
		"", "127.0.0.1:3310", "localhost", "http://127.0.0.1:3310", "tcp://", "tcp://127.0.0.1",
		"tcp://:3310", "tcp://127.0.0.1:3310/x", "tcp://u@127.0.0.1:3310", "tcp://127.0.0.1:3310?a=b",
		"unix://", "unix://relative/path", "unix:relative", "%zz",
	} {
		t.Run(addr, func(t *testing.T) {
			s := clamav.New(addr, nil)
			_, err := s.Scan(context.Background(), strings.NewReader("x"))
			require.ErrorIs(t, err, driver.ErrInvalidArgument)
			require.ErrorIs(t, s.Ping(context.Background()), driver.ErrInvalidArgument)
		})
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{
		"tcp://" + closedPort(t),
		"unix://" + t.TempDir() + "/no-clamd.sock",
	} {
		t.Run(addr, func(t *testing.T) {
			res, err := clamav.New(addr, nil).Scan(context.Background(), bytes.NewReader([]byte(eicar)))
			require.Error(t, err)
			assert.Nil(t, res)
			assert.ErrorContains(t, err, "connecting to clamd")
			require.Error(t, clamav.New(addr, nil).Ping(context.Background()))
		})
	}
}
