package httpadapter

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/attachkit/attachkit/attach"
)

// RateClass names a kind of request with its own rate limit.
type RateClass string

// Rate-limited request classes. Authenticated classes are counted per
// workspace and user, anonymous ones per client address (an IPv6 client
// per /64).
const (
	// RatePresign: POST /files/upload-url and
	// POST /files/{id}/versions/upload-url, per workspace and user.
	RatePresign RateClass = "presign"
	// RateImport: POST /files/import, per workspace and user.
	RateImport RateClass = "import"
	// RateThumbnail: thumbnails rendered by GET /files/{id}/thumbnail (a
	// stored thumbnail is served without counting), per workspace and user.
	RateThumbnail RateClass = "thumbnail"
	// RateLinkMiss: requests for public links, public-read files and
	// public upload confirmations that find nothing, per client address.
	// Only misses are counted, but a client out of misses is refused
	// before the lookup, valid links included.
	RateLinkMiss RateClass = "linkMiss"
	// RatePublicUpload: POST /public/upload-url, per client address.
	RatePublicUpload RateClass = "publicUpload"
)

// Rate is a token bucket: Limit tokens a second refill it up to Burst; a
// request takes one. A Limit of rate.Inf lets every request through.
type Rate struct {
	Limit rate.Limit
	Burst int
}

// DefaultRates are the rates Options.RateLimit starts from.
func DefaultRates() map[RateClass]Rate {
	return map[RateClass]Rate{
		RatePresign:      {Limit: 10, Burst: 100},
		RateImport:       {Limit: 1, Burst: 20},
		RateThumbnail:    {Limit: 20, Burst: 200},
		RateLinkMiss:     {Limit: rate.Every(6 * time.Second), Burst: 20},
		RatePublicUpload: {Limit: rate.Every(6 * time.Second), Burst: 10},
	}
}

// RateLimitOptions tune the rate limits (Options.RateLimit).
type RateLimitOptions struct {
	// Disabled turns every rate limit off. Default false.
	Disabled bool
	// Rates replaces the default rate of the classes it names; the others
	// keep DefaultRates.
	Rates map[RateClass]Rate
	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-For header is believed: for a request from one of them,
	// the client is the right-most address of the header that is not
	// itself a trusted proxy (entries may carry a port; clients named by an
	// entry that cannot be parsed share one bucket). Default none: the
	// client is RemoteAddr and X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
	// MaxKeys bounds the clients tracked at once in each class, so that
	// a flood in one class never forgets another's. Idle clients (whose
	// bucket has refilled) are forgotten first, then those closest to
	// full, so exhausted buckets are the last to go. Default 50000.
	MaxKeys int
}

// limiter holds one token bucket per class and client, each class's
// buckets in their own bounded map.
type limiter struct {
	rates   map[RateClass]Rate
	trusted []netip.Prefix
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	buckets map[RateClass]map[string]*rate.Limiter
}

func newLimiter(o *RateLimitOptions) (*limiter, error) {
	if o != nil && o.Disabled {
		return nil, nil
	}
	l := &limiter{rates: DefaultRates(), maxKeys: 50000, now: time.Now, buckets: map[RateClass]map[string]*rate.Limiter{}}
	if o == nil {
		return l, nil
	}
	for c, r := range o.Rates {
		if _, ok := l.rates[c]; !ok {
			return nil, fmt.Errorf("httpadapter: unknown rate class %q", c)
		}
		if r.Limit < 0 || r.Burst < 1 && r.Limit != rate.Inf {
			return nil, fmt.Errorf("httpadapter: rate %q needs a non-negative limit and a burst of at least 1", c)
		}
		l.rates[c] = r
	}
	l.trusted = append(l.trusted, o.TrustedProxies...)
	if o.MaxKeys > 0 {
		l.maxKeys = o.MaxKeys
	}
	return l, nil
}

// reserve takes a token from class's bucket for key (take), or only looks
// whether one is there (!take). It returns how long to wait when there
// is none.
func (l *limiter) reserve(class RateClass, key string, take bool) (time.Duration, bool) {
	r, ok := l.rates[class]
	if !ok || r.Limit == rate.Inf {
		return 0, true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(class, key, r, now)
	if tokens := b.TokensAt(now); tokens < 1 {
		if r.Limit == 0 {
			return time.Hour, false
		}
		return time.Duration((1 - tokens) / float64(r.Limit) * float64(time.Second)), false
	}
	if take {
		b.AllowN(now, 1)
	}
	return 0, true
}

// take reserves one token of class's bucket for key and returns a refund
// that gives it back, or how long to wait when there is none.
func (l *limiter) take(class RateClass, key string) (refund func(), wait time.Duration, ok bool) {
	r, ok := l.rates[class]
	if !ok || r.Limit == rate.Inf {
		return func() {}, 0, true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(class, key, r, now)
	res := b.ReserveN(now, 1)
	if !res.OK() { // a zero limit with its burst spent
		return nil, time.Hour, false
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return nil, d, false
	}
	// A reservation gives its token back only when cancelled no later than
	// it acted: cancel at its own time.
	return func() { res.CancelAt(now) }, 0, true
}

// bucket returns class's bucket for key, made at rate r if new. Called
// with l.mu held.
func (l *limiter) bucket(class RateClass, key string, r Rate, now time.Time) *rate.Limiter {
	m := l.buckets[class]
	if m == nil {
		m = map[string]*rate.Limiter{}
		l.buckets[class] = m
	}
	b := m[key]
	if b == nil {
		if len(m) >= l.maxKeys {
			l.evict(m, now)
		}
		b = rate.NewLimiter(r.Limit, r.Burst)
		m[key] = b
	}
	return b
}

// evict forgets the buckets of one class that have refilled (a fresh
// bucket is the same), then, if a flood of clients left too many, those
// with the most tokens (closest to a fresh bucket) down to half the
// bound: an exhausted bucket is the last forgotten. Called with l.mu
// held.
func (l *limiter) evict(m map[string]*rate.Limiter, now time.Time) {
	type entry struct {
		key    string
		tokens float64
	}
	var rest []entry
	for k, b := range m {
		tokens := b.TokensAt(now)
		if tokens >= float64(b.Burst()) {
			delete(m, k)
			continue
		}
		rest = append(rest, entry{k, tokens})
	}
	if len(m) < l.maxKeys/2 {
		return
	}
	slices.SortFunc(rest, func(a, b entry) int { return cmp.Compare(b.tokens, a.tokens) })
	for _, e := range rest {
		if len(m) < l.maxKeys/2 {
			break
		}
		delete(m, e.key)
	}
}

// size is the number of tracked buckets.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.buckets {
		n += len(m)
	}
	return n
}

