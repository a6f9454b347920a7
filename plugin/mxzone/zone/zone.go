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
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/miekg/dns"
)

// Zone is one zone's records, indexed and packed. Once built it never
// changes, so any number of readers may use it without locks.
type Zone struct {
	origin string
	// names is the start of data: the owner names, sorted, back to back,
	// then the apex SOA's MNAME and RNAME in presentation form, each ended
	// by a NUL (when they need no escapes), so that the SOA of a negative
	// answer costs no allocation of its own.
	names string
	data  []byte // names, then each record's RDATA in wire form after its 2-byte length
	// idx holds, for n owners: the offset of each owner in names and then
	// len(names) (n+1 words); the index of each owner's first RRset and then
	// the number of RRsets (n+1 words); then setWords words per RRset,
	// sorted by owner and type (see set).
	idx    []uint32
	owners int32 // n
	apex   int32 // index of the origin among the owners
	soaAt  int32 // offset in names of the SOA's MNAME; 0: not there
	labels int32 // labels in origin
	count  int32 // records
	kinds  kinds // which rare types the zone holds, so lookups skip them
}

// kinds are types a lookup must look for at every name when a zone holds
// them, and only then.
type kinds uint8

const (
	kindDNAME kinds = 1 << iota // a DNAME redirects the names below it
	kindNSEC3                   // an NSEC3 owner is no name of the zone
)

// setWords is the size of one RRset in Zone.idx: type and class, TTL,
// number of records, offset in data of the first record's length, and
// uncompressed wire length of the records, owner names included.
const setWords = 5

// setWord returns word w (0 to setWords-1) of RRset k.
func (z *Zone) setWord(k, w int) uint32 { return z.idx[2*(int(z.owners)+1)+k*setWords+w] }

// firstSet returns the index of owner i's first RRset (i may be the number
// of owners: the number of RRsets).
func (z *Zone) firstSet(i int) int { return int(z.idx[int(z.owners)+1+i]) }

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
// owner and the apex becomes an empty non-terminal; more names than
// maxNames (0: no limit) is ErrTooManyNames. A record that cannot be put in
// wire form (its RDATA is invalid) is a *RecordError: a zone never holds a
// record it cannot answer with. The cost is linear in the names and records.
func Build(origin string, rrs []dns.RR, maxNames int) (*Zone, error) {
	owners, nsets := ownersOf(rrs)
	all, err := withEmptyNonTerminals(origin, owners, maxNames)
	if err != nil {
		return nil, err
	}
	n := len(all)
	z := &Zone{origin: origin, owners: int32(n), count: int32(len(rrs)), labels: int32(dns.CountLabel(origin))}
	z.idx = make([]uint32, 2*(n+1)+setWords*nsets)
	namesLen := 0
	for _, o := range all {
		namesLen += len(o)
	}
	bufp := scratch.Get().(*[]byte)
	defer scratch.Put(bufp)
	data := make([]byte, 0, namesLen+64*len(rrs))
	for i, o := range all {
		z.idx[i] = uint32(len(data))
		data = append(data, o...)
	}
	z.idx[n] = uint32(len(data))
	sets := z.idx[2*(n+1):]
	k := 0
	for i, oi := 0, 0; oi < n; oi++ {
		z.idx[n+1+oi] = uint32(k)
		for i < len(rrs) && rrs[i].Header().Name == all[oi] {
			j := i + 1
			for j < len(rrs) && rrs[j].Header().Name == all[oi] && rrs[j].Header().Rrtype == rrs[i].Header().Rrtype {
				j++
			}
			h := rrs[i].Header()
			switch h.Rrtype {
			case dns.TypeDNAME:
				z.kinds |= kindDNAME
			case dns.TypeNSEC3:
				z.kinds |= kindNSEC3
			}
			w := sets[k*setWords : (k+1)*setWords]
			w[0], w[1], w[2], w[3] = uint32(h.Rrtype)<<16|uint32(h.Class), h.Ttl, uint32(j-i), uint32(len(data))
			for r := i; r < j; r++ {
				var size int
				var err error
				data, size, err = appendRecord(data, rrs[r], *bufp)
				if err != nil {
					return nil, &RecordError{Index: r, Err: err}
				}
				w[4] += uint32(size)
			}
			k++
			i = j
		}
	}
	z.idx[2*n+1] = uint32(k)
	z.data, z.names = data, unsafe.String(unsafe.SliceData(data), namesLen)
	i, _ := z.find(origin)
	z.apex = int32(i)
	z.data = z.withSOANames(data, namesLen)
	return z, nil
}

