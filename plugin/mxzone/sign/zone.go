package sign

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Options say how a zone is signed.
type Options struct {
	NSEC3                 bool   // NSEC3 with no salt and no extra iteration (RFC 9276); else NSEC
	Inception, Expiration uint32 // validity of the signatures, seconds since the epoch
	KeyTTL                uint32 // TTL of DNSKEY, CDS and CDNSKEY; 0: the SOA's
	// Reuse, if set, returns the signatures already made over an RRset
	// exactly like set (owner, type, TTL and data), still valid long
	// enough; nil to sign it anew. Re-signing after an edit then costs the
	// RRsets that changed. It is called from several goroutines.
	Reuse func(owner string, t uint16, set []dns.RR) []*dns.RRSIG
}

// name is one owner name of the zone being signed.
type name struct {
	owner  string
	labels [][]byte
	sets   map[uint16][]dns.RR
	cut    bool // a delegation point: NS, not the apex
	glue   bool // below a delegation: not authoritative, neither signed nor in the chain
}

// Zone returns the records of one zone (fully qualified, lower-case owners,
// its SOA among them) signed with keys: DNSKEY, CDS and CDNSKEY at the
// apex, the NSEC or NSEC3 chain and an RRSIG over every authoritative
// RRset. DNSSEC records the input holds (RRSIG, NSEC, NSEC3, NSEC3PARAM, and
// DNSKEY, CDS, CDNSKEY at the apex) are replaced. Delegation NS and glue are
// not signed; DS at a delegation is.
//
// Each key does what its Use says: the DNSKEY RRset holds the published
// keys, the apex key sets are signed by the keys that sign keys, every
// other RRset by the keys that sign the zone, and CDS and CDNSKEY name the
// keys submitted to the parent (none: no CDS and CDNSKEY).
func Zone(origin string, rrs []dns.RR, keys []KeyUse, opt Options) ([]dns.RR, error) {
	signers := roles{}
	for _, k := range keys {
		if k.SignKeys {
			signers.keys = append(signers.keys, k.Key)
		}
		if k.SignZone {
			signers.zone = append(signers.zone, k.Key)
		}
	}
	if len(signers.keys) == 0 || len(signers.zone) == 0 {
		return nil, fmt.Errorf("sign: no key to sign %s with", origin)
	}
	names, soa := collect(origin, rrs)
	if soa == nil {
		return nil, fmt.Errorf("sign: %s has no SOA at its apex", origin)
	}
	apex := names[origin]
	keyTTL := opt.KeyTTL
	if keyTTL == 0 {
		keyTTL = soa.Hdr.Ttl
	}
	addKeys(apex, keys, keyTTL)
	negTTL := min(soa.Hdr.Ttl, soa.Minttl) // RFC 9077
	ordered := order(names)
	var chain []dns.RR
	if opt.NSEC3 {
		apex.sets[dns.TypeNSEC3PARAM] = []dns.RR{&dns.NSEC3PARAM{Hdr: header(origin, dns.TypeNSEC3PARAM, 0), Hash: dns.SHA1}}
		chain = nsec3Chain(origin, ordered, negTTL)
	} else {
		chain = nsecChain(ordered, negTTL)
	}
	var out []dns.RR
	for _, n := range ordered {
		for _, t := range sortedTypes(n.sets) {
			out = append(out, n.sets[t]...)
		}
	}
	out = append(out, chain...)
	sigs, err := signAll(origin, out, names, signers, opt)
	if err != nil {
		return nil, err
	}
	return append(out, sigs...), nil
}

// collect groups rrs by owner and type, drops the DNSSEC records the signer
// makes, and marks delegation points and glue.
func collect(origin string, rrs []dns.RR) (map[string]*name, *dns.SOA) {
	names := map[string]*name{}
	var soa *dns.SOA
	for _, rr := range rrs {
		h := rr.Header()
		switch h.Rrtype {
		case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM:
			continue
		case dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY:
			if h.Name == origin {
				continue
			}
		case dns.TypeSOA:
			if h.Name == origin {
				soa = rr.(*dns.SOA)
			}
		}
		n := names[h.Name]
		if n == nil {
			n = &name{owner: h.Name, labels: labels(h.Name), sets: map[uint16][]dns.RR{}}
			names[h.Name] = n
		}
		n.sets[h.Rrtype] = append(n.sets[h.Rrtype], rr)
	}
	if names[origin] == nil {
		names[origin] = &name{owner: origin, labels: labels(origin), sets: map[uint16][]dns.RR{}}
	}
	for owner, n := range names {
		_, ns := n.sets[dns.TypeNS]
		n.cut = ns && owner != origin
	}
	for owner, n := range names {
		for a := Parent(owner); a != "" && dns.IsSubDomain(origin, a) && a != origin; a = Parent(a) {
			if p := names[a]; p != nil && p.cut {
				n.glue = true
				break
			}
		}
	}
	return names, soa
}

