// Package zone is the immutable index of one zone's records and the look-up
// an authoritative server does in it: zone cuts, exact names, empty
// non-terminals and wildcards (RFC 1034 §4.3.2, RFC 4592). It knows nothing
// of files, rules or plugins.
//
// The index is compact, since a server may hold a million of these: the
// owner names sorted (empty non-terminals included) and, for each, the span
// of its RRsets in one slice sorted by owner and type. A look-up is a binary
// search; there is no map and no object per name.
package zone

import (
	"slices"

	"github.com/miekg/dns"
)

// Zone is one zone's records, indexed. Once built it never changes, so any
// number of readers may use it without locks; the records it hands out
// belong to it and must not be modified.
type Zone struct {
	origin   string
	soa      *dns.SOA
	negative []dns.RR // the SOA with TTL min(SOA TTL, MINIMUM), for negative answers (RFC 2308 §3)
	labels   int      // labels in origin
	apex     Node
	owners   []string // sorted lower-case owner names, empty non-terminals included
	first    []int32  // owners[i] owns sets[first[i]:first[i+1]]; len(owners)+1 entries
	sets     []RRset  // sorted by owner, then type
	count    int      // records
}

// RRset is the records of one owner and type.
type RRset struct {
	rtype uint16
	wire  uint32 // uncompressed wire length of the records, for size checks
	rrs   []dns.RR
}

// Type is the RR type of the set.
func (s *RRset) Type() uint16 { return s.rtype }

// RRs are the records of the set. They belong to the zone: never modify them.
func (s *RRset) RRs() []dns.RR { return s.rrs }

// Wire is the uncompressed wire length of the records.
func (s *RRset) Wire() int { return int(s.wire) }

// Owner is the owner name of the set, as stored (lower case).
func (s *RRset) Owner() string { return s.rrs[0].Header().Name }

// Node is one owner name and its RRsets. A node without RRsets is an empty
// non-terminal: it exists (NODATA, and it blocks wildcards) but holds no
// data.
type Node struct {
	name string
	sets []RRset
}

// Name is the node's owner name (lower case).
func (n Node) Name() string { return n.name }

// Sets are the node's RRsets, sorted by type.
func (n Node) Sets() []RRset { return n.sets }

// Empty reports whether the node is an empty non-terminal.
func (n Node) Empty() bool { return len(n.sets) == 0 }

// Set returns the RRset of type t at n, or nil.
func (n Node) Set(t uint16) *RRset {
	for i := range n.sets {
		if n.sets[i].rtype == t {
			return &n.sets[i]
		}
	}
	return nil
}

// Get returns the records of type t at n, or nil.
func (n Node) Get(t uint16) []dns.RR {
	if s := n.Set(t); s != nil {
		return s.rrs
	}
	return nil
}

// HasAddress reports whether n owns an A or AAAA RRset.
func (n Node) HasAddress() bool {
	return n.Set(dns.TypeA) != nil || n.Set(dns.TypeAAAA) != nil
}

// Build indexes the records of the zone origin (lower case, fully
// qualified). rrs must be sorted by owner and then type, owners lower case
// and at or below origin, without duplicates; Build keeps the slice. Every
// name between an owner and the apex becomes an empty non-terminal.
func Build(origin string, rrs []dns.RR) *Zone {
	z := &Zone{origin: origin, count: len(rrs), labels: dns.CountLabel(origin)}
	owners, nsets := ownersOf(rrs)
	z.owners = withEmptyNonTerminals(origin, owners)
	z.first = make([]int32, len(z.owners)+1)
	z.sets = make([]RRset, 0, nsets)
	for i, oi := 0, 0; oi < len(z.owners); oi++ {
		z.first[oi] = int32(len(z.sets))
		owner := z.owners[oi]
		for i < len(rrs) && rrs[i].Header().Name == owner {
			t := rrs[i].Header().Rrtype
			j := i + 1
			for j < len(rrs) && rrs[j].Header().Name == owner && rrs[j].Header().Rrtype == t {
				j++
			}
			wire := 0
			for _, rr := range rrs[i:j] {
				wire += dns.Len(rr)
			}
			z.sets = append(z.sets, RRset{rtype: t, wire: uint32(wire), rrs: rrs[i:j:j]})
			i = j
		}
	}
	z.first[len(z.owners)] = int32(len(z.sets))
	z.apex, _ = z.Node(origin)
	if soas := z.apex.Get(dns.TypeSOA); len(soas) > 0 {
		z.soa = soas[0].(*dns.SOA)
		neg := *z.soa
		neg.Hdr.Ttl = min(z.soa.Hdr.Ttl, z.soa.Minttl)
		z.negative = []dns.RR{&neg}
	}
	return z
}

// ownersOf returns the distinct owners of sorted records and the number of
// RRsets they hold.
func ownersOf(rrs []dns.RR) (owners []string, sets int) {
	for i, rr := range rrs {
		h := rr.Header()
		if i == 0 || h.Name != rrs[i-1].Header().Name {
			owners = append(owners, h.Name)
			sets++
		} else if h.Rrtype != rrs[i-1].Header().Rrtype {
			sets++
		}
	}
	return owners, sets
}

// withEmptyNonTerminals returns the sorted owners with every name between
// an owner and origin added, and origin itself.
func withEmptyNonTerminals(origin string, owners []string) []string {
	var ents []string
	for _, owner := range owners {
		for a := range Ancestors(owner) {
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
	if len(ents) == 0 {
		return slices.Clone(owners) // exactly as long as needed
	}
	// Merge the few empty non-terminals in: owners is already sorted.
	slices.Sort(ents)
	out := make([]string, 0, len(owners)+len(ents))
	for _, o := range owners {
		for len(ents) > 0 && ents[0] < o {
			out, ents = append(out, ents[0]), ents[1:]
		}
		out = append(out, o)
	}
	return append(out, ents...)
}

// Origin is the zone's name: lower case, fully qualified.
func (z *Zone) Origin() string { return z.origin }

// SOA is the zone's SOA record, or nil if it has none.
func (z *Zone) SOA() *dns.SOA { return z.soa }

// Serial is the SOA serial, or 0 without an SOA.
func (z *Zone) Serial() uint32 {
	if z.soa == nil {
		return 0
	}
	return z.soa.Serial
}

// Negative is the authority section of a negative answer: the SOA with the
// negative TTL of RFC 2308 §3. Its capacity is its length, so a caller that
// appends gets a new array. It is nil for a zone without an SOA.
func (z *Zone) Negative() []dns.RR {
	if z.negative == nil {
		return nil
	}
	return z.negative[:1:1]
}

// Len is the number of records.
func (z *Zone) Len() int { return z.count }

// RRsets are all RRsets of the zone, sorted by owner and type. They belong
// to the zone: never modify them.
func (z *Zone) RRsets() []RRset { return z.sets }

// Apex is the node of the origin.
func (z *Zone) Apex() Node { return z.apex }

// Holds reports whether name (lower case) is at or below the origin.
func (z *Zone) Holds(name string) bool { return dns.IsSubDomain(z.origin, name) }

// Node returns the node of owner (lower case), if the name exists.
func (z *Zone) Node(owner string) (Node, bool) {
	i, ok := slices.BinarySearch(z.owners, owner)
	if !ok {
		return Node{}, false
	}
	return Node{name: z.owners[i], sets: z.sets[z.first[i]:z.first[i+1]]}, true
}

// Target returns the host name in the data of an MX, NS, SRV, CNAME, DNAME
// or PTR record, or "" for other types.
func Target(rr dns.RR) string {
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
