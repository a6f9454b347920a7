package mxzone

import (
	"strings"

	"github.com/miekg/dns"
)

// Zone is one parsed customer zone. Once built it is never modified: a reload
// builds a new Zone and swaps whole generations, so readers need no locks.
type Zone struct {
	Origin string // lower-case FQDN, from the file name
	File   string // path as shown to the operator

	soa      *dns.SOA
	negSOA   *dns.SOA // SOA with TTL min(SOA TTL, MINIMUM) for negative answers (RFC 2308 §3)
	negative []dns.RR // negSOA, ready to be the authority section
	apex     *node
	labels   int              // labels in Origin
	nodes    map[string]*node // lower-case owner -> node; empty non-terminals included
	mx       []mxRef          // every MX in the zone, for the cross-zone checks
	count    int              // records served
}

// node holds the RRsets of one owner name. A node without RRsets is an empty
// non-terminal: it exists (NODATA, blocks wildcards) but holds no data.
type node struct {
	rrsets []rrset
	deleg  bool  // owns NS below the apex: a zone cut
	wild   *node // the node "*.<this name>", if the zone has one
}

type rrset struct {
	rtype uint16
	wire  uint32 // uncompressed wire length of the RRset, for the UDP size check
	rrs   []dns.RR
}

// mxRef is one MX record as the validator needs it after parsing: where it
// came from, and the exchange it names.
type mxRef struct {
	owner    string
	exchange string // lower case
	pref     uint16
	line     int
	file     string
}

// holds reports whether name (lower case) is at or below the zone's origin.
func (z *Zone) holds(name string) bool { return dns.IsSubDomain(z.Origin, name) }

// get returns the records of type t at n, or nil.
func (n *node) get(t uint16) []dns.RR {
	if s := n.set(t); s != nil {
		return s.rrs
	}
	return nil
}

// set returns the RRset of type t at n, or nil.
func (n *node) set(t uint16) *rrset {
	for i := range n.rrsets {
		if n.rrsets[i].rtype == t {
			return &n.rrsets[i]
		}
	}
	return nil
}

// hasAddress reports whether n owns an A or AAAA RRset.
func (n *node) hasAddress() bool {
	return n.get(dns.TypeA) != nil || n.get(dns.TypeAAAA) != nil
}

// matchKind says how a name was found inside a zone.
type matchKind int

const (
	matchNone      matchKind = iota // the name does not exist (NXDOMAIN)
	matchExact                      // the name exists (it may be an empty non-terminal)
	matchWildcard                   // the name is synthesised from a wildcard (RFC 4592)
	matchDelegated                  // the name is at or below a zone cut
)

// match is the result of looking a name up inside one zone.
type match struct {
	kind  matchKind
	node  *node  // the exact node, the wildcard node or the delegation node
	owner string // for matchDelegated: the owner of the cut
}

// maxLabels bounds the label walk; a DNS name has at most 127 labels. The
// offsets are uint16 so that the buffer stays small on the stack: the
// server runs each query on a fresh goroutine, whose stack must not grow.
const maxLabels = 128

// labelStarts fills buf with the offsets at which each label of name starts,
// leftmost first, and returns the filled part. Escaped dots do not split.
func labelStarts(name string, buf *[maxLabels]uint16) []uint16 {
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
			if i+1 < len(name) && len(out) < maxLabels {
				out = append(out, uint16(i+1))
			}
		}
	}
	return out
}

// find looks name (lower case, at or below the origin) up the way an
// authoritative server must: zone cuts first, then the exact name, then the
// wildcard at the closest encloser.
func (z *Zone) find(name string) match {
	if name == z.Origin {
		return match{kind: matchExact, node: z.apex}
	}
	var buf [maxLabels]uint16
	return z.findStarts(name, labelStarts(name, &buf))
}