// Parent is name without its first label; "" for the root.
func Parent(name string) string {
	if name == "." {
		return ""
	}
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}

// roles are the keys that sign the apex key sets and those that sign the
// rest of the zone.
type roles struct{ keys, zone []*Key }

// of returns the keys that sign the RRset of type t at owner.
func (r roles) of(origin, owner string, t uint16) []*Key {
	if owner == origin && (t == dns.TypeDNSKEY || t == dns.TypeCDS || t == dns.TypeCDNSKEY) {
		return r.keys
	}
	return r.zone
}

// addKeys puts DNSKEY, CDS (SHA-256) and CDNSKEY (RFC 7344, RFC 8078) at the apex.
func addKeys(apex *name, keys []KeyUse, ttl uint32) {
	for _, k := range keys {
		if !k.Publish {
			continue
		}
		dk := *k.DNSKEY
		dk.Hdr = header(apex.owner, dns.TypeDNSKEY, ttl)
		apex.sets[dns.TypeDNSKEY] = append(apex.sets[dns.TypeDNSKEY], &dk)
		if !k.Submit {
			continue
		}
		cds := dk.ToDS(dns.SHA256).ToCDS()
		cds.Hdr = header(apex.owner, dns.TypeCDS, ttl)
		apex.sets[dns.TypeCDS] = append(apex.sets[dns.TypeCDS], cds)
		cdnskey := dk.ToCDNSKEY()
		cdnskey.Hdr = header(apex.owner, dns.TypeCDNSKEY, ttl)
		apex.sets[dns.TypeCDNSKEY] = append(apex.sets[dns.TypeCDNSKEY], cdnskey)
	}
}

func header(owner string, t uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

// order returns the names in canonical order.
func order(names map[string]*name) []*name {
	out := make([]*name, 0, len(names))
	for _, n := range names {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *name) int { return compareNames(a.labels, b.labels) })
	return out
}