// Sort puts records in the order Build takes: by owner, then type, the
// records of one RRset keeping their order.
func Sort(rrs []dns.RR) {
	slices.SortStableFunc(rrs, func(a, b dns.RR) int {
		if c := strings.Compare(a.Header().Name, b.Header().Name); c != 0 {
			return c
		}
		return int(a.Header().Rrtype) - int(b.Header().Rrtype)
	})
}

// withSOANames returns data, exactly as long as needed, with the
// presentation names of the apex SOA put between the owner names and the
// RDATA, and sets z.names to cover both.
func (z *Zone) withSOANames(data []byte, namesLen int) []byte {
	var text []byte
	if soa, ok := z.Apex().Set(dns.TypeSOA); ok {
		if t, ok := soaNames(nil, soa.record(0)); ok {
			text = t
		}
	}
	out := make([]byte, 0, len(data)+len(text))
	out = append(append(append(out, data[:namesLen]...), text...), data[namesLen:]...)
	if len(text) > 0 {
		z.soaAt = int32(namesLen)
		sets := z.idx[2*(int(z.owners)+1):]
		for k := 3; k < len(sets); k += setWords {
			sets[k] += uint32(len(text)) // the RDATA moved up
		}
	}
	z.names = unsafe.String(unsafe.SliceData(out), namesLen+len(text))
	return out
}

// appendRecord appends the 2-byte length and the RDATA of rr to rdata and
// returns the record's whole uncompressed wire length.
func appendRecord(rdata []byte, rr dns.RR, buf []byte) ([]byte, int, error) {
	// A record written in the RFC 3597 form ("\# 5 0A00000100") keeps the
	// length it was given; miekg/dns reads what its type holds and drops
	// the rest, which must not be served as if nothing happened.
	declared := int(rr.Header().Rdlength)
	end, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return rdata, 0, err
	}
	rdlen := int(rr.Header().Rdlength)
	if declared != 0 && declared != rdlen {
		return rdata, 0, fmt.Errorf("RDATA given as %d bytes, but it holds %d for a %s record (RFC 3597 section 5)",
			declared, rdlen, dns.TypeToString[rr.Header().Rrtype])
	}
	rdata = binary.BigEndian.AppendUint16(rdata, uint16(rdlen))
	return append(rdata, buf[end-rdlen:end]...), end, nil
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

// ErrTooManyNames says a zone would hold more names (empty non-terminals
// included) than Build was allowed to make.
var ErrTooManyNames = errors.New("too many names")

// withEmptyNonTerminals returns the sorted owners with every name between
// an owner and origin added, and origin itself; ErrTooManyNames when that
// would be more than maxNames (0: no limit), found before they are made.
// Its cost is linear in the names it returns: each ancestor of an owner is
// looked at until one that is already known.
func withEmptyNonTerminals(origin string, owners []string, maxNames int) ([]string, error) {
	known := make(map[string]struct{}, len(owners))
	for _, o := range owners {
		known[o] = struct{}{}
	}
	var ents []string
	add := func(name string) bool {
		if _, ok := known[name]; ok {
			return false
		}
		known[name] = struct{}{}
		ents = append(ents, name)
		return true
	}
	for _, owner := range owners {
		for a := range Ancestors(owner) {
			if len(a) < len(origin) || !add(a) {
				break
			}
		}
		if maxNames > 0 && len(owners)+len(ents) > maxNames {
			return nil, ErrTooManyNames
		}
	}
	add(origin)
	if maxNames > 0 && len(owners)+len(ents) > maxNames {
		return nil, ErrTooManyNames
	}
	if len(ents) == 0 {
		return owners, nil
	}
	// Merge the empty non-terminals in: owners is already sorted.
	slices.Sort(ents)
	out := make([]string, 0, len(owners)+len(ents))
	for _, o := range owners {
		for len(ents) > 0 && ents[0] < o {
			out, ents = append(out, ents[0]), ents[1:]
		}
		out = append(out, o)
	}
	return append(out, ents...), nil
}

