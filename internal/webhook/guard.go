package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Policy is which webhook URLs may be registered and reached. The zero Policy is
// the production default: https only, ports 443 and 80 only, and only public
// addresses.
type Policy struct {
	// AllowPrivate lifts the address check and the port limit (development and
	// tests, where the receiver runs on 127.0.0.1 on any port).
	AllowPrivate bool
	// AllowHTTP permits plain http:// URLs.
	AllowHTTP bool
	// Ports are the ports a webhook may reach; nil means DefaultPorts, and
	// AnyPort in it lifts the limit.
	Ports []int
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// Host is the host of a webhook URL, for logs: the rest of a URL (its path and
// query, its credentials) may carry the receiver's secrets.
func Host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	return u.Hostname()
}

// DefaultPorts are the ports webhooks may reach unless configured otherwise.
var DefaultPorts = []int{443, 80}

// AnyPort in Policy.Ports allows every port.
const AnyPort = 0

// portAllowed reports whether a webhook may reach port.
func (p Policy) portAllowed(port int) bool {
	if p.AllowPrivate {
		return true
	}
	ports := p.Ports
	if ports == nil {
		ports = DefaultPorts
	}
	for _, allowed := range ports {
		if allowed == AnyPort || allowed == port {
			return true
		}
	}
	return false
}

func (p Policy) portsText() string {
	ports := p.Ports
	if ports == nil {
		ports = DefaultPorts
	}
	out := make([]string, len(ports))
	for i, port := range ports {
		out[i] = strconv.Itoa(port)
	}
	return strings.Join(out, ", ")
}

// URLError is a URL the policy refuses, with a machine code: invalid,
// scheme_not_allowed, port_not_allowed, unresolvable_host or forbidden_address.
type URLError struct {
	Code    string
	Message string
}

func (e *URLError) Error() string { return e.Message }

const maxURLLen = 2048

// CheckSyntax checks what can be checked without the network: an absolute
// https:// URL (or http:// when allowed) with a host, an allowed port, no
// credentials and no fragment, at most 2048 characters.
func (p Policy) CheckSyntax(raw string) (*url.URL, error) {
	u, port, err := p.checkShape(raw)
	if err != nil {
		return nil, err
	}
	return u, p.checkPort(port)
}

func (p Policy) checkPort(port int) error {
	if !p.portAllowed(port) {
		return &URLError{"port_not_allowed", fmt.Sprintf("url's port must be one of %s", p.portsText())}
	}
	return nil
}

// checkShape is CheckSyntax but for the port, which it returns.
func (p Policy) checkShape(raw string) (*url.URL, int, error) {
	if raw == "" || len(raw) > maxURLLen {
		return nil, 0, &URLError{"invalid", fmt.Sprintf("url must be 1 to %d characters", maxURLLen)}
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return nil, 0, &URLError{"invalid", "url must be an absolute URL such as https://example.com/hooks/vacancy"}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTP {
			return nil, 0, &URLError{"scheme_not_allowed", "url must use https"}
		}
	default:
		return nil, 0, &URLError{"scheme_not_allowed", "url must use https"}
	}
	if u.User != nil {
		return nil, 0, &URLError{"invalid", "url must not contain credentials; authenticate deliveries by their signature"}
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, 0, &URLError{"invalid", "url must not contain a fragment"}
	}
	port := 443
	if u.Scheme == "http" {
		port = 80
	}
	if ps := u.Port(); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 {
			return nil, 0, &URLError{"invalid", "url's port must be a number from 1 to 65535"}
		}
		port = n
	}
	return u, port, nil
}

