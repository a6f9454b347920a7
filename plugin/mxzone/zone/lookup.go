package zone

import (
	"strings"

	"github.com/miekg/dns"
)

// MaxChain bounds how many CNAME or DNAME redirections are followed inside
// served zones: by an answer, and by the checks of where an MX leads, so
// the two agree on what is too long.
const MaxChain = 8

// Kind says how a name was found inside a zone.
type Kind int

const (
	None       Kind = iota // the name does not exist (NXDOMAIN)
	Exact                  // the name exists (it may be an empty non-terminal)
	Wildcard               // the name is synthesised from a wildcard (RFC 4592)
	Delegated              // the name is at or below a zone cut
	Redirected             // the name is below a DNAME (RFC 6672): Node is the DNAME's, Cut its owner
)

// Match is the result of looking a name up inside one zone.
type Match struct {
	Kind Kind
	Node Node   // the exact node, the wildcard node or the node of the cut
	Cut  string // for Delegated: the owner of the cut
	// Encloser is, for None and Wildcard, the closest encloser: the
	// longest existing name above the one looked up (RFC 4592 section
	// 3.3.1), which a denial of existence proves.
	Encloser Node
}

// MaxLabels bounds the label walk; a DNS name has at most 127 labels. The
// offsets are uint16 so that a buffer of them stays small on the stack: a
// DNS server runs each query on a fresh goroutine, whose stack must not
// grow.
const MaxLabels = 128

// LabelStarts fills buf with the offsets at which each label of name (in
// presentation form) starts, leftmost first, and returns the filled part.
// Escaped dots do not split.
func LabelStarts(name string, buf *[MaxLabels]uint16) []uint16 {
	out := buf[:0]
	if name == "." || name == "" || len(name) > 0xffff {
		return out
	}
	out = append(out, 0)
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++ // skip the escaped byte; \DDD digits are not dots either
		case '.':
			if i+1 < len(name) && len(out) < MaxLabels {
				out = append(out, uint16(i+1))
			}
		}
	}
	return out
}

// Ancestors yields the names above name, nearest first, up to and
// excluding the root.
func Ancestors(name string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for {
			off, end := dns.NextLabel(name, 0)
			if end || off >= len(name) {
				return
			}
			name = name[off:]
			if name == "." || !yield(name) {
				return
			}
		}
	}
}

// Lookup finds name (lower case, at or below the origin) the way an
// authoritative server must: zone cuts and DNAMEs above the name first, then
// the exact name, then the wildcard at the closest encloser.
func (z *Zone) Lookup(name string) Match {
	var buf [MaxLabels]uint16
	return z.LookupStarts(name, LabelStarts(name, &buf))
}

// LookupStarts is Lookup with the label offsets of name already computed.
func (z *Zone) LookupStarts(name string, starts []uint16) Match {
	if name == z.origin {
		return Match{Kind: Exact, Node: z.Apex()}
	}
	apexAt := len(starts) - int(z.labels)
	if apexAt <= 0 {
		return Match{Encloser: z.Apex()}
	}
	encloser := z.Apex()
	dnames := z.kinds&kindDNAME != 0
	if dnames && encloser.Has(dns.TypeDNAME) {
		return Match{Kind: Redirected, Node: encloser, Cut: z.origin}
	}
	// Walk down from the label just below the apex towards name.
	for i := apexAt - 1; i >= 0; i-- {
		owner := name[starts[i]:]
		n, ok := z.Node(owner)
		if !ok {
			if w, ok := z.wildcard(encloser.Name()); ok {
				return Match{Kind: Wildcard, Node: w, Encloser: encloser}
			}
			return Match{Encloser: encloser}
		}
		if n.Has(dns.TypeNS) {
			return Match{Kind: Delegated, Node: n, Cut: owner}
		}
		if dnames && i > 0 && n.Has(dns.TypeDNAME) {
			// A DNAME redirects the names below its owner, not the owner.
			return Match{Kind: Redirected, Node: n, Cut: owner}
		}
		encloser = n
	}
	return Match{Kind: Exact, Node: encloser}
}

// Redirect returns the name a DNAME owned by cut with the given target
// makes of name (RFC 6672 section 2.2: the owner's labels replaced by the
// target's), and false when the result is longer than a name may be (the
// answer is then YXDOMAIN).
func Redirect(name, cut, target string) (string, bool) {
	out := name[:len(name)-len(cut)] + target
	if target == "." {
		out = name[:len(name)-len(cut)]
	}
	if _, ok := dns.IsDomainName(out); !ok {
		return "", false
	}
	return out, true
}

// wildcard returns the node "*.<ce>", if the zone has one.
func (z *Zone) wildcard(ce string) (Node, bool) {
	i, ok := z.search(func(owner string) int { return compareStar(owner, ce) })
	if !ok {
		return Node{}, false
	}
	return Node{z: z, i: int32(i)}, true
}

// compareStar compares s with "*." + name without building that string.
func compareStar(s, name string) int {
	if len(s) < 2 {
		return strings.Compare(s, "*.") // decided before name is reached
	}
	if c := strings.Compare(s[:2], "*."); c != 0 {
		return c
	}
	return strings.Compare(s[2:], name)
}

// Canonical returns name (fully qualified, presentation form) the way it is
// compared: lower case, escaped the way miekg/dns writes names it reads off
// the wire, which is how query names arrive. "has\\046dot.example." and
// "has\\.dot.example." are one name (RFC 1035 section 5.1), so are
// "\\065bc.example." and "abc.example." (RFC 4343). A name that is not
// valid comes back lower-cased.
func Canonical(name string) string {
	if !strings.Contains(name, "\\") {
		return strings.ToLower(name)
	}
	var wire [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(name), wire[:], 0, nil, false)
	if err != nil {
		return strings.ToLower(name)
	}
	for i := 0; i < n; {
		l := int(wire[i])
		for j := i + 1; j <= i+l; j++ {
			if c := wire[j]; c >= 'A' && c <= 'Z' {
				wire[j] = c + 'a' - 'A'
			}
		}
		i += l + 1
	}
	out, _, err := dns.UnpackDomainName(wire[:n], 0)
	if err != nil {
		return strings.ToLower(name)
	}
	return out
}