// owner returns owner name i.
func (z *Zone) owner(i int) string { return z.names[z.idx[i]:z.idx[i+1]] }

// find returns the index of owner name, and whether it is there.
func (z *Zone) find(name string) (int, bool) {
	return z.search(func(owner string) int { return strings.Compare(owner, name) })
}

// search is a binary search over the owner names: cmp says whether an
// owner sorts before (< 0), at (0) or after (> 0) what is looked for. It
// returns the first owner not before it, and whether that one is it.
func (z *Zone) search(cmp func(owner string) int) (int, bool) {
	lo, hi := 0, int(z.owners)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cmp(z.owner(m)) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < int(z.owners) && cmp(z.owner(lo)) == 0
}

// Origin is the zone's name: lower case, fully qualified.
func (z *Zone) Origin() string { return z.origin }

// Names is the number of names in the zone, empty non-terminals included.
func (z *Zone) Names() int { return int(z.owners) }

// Len is the number of records.
func (z *Zone) Len() int { return int(z.count) }

// Holds reports whether name (lower case, fully qualified) is at or below
// the origin. It allocates nothing: it runs on every answer.
func (z *Zone) Holds(name string) bool { return Within(name, z.origin) }

// Within reports whether name is at or below origin, both lower case and
// fully qualified, in presentation form: name ends with origin, and the
// dot before that, if any, ends a label (it is not escaped).
func Within(name, origin string) bool {
	if origin == "." || name == origin {
		return true
	}
	cut := len(name) - len(origin)
	if cut < 2 || name[cut:] != origin || name[cut-1] != '.' {
		return false
	}
	backslashes := 0
	for i := cut - 2; i >= 0 && name[i] == '\\'; i-- {
		backslashes++
	}
	return backslashes%2 == 0
}

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
	for i := range int(z.owners) {
		for k := z.firstSet(i); k < z.firstSet(i+1); k++ {
			if !yield(RRset{z: z, k: int32(k), owner: int32(i)}) {
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

// Target returns the host name in the data of an MX, NS, SRV, CNAME, DNAME,
// PTR, SVCB or HTTPS record, or "" for other types. An SVCB or HTTPS
// TargetName of "." (the owner itself, RFC 9460 section 2.5) names no other
// host: Knot adds nothing for it either.
func Target(rr dns.RR) string {
	switch v := rr.(type) {
	case *dns.MX: // first: the type asked for most
		return v.Mx
	case *dns.SVCB:
		return svcbTarget(v.Target)
	case *dns.HTTPS:
		return svcbTarget(v.Target)
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
	case *dns.RFC3597:
		return genericSVCBTarget(v)
	}
	return ""
}

// genericSVCBTarget is the target of an SVCB or HTTPS record held as RFC
// 3597 data (one miekg/dns cannot hold as its type: zonefile/svcb.go).
func genericSVCBTarget(g *dns.RFC3597) string {
	if g.Hdr.Rrtype != dns.TypeSVCB && g.Hdr.Rrtype != dns.TypeHTTPS {
		return ""
	}
	rd, err := hex.DecodeString(g.Rdata)
	if err != nil || len(rd) < 3 {
		return ""
	}
	name, _, err := dns.UnpackDomainName(rd, 2)
	if err != nil {
		return ""
	}
	return svcbTarget(name)
}

// svcbTarget is the other host an SVCB or HTTPS record names, if any.
func svcbTarget(target string) string {
	if target == "." {
		return ""
	}
	return target
}
