package mxzone

import (
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Zone is one parsed customer zone. Once built it is never modified: a reload
// builds a new Zone and swaps whole generations, so readers need no locks.
//
// The index is compact, since a provider serves a million of these: the
// owner names sorted (empty non-terminals included), and for each the span
// of its RRsets in one sorted slice. A look-up is a binary search; there is
// no map and no object per name.
type Zone struct {
	Origin string // lower-case FQDN, from the file name
	File   string // path as shown to the operator

	soa      *dns.SOA
	negSOA   *dns.SOA // SOA with TTL min(SOA TTL, MINIMUM) for negative answers (RFC 2308 §3)
	negative []dns.RR // negSOA, ready to be the authority section
	labels   int      // labels in Origin
	apex     node     // the node of Origin
	owners   []string // sorted lower-case owner names
	first    []int32  // owners[i] owns sets[first[i]:first[i+1]]; len(owners)+1 entries
	sets     []rrset  // sorted by owner, then type
	mx       []mxRef  // every MX in the zone, for the cross-zone checks
	includes []string // files read through $INCLUDE, as the operator knows them
	count    int      // records served
	saved    bool     // read from the state directory, not from DIR
}

// fileOf returns the file an MX record came from.
func (z *Zone) fileOf(ref mxRef) string {
	if ref.file < 0 || int(ref.file) >= len(z.includes) {
		return z.File
	}
	return z.includes[ref.file]
}

// node is the view of one owner name: its RRsets. A node without RRsets is
// an empty non-terminal: it exists (NODATA, blocks wildcards) but holds no
// data.
type node struct {
	name string
	sets []rrset
}

type rrset struct {
	rtype uint16
	wire  uint32 // uncompressed wire length of the RRset, for the UDP size check
	rrs   []dns.RR
}

// mxRef is one MX record as the validator needs it after parsing: the record
// and where it came from.
type mxRef struct {
	mx   *dns.MX
	line int32
	file int32 // index into the zone's includes; -1: the zone file itself
}

// holds reports whether name (lower case) is at or below the zone's origin.
func (z *Zone) holds(name string) bool { return dns.IsSubDomain(z.Origin, name) }

// node returns the node of owner (lower case), if the name exists.
func (z *Zone) node(owner string) (node, bool) {
	i, ok := slices.BinarySearch(z.owners, owner)
	if !ok {
		return node{}, false
	}
	return node{name: z.owners[i], sets: z.sets[z.first[i]:z.first[i+1]]}, true
}

// wildcard returns the node "*.<ce>", if the zone has one.
func (z *Zone) wildcard(ce string) (node, bool) {
	i, ok := slices.BinarySearchFunc(z.owners, ce, func(owner, ce string) int {
		return compareStar(owner, ce)
	})
	if !ok {
		return node{}, false
	}
	return node{name: z.owners[i], sets: z.sets[z.first[i]:z.first[i+1]]}, true
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

// get returns the records of type t at n, or nil.
func (n node) get(t uint16) []dns.RR {
	if s := n.set(t); s != nil {
		return s.rrs
	}
	return nil
}

// set returns the RRset of type t at n, or nil.
func (n node) set(t uint16) *rrset {
	for i := range n.sets {
		if n.sets[i].rtype == t {
			return &n.sets[i]
		}
	}
	return nil
}

// hasAddress reports whether n owns an A or AAAA RRset.
func (n node) hasAddress() bool {
	return n.set(dns.TypeA) != nil || n.set(dns.TypeAAAA) != nil
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
	node  node   // the exact node, the wildcard node or the delegation node
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
	var buf [maxLabels]uint16
	return z.findStarts(name, labelStarts(name, &buf))
}

// findStarts is find with the label offsets of name already computed.
func (z *Zone) findStarts(name string, starts []uint16) match {
	apex := z.apex
	if name == z.Origin {
		return match{kind: matchExact, node: apex}
	}
	apexAt := len(starts) - z.labels
	if apexAt <= 0 {
		return match{}
	}
	encloser := apex
	// Walk down from the label just below the apex towards name.
	for i := apexAt - 1; i >= 0; i-- {
		owner := name[starts[i]:]
		n, ok := z.node(owner)
		if !ok {
			if w, ok := z.wildcard(encloser.name); ok {
				return match{kind: matchWildcard, node: w}
			}
			return match{}
		}
		if n.set(dns.TypeNS) != nil {
			return match{kind: matchDelegated, node: n, owner: owner}
		}
		encloser = n
	}
	return match{kind: matchExact, node: encloser}
}

// appendMXRefs records the MX records the cross-zone checks look up.
func appendMXRefs(refs []mxRef, origin, file string, includes []string, set []sourcedRR) []mxRef {
	for _, r := range set {
		mx := r.rr.(*dns.MX)
		if mx.Mx == "." || isIPLiteral(mx.Mx, origin) {
			continue
		}
		ref := mxRef{mx: mx, line: int32(r.line), file: -1}
		if r.file != file {
			ref.file = int32(slices.Index(includes, r.file))
		}
		refs = append(refs, ref)
	}
	return refs
}

// buildZone indexes records sorted by owner and type (as checkLocal returns
// them) into a Zone. All records of the zone share one backing array.
func buildZone(origin, file string, includes []string, recs []sourcedRR) *Zone {
	z := &Zone{Origin: origin, File: file, count: len(recs), labels: dns.CountLabel(origin), includes: includes}
	all := make([]dns.RR, len(recs))
	var owners []string
	sets := 0
	for i, r := range recs {
		all[i] = r.rr
		h := r.rr.Header()
		if i == 0 || h.Name != recs[i-1].rr.Header().Name {
			owners = append(owners, h.Name)
			sets++
		} else if h.Rrtype != recs[i-1].rr.Header().Rrtype {
			sets++
		}
	}
	// Empty non-terminals: every name between an owner and the apex exists.
	// owners is sorted (recs are), so presence is a binary search.
	var ents []string
	for _, owner := range owners {
		for a := range ancestors(owner) {
			if len(a) < len(origin) {
				break
			}
			if _, ok := slices.BinarySearch(owners, a); ok || slices.Contains(ents, a) {
				break
			}
			ents = append(ents, a)
		}
	}
	if _, ok := slices.BinarySearch(owners, origin); !ok && !slices.Contains(ents, origin) {
		ents = append(ents, origin)
	}
	if len(ents) > 0 {
		// Merge the few empty non-terminals in: owners is already sorted.
		slices.Sort(ents)
		z.owners = make([]string, 0, len(owners)+len(ents))
		for _, o := range owners {
			for len(ents) > 0 && ents[0] < o {
				z.owners, ents = append(z.owners, ents[0]), ents[1:]
			}
			z.owners = append(z.owners, o)
		}
		z.owners = append(z.owners, ents...)
	} else {
		z.owners = slices.Clone(owners) // exactly as long as needed
	}
	z.first = make([]int32, len(z.owners)+1)
	z.sets = make([]rrset, 0, sets)
	for i, oi := 0, 0; oi < len(z.owners); oi++ {
		z.first[oi] = int32(len(z.sets))
		owner := z.owners[oi]
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
			z.sets = append(z.sets, rrset{rtype: t, wire: uint32(wire), rrs: all[i:j:j]})
			if t == dns.TypeMX {
				z.mx = appendMXRefs(z.mx, origin, file, includes, recs[i:j])
			}
			i = j
		}
	}
	z.first[len(z.owners)] = int32(len(z.sets))
	z.mx = slices.Clip(z.mx)
	z.apex, _ = z.node(origin)
	if soas := z.apex.get(dns.TypeSOA); len(soas) > 0 {
		z.soa = soas[0].(*dns.SOA)
		neg := *z.soa
		neg.Hdr.Ttl = min(z.soa.Hdr.Ttl, z.soa.Minttl)
		z.negSOA = &neg
		z.negative = []dns.RR{z.negSOA}
	}
	return z
}

// targetName returns the host name in the data of an MX, NS, SRV, CNAME,
// DNAME or PTR record, or "" for other types.
func targetName(rr dns.RR) string {
	switch v := rr.(type) {
	case *dns.MX:
		return v.Mx
	case *dns.NS:
		return v.Ns
	case *dns.SRV:
		return v.Target
	case *dns.CNAME:
		return v.Target
	case *dns.DNAME:
		return v.Target
	case *dns.PTR:
		return v.Ptr
	}
	return ""
}
