package zone

import (
	"net/netip"

	"github.com/miekg/dns"
)

// Node is one owner name of a zone and its RRsets. A node without RRsets
// is an empty non-terminal: it exists (NODATA, and it blocks wildcards) but
// holds no data. The zero Node is no name at all.
type Node struct {
	z *Zone
	i int32
}

// Name is the node's owner name (lower case).
func (n Node) Name() string {
	if n.z == nil {
		return ""
	}
	return n.z.owner(int(n.i))
}

// NumSets is the number of RRsets at the node.
func (n Node) NumSets() int {
	if n.z == nil {
		return 0
	}
	return n.z.firstSet(int(n.i)+1) - n.z.firstSet(int(n.i))
}

// SetAt returns the k-th RRset of the node, in type order.
func (n Node) SetAt(k int) RRset {
	return RRset{z: n.z, k: int32(n.z.firstSet(int(n.i)) + k), owner: n.i}
}

// Empty reports whether the node is an empty non-terminal.
func (n Node) Empty() bool { return n.NumSets() == 0 }

// Set returns the RRset of type t at n.
func (n Node) Set(t uint16) (RRset, bool) {
	if n.z == nil {
		return RRset{}, false
	}
	for k := n.z.firstSet(int(n.i)); k < n.z.firstSet(int(n.i)+1); k++ {
		if uint16(n.z.setWord(k, 0)>>16) == t {
			return RRset{z: n.z, k: int32(k), owner: n.i}, true
		}
	}
	return RRset{}, false
}

// Has reports whether n owns an RRset of type t.
func (n Node) Has(t uint16) bool {
	_, ok := n.Set(t)
	return ok
}

// HasAddress reports whether n owns an A or AAAA RRset.
func (n Node) HasAddress() bool { return n.Has(dns.TypeA) || n.Has(dns.TypeAAAA) }

// RRset is the records of one owner and type. It is small, to be passed by
// value on the query path: its fields are read from the zone's index.
type RRset struct {
	z     *Zone
	k     int32 // index of the RRset in the zone
	owner int32 // index of its owner
}

// Type is the RR type of the set.
func (s RRset) Type() uint16 { return uint16(s.z.setWord(int(s.k), 0) >> 16) }

// class, ttl and off (of the first record's length in data) of the set.
func (s RRset) class() uint16 { return uint16(s.z.setWord(int(s.k), 0)) }
func (s RRset) ttl() uint32   { return s.z.setWord(int(s.k), 1) }
func (s RRset) off() int      { return int(s.z.setWord(int(s.k), 3)) }

// Len is the number of records in the set.
func (s RRset) Len() int { return int(s.z.setWord(int(s.k), 2)) }

// Wire is the uncompressed wire length of the records, owner names included.
func (s RRset) Wire() int { return int(s.z.setWord(int(s.k), 4)) }

// Owner is the owner name of the set, as stored (lower case).
func (s RRset) Owner() string { return s.z.owner(int(s.owner)) }

// RRs returns new records of the set, owned by Owner.
func (s RRset) RRs() []dns.RR { return s.AppendTo(make([]dns.RR, 0, s.Len()), s.Owner()) }

// NSEC3Only reports whether n holds NSEC3 records and nothing else but
// signatures: the owner of an NSEC3 record, which is not a name of the zone
// (RFC 5155 section 7.2.8).
func (n Node) NSEC3Only() bool {
	if n.z.kinds&kindNSEC3 == 0 || !n.Has(dns.TypeNSEC3) {
		return false
	}
	for k := range n.NumSets() {
		if t := n.SetAt(k).Type(); t != dns.TypeNSEC3 && t != dns.TypeRRSIG {
			return false
		}
	}
	return true
}

// AppendAddrs appends the addresses of the A and AAAA records at n to dst,
// read from their RDATA without making records.
func (n Node) AppendAddrs(dst []netip.Addr) []netip.Addr {
	for _, t := range [2]uint16{dns.TypeA, dns.TypeAAAA} {
		s, ok := n.Set(t)
		if !ok {
			continue
		}
		off := s.off()
		var rd []byte
		for range s.Len() {
			rd, off = s.z.next(off)
			if a, ok := netip.AddrFromSlice(rd); ok {
				dst = append(dst, a)
			}
		}
	}
	return dst
}
