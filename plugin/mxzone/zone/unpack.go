package zone

import (
	"encoding/binary"
	"encoding/hex"
	"net"
	"strings"
	"unsafe"

	"github.com/miekg/dns"
)

// AppendTo appends new records of the set, owned by owner, to dst. The
// records belong to the caller, who may change them: the zone keeps only
// bytes. The types answered most (A, AAAA, MX, NS, CNAME, PTR) are made a
// whole RRset at a time, in one or two allocations; the rest go through
// dns.UnpackRRWithHeader.
//
// This and the functions below run on every answer, on the query's
// goroutine, whose stack starts small: they keep their frames small and
// take no closures, so that the stack does not have to grow (a copy of the
// whole stack each time).
func (s RRset) AppendTo(dst []dns.RR, owner string) []dns.RR {
	return s.AppendFirst(dst, owner, s.Len())
}

// AppendFirst is AppendTo for the first n records of the set (see Fit).
func (s RRset) AppendFirst(dst []dns.RR, owner string, n int) []dns.RR {
	n = min(max(n, 0), s.Len())
	switch s.Type() {
	case dns.TypeA:
		if s.sized(net.IPv4len) {
			return s.appendA(dst, owner, n)
		}
	case dns.TypeAAAA:
		if s.sized(net.IPv6len) {
			return s.appendAAAA(dst, owner, n)
		}
	case dns.TypeMX, dns.TypeNS, dns.TypeCNAME, dns.TypePTR:
		if names, ok := s.plainNames(n); ok {
			return s.appendNamed(dst, owner, names, n)
		}
	case dns.TypeSOA:
		if s.z.soaAt != 0 && s.owner == s.z.apex && n > 0 {
			return append(dst, &s.z.soa(owner).rr)
		}
	}
	return s.appendGeneric(dst, owner, n)
}

// Fit returns how many of the set's first records, owned by owner, fit in
// room bytes of a message without name compression. It reads only the
// records' lengths.
func (s RRset) Fit(owner string, room int) int {
	fixed := len(owner) + 1 + 10 // owner (an upper bound with escapes), type, class, TTL, length
	off := s.off()
	for k := range s.Len() {
		l := int(binary.BigEndian.Uint16(s.z.data[off:]))
		if room -= fixed + l; room < 0 {
			return k
		}
		off += 2 + l
	}
	return s.Len()
}

// header is the RR header of the set's records, owned by owner.
func (s RRset) header(owner string) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: s.Type(), Class: s.class(), Ttl: s.ttl()}
}

// next returns the RDATA of the record at off in z.data and the offset of
// the record after it.
func (z *Zone) next(off int) ([]byte, int) {
	l := int(binary.BigEndian.Uint16(z.data[off:]))
	return z.data[off+2 : off+2+l], off + 2 + l
}

// sized reports whether every record of the set holds size bytes of RDATA.
func (s RRset) sized(size int) bool {
	off := s.off()
	var rd []byte
	for range s.Len() {
		if rd, off = s.z.next(off); len(rd) != size {
			return false
		}
	}
	return true
}

// aRecord and aaaaRecord hold a record and its address in one allocation.
type aRecord struct {
	rr dns.A
	ip [net.IPv4len]byte
}

type aaaaRecord struct {
	rr dns.AAAA
	ip [net.IPv6len]byte
}

// appendA makes A records, all of them and their addresses in one
// allocation.
func (s RRset) appendA(dst []dns.RR, owner string, n int) []dns.RR {
	rrs := make([]aRecord, n)
	off := s.off()
	var rd []byte
	for k := range rrs {
		rd, off = s.z.next(off)
		r := &rrs[k]
		copy(r.ip[:], rd)
		r.rr.Hdr, r.rr.A = s.header(owner), r.ip[:]
		dst = append(dst, &r.rr)
	}
	return dst
}

// appendAAAA is appendA for AAAA records.
func (s RRset) appendAAAA(dst []dns.RR, owner string, n int) []dns.RR {
	rrs := make([]aaaaRecord, n)
	off := s.off()
	var rd []byte
	for k := range rrs {
		rd, off = s.z.next(off)
		r := &rrs[k]
		copy(r.ip[:], rd)
		r.rr.Hdr, r.rr.AAAA = s.header(owner), r.ip[:]
		dst = append(dst, &r.rr)
	}
	return dst
}

// hostRecord holds one A and one AAAA record, with their addresses, in one
// allocation: the usual mail host.
type hostRecord struct {
	a    aRecord
	aaaa aaaaRecord
}

