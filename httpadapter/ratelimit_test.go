package httpadapter

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

func TestClientAddr(t *testing.T) {
	l, err := newLimiter(&RateLimitOptions{TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"),
	}})
	require.NoError(t, err)
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{name: "direct client", remote: "192.0.2.1:5555", want: "192.0.2.1"},
		{name: "untrusted peer: header ignored", remote: "192.0.2.1:5555", xff: []string{"198.51.100.1"}, want: "192.0.2.1"},
		{name: "trusted proxy", remote: "10.1.2.3:80", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "right-most untrusted hop", remote: "10.1.2.3:80", xff: []string{"203.0.113.7, 198.51.100.1, 10.9.9.9"}, want: "198.51.100.1"},
		{name: "several headers in order", remote: "10.1.2.3:80", xff: []string{"203.0.113.7", "198.51.100.1"}, want: "198.51.100.1"},
		{name: "malformed hop: one shared bucket", remote: "10.1.2.3:80", xff: []string{"198.51.100.1, junk, 10.2.2.2"}, want: unparsedHopKey},
		{name: "malformed right-most hop: not the proxy's bucket", remote: "10.1.2.3:80", xff: []string{"junk"}, want: unparsedHopKey},
		{name: "hop with a port", remote: "10.1.2.3:80", xff: []string{"198.51.100.1:5555"}, want: "198.51.100.1"},
		{name: "trusted hop with a port", remote: "10.1.2.3:80", xff: []string{"198.51.100.1, 10.2.2.2:8080"}, want: "198.51.100.1"},
		{name: "bracketed IPv6 hop with a port", remote: "10.1.2.3:80", xff: []string{"[2001:db8::1]:443"}, want: "2001:db8::/64"},
		{name: "bracketed IPv6 hop", remote: "10.1.2.3:80", xff: []string{" [2001:db8::1] "}, want: "2001:db8::/64"},
		{name: "all trusted", remote: "10.1.2.3:80", xff: []string{"10.5.5.5"}, want: "10.5.5.5"},
		{name: "trusted proxy, no header", remote: "10.1.2.3:80", want: "10.1.2.3"},
		{name: "IPv6 grouped by /64", remote: "[2001:db8:1:2:3:4:5:6]:443", want: "2001:db8:1:2::/64"},
		{name: "IPv6 neighbour in the same /64", remote: "[2001:db8:1:2:ffff::1]:443", want: "2001:db8:1:2::/64"},
		{name: "IPv4-mapped", remote: "[::ffff:192.0.2.9]:443", want: "192.0.2.9"},
		{name: "IPv6 behind a trusted IPv6 proxy", remote: "[fd00::1]:443", xff: []string{"2001:db8:aa:bb::1"}, want: "2001:db8:aa:bb::/64"},
		{name: "no port", remote: "192.0.2.3", want: "192.0.2.3"},
		{name: "garbage", remote: "pipe", want: "remote:pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			assert.Equal(t, tt.want, l.clientAddr(r))
		})
	}
}

// fakeTime is a clock the limiter reads.
type fakeTime struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeTime) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeTime) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

