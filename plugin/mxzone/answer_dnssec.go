package mxzone

import (
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"

	"github.com/miekg/dns"
)

// The DNSSEC part of an answer from a signed zone to a query with DO set
// (RFC 4035 section 3.1): the RRSIGs of every authoritative RRset sent,
// and the NSEC or NSEC3 records that prove what is not there (RFC 4035
// section 3.1.3, RFC 5155 section 7.2). Without DO none of this runs.

// sigs appends to dst the signatures at n over its RRset of type t, owned
// by owner; ttl, when not 0, is their TTL (a negative answer's SOA).
func (a *answerer) sigs(dst []dns.RR, n zone.Node, owner string, t uint16, ttl uint32) []dns.RR {
	if !a.do {
		return dst
	}
	dst, size := n.AppendSigs(dst, owner, t, ttl)
	a.wire += size
	return dst
}

// denyName proves that name does not exist (NXDOMAIN): no name covers it
// and no wildcard at its closest encloser ce could have made it (RFC 4035
// section 3.1.3.2; RFC 5155 section 7.2.2).
func (a *answerer) denyName(name string, ce zone.Node) {
	if a.chain == nil {
		return
	}
	if ce.Name() == "" {
		ce = a.zone.Apex() // an NSEC3 owner's name: one label below the apex
	}
	star := "*." + ce.Name()
	if a.chain.NSEC3() {
		a.chainMatching(ce.Name())
		a.chainCovering(nextCloser(name, ce.Name()))
		a.chainCovering(star)
		return
	}
	a.chainCovering(name)
	a.chainCovering(star)
}

// denyType proves that the name m found holds no RRset of the type asked
// for (NODATA), or, for a name made from a wildcard, that the wildcard
// holds none and the name itself does not exist (RFC 4035 section
// 3.1.3.1 and 3.1.3.4; RFC 5155 sections 7.2.3 to 7.2.5).
func (a *answerer) denyType(name string, m zone.Match) {
	if a.chain == nil {
		return
	}
	if m.Kind == zone.Wildcard {
		ce := m.Encloser.Name()
		if a.chain.NSEC3() {
			a.chainMatching(ce)
			a.chainCovering(nextCloser(name, ce))
		} else {
			a.chainCovering(name)
		}
		a.chainMatching(m.Node.Name())
		return
	}
	if a.chain.NSEC3() {
		a.chainMatching(name)
		return
	}
	// The NSEC of the name itself; an empty non-terminal has none, and
	// the one that covers it proves it holds nothing.
	a.chainCovering(name)
}

// denyExpansion proves, for an answer made from a wildcard, that the name
// asked for does not exist itself (RFC 4035 section 3.1.3.3; RFC 5155
// section 7.2.6).
func (a *answerer) denyExpansion(name string, m zone.Match) {
	if a.chain == nil || m.Kind != zone.Wildcard {
		return
	}
	if a.chain.NSEC3() {
		a.chainCovering(nextCloser(name, m.Encloser.Name()))
		return
	}
	a.chainCovering(name)
}

// secureDelegation adds to a referral the DS RRset of the cut and its
// signatures, or the proof that it has none (RFC 4035 section 3.1.4).
func (a *answerer) secureDelegation(m zone.Match) {
	if !a.do {
		return
	}
	if set, ok := m.Node.Set(dns.TypeDS); ok {
		a.msg.Ns = a.appendSet(a.msg.Ns, set, m.Cut)
		a.msg.Ns = a.sigs(a.msg.Ns, m.Node, m.Cut, dns.TypeDS, 0)
		return
	}
	if a.chain != nil {
		a.chainMatching(m.Cut)
	}
}

// chainMatching adds the chain record whose owner is name (or, for NSEC3,
// whose hash is name's), with its signatures.
func (a *answerer) chainMatching(name string) { a.chainCovering(name) }

// chainCovering adds the chain record that matches or covers name, with
// its signatures, unless the authority section holds it already.
func (a *answerer) chainCovering(name string) {
	n, _ := a.chain.Covering(name)
	if n.Name() == "" {
		return
	}
	t := dns.TypeNSEC
	if a.chain.NSEC3() {
		t = dns.TypeNSEC3
	}
	set, ok := n.Set(t)
	if !ok {
		return
	}
	for _, rr := range a.msg.Ns {
		if rr.Header().Rrtype == t && rr.Header().Name == n.Name() {
			return
		}
	}
	a.msg.Ns = a.appendSet(a.msg.Ns, set, n.Name())
	a.msg.Ns = a.sigs(a.msg.Ns, n, n.Name(), t, 0)
}

// nextCloser is the name one label longer than the closest encloser ce on
// the way to name (RFC 5155 section 1.3).
func nextCloser(name, ce string) string {
	want := dns.CountLabel(ce) + 1
	var buf [zone.MaxLabels]uint16
	starts := zone.LabelStarts(name, &buf)
	if at := len(starts) - want; at >= 0 && at < len(starts) {
		return name[starts[at]:]
	}
	return name
}
