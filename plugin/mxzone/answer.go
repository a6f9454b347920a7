package mxzone

import (
	"strings"

	"github.com/miekg/dns"
)

// maxChain bounds how many CNAMEs are followed inside a zone.
const maxChain = 8

// answerer builds one authoritative answer from a generation. It never
// modifies the generation's records: it hands out copies, because plugins
// after it (cache, for one) rewrite TTLs in place.
type answerer struct {
	gen      *generation
	zone     *Zone
	qtype    uint16
	msg      *dns.Msg
	referral bool
	seen     map[string]bool // additional names already added
}

// answer fills msg for qname (lower case); asked is the name as the client
// wrote it, used as the owner of the records of the first name.
func (a *answerer) answer(qname, asked string) {
	a.msg.Authoritative = true
	z := a.zone
	name, owner := qname, asked
	for hop := 0; ; hop++ {
		m := z.find(name)
		if m.kind == matchDelegated && a.qtype == dns.TypeDS && m.owner == name {
			// DS lives on the parent side of the cut (RFC 4035 §3.1.4.1).
			m = match{kind: matchExact, node: z.nodes[name]}
		}
		switch m.kind {
		case matchDelegated:
			a.delegate(m, hop == 0)
			return
		case matchNone:
			a.msg.Rcode = dns.RcodeNameError
			a.negative()
			return
		}
		n := m.node
		if cname := n.get(dns.TypeCNAME); cname != nil && a.qtype != dns.TypeCNAME {
			a.msg.Answer = appendCopies(a.msg.Answer, cname, owner)
			target := cname[0].(*dns.CNAME).Target
			lower := strings.ToLower(target)
			if hop+1 >= maxChain || !dns.IsSubDomain(z.Origin, lower) || lower == name {
				return
			}
			name, owner = lower, target
			continue
		}
		if a.qtype == dns.TypeANY {
			for _, s := range n.rrsets {
				a.msg.Answer = appendCopies(a.msg.Answer, s.rrs, owner)
			}
			return
		}
		rrs := n.get(a.qtype)
		if rrs == nil {
			a.negative()
			return
		}
		a.msg.Answer = appendCopies(a.msg.Answer, rrs, owner)
		a.additional(rrs)
		return
	}
}

// negative puts the SOA in the authority section, with the negative TTL of
// RFC 2308 §3.
func (a *answerer) negative() {
	a.msg.Ns = append(a.msg.Ns, copyRR(a.zone.negSOA, a.zone.negSOA.Hdr.Name))
}

// delegate answers with a referral: the NS RRset of the cut in the authority
// section and the glue the zone holds for it.
func (a *answerer) delegate(m match, first bool) {
	if first {
		a.msg.Authoritative = false
	}
	a.referral = true
	ns := m.node.get(dns.TypeNS)
	a.msg.Ns = appendCopies(a.msg.Ns, ns, m.owner)
	for _, rr := range ns {
		target := strings.ToLower(rr.(*dns.NS).Ns)
		if !dns.IsSubDomain(a.zone.Origin, target) {
			continue
		}
		if glue := a.zone.nodes[target]; glue != nil {
			a.addAddresses(target, glue)
		}
	}
}

// additional adds the addresses of the hosts that MX, NS and SRV records name,
// found in any served zone: customer MX records usually point at the
// provider's mail hosts in the provider's own zone.
func (a *answerer) additional(rrs []dns.RR) {
	for _, rr := range rrs {
		var target string
		switch v := rr.(type) {
		case *dns.MX:
			target = v.Mx
		case *dns.NS:
			target = v.Ns
		case *dns.SRV:
			target = v.Target
		default:
			return
		}
		target = strings.ToLower(target)
		e := a.gen.match(target)
		if e == nil || e.zone == nil {
			continue
		}
		if m := e.zone.find(target); m.kind == matchExact || m.kind == matchWildcard {
			a.addAddresses(target, m.node)
		}
	}
}

// addAddresses adds the A and AAAA records of n, owned by name, once.
func (a *answerer) addAddresses(name string, n *node) {
	if a.seen[name] {
		return
	}
	if a.seen == nil {
		a.seen = map[string]bool{}
	}
	a.seen[name] = true
	a.msg.Extra = appendCopies(a.msg.Extra, n.get(dns.TypeA), name)
	a.msg.Extra = appendCopies(a.msg.Extra, n.get(dns.TypeAAAA), name)
}

// appendCopies appends copies of rrs, owned by owner, to dst.
func appendCopies(dst, rrs []dns.RR, owner string) []dns.RR {
	for _, rr := range rrs {
		dst = append(dst, copyRR(rr, owner))
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
