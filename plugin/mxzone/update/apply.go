package update

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Zone is what an update reads of the zone it changes: its records as the
// update sees them (the server's DNSSEC records left out).
type Zone interface {
	// RRset returns the records of type t at name (lower case); nil: none.
	RRset(name string, t uint16) []dns.RR
	// Types returns the types of the RRsets at name; none: the name holds
	// no records (an empty non-terminal is not "in use", RFC 2136 §2.4.4).
	Types(name string) []uint16
}

// Result is what an update does: an rcode, and when it is NOERROR the
// records to delete and to add (each at most once, TTL changes as a delete
// and an add). Reason says why an update was refused, for the log and an
// Extended DNS Error (RFC 8914).
type Result struct {
	Rcode  int
	Reason string
	Del    []dns.RR
	Add    []dns.RR
}

// MaxUpdateRecords bounds the records of one update: a larger one is
// refused whole, before any is looked at.
const MaxUpdateRecords = 10_000

// Limits bound what one update may make.
type Limits struct {
	RRsetRecords int // records in one RRset; 0: no bound
}

// Apply runs one UPDATE message (its zone section already matched to
// origin, RFC 2136 §3.1) against z for the key that signed it: the
// prerequisites (§3.2), the permission check (§3.3), the prescan (§3.4.1)
// and the changes (§3.4.2), in that order. Nothing of z changes: the result
// lists the differences.
func Apply(origin string, z Zone, req *dns.Msg, key string, p *Policy, lim Limits) Result {
	zclass := req.Question[0].Qclass
	if len(req.Answer)+len(req.Ns) > MaxUpdateRecords {
		return refuse(dns.RcodeRefused, "update has %d records; at most %d are taken in one message", len(req.Answer)+len(req.Ns), MaxUpdateRecords)
	}
	if r := prerequisites(origin, z, req.Answer, zclass, lim.RRsetRecords); r.Rcode != dns.RcodeSuccess {
		return r
	}
	updates := req.Ns
	if r := prescanNames(origin, updates); r.Rcode != dns.RcodeSuccess {
		return r
	}
	if r := permitted(origin, z, updates, key, p); r.Rcode != dns.RcodeSuccess {
		return r
	}
	if r := prescan(updates, zclass); r.Rcode != dns.RcodeSuccess {
		return r
	}
	return apply(origin, z, updates, zclass, lim.RRsetRecords)
}

func refuse(rcode int, format string, args ...any) Result {
	return Result{Rcode: rcode, Reason: fmt.Sprintf(format, args...)}
}

// empty reports whether rr came without RDATA: miekg/dns keeps the
// RDLENGTH it unpacked in the header (a record made in memory has 0 there
// too, so updates are always read from the wire).
func empty(rr dns.RR) bool { return rr.Header().Rdlength == 0 }

func lower(name string) string { return strings.ToLower(name) }

