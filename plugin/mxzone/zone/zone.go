// Package zone is the immutable index of one zone's records and the look-up
// an authoritative server does in it: zone cuts, exact names, empty
// non-terminals and wildcards (RFC 1034 §4.3.2, RFC 4592). It knows nothing
// of files, rules or plugins.
//
// A server may hold a million of these, and the garbage collector scans
// whatever holds pointers, so a zone keeps its records packed: the owner
// names (empty non-terminals included) sorted in one string, the RDATA of
// every record in wire form in one byte slice, and pointer-free index
// arrays into both. A look-up is a binary search over the owners; records
// become dns.RR values only when they are answered, owned by the caller.
package zone

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Zone is one zone's records, indexed and packed. Once built it never
// changes, so any number of readers may use it without locks.
type Zone struct {
	origin string
	labels int    // labels in origin
	names  string // the owner names, sorted, back to back
	// owners[i] is the offset of owner i in names; owners[len-1] is
	// len(names). first[i] is the index of owner i's first RRset in sets;
	// first[len-1] is len(sets).
	owners []uint32
	first  []uint32
	sets   []set  // sorted by owner, then type
	rdata  []byte // each record's RDATA in wire form, after its 2-byte length
	count  int    // records
	apex   int32  // index of the origin in owners
}

// set is one RRset: where its records are and what they share.
type set struct {
	rtype uint16
	class uint16
	ttl   uint32
	n     uint32 // records
	off   uint32 // offset in rdata of the first record's length
	wire  uint32 // uncompressed wire length of the records, owner names included
}

// RecordError says which record of those given to Build cannot be served.
type RecordError struct {
	Index int // in the slice given to Build
	Err   error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %d cannot be written in wire form: %v", e.Index, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// scratch holds one record in wire form while Build packs it.
var scratch = sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize+512); return &b }}

// Build indexes the records of the zone origin (lower case, fully
// qualified). rrs must be sorted by owner and then type, owners lower case
// and at or below origin, without duplicates, and the records of one RRset
// must share its TTL (the first record's is kept). Every name between an
// owner and the apex becomes an empty non-terminal. A record that cannot be
// put in wire form (its RDATA is invalid) is a *RecordError: a zone never
// holds a record it cannot answer with.
func Build(origin string, rrs []dns.RR) (*Zone, error) {
	owners, nsets := ownersOf(rrs)
	all := withEmptyNonTerminals(origin, owners)
	z := &Zone{origin: origin, count: len(rrs), labels: dns.CountLabel(origin)}
	z.indexNames(all)
	bufp := scratch.Get().(*[]byte)
	defer scratch.Put(bufp)
	rdata := make([]byte, 0, 64*len(rrs))
	z.sets = make([]set, 0, nsets)
	z.first = make([]uint32, len(all)+1)
	for i, oi := 0, 0; oi < len(all); oi++ {
		z.first[oi] = uint32(len(z.sets))
		for i < len(rrs) && rrs[i].Header().Name == all[oi] {
			j := i + 1
			for j < len(rrs) && rrs[j].Header().Name == all[oi] && rrs[j].Header().Rrtype == rrs[i].Header().Rrtype {
				j++
			}
			s := set{rtype: rrs[i].Header().Rrtype, class: rrs[i].Header().Class, ttl: rrs[i].Header().Ttl,
				n: uint32(j - i), off: uint32(len(rdata))}
			for k := i; k < j; k++ {
				var n int
				var err error
				rdata, n, err = appendRecord(rdata, rrs[k], *bufp)
				if err != nil {
					return nil, &RecordError{Index: k, Err: err}
				}
				s.wire += uint32(n)
			}
			z.sets = append(z.sets, s)
			i = j
		}
	}
	z.first[len(all)] = uint32(len(z.sets))
	z.rdata = slices.Clone(rdata) // exactly as long as needed
	i, _ := z.find(origin)
	z.apex = int32(i)
	return z, nil
}

// appendRecord appends the 2-byte length and the RDATA of rr to rdata and
// returns the record's whole uncompressed wire length.
func appendRecord(rdata []byte, rr dns.RR, buf []byte) ([]byte, int, error) {
	end, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return rdata, 0, err
	}
	rdlen := int(rr.Header().Rdlength)
	rdata = binary.BigEndian.AppendUint16(rdata, uint16(rdlen))
	return append(rdata, buf[end-rdlen:end]...), end, nil
}

