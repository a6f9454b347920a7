package mxzone

import (
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"

	"github.com/miekg/dns"
)

// maxChain bounds how many CNAMEs are followed inside a zone.
const maxChain = 8

// answerer builds one authoritative answer from a generation. It never
// modifies the generation's records, and hands out copies of them when a
// plugin in the chain may (see chainRewrites).
type answerer struct {
	gen      *generation
	zone     *version
	qtype    uint16
	msg      *dns.Msg
	copies   bool // hand out copies: a plugin in the chain may change records
	referral bool
	wire     int                     // upper bound of the reply's wire length so far, without header and question
	buf      *[zone.MaxLabels]uint16 // label offsets of the name being looked up, reused
}

// answer fills msg for qname (lower case); asked is the name as the client
// wrote it, used as the owner of the records of the first name.
func (a *answerer) answer(qname, asked string, starts []uint16) {
	a.msg.Authoritative = true
	z := a.zone
	name, owner := qname, asked
	for hop := 0; ; hop++ {
		var m zone.Match
		if hop == 0 {
			m = z.LookupStarts(name, starts)
		} else {
			m = z.Lookup(name)
		}
		if m.Kind == zone.Delegated && a.qtype == dns.TypeDS && m.Cut == name {
			// DS lives on the parent side of the cut (RFC 4035 §3.1.4.1).
			n, _ := z.Node(name)
			m = zone.Match{Kind: zone.Exact, Node: n}
		}
		switch m.Kind {
		case zone.Delegated:
			a.delegate(m, hop == 0)
			return
		case zone.None:
			a.msg.Rcode = dns.RcodeNameError
			a.negative()
			return
		}
		n := m.Node
		if set := n.Set(dns.TypeCNAME); set != nil && a.qtype != dns.TypeCNAME {
			a.msg.Answer = a.appendSet(a.msg.Answer, set, owner)
			target := set.RRs()[0].(*dns.CNAME).Target
			lower := strings.ToLower(target)
			if hop+1 >= maxChain || !z.Holds(lower) || lower == name {
				return
			}
			name, owner = lower, target
			continue
		}
		if a.qtype == dns.TypeANY {
			sets := n.Sets()
			for i := range sets {
				a.msg.Answer = a.appendSet(a.msg.Answer, &sets[i], owner)
			}
			return
		}
		set := n.Set(a.qtype)
		if set == nil {
			a.negative()
			return
		}
		if a.msg.Answer == nil {
			a.msg.Answer = make([]dns.RR, 0, len(set.RRs()))
		}
		a.msg.Answer = a.appendSet(a.msg.Answer, set, owner)
		a.additional(set.RRs())
		return
	}
}

// negative puts the SOA in the authority section, with the negative TTL of
// RFC 2308 §3.
func (a *answerer) negative() {
	neg := a.zone.Negative()
	a.wire += dns.Len(neg[0])
	if !a.copies && a.msg.Ns == nil {
		// Full slice of the snapshot: a plugin that appends gets a new array.
		a.msg.Ns = neg
		return
	}
	a.msg.Ns = a.appendRRs(a.msg.Ns, neg, a.zone.Origin())
}

// delegate answers with a referral: the NS RRset of the cut in the authority
// section and the glue the zone holds for it.
func (a *answerer) delegate(m zone.Match, first bool) {
	if first {
		a.msg.Authoritative = false
	}
	a.referral = true
	set := m.Node.Set(dns.TypeNS)
	a.msg.Ns = a.appendSet(a.msg.Ns, set, m.Cut)
	for _, rr := range set.RRs() {
		target := strings.ToLower(rr.(*dns.NS).Ns)
		if !a.zone.Holds(target) {
			continue
		}
		if glue, ok := a.zone.Node(target); ok {
			a.addAddresses(target, glue)
		}
	}
}

// additional adds the addresses of the hosts that MX, NS and SRV records name,
// found in any served zone: customer MX records usually point at the
// provider's mail hosts in the provider's own zone.
func (a *answerer) additional(rrs []dns.RR) {
	if t := rrs[0].Header().Rrtype; t != dns.TypeMX && t != dns.TypeNS && t != dns.TypeSRV {
		return
	}
	a.msg.Extra = make([]dns.RR, 0, 2*len(rrs)+1) // A and AAAA per target, and the OPT
	for _, rr := range rrs {
		target := zone.Target(rr)
		if target == "" {
			return
		}
		target = strings.ToLower(target)
		starts := zone.LabelStarts(target, a.buf)
		e := a.gen.matchStarts(target, starts)
		if e == nil || e.zone == nil {
			continue
		}
		if m := e.zone.LookupStarts(target, starts); m.Kind == zone.Exact || m.Kind == zone.Wildcard {
			a.addAddresses(target, m.Node)
		}
	}
}

// addAddresses adds the A and AAAA records of n, owned by name, once.
func (a *answerer) addAddresses(name string, n zone.Node) {
	for _, rr := range a.msg.Extra {
		if rr.Header().Name == name {
			return // two MX records naming one host (RFC 2181 §9: no duplicates)
		}
	}
	if set := n.Set(dns.TypeA); set != nil {
		a.msg.Extra = a.appendSet(a.msg.Extra, set, name)
	}
	if set := n.Set(dns.TypeAAAA); set != nil {
		a.msg.Extra = a.appendSet(a.msg.Extra, set, name)
	}
}

// appendSet appends the records of set, owned by owner, to dst and counts
// their wire length.
func (a *answerer) appendSet(dst []dns.RR, set *zone.RRset, owner string) []dns.RR {
	rrs := set.RRs()
	a.wire += set.Wire() + len(rrs)*max(len(owner)-len(set.Owner()), 0)
	return a.appendRRs(dst, rrs, owner)
}

// appendRRs appends rrs to dst. Records of the snapshot go out as they are
// unless a plugin in the chain may change records or the owner differs
// (wildcards, the case the client wrote); then copies.
func (a *answerer) appendRRs(dst, rrs []dns.RR, owner string) []dns.RR {
	for _, rr := range rrs {
		if a.copies || rr.Header().Name != owner {
			rr = copyRR(rr, owner)
		}
		dst = append(dst, rr)
	}
	return dst
}

// copyRR returns a copy of rr owned by owner. Only the header changes, so the
// common types are copied shallowly; the rest go through dns.Copy.
func copyRR(rr dns.RR, owner string) dns.RR {
	var c dns.RR
	switch v := rr.(type) {
	case *dns.A:
		x := *v
		c = &x
	case *dns.AAAA:
		x := *v
		c = &x
	case *dns.MX:
		x := *v
		c = &x
	case *dns.NS:
		x := *v
		c = &x
	case *dns.CNAME:
		x := *v
		c = &x
	case *dns.SOA:
		x := *v
		c = &x
	case *dns.TXT:
		x := *v
		c = &x
	case *dns.SRV:
		x := *v
		c = &x
	default:
		c = dns.Copy(rr)
	}
	c.Header().Name = owner
	return c
}
