package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Policy is which webhook URLs may be registered and reached. The zero Policy is
// the production default: https only, and only public addresses.
type Policy struct {
	// AllowPrivate lifts the address check (development and tests, where the
	// receiver runs on 127.0.0.1).
	AllowPrivate bool
	// AllowHTTP permits plain http:// URLs.
	AllowHTTP bool
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver *net.Resolver
}

// URLError is a URL the policy refuses, with a machine code: invalid,
// scheme_not_allowed, unresolvable_host or forbidden_address.
type URLError struct {
	Code    string
	Message string
}

func (e *URLError) Error() string { return e.Message }

const maxURLLen = 2048

// CheckSyntax checks what can be checked without the network: an absolute
// https:// URL (or http:// when allowed) with a host, no credentials and no
// fragment, at most 2048 characters.
func (p Policy) CheckSyntax(raw string) (*url.URL, error) {
	if raw == "" || len(raw) > maxURLLen {
		return nil, &URLError{"invalid", fmt.Sprintf("url must be 1 to %d characters", maxURLLen)}
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return nil, &URLError{"invalid", "url must be an absolute URL such as https://example.com/hooks/vacancy"}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowHTTP {
			return nil, &URLError{"scheme_not_allowed", "url must use https"}
		}
	default:
		return nil, &URLError{"scheme_not_allowed", "url must use https"}
	}
	if u.User != nil {
		return nil, &URLError{"invalid", "url must not contain credentials; authenticate deliveries by their signature"}
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, &URLError{"invalid", "url must not contain a fragment"}
	}
	return u, nil
}

// CheckURL is CheckSyntax and then resolves the host: every address it resolves
// to must be allowed (see Forbidden), so a name that points at an internal
// service is refused at registration. Delivery checks each connection's address
// again, since DNS answers can change.
func (p Policy) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := p.CheckSyntax(raw)
	if err != nil || p.AllowPrivate {
		return u, err
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if reason, bad := Forbidden(ip); bad {
			return nil, &URLError{"forbidden_address", fmt.Sprintf("url's address %s is %s; webhooks reach public addresses only", ip, reason)}
		}
		return u, nil
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
		if reason, bad := Forbidden(ip); bad {
			return nil, &URLError{"forbidden_address", fmt.Sprintf("url's host %s resolves to %s, which is %s; webhooks reach public addresses only", host, ip.Unmap(), reason)}
		}
	}
	return u, nil
}

// Ranges that are neither loopback, private nor link-local by netip's reckoning
// but still reach something other than the public internet.
var reserved = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a reserved address (this network)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address, used by some cloud metadata services"},
	{netip.MustParsePrefix("192.0.0.0/24"), "a reserved address (IETF protocol assignments)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a reserved address (benchmarking)"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Forbidden reports whether a webhook must not connect to ip, and why: loopback,
// private, link-local (which includes the 169.254.169.254 metadata service),
// unspecified, multicast and reserved ranges, also when written as an IPv4-mapped,
// NAT64 or 6to4 IPv6 address.
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
		}
		if embedded.IsValid() {
			if reason, bad := Forbidden(embedded); bad {
				return reason + " (embedded in IPv6)", true
			}
		}
	}
	return "", false
}

// control is the dialer's last word before a connection is made, with the
// address DNS actually returned: a host that resolved to a public address at
// registration and now resolves to an internal one is refused here.
func (p Policy) control(network, address string, _ syscall.RawConn) error {
	if p.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused: cannot parse address %q", address)
	}
	if reason, bad := Forbidden(ap.Addr()); bad {
		return fmt.Errorf("refused: address %s is %s", ap.Addr().Unmap(), reason)
	}
	return nil
}
