// SPF syntax: domain-specs, macros, networks and prefix lengths (RFC 7208 sections 5.6, 7.1 and 12).

package mailauth

import (
	"net/netip"
	"strconv"
	"strings"
)

// cutName splits a modifier name=value; hasEq is false for a mechanism.
// A mechanism's argument may hold "=" (in a macro), so name must be a
// name: ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) (RFC 7208 section 12).
func cutName(s string) (name, value string, hasEq bool) {
	i := strings.IndexByte(s, '=')
	if i <= 0 || !isAlpha(s[0]) {
		return "", "", false
	}
	for _, c := range []byte(s[:i]) {
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' {
			return "", "", false
		}
	}
	return s[:i], s[i+1:], true
}

// domainSpec checks arg as a domain-spec (RFC 7208 sections 7.1 and 12)
// and records it in t.
func (spf *SPF) domainSpec(t *Term, arg, text string, ps *problems) {
	t.Domain = arg
	t.Macros = strings.IndexByte(arg, '%') >= 0
	if msg := checkDomainSpec(arg, t.Name == "exp"); msg != "" {
		ps.add(Error, t.At, t.End, "%q: %s (RFC 7208 section 7.1)", text[t.At:t.End], msg)
		t.Domain = ""
	}
}

// checkDomainSpec returns what is wrong with a domain-spec, or "".
func checkDomainSpec(s string, exp bool) string {
	if !macroString(s, exp) {
		return "the domain holds a character or macro that is not allowed; a literal % is written %%"
	}
	if strings.HasSuffix(s, "}") {
		return "" // ends in a macro-expand
	}
	name := strings.TrimSuffix(s, ".")
	label := name[strings.LastIndexByte(name, '.')+1:]
	if !strings.Contains(name, ".") || !topLabel(label) {
		return "the domain must end in a top-level label of letters, as in example.net; got " + strconv.Quote(label)
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" && name != "" {
			return "the domain has an empty label"
		}
		if len(l) > 63 {
			return "the domain has a label of more than 63 octets"
		}
	}
	return ""
}

// topLabel reports whether l is a toplabel: alphanumerics with at least
// one letter, or an LDH label (RFC 7208 section 7.1).
func topLabel(l string) bool {
	if l == "" {
		return false
	}
	letter := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case isAlpha(c):
			letter = true
		case isDigit(c):
		case c == '-' && i > 0 && i < len(l)-1:
			letter = true
		default:
			return false
		}
	}
	return letter
}

// macroString reports whether s is a macro-string (RFC 7208 section 7.1);
// the letters c, r and t are allowed only in exp= (section 7.3).
func macroString(s string, exp bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e {
			return false
		}
		if c != '%' {
			continue
		}
		if i+1 >= len(s) {
			return false
		}
		switch s[i+1] {
		case '%', '_', '-':
			i++
			continue
		case '{':
		default:
			return false
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 || !macroExpand(s[i+2:i+j], exp) {
			return false
		}
		i += j
	}
	return true
}

// macroExpand checks what is between "%{" and "}": macro-letter
// transformers *delimiter.
func macroExpand(s string, exp bool) bool {
	if s == "" {
		return false
	}
	letters := "slodiphv"
	if exp {
		letters += "crt"
	}
	if strings.IndexByte(letters, toLower(s[0])) < 0 {
		return false
	}
	i := 1
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < len(s) && toLower(s[i]) == 'r' {
		i++
	}
	for ; i < len(s); i++ {
		if strings.IndexByte(".-+,/_=", s[i]) < 0 {
			return false
		}
	}
	return true
}

// network checks the argument of ip4: or ip6:.
func network(mech, arg string, hasArg bool) string {
	if !hasArg || arg == "" {
		return mech + " needs a network, as in " + mech + ":" + map[string]string{"ip4": "192.0.2.0/24", "ip6": "2001:db8::/32"}[mech]
	}
	addr, length, hasLen := strings.Cut(arg, "/")
	ip, err := netip.ParseAddr(addr)
	want4 := mech == "ip4"
	switch {
	case err != nil || ip.Zone() != "":
		return strconv.Quote(addr) + " is not an IP address"
	case want4 && !ip.Is4():
		return strconv.Quote(addr) + " is an IPv6 address; write ip6:" + arg
	case !want4 && ip.Is4():
		return strconv.Quote(addr) + " is an IPv4 address; write ip4:" + arg
	case !want4 && ip.Is4In6():
		return strconv.Quote(addr) + " is an IPv4-mapped address, which SPF never matches; write ip4:" + ip.Unmap().String()
	}
	if !hasLen {
		return ""
	}
	maxLen := 32
	if !want4 {
		maxLen = 128
	}
	if msg := cidrLength(length, maxLen); msg != "" {
		return msg
	}
	return ""
}

// dualCIDR checks the [ip4-cidr-length] [ "/" ip6-cidr-length ] after a
// or mx: "/24", "//64", "/24//64".
func dualCIDR(s string) string {
	if s == "" {
		return ""
	}
	s = s[1:]
	v4, v6, both := strings.Cut(s, "//")
	if strings.HasPrefix(s, "/") {
		v4, v6, both = "", s[1:], true
	}
	if v4 != "" || !both {
		if msg := cidrLength(v4, 32); msg != "" {
			return msg
		}
	}
	if both {
		return cidrLength(v6, 128)
	}
	return ""
}

// cidrLength checks a prefix length: digits without a leading zero, at
// most maxLen.
func cidrLength(s string, maxLen int) string {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || (len(s) > 1 && s[0] == '0') || strings.ContainsAny(s, "+-") {
		return "prefix length " + strconv.Quote(s) + " is not a number"
	}
	if n > maxLen {
		return "prefix length /" + s + " is longer than " + strconv.Itoa(maxLen)
	}
	return ""
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func toLower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 0x20
	}
	return c
}