func TestLimiterBuckets(t *testing.T) {
	l, err := newLimiter(&RateLimitOptions{Rates: map[RateClass]Rate{RatePresign: {Limit: 1, Burst: 2}}})
	require.NoError(t, err)
	clock := &fakeTime{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l.now = clock.now

	for range 2 {
		_, ok := l.reserve(RatePresign, "a", true)
		require.True(t, ok)
	}
	wait, ok := l.reserve(RatePresign, "a", true)
	require.False(t, ok)
	assert.Equal(t, time.Second, wait)
	_, ok = l.reserve(RatePresign, "b", true)
	assert.True(t, ok, "keys are independent")
	_, ok = l.reserve(RateImport, "a", true)
	assert.True(t, ok, "classes are independent")

	clock.advance(500 * time.Millisecond)
	wait, ok = l.reserve(RatePresign, "a", false)
	require.False(t, ok)
	assert.Equal(t, 500*time.Millisecond, wait)
	clock.advance(500 * time.Millisecond)
	_, ok = l.reserve(RatePresign, "a", false)
	require.True(t, ok, "refilled")
	_, ok = l.reserve(RatePresign, "a", false)
	require.True(t, ok, "a look takes nothing")

	inf, err := newLimiter(&RateLimitOptions{Rates: map[RateClass]Rate{RatePresign: {Limit: rate.Inf}}})
	require.NoError(t, err)
	for range 1000 {
		_, ok := inf.reserve(RatePresign, "a", true)
		require.True(t, ok)
	}
	assert.Zero(t, inf.size(), "an unlimited class tracks nobody")
}

// TestLimiterMemoryBounded: a flood of distinct clients never holds more
// than MaxKeys buckets; idle ones go first, so a client being limited
// stays limited while the others are quiet.
func TestLimiterMemoryBounded(t *testing.T) {
	l, err := newLimiter(&RateLimitOptions{MaxKeys: 100, Rates: map[RateClass]Rate{RateLinkMiss: {Limit: rate.Every(time.Minute), Burst: 2}}})
	require.NoError(t, err)
	clock := &fakeTime{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l.now = clock.now

	for range 3 {
		l.reserve(RateLinkMiss, "guesser", true)
	}
	_, ok := l.reserve(RateLinkMiss, "guesser", false)
	require.False(t, ok)
	// 90 clients that look once and leave (their buckets stay full).
	for i := range 90 {
		l.reserve(RateLinkMiss, fmt.Sprintf("visitor-%d", i), false)
	}
	clock.advance(time.Second)
	for i := range 50 {
		l.reserve(RateLinkMiss, fmt.Sprintf("late-%d", i), false)
		require.LessOrEqual(t, l.size(), 100)
	}
	_, ok = l.reserve(RateLinkMiss, "guesser", false)
	assert.False(t, ok, "idle clients were evicted, not the limited one")

	for i := range 10000 {
		l.reserve(RateLinkMiss, fmt.Sprintf("flood-%d", i), true)
		require.LessOrEqual(t, l.size(), 100)
	}
}

// FuzzClientAddr: any RemoteAddr and X-Forwarded-For give a short key
// without panicking, and an untrusted peer's header is never believed.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.1.2.3:80", "198.51.100.1, 10.9.9.9")
	f.Add("[fd00::1]:443", "2001:db8::1,junk,::ffff:1.2.3.4")
	f.Add("192.0.2.1:1", "203.0.113.7")
	f.Add("", ",,,")
	f.Add("10.1.2.3:80", "198.51.100.1:5555")
	f.Add("10.1.2.3:80", "[2001:db8::1]:443, 10.2.2.2:8080")
	f.Add("10.1.2.3:80", "[2001:db8::1]")
	f.Add("10.1.2.3:80", "[junk]:1, [::1")
	l, err := newLimiter(&RateLimitOptions{TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"),
	}})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		key := l.clientAddr(r)
		require.LessOrEqual(t, len(key), 80)
		if ap, err := netip.ParseAddrPort(remote); err == nil && !l.isTrusted(ap.Addr().Unmap()) {
			r.Header.Del("X-Forwarded-For")
			require.Equal(t, l.clientAddr(r), key)
		}
	})
}

// TestLimiterEvictsFullestFirst: a flood of clients in one class neither
// evicts another class's buckets nor an exhausted bucket of its own: the
// buckets closest to full go first.
func TestLimiterEvictsFullestFirst(t *testing.T) {
	l, err := newLimiter(&RateLimitOptions{MaxKeys: 100, Rates: map[RateClass]Rate{
		RateLinkMiss: {Limit: rate.Every(time.Minute), Burst: 5},
		RatePresign:  {Limit: rate.Every(time.Minute), Burst: 2},
	}})
	require.NoError(t, err)
	clock := &fakeTime{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l.now = clock.now

	for range 2 {
		_, ok := l.reserve(RatePresign, "victim", true)
		require.True(t, ok)
	}
	for range 5 {
		_, ok := l.reserve(RateLinkMiss, "guesser", true)
		require.True(t, ok)
	}
	for i := range 10000 { // each takes one token: none is full
		l.reserve(RateLinkMiss, fmt.Sprintf("flood-%d", i), true)
		require.LessOrEqual(t, l.size(), 200)
	}
	_, ok := l.reserve(RatePresign, "victim", false)
	assert.False(t, ok, "another class's flood does not reset the presign limit")
	_, ok = l.reserve(RateLinkMiss, "guesser", false)
	assert.False(t, ok, "the exhausted bucket outlives fuller ones")
}