// AppendAddresses appends the node's A and then its AAAA records, owned by
// owner, to dst: the additional-section data for a host. A host with one
// address of each family costs one allocation.
func (n Node) AppendAddresses(dst []dns.RR, owner string) []dns.RR {
	a, okA := n.Set(dns.TypeA)
	aaaa, okAAAA := n.Set(dns.TypeAAAA)
	if okA && okAAAA && a.Len() == 1 && aaaa.Len() == 1 && a.sized(net.IPv4len) && aaaa.sized(net.IPv6len) {
		h := &hostRecord{}
		rd, _ := n.z.next(a.off())
		copy(h.a.ip[:], rd)
		h.a.rr.Hdr, h.a.rr.A = a.header(owner), h.a.ip[:]
		rd, _ = n.z.next(aaaa.off())
		copy(h.aaaa.ip[:], rd)
		h.aaaa.rr.Hdr, h.aaaa.rr.AAAA = aaaa.header(owner), h.aaaa.ip[:]
		return append(dst, &h.a.rr, &h.aaaa.rr)
	}
	if okA {
		dst = a.AppendTo(dst, owner)
	}
	if okAAAA {
		dst = aaaa.AppendTo(dst, owner)
	}
	return dst
}

// plainNames returns the target names of an MX, NS, CNAME or PTR set in
// presentation form, each ended by a NUL, in one string. false: a name
// needs escapes, which dns.UnpackRRWithHeader knows how to write.
func (s RRset) plainNames(n int) (string, bool) {
	text := make([]byte, 0, min(s.Wire(), n*256)) // room for the names in presentation form
	mx := s.Type() == dns.TypeMX
	off := s.off()
	var rd []byte
	for range n {
		rd, off = s.z.next(off)
		if mx {
			if len(rd) < 2 {
				return "", false
			}
			rd = rd[2:]
		}
		var ok bool
		if text, ok = appendPlainName(text, rd); !ok {
			return "", false
		}
	}
	// text is not changed after this: the names share its bytes.
	return unsafe.String(unsafe.SliceData(text), len(text)), true
}

// appendNamed makes MX, NS, CNAME or PTR records, the structs in one slice,
// with the target names from plainNames.
func (s RRset) appendNamed(dst []dns.RR, owner, names string, n int) []dns.RR {
	switch s.Type() {
	case dns.TypeMX:
		rrs := make([]dns.MX, n)
		off := s.off()
		var rd []byte
		for k := range rrs {
			rd, off = s.z.next(off)
			rrs[k].Hdr, rrs[k].Preference = s.header(owner), binary.BigEndian.Uint16(rd)
			rrs[k].Mx, names = cutName(names)
			dst = append(dst, &rrs[k])
		}
	case dns.TypeNS:
		rrs := make([]dns.NS, n)
		for k := range rrs {
			rrs[k].Hdr = s.header(owner)
			rrs[k].Ns, names = cutName(names)
			dst = append(dst, &rrs[k])
		}
	case dns.TypeCNAME:
		rrs := make([]dns.CNAME, n)
		for k := range rrs {
			rrs[k].Hdr = s.header(owner)
			rrs[k].Target, names = cutName(names)
			dst = append(dst, &rrs[k])
		}
	case dns.TypePTR:
		rrs := make([]dns.PTR, n)
		for k := range rrs {
			rrs[k].Hdr = s.header(owner)
			rrs[k].Ptr, names = cutName(names)
			dst = append(dst, &rrs[k])
		}
	}
	return dst
}

// cutName splits names, plain names in presentation form each ended by a
// NUL (appendPlainName writes them so; no plain name holds a NUL), into the
// first and the rest.
func cutName(names string) (string, string) {
	i := strings.IndexByte(names, 0)
	return names[:i], names[i+1:]
}

// appendPlainName appends the presentation form of the uncompressed wire
// name rd, which must be all of rd, and a NUL to end it, when no byte of it
// needs an escape; false otherwise.
func appendPlainName(text, rd []byte) ([]byte, bool) {
	if len(rd) == 1 && rd[0] == 0 {
		return append(text, '.', 0), true
	}
	off := 0
	for off < len(rd) {
		l := int(rd[off])
		if l == 0 {
			return append(text, 0), off == len(rd)-1
		}
		if l > 63 || off+1+l > len(rd) {
			return text, false
		}
		for _, c := range rd[off+1 : off+1+l] {
			if !plain(c) {
				return text, false
			}
		}
		text = append(append(text, rd[off+1:off+1+l]...), '.')
		off += 1 + l
	}
	return text, false
}

// plain reports whether c stands for itself in a name in presentation form.
func plain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '*' || c == '/'
}