// prerequisites checks RFC 2136 §3.2. A value-dependent prerequisite
// whose RRset has more than maxSet records cannot hold (no RRset of the
// zone is that large) and is not compared record by record.
func prerequisites(origin string, z Zone, prereqs []dns.RR, zclass uint16, maxSet int) Result {
	type key struct {
		name string
		t    uint16
	}
	var temp map[key][]dns.RR
	var order []key
	for _, rr := range prereqs {
		h := rr.Header()
		name := lower(h.Name)
		if h.Ttl != 0 {
			return refuse(dns.RcodeFormatError, "prerequisite %s %s has TTL %d; prerequisites have TTL 0 (RFC 2136 section 2.4)", h.Name, typeName(h.Rrtype), h.Ttl)
		}
		if !dns.IsSubDomain(origin, name) {
			return refuse(dns.RcodeNotZone, "prerequisite name %s is outside the zone %s (RFC 2136 section 3.2.5)", h.Name, origin)
		}
		switch h.Class {
		case dns.ClassANY, dns.ClassNONE:
			if !empty(rr) {
				return refuse(dns.RcodeFormatError, "prerequisite %s %s of class %s has RDATA (RFC 2136 section 3.2.5)", h.Name, typeName(h.Rrtype), dns.ClassToString[h.Class])
			}
			inUse := h.Class == dns.ClassANY
			if h.Rrtype == dns.TypeANY {
				if has := len(z.Types(name)) > 0; has != inUse {
					if inUse {
						return refuse(dns.RcodeNameError, "prerequisite failed: name %s is not in use (RFC 2136 section 2.4.4)", h.Name)
					}
					return refuse(dns.RcodeYXDomain, "prerequisite failed: name %s is in use (RFC 2136 section 2.4.5)", h.Name)
				}
				continue
			}
			if has := len(z.RRset(name, h.Rrtype)) > 0; has != inUse {
				if inUse {
					return refuse(dns.RcodeNXRrset, "prerequisite failed: no %s RRset at %s (RFC 2136 section 2.4.1)", typeName(h.Rrtype), h.Name)
				}
				return refuse(dns.RcodeYXRrset, "prerequisite failed: a %s RRset exists at %s (RFC 2136 section 2.4.3)", typeName(h.Rrtype), h.Name)
			}
		case zclass:
			if metaType(h.Rrtype) || h.Rrtype == dns.TypeANY {
				return refuse(dns.RcodeFormatError, "prerequisite of type %s in class %s (RFC 2136 section 2.4.2)", typeName(h.Rrtype), dns.ClassToString[h.Class])
			}
			if temp == nil {
				temp = map[key][]dns.RR{}
			}
			k := key{name, h.Rrtype}
			if temp[k] == nil {
				order = append(order, k)
			}
			temp[k] = append(temp[k], rr)
		default:
			return refuse(dns.RcodeFormatError, "prerequisite %s %s has class %s (RFC 2136 section 3.2.5)", h.Name, typeName(h.Rrtype), dns.ClassToString[h.Class])
		}
	}
	for _, k := range order {
		if maxSet > 0 && len(temp[k]) > maxSet || !sameSet(z.RRset(k.name, k.t), temp[k]) {
			return refuse(dns.RcodeNXRrset, "prerequisite failed: the %s RRset at %s is not the one given (RFC 2136 section 2.4.2)", typeName(k.t), k.name)
		}
	}
	return Result{Rcode: dns.RcodeSuccess}
}

// sameSet compares two RRsets by RDATA, ignoring TTLs and repeats.
func sameSet(a, b []dns.RR) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	in := func(rr dns.RR, set []dns.RR) bool {
		return slices.ContainsFunc(set, func(o dns.RR) bool { return dns.IsDuplicate(rr, o) })
	}
	for _, rr := range a {
		if !in(rr, b) {
			return false
		}
	}
	for _, rr := range b {
		if !in(rr, a) {
			return false
		}
	}
	return true
}

// prescanNames is the zone check of §3.4.1.3, done before the permission
// check: a name outside the zone is NOTZONE, not a refusal of the key.
func prescanNames(origin string, updates []dns.RR) Result {
	for _, rr := range updates {
		if h := rr.Header(); !dns.IsSubDomain(origin, lower(h.Name)) {
			return refuse(dns.RcodeNotZone, "update of %s, which is outside the zone %s (RFC 2136 section 3.4.1.3)", h.Name, origin)
		}
	}
	return Result{Rcode: dns.RcodeSuccess}
}

// permitted is the permission check (§3.3): every RRset the update names
// must be granted to the key; the records the server signs with are never.
func permitted(origin string, z Zone, updates []dns.RR, key string, p *Policy) Result {
	for _, rr := range updates {
		h := rr.Header()
		name := lower(h.Name)
		if ServerOwned(h.Rrtype) {
			return refuse(dns.RcodeRefused, "%s %s: the server makes its DNSSEC records itself; updates cannot change them", h.Name, typeName(h.Rrtype))
		}
		if h.Rrtype != dns.TypeANY {
			if !p.Allows(key, name, h.Rrtype) {
				return refuse(dns.RcodeRefused, "key %s is not granted %s at %s", key, typeName(h.Rrtype), h.Name)
			}
			continue
		}
		// Deleting every RRset at a name: each one that would go must be granted.
		deleted := 0
		for _, t := range z.Types(name) {
			if ServerOwned(t) || (name == origin && (t == dns.TypeSOA || t == dns.TypeNS)) {
				continue // kept whatever the update says (§3.4.2.3)
			}
			deleted++
			if !p.Allows(key, name, t) {
				return refuse(dns.RcodeRefused, "key %s is not granted %s at %s (deleting all RRsets there)", key, typeName(t), h.Name)
			}
		}
		if deleted == 0 && !p.Covers(key, name) {
			return refuse(dns.RcodeRefused, "key %s is not granted anything at %s", key, h.Name)
		}
	}
	return Result{Rcode: dns.RcodeSuccess}
}

