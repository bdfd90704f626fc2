package attach

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// Server-side request forgery protection for imports. Three layers, each
// sufficient for what it covers:
//
//   - the URL (and every redirect's URL) must be http or https, without
//     userinfo, on the scheme's default port unless ImportOptions.AllowPorts
//     lists it, and an IP-literal host must be a public address;
//   - the dialer resolves names itself and checks every address it is about
//     to connect to in the net.Dialer's ControlContext hook, after
//     resolution and immediately before connect(2), so a public name that
//     resolves (or rebinds) to a private address is refused before any
//     packet reaches it;
//   - no proxy from the environment, no transparent decompression, bounded
//     response headers, timeouts at every step, at most maxImportRedirects
//     redirects.

const (
	maxImportRedirects   = 5
	maxImportURLBytes    = 4096
	importDialTimeout    = 10 * time.Second
	importTLSTimeout     = 10 * time.Second
	importHeaderTimeout  = 30 * time.Second
	importMaxHeaderBytes = 64 << 10
	importMaxAddrs       = 8 // addresses tried per name
)

// nonPublic lists address ranges an import never connects to, besides
// those netip.Addr classifies (loopback, private, link-local, multicast,
// unspecified). IPv4-mapped IPv6 addresses are checked as the IPv4 address
// they map.
var nonPublic = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a \"this network\" address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (CGNAT) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address"},
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible address"},
	{netip.MustParsePrefix("::ffff:0:0:0/96"), "an IPv4-translated address"},
	{netip.MustParsePrefix("64:ff9b::/96"), "a NAT64 address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address"},
	{netip.MustParsePrefix("2001::/23"), "an IETF protocol address (Teredo, ORCHID, ...)"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("2002::/16"), "a 6to4 address"},
	{netip.MustParsePrefix("3fff::/20"), "a documentation address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
}

// nonPublicReason says why an address is not a public unicast address, or
// returns "" when it is one.
func nonPublicReason(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "not an IP address"
	case a.IsUnspecified():
		return "an unspecified address"
	case a.IsLoopback():
		return "a loopback address"
	case a.IsPrivate():
		return "a private address"
	case a.IsLinkLocalUnicast():
		return "a link-local address"
	case a.IsMulticast():
		return "a multicast address"
	}
	for _, r := range nonPublic {
		if r.prefix.Contains(a.WithZone("")) {
			return r.reason
		}
	}
	return ""
}

// refusedAddrError is a destination refused by the address rules.
type refusedAddrError struct {
	addr   netip.AddrPort
	reason string
}

func (e *refusedAddrError) Error() string {
	return fmt.Sprintf("attach: import refused to connect to %s: %s", e.addr, e.reason)
}

// checkAddr refuses a destination that is not a public address, unless
// ImportOptions.AllowAddr allows it explicitly.
func (imp *Importer) checkAddr(ap netip.AddrPort) error {
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	reason := nonPublicReason(ap.Addr())
	if reason == "" || (imp.opts.AllowAddr != nil && imp.opts.AllowAddr(ap)) {
		return nil
	}
	return &refusedAddrError{addr: ap, reason: reason}
}

