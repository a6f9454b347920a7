package mailauth

import (
	"fmt"
	"net/netip"
	"strings"
)

// HostName returns what keeps name (a fully qualified domain name in
// presentation form) from being a host name, or "": labels of letters,
// digits and hyphens, not starting or ending with a hyphen (RFC 1123
// section 2.1, RFC 5321 section 2.3.5).
func HostName(name string) string {
	n := strings.TrimSuffix(name, ".")
	if n == "" {
		return "the root is not a host name"
	}
	for n != "" {
		l := n
		if i := strings.IndexByte(n, '.'); i >= 0 {
			l, n = n[:i], n[i+1:]
			if n == "" {
				return "it has an empty label"
			}
		} else {
			n = ""
		}
		if why := hostLabel(l); why != "" {
			return why
		}
	}
	return ""
}

// hostLabel says what keeps l from being a label of a host name, or "".
func hostLabel(l string) string {
	switch {
	case l == "":
		return "it has an empty label"
	case strings.Contains(l, `\`):
		return fmt.Sprintf("label %q holds an escaped character", l)
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Sprintf("label %q starts or ends with a hyphen", l)
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !isAlpha(c) && !isDigit(c) && c != '-' {
			return fmt.Sprintf("label %q holds %q, and host names hold only letters, digits and hyphens", l, string(c))
		}
	}
	return ""
}

// Reach says how an address can be reached from the Internet.
type Reach int8

// The classes of address, from unusable to public.
const (
	Unreachable   Reach = iota // loopback, unspecified, link-local, multicast, reserved, broadcast
	Private                    // RFC 1918, ULA, shared (CGNAT): reachable only inside some network
	Documentation              // RFC 5737, RFC 3849: fine in examples, never in use
	Public
)

var (
	reserved4     = netip.MustParsePrefix("240.0.0.0/4")
	thisNetwork4  = netip.MustParsePrefix("0.0.0.0/8")
	shared4       = netip.MustParsePrefix("100.64.0.0/10")
	documentation = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")}
)

// Classify tells what kind of address a is (RFC 6890) and names the range.
func Classify(a netip.Addr) (Reach, string) {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return Unreachable, "loopback"
	case a.IsUnspecified(), thisNetwork4.Contains(a):
		return Unreachable, "unspecified (\"this network\")"
	case a.IsLinkLocalUnicast():
		return Unreachable, "link-local"
	case a.IsMulticast():
		return Unreachable, "multicast"
	case a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return Unreachable, "the limited broadcast address"
	case reserved4.Contains(a):
		return Unreachable, "reserved (240.0.0.0/4)"
	case shared4.Contains(a):
		return Private, "shared address space (RFC 6598)"
	case a.IsPrivate() && a.Is4():
		return Private, "private (RFC 1918)"
	case a.IsPrivate():
		return Private, "unique local (RFC 4193)"
	}
	for _, p := range documentation {
		if p.Contains(a) {
			return Documentation, "documentation (RFC 5737, RFC 3849)"
		}
	}
	return Public, ""
}