// findStarts is find with the label offsets of name already computed.
func (z *Zone) findStarts(name string, starts []uint16) match {
	if name == z.Origin {
		return match{kind: matchExact, node: z.apex}
	}
	apexAt := len(starts) - z.labels
	if apexAt <= 0 {
		return match{}
	}
	encloser := z.apex
	// Walk down from the label just below the apex towards name.
	for i := apexAt - 1; i >= 0; i-- {
		owner := name[starts[i]:]
		n := z.nodes[owner]
		if n == nil {
			if encloser.wild != nil {
				return match{kind: matchWildcard, node: encloser.wild}
			}
			return match{}
		}
		if n.deleg {
			return match{kind: matchDelegated, node: n, owner: owner}
		}
		encloser = n
	}
	return match{kind: matchExact, node: encloser}
}

// appendMXRefs records the MX records the cross-zone checks look up.
func appendMXRefs(refs []mxRef, origin string, set []sourcedRR) []mxRef {
	for _, r := range set {
		if mx := r.rr.(*dns.MX); mx.Mx != "." && !isIPLiteral(mx.Mx, origin) {
			refs = append(refs, mxRef{owner: mx.Hdr.Name, exchange: strings.ToLower(mx.Mx), pref: mx.Preference,
				line: r.line, file: r.file})
		}
	}
	return refs
}

// buildZone indexes records sorted by owner and type (as checkLocal returns
// them) into a Zone. All records of the zone share one backing array, and
// each node's RRsets one more: few allocations, little memory.
func buildZone(origin, file string, recs []sourcedRR) *Zone {
	z := &Zone{Origin: origin, File: file, count: len(recs), labels: dns.CountLabel(origin)}
	all := make([]dns.RR, len(recs))
	owners, sets := 0, 0
	for i, r := range recs {
		all[i] = r.rr
		if i == 0 || r.rr.Header().Name != recs[i-1].rr.Header().Name {
			owners++
			sets++
		} else if r.rr.Header().Rrtype != recs[i-1].rr.Header().Rrtype {
			sets++
		}
	}
	z.nodes = make(map[string]*node, owners+2)
	nodes := make([]node, owners)
	rrsets := make([]rrset, sets)
	pos := 0
	for i, ni := 0, 0; i < len(all); ni++ {
		owner := all[i].Header().Name
		n := &nodes[ni]
		z.nodes[owner] = n
		start := pos
		for i < len(all) && all[i].Header().Name == owner {
			t := all[i].Header().Rrtype
			j := i + 1
			for j < len(all) && all[j].Header().Name == owner && all[j].Header().Rrtype == t {
				j++
			}
			wire := 0
			for _, rr := range all[i:j] {
				wire += dns.Len(rr)
			}
			rrsets[pos] = rrset{rtype: t, wire: uint32(wire), rrs: all[i:j:j]}
			pos++
			if t == dns.TypeMX {
				z.mx = appendMXRefs(z.mx, origin, recs[i:j])
			}
			i = j
		}
		n.rrsets = rrsets[start:pos:pos]
	}
	// Empty non-terminals: every ancestor of an owner, up to the apex, exists.
	for owner := range z.nodes {
		for name := owner; len(name) > len(origin); {
			off, end := dns.NextLabel(name, 0)
			if end {
				break
			}
			name = name[off:]
			if z.nodes[name] != nil {
				break
			}
			z.nodes[name] = &node{}
		}
	}
	if z.nodes[origin] == nil {
		z.nodes[origin] = &node{}
	}
	z.apex = z.nodes[origin]
	for owner, n := range z.nodes {
		if owner != origin && n.get(dns.TypeNS) != nil {
			n.deleg = true
		}
		if strings.HasPrefix(owner, "*.") {
			if parent := z.nodes[owner[2:]]; parent != nil {
				parent.wild = n
			}
		}
	}
	if soas := z.apex.get(dns.TypeSOA); len(soas) > 0 {
		z.soa = soas[0].(*dns.SOA)
		neg := *z.soa
		neg.Hdr.Ttl = min(z.soa.Hdr.Ttl, z.soa.Minttl)
		z.negSOA = &neg
		z.negative = []dns.RR{z.negSOA}
	}
	return z
}
