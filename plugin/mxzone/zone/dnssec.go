package zone

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"slices"
	"strings"
	"unsafe"

	"github.com/miekg/dns"
)

// AppendSigs appends the RRSIG records at n that cover type t, owned by
// owner (the name asked for, for a wildcard answer), to dst; ttl, when not
// 0, replaces their TTL (the negative TTL, for the SOA of a negative
// answer). It makes only the signatures it returns, and returns their
// uncompressed wire length too.
func (n Node) AppendSigs(dst []dns.RR, owner string, t uint16, ttl uint32) ([]dns.RR, int) {
	s, ok := n.Set(dns.TypeRRSIG)
	if !ok {
		return dst, 0
	}
	off := s.off()
	var rd []byte
	size := 0
	for range s.Len() {
		rd, off = s.z.next(off)
		if len(rd) < 18 || binary.BigEndian.Uint16(rd) != t {
			continue
		}
		rr := s.sig(owner, rd)
		if rr == nil {
			continue // not made by the signer: nothing to send
		}
		if ttl != 0 {
			rr.Header().Ttl = ttl
		}
		dst = append(dst, rr)
		size += len(owner) + 1 + 10 + len(rd)
	}
	return dst, size
}

// sig makes the RRSIG record of RDATA rd, owned by owner, with the TTL of
// the RRset it covers (its original TTL): the signatures at a name are one
// set in the zone but each has its own TTL. Signatures by the zone itself,
// the usual case, are made without a general unpack.
func (s RRset) sig(owner string, rd []byte) dns.RR {
	h := s.header(owner)
	h.Ttl = binary.BigEndian.Uint32(rd[4:])
	origin := s.z.origin
	if signer := rd[18:]; len(signer) > len(origin) && signer[0] != 0 && sameName(signer[:len(origin)+1], origin) {
		// The record and the text of its signature in one allocation.
		sig := signer[len(origin)+1:]
		r := &sigRecord{rr: dns.RRSIG{Hdr: h, TypeCovered: binary.BigEndian.Uint16(rd), Algorithm: rd[2], Labels: rd[3],
			OrigTtl: h.Ttl, Expiration: binary.BigEndian.Uint32(rd[8:]), Inception: binary.BigEndian.Uint32(rd[12:]),
			KeyTag: binary.BigEndian.Uint16(rd[16:]), SignerName: origin}}
		text := r.text[:]
		if n := base64.StdEncoding.EncodedLen(len(sig)); n <= len(text) {
			text = text[:n]
		} else {
			text = make([]byte, n)
		}
		base64.StdEncoding.Encode(text, sig)
		r.rr.Signature = unsafe.String(unsafe.SliceData(text), len(text))
		return &r.rr
	}
	h.Rdlength = uint16(len(rd))
	rr, _, err := dns.UnpackRRWithHeader(h, rd, 0)
	if err != nil {
		return nil
	}
	rr.Header().Rdlength = 0
	return rr
}

// sigRecord holds an RRSIG record and the base64 text of a signature of
// up to 64 octets (ECDSA P-256, Ed25519), so that one allocation makes
// both. The text is not changed after the record is made.
type sigRecord struct {
	rr   dns.RRSIG
	text [88]byte
}

