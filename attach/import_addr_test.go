package attach

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestNonPublicReason is the address table the connect-time check uses,
// including the public addresses it must let through (which the
// end-to-end tests cannot dial).
func TestNonPublicReason(t *testing.T) {
	tests := []struct {
		name, addr string
		public     bool
	}{
		{name: "public IPv4", addr: "93.184.216.34", public: true},
		{name: "public DNS", addr: "8.8.8.8", public: true},
		{name: "public IPv6", addr: "2606:4700:4700::1111", public: true},
		{name: "IPv4-mapped public", addr: "::ffff:8.8.8.8", public: true},
		{name: "just outside CGNAT", addr: "100.128.0.1", public: true},
		{name: "just outside 172.16/12", addr: "172.32.0.1", public: true},
		{name: "loopback", addr: "127.0.0.1"},
		{name: "loopback range", addr: "127.255.255.254"},
		{name: "IPv6 loopback", addr: "::1"},
		{name: "unspecified", addr: "0.0.0.0"},
		{name: "IPv6 unspecified", addr: "::"},
		{name: "this network", addr: "0.255.0.1"},
		{name: "10/8", addr: "10.255.255.255"},
		{name: "172.16/12", addr: "172.31.0.1"},
		{name: "192.168/16", addr: "192.168.100.1"},
		{name: "CGNAT low", addr: "100.64.0.0"},
		{name: "CGNAT high", addr: "100.127.255.255"},
		{name: "link-local", addr: "169.254.0.1"},
		{name: "cloud metadata", addr: "169.254.169.254"},
		{name: "IETF protocol", addr: "192.0.0.170"},
		{name: "TEST-NET-1", addr: "192.0.2.10"},
		{name: "TEST-NET-2", addr: "198.51.100.10"},
		{name: "TEST-NET-3", addr: "203.0.113.10"},
		{name: "benchmarking", addr: "198.19.0.1"},
		{name: "multicast", addr: "239.255.255.250"},
		{name: "reserved", addr: "250.1.2.3"},
		{name: "broadcast", addr: "255.255.255.255"},
		{name: "ULA", addr: "fd00:ec2::254"},
		{name: "ULA fc", addr: "fc00::1"},
		{name: "IPv6 link-local", addr: "fe80::1"},
		{name: "IPv6 link-local with zone", addr: "fe80::1%eth0"},
		{name: "site-local", addr: "fec0::1"},
		{name: "IPv6 multicast", addr: "ff02::1"},
		{name: "IPv4-mapped loopback", addr: "::ffff:127.0.0.1"},
		{name: "IPv4-mapped metadata", addr: "::ffff:169.254.169.254"},
		{name: "IPv4-mapped private", addr: "::ffff:192.168.1.1"},
		{name: "IPv4-compatible", addr: "::127.0.0.1"},
		{name: "IPv4-translated", addr: "::ffff:0:7f00:1"},
		{name: "NAT64", addr: "64:ff9b::a9fe:a9fe"},
		{name: "local NAT64", addr: "64:ff9b:1::1"},
		{name: "discard", addr: "100::1"},
		{name: "Teredo", addr: "2001:0:4136:e378::1"},
		{name: "IPv6 documentation", addr: "2001:db8::1"},
		{name: "6to4", addr: "2002:7f00:1::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason := nonPublicReason(netip.MustParseAddr(tt.addr))
			if tt.public {
				assert.Empty(t, reason)
			} else {
				assert.NotEmpty(t, reason)
			}
		})
	}
	assert.NotEmpty(t, nonPublicReason(netip.Addr{}), "the zero Addr")
}

func TestImporterAllowAddr(t *testing.T) {
	allowed := netip.MustParseAddrPort("127.0.0.1:8443")
	imp := &Importer{opts: ImportOptions{AllowAddr: func(ap netip.AddrPort) bool { return ap == allowed }}}
	tests := []struct {
		name string
		addr string
		ok   bool
	}{
		{name: "the allowed origin", addr: "127.0.0.1:8443", ok: true},
		{name: "the allowed origin, IPv4-mapped", addr: "[::ffff:127.0.0.1]:8443", ok: true},
		{name: "another port", addr: "127.0.0.1:8444"},
		{name: "another loopback address", addr: "127.0.0.2:8443"},
		{name: "a public address", addr: "8.8.8.8:443", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := imp.checkAddr(netip.MustParseAddrPort(tt.addr))
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}