// checkURL parses and checks an import URL (or a redirect's). Names are
// not resolved here: the dialer checks what they resolve to.
func (imp *Importer) checkURL(raw string) (*url.URL, error) {
	if len(raw) > maxImportURLBytes {
		return nil, errorf(CodeInvalidRequest, "url is longer than %d bytes", maxImportURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errorf(CodeInvalidRequest, "url is not a valid URL")
	}
	return u, imp.checkParsedURL(u)
}

func (imp *Importer) checkParsedURL(u *url.URL) error {
	var port uint16
	switch u.Scheme {
	case "http":
		port = 80
	case "https":
		port = 443
	default:
		return errorf(CodeInvalidRequest, "url must be http or https")
	}
	switch {
	case u.Opaque != "" || u.Host == "":
		return errorf(CodeInvalidRequest, "url must be absolute, with a host")
	case u.User != nil:
		return errorf(CodeInvalidRequest, "url must not carry credentials (user:password@)")
	}
	host := u.Hostname()
	if host == "" || len(host) > 253 {
		return errorf(CodeInvalidRequest, "url has an invalid host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return errorf(CodeInvalidRequest, "url has an invalid port")
		}
		if uint16(n) != port && !slices.Contains(imp.opts.AllowPorts, int(n)) {
			return errorf(CodeInvalidRequest, "url may only use the default port of its scheme")
		}
		port = uint16(n)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		var refused *refusedAddrError
		if errors.As(imp.checkAddr(netip.AddrPortFrom(ip, port)), &refused) {
			return errorf(CodeInvalidRequest, "url's host is %s; imports fetch public addresses only", refused.reason)
		}
	}
	return nil
}

// checkRedirect follows at most maxImportRedirects redirects, each to a URL
// that passes checkURL (the dialer then checks its address).
func (imp *Importer) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxImportRedirects {
		return errorf(CodeInvalidRequest, "the url redirected more than %d times", maxImportRedirects)
	}
	var e *Error
	if errors.As(imp.checkParsedURL(req.URL), &e) {
		return errorf(e.Code, "the url redirected to a refused location: %s", e.Message)
	}
	return nil
}

// dialContext resolves addr's host with ImportOptions.Resolver and
// connects to the first address that accepts; control checks each address
// just before connecting.
func (imp *Importer) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		if ips, err = imp.resolver.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, &lookupError{host: host, err: err}
		}
		ips = ips[:min(len(ips), importMaxAddrs)]
	}
	d := net.Dialer{Timeout: importDialTimeout, ControlContext: imp.control}
	var first error
	for _, ip := range ips {
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		first = cmpOr(first, err)
		if ctx.Err() != nil {
			break
		}
	}
	if first == nil {
		first = &lookupError{host: host, err: errors.New("no addresses")}
	}
	return nil, first
}

// control runs after the socket is made and before it connects: the one
// place every connection's real destination is checked.
func (imp *Importer) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusedAddrError{reason: "not an IP address"}
	}
	return imp.checkAddr(ap)
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// lookupError is a failed name resolution.
type lookupError struct {
	host string
	err  error
}

func (e *lookupError) Error() string {
	return "attach: import: resolve " + e.host + ": " + e.err.Error()
}
func (e *lookupError) Unwrap() error { return e.err }

// newImportClient builds the default client: the checking dialer, no
// proxy, no transparent decompression, bounded headers, timeouts.
func (imp *Importer) newImportClient() *http.Client {
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            imp.dialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    importTLSTimeout,
		ResponseHeaderTimeout:  importHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: importMaxHeaderBytes,
		DisableCompression:     true,
		MaxIdleConns:           16,
		IdleConnTimeout:        30 * time.Second,
	}
	return &http.Client{Transport: t}
}

// importFailure turns an import's error into the code and message its
// file's status reports. Causes that may describe the server's own network
// (addresses a name resolved to, connection errors) stay in the log.
func (imp *Importer) importFailure(err error) (Code, string) {
	var (
		e       *Error
		refused *refusedAddrError
		lookup  *lookupError
	)
	switch {
	case errors.As(err, &e):
		if e.Code == CodeInternal {
			return CodeInternal, "internal error"
		}
		return e.Code, e.Message
	case errors.As(err, &refused):
		return CodeInvalidRequest, "the url's host resolves to " + refused.reason + "; imports fetch public addresses only"
	case errors.As(err, &lookup):
		return CodeInvalidRequest, fmt.Sprintf("could not resolve the url's host %.64q", lookup.host)
	case errors.Is(err, context.DeadlineExceeded):
		return CodeInvalidRequest, fmt.Sprintf("the import did not finish within %s", imp.opts.Timeout)
	case errors.Is(err, errImportClosed):
		return CodeInternal, "the import was interrupted by a shutdown; import the url again"
	}
	return CodeInvalidRequest, "fetching the url failed"
}

// nameFromURL is the file name an import gets by default: the last segment
// of the URL's path, or "download".
func nameFromURL(u *url.URL) string {
	base := path.Base(u.Path)
	if name, err := CleanFileName(base); err == nil && base != "/" {
		return name
	}
	return "download"
}