// sameName reports whether wire, an uncompressed name in wire form, is the
// name origin (lower case, without escapes; "." is the root).
func sameName(wire []byte, origin string) bool {
	if origin == "." {
		return len(wire) == 1 && wire[0] == 0
	}
	if len(wire) != len(origin)+1 || wire[len(wire)-1] != 0 {
		return false
	}
	i := 0
	for i < len(wire)-1 {
		l := int(wire[i])
		if l == 0 || i+1+l > len(wire)-1 || origin[i+l] != '.' {
			return false
		}
		for j := i + 1; j <= i+l; j++ {
			c := wire[j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != origin[j-1] || c == '.' || c == '\\' {
				return false
			}
		}
		i += 1 + l
	}
	return true
}

// Chain is the denial-of-existence chain of a signed zone, ordered for
// look-ups: the owners of its NSEC records in canonical order (RFC 4034
// section 6.1), or of its NSEC3 records in hash order. It is built once per
// signed version and never changes.
type Chain struct {
	z     *Zone
	order []int32 // owner indexes
	nsec3 bool
}

// NewChain indexes the NSEC or NSEC3 records of z; the zero Chain when it
// holds neither.
func NewChain(z *Zone) Chain {
	c := Chain{z: z}
	if z.kinds&kindNSEC3 != 0 {
		c.nsec3 = true
		// NSEC3 owners are one base32hex label of one length over the
		// origin: their order as strings is the order of their hashes.
		for i := range int(z.owners) {
			if (Node{z: z, i: int32(i)}).Has(dns.TypeNSEC3) {
				c.order = append(c.order, int32(i))
			}
		}
		return c
	}
	for i := range int(z.owners) {
		if (Node{z: z, i: int32(i)}).Has(dns.TypeNSEC) {
			c.order = append(c.order, int32(i))
		}
	}
	slices.SortFunc(c.order, func(a, b int32) int { return CompareCanonical(z.owner(int(a)), z.owner(int(b))) })
	return c
}

// Empty reports whether the chain has no record: the zone is not signed.
func (c Chain) Empty() bool { return len(c.order) == 0 }

// NSEC3 reports whether the chain is made of NSEC3 records.
func (c Chain) NSEC3() bool { return c.nsec3 }

// Covering returns the node whose NSEC or NSEC3 record matches name (true)
// or covers it (false): the last in the chain's order at or before it,
// the last of all when name is before the first (the chain wraps).
func (c Chain) Covering(name string) (Node, bool) {
	if len(c.order) == 0 {
		return Node{}, false
	}
	var key string
	var cmp func(owner string) int
	if c.nsec3 {
		key = c.hash(name)
		cmp = func(owner string) int { return strings.Compare(owner[:strings.IndexByte(owner, '.')], key) }
	} else {
		cmp = func(owner string) int { return CompareCanonical(owner, name) }
	}
	lo, hi := 0, len(c.order)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cmp(c.z.owner(int(c.order[m]))) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	at := lo - 1
	if at < 0 {
		at = len(c.order) - 1
	}
	n := Node{z: c.z, i: c.order[at]}
	return n, cmp(n.Name()) == 0
}

// hash is the NSEC3 hash of name with the zone's parameters (its
// NSEC3PARAM), as the label of an NSEC3 owner: lower-case base32hex.
func (c Chain) hash(name string) string {
	iterations, salt := uint16(0), ""
	if s, ok := c.z.Apex().Set(dns.TypeNSEC3PARAM); ok {
		rd := s.record(0)
		if len(rd) >= 5 && len(rd) >= 5+int(rd[4]) {
			iterations = binary.BigEndian.Uint16(rd[2:])
			salt = strings.ToUpper(hexString(rd[5 : 5+int(rd[4])]))
		}
	}
	return strings.ToLower(dns.HashName(name, dns.SHA1, iterations, salt))
}

// hexString is b in hexadecimal, as NSEC3 salts are written.
func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// Digest identifies the zone's content: two zones with the same records
// have the same digest. A signed copy kept on disk says which unsigned
// version it signs by it.
func (z *Zone) Digest() [32]byte {
	h := sha256.New()
	h.Write([]byte(z.origin))
	h.Write(z.data)
	h.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(z.idx))), 4*len(z.idx))) // in host order: never leaves the machine
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// SameSet reports whether n holds an RRset of type t exactly like rrs:
// the same TTL and the same records, data compared in wire form, in the
// same order. A signature made over the one is valid for the other.
func (n Node) SameSet(t uint16, rrs []dns.RR) bool {
	s, ok := n.Set(t)
	if !ok || s.Len() != len(rrs) || len(rrs) == 0 || s.ttl() != rrs[0].Header().Ttl || s.class() != rrs[0].Header().Class {
		return false
	}
	bufp := scratch.Get().(*[]byte)
	defer scratch.Put(bufp)
	off := s.off()
	var rd []byte
	for _, rr := range rrs {
		rd, off = s.z.next(off)
		end, err := dns.PackRR(rr, *bufp, 0, nil, false)
		if err != nil {
			return false
		}
		l := int(rr.Header().Rdlength)
		if l != len(rd) || string((*bufp)[end-l:end]) != string(rd) {
			return false
		}
	}
	return true
}