// prescan is §3.4.1.3 for classes and types.
func prescan(updates []dns.RR, zclass uint16) Result {
	for _, rr := range updates {
		h := rr.Header()
		bad := func(why string) Result {
			return refuse(dns.RcodeFormatError, "update %s %s %s: %s (RFC 2136 section 3.4.1.3)", h.Name, dns.ClassToString[h.Class], typeName(h.Rrtype), why)
		}
		switch h.Class {
		case zclass:
			if metaType(h.Rrtype) {
				return bad("a meta type cannot be added")
			}
			if empty(rr) {
				return bad("a record to add needs RDATA")
			}
		case dns.ClassANY:
			if h.Ttl != 0 || !empty(rr) {
				return bad("a deletion of an RRset has TTL 0 and no RDATA")
			}
			if h.Rrtype != dns.TypeANY && (metaType(h.Rrtype)) {
				return bad("a meta type cannot be deleted")
			}
		case dns.ClassNONE:
			if h.Ttl != 0 {
				return bad("a deletion of one record has TTL 0")
			}
			if metaType(h.Rrtype) {
				return bad("a meta type cannot be deleted")
			}
			if empty(rr) {
				return bad("a deletion of one record needs its RDATA")
			}
		default:
			return bad("the class is neither the zone's, ANY nor NONE")
		}
	}
	return Result{Rcode: dns.RcodeSuccess}
}

// overlay is the zone as the update changes it, RRset by RRset.
type overlay struct {
	z      Zone
	sets   map[setKey][]dns.RR // changed RRsets; an empty slice: deleted
	keys   []setKey            // in the order first touched
	byName map[string][]uint16 // the types of keys, by name
	max    int                 // records an RRset may hold; 0: no bound
	over   *setKey             // the first RRset that grew past max
}

type setKey struct {
	name string
	t    uint16
}

func (o *overlay) get(name string, t uint16) []dns.RR {
	if s, ok := o.sets[setKey{name, t}]; ok {
		return s
	}
	return o.z.RRset(name, t)
}

func (o *overlay) set(name string, t uint16, rrs []dns.RR) {
	k := setKey{name, t}
	if _, ok := o.sets[k]; !ok {
		o.keys = append(o.keys, k)
		o.byName[name] = append(o.byName[name], t)
	}
	o.sets[k] = rrs
	if o.max > 0 && len(rrs) > o.max && o.over == nil {
		o.over = &k
	}
}