// sortedTypes returns the types of sets in numeric order.
func sortedTypes(sets map[uint16][]dns.RR) []uint16 {
	types := make([]uint16, 0, len(sets))
	for t := range sets {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// signed reports whether the RRset of type t at n is signed: every
// authoritative RRset; at a delegation point only DS (and the chain's own
// record); nothing below one (RFC 4035 section 2.2).
func signed(n *name, t uint16) bool {
	switch {
	case n == nil || n.glue:
		return false
	case n.cut:
		return t == dns.TypeDS || t == dns.TypeNSEC
	}
	return true
}

// signAll makes the RRSIGs of every signed RRset of rrs, on one worker per
// CPU, in the order of rrs; signatures opt.Reuse gives are taken instead.
func signAll(origin string, rrs []dns.RR, names map[string]*name, signers roles, opt Options) ([]dns.RR, error) {
	type setKey struct {
		owner string
		t     uint16
	}
	sets := map[setKey][]dns.RR{}
	var order []setKey
	for _, rr := range rrs {
		h := rr.Header()
		k := setKey{h.Name, h.Rrtype}
		if _, ok := sets[k]; !ok {
			if n := names[k.owner]; k.t == dns.TypeNSEC3 || signed(n, k.t) {
				order = append(order, k)
			}
		}
		sets[k] = append(sets[k], rr)
	}
	out := make([][]dns.RR, len(order))
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(runtime.GOMAXPROCS(0), len(order)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(order); i = int(next.Add(1) - 1) {
				k := order[i]
				out[i], errs[i] = signSet(origin, k.owner, k.t, sets[k], signers.of(origin, k.owner, k.t), opt)
			}
		}()
	}
	wg.Wait()
	var sigs []dns.RR
	for i := range order {
		if errs[i] != nil {
			return nil, errs[i]
		}
		sigs = append(sigs, out[i]...)
	}
	return sigs, nil
}

// signSet returns the signatures of one RRset by every key: those
// opt.Reuse gives, if they are one per key, else new ones.
func signSet(origin, owner string, t uint16, set []dns.RR, keys []*Key, opt Options) ([]dns.RR, error) {
	if opt.Reuse != nil {
		if old := opt.Reuse(owner, t, set); len(old) == len(keys) && byKeys(old, keys) {
			out := make([]dns.RR, len(old))
			for i, sig := range old {
				out[i] = sig
			}
			return out, nil
		}
	}
	out := make([]dns.RR, 0, len(keys))
	for _, key := range keys {
		sig := &dns.RRSIG{Hdr: header(owner, dns.TypeRRSIG, set[0].Header().Ttl), Algorithm: key.DNSKEY.Algorithm,
			KeyTag: key.Tag(), SignerName: origin, Inception: opt.Inception, Expiration: opt.Expiration}
		if err := sig.Sign(key.private, set); err != nil {
			return nil, fmt.Errorf("sign: %s %s: %w", owner, dns.TypeToString[t], err)
		}
		out = append(out, sig)
	}
	return out, nil
}

// byKeys reports whether sigs hold one signature by each of keys.
func byKeys(sigs []*dns.RRSIG, keys []*Key) bool {
	for _, k := range keys {
		if !slices.ContainsFunc(sigs, func(s *dns.RRSIG) bool {
			return s.KeyTag == k.Tag() && s.Algorithm == k.DNSKEY.Algorithm
		}) {
			return false
		}
	}
	return true
}

// typesAt lists the types of the bitmap of n's chain record: its own types,
// the chain's type and RRSIG when anything there is signed.
func typesAt(n *name, chainType uint16) []uint16 {
	types := sortedTypes(n.sets)
	if chainType == dns.TypeNSEC {
		types = append(types, dns.TypeNSEC, dns.TypeRRSIG)
	} else if !n.cut || n.sets[dns.TypeDS] != nil {
		if len(types) > 0 {
			types = append(types, dns.TypeRRSIG)
		}
	}
	slices.Sort(types)
	return slices.Compact(types)
}

// nsecChain links the authoritative names and delegation points with NSEC
// records (RFC 4034 section 4, RFC 4035 section 2.3).
func nsecChain(ordered []*name, ttl uint32) []dns.RR {
	var chain []*name
	for _, n := range ordered {
		if !n.glue {
			chain = append(chain, n)
		}
	}
	out := make([]dns.RR, 0, len(chain))
	for i, n := range chain {
		next := chain[(i+1)%len(chain)]
		out = append(out, &dns.NSEC{Hdr: header(n.owner, dns.TypeNSEC, ttl), NextDomain: next.owner,
			TypeBitMap: typesAt(n, dns.TypeNSEC)})
	}
	return out
}

// hashed is a name of the NSEC3 chain.
type hashed struct {
	hash string // base32hex, upper case as miekg/dns writes it
	n    *name
}

// nsec3Chain links the hashes of the authoritative names, the delegation
// points and the empty non-terminals (RFC 5155 section 7.1), with SHA-1, no
// salt and no extra iteration (RFC 9276), no opt-out.
func nsec3Chain(origin string, ordered []*name, ttl uint32) []dns.RR {
	all := map[string]*name{}
	for _, n := range ordered {
		if n.glue {
			continue
		}
		all[n.owner] = n
		for a := Parent(n.owner); a != "" && a != origin && dns.IsSubDomain(origin, a); a = Parent(a) {
			if all[a] == nil {
				all[a] = &name{owner: a, sets: map[uint16][]dns.RR{}} // an empty non-terminal, unless it has data
			}
		}
	}
	var chain []hashed
	for owner, n := range all {
		chain = append(chain, hashed{hash: dns.HashName(owner, dns.SHA1, 0, ""), n: n})
	}
	slices.SortFunc(chain, func(a, b hashed) int { return strings.Compare(a.hash, b.hash) })
	out := make([]dns.RR, 0, len(chain))
	for i, h := range chain {
		next := chain[(i+1)%len(chain)]
		out = append(out, &dns.NSEC3{Hdr: header(strings.ToLower(h.hash)+"."+origin, dns.TypeNSEC3, ttl), Hash: dns.SHA1,
			NextDomain: next.hash, HashLength: 20, TypeBitMap: typesAt(h.n, dns.TypeNSEC3)})
	}
	return out
}