// unparsedHopKey is the one bucket of every client whose address a
// trusted proxy reported in a form that cannot be parsed: they share it
// rather than the proxy's own.
const unparsedHopKey = "xff:unparsed"

// maxForwardedHops bounds the X-Forwarded-For entries examined.
const maxForwardedHops = 32

// clientAddr returns the key of the request's client: its address (an
// IPv6 address's /64), from RemoteAddr, or from X-Forwarded-For when
// RemoteAddr is a trusted proxy (unparsedHopKey when the hop that names
// the client cannot be parsed).
func (l *limiter) clientAddr(r *http.Request) string {
	addr, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		a, err := netip.ParseAddr(r.RemoteAddr)
		if err != nil {
			return "remote:" + truncateKey(r.RemoteAddr)
		}
		addr = netip.AddrPortFrom(a, 0)
	}
	client := addr.Addr().Unmap()
	if l.isTrusted(client) {
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(v, ",")...)
		}
		for i, n := len(hops)-1, 0; i >= 0 && n < maxForwardedHops; i, n = i-1, n+1 {
			a, ok := parseHop(hops[i])
			if !ok { // a client we cannot name: not the proxy's bucket either
				return unparsedHopKey
			}
			client = a.Unmap()
			if !l.isTrusted(client) {
				break
			}
		}
	}
	if client.Is6() {
		p, _ := client.Prefix(64)
		return p.String()
	}
	return client.String()
}

// parseHop parses one X-Forwarded-For entry: an address, with or without
// a port ("198.51.100.1:5555", "[2001:db8::1]:443"), an IPv6 address in
// brackets included.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	if in, ok := strings.CutPrefix(s, "["); ok {
		if in, ok := strings.CutSuffix(in, "]"); ok {
			if a, err := netip.ParseAddr(in); err == nil {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

func (l *limiter) isTrusted(a netip.Addr) bool {
	for _, p := range l.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func truncateKey(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

// scopeKey is the rate key of an authenticated caller.
func scopeKey(s attach.Scope) string { return s.Workspace + "\x00" + s.User }

// routeRates are the authenticated routes limited by the route itself,
// per workspace and user.
var routeRates = map[string]RateClass{
	"POST /files/upload-url":               RatePresign,
	"POST /files/{id}/versions/upload-url": RatePresign,
	"POST /files/import":                   RateImport,
}

// limitRoute applies the rate of an authenticated route, if it has one.
func (h *Handler) limitRoute(w http.ResponseWriter, r *http.Request, pattern string, scope attach.Scope) error {
	class, ok := routeRates[pattern]
	if !ok {
		return nil
	}
	return h.allow(w, r, class, scopeKey(scope))
}

// allow takes one request of class for key ("" means the client's
// address) and answers nil, or a rate_limited error after setting
// Retry-After on w. Routes that limit only part of their work (such as
// generating a thumbnail) call it at that point.
func (h *Handler) allow(w http.ResponseWriter, r *http.Request, class RateClass, key string) error {
	return h.limit(w, r, class, key, true)
}

// charge takes one token of class from the client before the work it
// pays for, for classes that count only failures: it answers a
// rate_limited error (after setting Retry-After on w) when none is left,
// else a refund to call when the work turned out not to be a failure.
// Taking the token first bounds the lookups of concurrent requests by
// the tokens left; a refund returns it.
func (h *Handler) charge(w http.ResponseWriter, r *http.Request, class RateClass) (refund func(), err error) {
	if h.lim == nil {
		return func() {}, nil
	}
	refund, wait, ok := h.lim.take(class, h.lim.clientAddr(r))
	if ok {
		return refund, nil
	}
	return nil, rateLimited(w, wait)
}

func (h *Handler) limit(w http.ResponseWriter, r *http.Request, class RateClass, key string, take bool) error {
	if h.lim == nil {
		return nil
	}
	if key == "" {
		key = h.lim.clientAddr(r)
	}
	wait, ok := h.lim.reserve(class, key, take)
	if ok {
		return nil
	}
	return rateLimited(w, wait)
}

// rateLimited sets Retry-After on w and returns the rate_limited error.
func rateLimited(w http.ResponseWriter, wait time.Duration) error {
	secs := int64(math.Ceil(wait.Seconds()))
	secs = max(secs, 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	return &attach.Error{Code: attach.CodeRateLimited, Message: fmt.Sprintf("too many requests; retry in %d seconds", secs),
		Details: map[string]any{"retryAfter": secs}}
}