// types are the types at name as changed so far.
func (o *overlay) types(name string) []uint16 {
	var out []uint16
	for _, t := range o.z.Types(name) {
		if len(o.get(name, t)) > 0 {
			out = append(out, t)
		}
	}
	for _, t := range o.byName[name] {
		if len(o.sets[setKey{name, t}]) > 0 && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// apply makes the changes (§3.4.2), in the order of the update section.
// An RRset growing past maxSet records refuses the update: the zone could
// not take it, and the work of growing it further is bounded.
func apply(origin string, z Zone, updates []dns.RR, zclass uint16, maxSet int) Result {
	o := &overlay{z: z, sets: map[setKey][]dns.RR{}, byName: map[string][]uint16{}, max: maxSet}
	for _, rr := range updates {
		if o.over != nil {
			return refuse(dns.RcodeRefused, "the %s RRset at %s would hold more than %d records (max_rrset_records)", typeName(o.over.t), o.over.name, maxSet)
		}
		h := rr.Header()
		name := lower(h.Name)
		switch h.Class {
		case zclass:
			o.add(origin, name, rr)
		case dns.ClassANY:
			if h.Rrtype == dns.TypeANY {
				for _, t := range o.types(name) {
					if ServerOwned(t) || (name == origin && (t == dns.TypeSOA || t == dns.TypeNS)) {
						continue
					}
					o.set(name, t, nil)
				}
				continue
			}
			if name == origin && (h.Rrtype == dns.TypeSOA || h.Rrtype == dns.TypeNS) {
				continue // §3.4.2.3: the apex SOA and NS RRsets are never deleted whole
			}
			o.set(name, h.Rrtype, nil)
		case dns.ClassNONE:
			if h.Rrtype == dns.TypeSOA {
				continue
			}
			cur := o.get(name, h.Rrtype)
			like := dns.Copy(rr) // the record as the zone holds it, to compare
			like.Header().Class = zclass
			i := slices.IndexFunc(cur, func(z dns.RR) bool { return sameRdata(z, like) })
			if i < 0 {
				continue
			}
			if h.Rrtype == dns.TypeNS && name == origin && len(cur) == 1 {
				continue // §3.4.2.4: the last apex NS stays
			}
			o.set(name, h.Rrtype, slices.Delete(slices.Clone(cur), i, i+1))
		}
	}
	if o.over != nil {
		return refuse(dns.RcodeRefused, "the %s RRset at %s would hold more than %d records (max_rrset_records)", typeName(o.over.t), o.over.name, maxSet)
	}
	return o.diff()
}

// add is the class-zclass branch of §3.4.2.2.
func (o *overlay) add(origin, name string, rr dns.RR) {
	h := rr.Header()
	rr = dns.Copy(rr)
	rr.Header().Name = name
	rr.Header().Rdlength = 0 // the length as sent, names compressed: not this record's
	types := o.types(name)
	if h.Rrtype == dns.TypeCNAME {
		if slices.ContainsFunc(types, func(t uint16) bool { return t != dns.TypeCNAME && !ServerOwned(t) }) {
			return // CNAME and other data (RFC 1034 §3.6.2): ignored
		}
	} else if slices.Contains(types, dns.TypeCNAME) {
		return
	}
	cur := o.get(name, h.Rrtype)
	if h.Rrtype == dns.TypeSOA {
		if name != origin || len(cur) == 0 {
			return
		}
		old := cur[0].(*dns.SOA)
		if serialLess(rr.(*dns.SOA).Serial, old.Serial) {
			return // an older serial is ignored
		}
		o.set(name, h.Rrtype, []dns.RR{rr})
		return
	}
	next := slices.Clone(cur)
	replaced := false
	for i, z := range next {
		if h.Rrtype == dns.TypeCNAME || sameRdata(z, rr) {
			next[i] = rr
			replaced = true
			break
		}
	}
	if !replaced {
		next = append(next, rr)
	}
	// One TTL per RRset (RFC 2181 §5.2): the one just given.
	for i, z := range next {
		if z.Header().Ttl != h.Ttl {
			c := dns.Copy(z)
			c.Header().Ttl = h.Ttl
			next[i] = c
		}
	}
	o.set(name, h.Rrtype, next)
}

// diff lists what changed RRset by RRset.
func (o *overlay) diff() Result {
	res := Result{Rcode: dns.RcodeSuccess}
	for _, k := range o.keys {
		old := o.z.RRset(k.name, k.t)
		cur := o.sets[k]
		for _, rr := range old {
			if !slices.ContainsFunc(cur, func(c dns.RR) bool { return identical(rr, c) }) {
				res.Del = append(res.Del, rr)
			}
		}
		for _, rr := range cur {
			if !slices.ContainsFunc(old, func(c dns.RR) bool { return identical(rr, c) }) {
				res.Add = append(res.Add, rr)
			}
		}
	}
	return res
}

// sameRdata compares name, type, class and RDATA, not the TTL.
func sameRdata(a, b dns.RR) bool { return dns.IsDuplicate(a, b) }

// identical also compares the TTL.
func identical(a, b dns.RR) bool { return a.Header().Ttl == b.Header().Ttl && dns.IsDuplicate(a, b) }

// serialLess is RFC 1982 serial arithmetic: a comes before b.
func serialLess(a, b uint32) bool { return a != b && int32(a-b) < 0 }

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}

// metaType reports whether t is a meta type or a QTYPE only (RFC 6895
// §3.1): no zone holds one and no update adds or deletes one by itself.
func metaType(t uint16) bool {
	switch t {
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeIXFR, dns.TypeAXFR, dns.TypeMAILA, dns.TypeMAILB, dns.TypeANY:
		return true
	}
	return t >= 128 && t <= 255
}