// appendGeneric makes each record with dns.UnpackRRWithHeader.
func (s RRset) appendGeneric(dst []dns.RR, owner string, n int) []dns.RR {
	off := s.off()
	var rd []byte
	for range n {
		rd, off = s.z.next(off)
		h := s.header(owner)
		h.Rdlength = uint16(len(rd))
		if h.Rrtype == dns.TypeRRSIG && len(rd) >= 8 {
			// The signatures at a name are one set in the zone, but each
			// has the TTL of the RRset it covers: its original TTL.
			h.Ttl = binary.BigEndian.Uint32(rd[4:])
		}
		rr, _, err := dns.UnpackRRWithHeader(h, rd, 0)
		if err != nil {
			// Data miekg/dns cannot hold as its type (an SVCB hint
			// that is IPv4-mapped) goes out as it was stored.
			h.Rdlength = 0
			rr = &dns.RFC3597{Hdr: h, Rdata: hex.EncodeToString(rd)}
		}
		rr.Header().Rdlength = 0
		dst = append(dst, rr)
	}
	return dst
}

// record returns the RDATA of record k of the set.
func (s RRset) record(k int) []byte {
	off := s.off()
	var rd []byte
	for range k + 1 {
		rd, off = s.z.next(off)
	}
	return rd
}

// soaRecord holds an SOA record and a one-record section holding it, in one
// allocation.
type soaRecord struct {
	rr      dns.SOA
	section [1]dns.RR
}

// soaNames appends MNAME and RNAME of the SOA RDATA rd in presentation
// form, each ended by a NUL; false: rd is not an SOA's RDATA or a name needs
// escapes.
func soaNames(text, rd []byte) ([]byte, bool) {
	mname := skipName(rd, 0)
	rname := skipName(rd, mname)
	if mname < 0 || rname < 0 || rname+20 != len(rd) {
		return text, false
	}
	var ok bool
	if text, ok = appendPlainName(text, rd[:mname]); !ok {
		return text, false
	}
	return appendPlainName(text, rd[mname:rname])
}

// soa returns a new SOA record of the zone, owned by owner, in one
// allocation with a one-record section holding it; nil if the zone has
// none.
func (z *Zone) soa(owner string) *soaRecord {
	set, ok := z.Apex().Set(dns.TypeSOA)
	if !ok {
		return nil
	}
	if z.soaAt == 0 {
		r := &soaRecord{}
		r.rr = *set.AppendTo(nil, owner)[0].(*dns.SOA)
		r.section[0] = &r.rr
		return r
	}
	rd := set.record(0)
	r := &soaRecord{}
	r.rr.Hdr = set.header(owner)
	names := z.names[z.soaAt:]
	r.rr.Ns, names = cutName(names)
	r.rr.Mbox, _ = cutName(names)
	f := rd[len(rd)-20:]
	r.rr.Serial, r.rr.Refresh = binary.BigEndian.Uint32(f), binary.BigEndian.Uint32(f[4:])
	r.rr.Retry, r.rr.Expire = binary.BigEndian.Uint32(f[8:]), binary.BigEndian.Uint32(f[12:])
	r.rr.Minttl = binary.BigEndian.Uint32(f[16:])
	r.section[0] = &r.rr
	return r
}

// Negative returns a new authority section for a negative answer: the SOA
// with the negative TTL of RFC 2308 §3, min(SOA TTL, MINIMUM). Its capacity
// is its length. It is nil for a zone without an SOA.
func (z *Zone) Negative() []dns.RR {
	r := z.soa(z.origin)
	if r == nil {
		return nil
	}
	r.rr.Hdr.Ttl = min(r.rr.Hdr.Ttl, r.rr.Minttl)
	return r.section[:1:1]
}

// Texts yields the text of each record of a TXT (or SPF) set: its
// character-strings joined, as SPF (RFC 7208 section 3.3) and DKIM
// (RFC 6376 section 3.6.2.2) read them, read from the RDATA without making
// records.
func (s RRset) Texts(yield func(string) bool) {
	off := s.off()
	var rd []byte
	for range s.Len() {
		rd, off = s.z.next(off)
		if len(rd) > 0 && int(rd[0]) == len(rd)-1 {
			if !yield(string(rd[1:])) { // one character-string: the usual case
				return
			}
			continue
		}
		text := make([]byte, 0, len(rd))
		for len(rd) > 0 && int(rd[0]) < len(rd) {
			n := int(rd[0])
			text = append(text, rd[1:1+n]...)
			rd = rd[1+n:]
		}
		if !yield(string(text)) {
			return
		}
	}
}