// indexNames stores the sorted owner names back to back.
func (z *Zone) indexNames(all []string) {
	total := 0
	for _, o := range all {
		total += len(o)
	}
	var b strings.Builder
	b.Grow(total)
	z.owners = make([]uint32, len(all)+1)
	for i, o := range all {
		z.owners[i] = uint32(b.Len())
		b.WriteString(o)
	}
	z.owners[len(all)] = uint32(b.Len())
	z.names = b.String()
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
		return owners
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

// owner returns owner name i.
func (z *Zone) owner(i int) string { return z.names[z.owners[i]:z.owners[i+1]] }

// find returns the index of owner name, and whether it is there.
func (z *Zone) find(name string) (int, bool) {
	return z.search(func(owner string) int { return strings.Compare(owner, name) })
}

// search is a binary search over the owner names: cmp says whether an
// owner sorts before (< 0), at (0) or after (> 0) what is looked for. It
// returns the first owner not before it, and whether that one is it.
func (z *Zone) search(cmp func(owner string) int) (int, bool) {
	lo, hi := 0, len(z.owners)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cmp(z.owner(m)) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(z.owners)-1 && cmp(z.owner(lo)) == 0
}

// Origin is the zone's name: lower case, fully qualified.
func (z *Zone) Origin() string { return z.origin }

// Len is the number of records.
func (z *Zone) Len() int { return z.count }

// Holds reports whether name (lower case) is at or below the origin.
func (z *Zone) Holds(name string) bool { return dns.IsSubDomain(z.origin, name) }

// Apex is the node of the origin.
func (z *Zone) Apex() Node { return Node{z: z, i: z.apex} }

// Node returns the node of owner (lower case), if the name exists.
func (z *Zone) Node(owner string) (Node, bool) {
	i, ok := z.find(owner)
	if !ok {
		return Node{}, false
	}
	return Node{z: z, i: int32(i)}, true
}

// All yields every RRset of the zone, sorted by owner and type.
func (z *Zone) All(yield func(RRset) bool) {
	for i := range len(z.owners) - 1 {
		for k := z.first[i]; k < z.first[i+1]; k++ {
			if !yield(RRset{z: z, s: &z.sets[k], owner: int32(i)}) {
				return
			}
		}
	}
}

// SOA returns a new copy of the zone's SOA record, or nil if it has none.
func (z *Zone) SOA() *dns.SOA {
	s, ok := z.Apex().Set(dns.TypeSOA)
	if !ok {
		return nil
	}
	return s.RRs()[0].(*dns.SOA)
}

// Serial is the SOA serial, or 0 without an SOA.
func (z *Zone) Serial() uint32 {
	s, ok := z.Apex().Set(dns.TypeSOA)
	if !ok {
		return 0
	}
	rd := s.record(0)
	// MNAME and RNAME (uncompressed), then SERIAL.
	off := skipName(rd, skipName(rd, 0))
	if off < 0 || off+4 > len(rd) {
		return 0
	}
	return binary.BigEndian.Uint32(rd[off:])
}

// skipName returns the offset after the uncompressed wire name at off, or -1.
func skipName(b []byte, off int) int {
	for off >= 0 && off < len(b) {
		l := int(b[off])
		if l == 0 {
			return off + 1
		}
		if l&0xc0 != 0 {
			return -1
		}
		off += l + 1
	}
	return -1
}

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
	return int(n.z.first[n.i+1] - n.z.first[n.i])
}

// SetAt returns the k-th RRset of the node, in type order.
func (n Node) SetAt(k int) RRset {
	return RRset{z: n.z, s: &n.z.sets[int(n.z.first[n.i])+k], owner: n.i}
}

// Empty reports whether the node is an empty non-terminal.
func (n Node) Empty() bool { return n.NumSets() == 0 }

// Set returns the RRset of type t at n.
func (n Node) Set(t uint16) (RRset, bool) {
	for k := range n.NumSets() {
		if s := n.SetAt(k); s.s.rtype == t {
			return s, true
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

// RRset is the records of one owner and type.
type RRset struct {
	z     *Zone
	s     *set
	owner int32
}

// Type is the RR type of the set.
func (s RRset) Type() uint16 { return s.s.rtype }

// Len is the number of records in the set.
func (s RRset) Len() int { return int(s.s.n) }

// Wire is the uncompressed wire length of the records, owner names included.
func (s RRset) Wire() int { return int(s.s.wire) }

// Owner is the owner name of the set, as stored (lower case).
func (s RRset) Owner() string { return s.z.owner(int(s.owner)) }

// RRs returns new records of the set, owned by Owner.
func (s RRset) RRs() []dns.RR { return s.AppendTo(make([]dns.RR, 0, s.s.n), s.Owner()) }

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