// CheckURL is CheckSyntax and then resolves the host: every address it resolves
// to must be allowed (see Forbidden), so a name that points at an internal
// service is refused at registration. (An internal address is named as the
// reason before a port that is not allowed.) Delivery checks each connection's address
// again, since DNS answers can change.
func (p Policy) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	u, port, err := p.checkShape(raw)
	if err != nil || p.AllowPrivate {
		return u, err
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if reason, bad := Forbidden(ip); bad {
			return nil, &URLError{"forbidden_address", fmt.Sprintf("url's address %s is %s; webhooks reach public addresses only", ip, reason)}
		}
		return u, p.checkPort(port)
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil, &URLError{"unresolvable_host", fmt.Sprintf("url's host %s does not resolve", host)}
	}
	for _, ip := range addrs {
		if _, bad := Forbidden(ip); bad {
			// Which address, and what kind, is not said: the answer would map
			// the internal network for whoever registers names that point into it.
			return nil, &URLError{"forbidden_address", fmt.Sprintf("url's host %s resolves to an address that is not public; webhooks reach public addresses only", host)}
		}
	}
	return u, p.checkPort(port)
}

// Ranges that are neither loopback, private nor link-local by netip's reckoning
// but still reach something other than the public internet (IANA's special-
// purpose address registries).
var reserved = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a reserved address (this network)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address, used by some cloud metadata services"},
	{netip.MustParsePrefix("192.0.0.0/24"), "a reserved address (IETF protocol assignments)"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "a reserved address (6to4 relay anycast)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a reserved address (benchmarking)"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	// Inside IPv6's global unicast 2000::/3, special purposes:
	{netip.MustParsePrefix("2001::/23"), "a reserved address (IETF protocol assignments, Teredo included)"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("3fff::/20"), "a documentation address"},
}

var (
	nat64         = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour     = netip.MustParsePrefix("2002::/16")
	globalUnicast = netip.MustParsePrefix("2000::/3")
)

// Forbidden reports whether a webhook must not connect to ip, and why: loopback,
// private, link-local (which includes the 169.254.169.254 metadata service),
// unspecified, multicast and reserved ranges, also when written as an IPv4-mapped,
// NAT64 or 6to4 IPv6 address; and every IPv6 address outside global unicast
// (2000::/3) but the well-known NAT64 prefix: IPv4-compatible ::/96, site-local
// fec0::/10, local-use NAT64 64:ff9b:1::/48, discard 100::/64 and the rest.
func Forbidden(ip netip.Addr) (string, bool) {
	ip = ip.Unmap().WithZone("")
	switch {
	case !ip.IsValid():
		return "not an address", true
	case ip.IsUnspecified():
		return "unspecified", true
	case ip.IsLoopback():
		return "loopback", true
	case ip.IsPrivate():
		return "private", true
	case ip.IsLinkLocalUnicast():
		return "link-local (where cloud metadata services live)", true
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast", true
	}
	for _, r := range reserved {
		if r.prefix.Contains(ip) {
			return r.reason, true
		}
	}
	if ip.Is6() {
		b := ip.As16()
		var embedded netip.Addr
		switch {
		case nat64.Contains(ip):
			embedded = netip.AddrFrom4([4]byte(b[12:16]))
		case sixToFour.Contains(ip):
			embedded = netip.AddrFrom4([4]byte(b[2:6]))
		case !globalUnicast.Contains(ip):
			return "not a global unicast IPv6 address", true
		}
		if embedded.IsValid() {
			if reason, bad := Forbidden(embedded); bad {
				return reason + " (embedded in IPv6)", true
			}
		}
	}
	return "", false
}

// errRefusedAddress is the dialer's refusal. It names neither the address nor
// its kind: the delivery log shows it to the organisation's admins.
var errRefusedAddress = errors.New("refused: the host resolves to an address webhooks may not reach")

// control is the dialer's last word before a connection is made, with the
// address DNS actually returned: a host that resolved to a public address at
// registration and now resolves to an internal one is refused here, and so is
// a port that is not allowed.
func (p Policy) control(network, address string, _ syscall.RawConn) error {
	if p.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errRefusedAddress
	}
	if _, bad := Forbidden(ap.Addr()); bad || !p.portAllowed(int(ap.Port())) {
		return errRefusedAddress
	}
	return nil
}
