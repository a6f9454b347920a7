package mxzone

import (
	"net"
	"slices"
	"strings"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/sign"

	"github.com/miekg/dns"
)

// The chain of trust across a cut this server serves on both sides: a
// signed parent publishes, signed, the DS of each signed child it
// delegates to that this server serves too (RFC 4035 section 2.4), as the
// child's keys for the parent (its CDS) say, unless the parent's file has
// its own DS there (the file wins) or the child is left out (no_child_ds).
// When the child's keys for the parent change (a rollover, the child
// signed, unsigned, added or gone) the parent is signed again.

// wireChildDS lets the signer see the published generation: which zones
// are served signed, and what their parents serve as their DS.
func (m *MXZone) wireChildDS() {
	s := m.signing
	s.served = func(origin string) bool {
		g := m.gen.Load()
		if g == nil {
			return false
		}
		e := g.zones[origin]
		return e != nil && e.zone != nil && e.zone.signed != nil
	}
	s.ring.parentDS = func(child string) ([]dns.RR, uint32, bool) { return parentDS(m.gen.Load(), child) }
}

// withChildDS adds to rrs, the records of the signed zone origin, the DS
// of its served signed children at each delegation with no DS in the
// file, and returns the children it added them for.
func (s *signing) withChildDS(origin string, rrs []dns.RR) ([]dns.RR, []string) {
	if s.served == nil {
		return rrs, nil
	}
	var soaTTL uint32
	cuts, hasDS := map[string]bool{}, map[string]bool{}
	for _, rr := range rrs {
		h := rr.Header()
		switch {
		case h.Rrtype == dns.TypeSOA && h.Name == origin:
			soaTTL = h.Ttl
		case h.Rrtype == dns.TypeNS && h.Name != origin:
			cuts[h.Name] = true
		case h.Rrtype == dns.TypeDS:
			hasDS[h.Name] = true
		}
	}
	var added []string
	for _, cut := range slices.Sorted(func(yield func(string) bool) {
		for c := range cuts {
			if !yield(c) {
				return
			}
		}
	}) {
		if hasDS[cut] || !s.served(cut) {
			continue
		}
		if ds := s.ring.childDS(cut, soaTTL); len(ds) > 0 {
			rrs = append(rrs, ds...)
			added = append(added, cut)
		}
	}
	return rrs, added
}

// parentOf returns the entry of the closest zone served in g that holds
// origin's parent name, nil if none.
func parentOf(g *generation, origin string) *entry {
	for p := sign.Parent(origin); p != ""; p = sign.Parent(p) {
		if e := g.zones[p]; e != nil {
			return e
		}
	}
	return nil
}

// parentDS tells what the served parent of child serves as its DS in g,
// the TTL a DS of its own would have there, and whether that parent is
// served signed here at all.
func parentDS(g *generation, child string) ([]dns.RR, uint32, bool) {
	if g == nil {
		return nil, 0, false
	}
	p := parentOf(g, child)
	if p == nil || p.zone == nil || p.zone.signed == nil {
		return nil, 0, false
	}
	z := p.zone.served()
	var ttl uint32
	if soa := z.SOA(); soa != nil {
		ttl = soa.Hdr.Ttl
	}
	n, ok := z.Node(child)
	if !ok {
		return nil, ttl, true
	}
	set, ok := n.Set(dns.TypeDS)
	if !ok {
		return nil, ttl, true
	}
	return set.RRs(), ttl, true
}

// hasAllDS reports whether have holds a DS for each of want.
func hasAllDS(have []dns.RR, want []*dns.DS) bool {
	for _, w := range want {
		if !slices.ContainsFunc(have, func(rr dns.RR) bool {
			d, ok := rr.(*dns.DS)
			return ok && d.KeyTag == w.KeyTag && d.Algorithm == w.Algorithm && d.DigestType == w.DigestType &&
				strings.EqualFold(d.Digest, w.Digest)
		}) {
			return false
		}
	}
	return true
}

// dsSeen reports whether the parent of origin serves the DS of the keys
// ids: the served parent, when this server serves it signed; else every
// server of parents (like Knot's ksk-submission check); with neither,
// only the operator can say so (coredns-mx dnssec submitted).
func (r *keyring) dsSeen(origin string, ks *keyState, ids []string) bool {
	var want []*dns.DS
	for _, k := range ks.keys {
		if slices.Contains(ids, k.ID()) {
			want = append(want, k.DNSKEY.ToDS(dns.SHA256))
		}
	}
	if len(want) == 0 {
		return false
	}
	if r.parentDS != nil {
		if have, _, served := r.parentDS(origin); served {
			return hasAllDS(have, want)
		}
	}
	if len(r.parents) == 0 {
		return false
	}
	c := &dns.Client{Timeout: 2 * time.Second}
	for _, addr := range r.parents {
		q := new(dns.Msg)
		q.SetQuestion(origin, dns.TypeDS)
		q.RecursionDesired = false
		resp, _, err := c.Exchange(q, addr)
		if err != nil || resp.Rcode != dns.RcodeSuccess || !hasAllDS(resp.Answer, want) {
			return false
		}
	}
	return true
}

// hostPort gives addr the DNS port when it has none.
func hostPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, "53")
}

// checkChildDS has the refresh loop look at the parent of every signed
// zone of the first generation g: a child signed for the first time, or
// gone while the server was down, changes its parent's DS.
func (m *MXZone) checkChildDS(g *generation) {
	if m.signing == nil {
		return
	}
	var children []string
	for origin, e := range g.zones {
		if e.zone != nil && parentOf(g, origin) != nil {
			children = append(children, origin)
		}
		if e.zone != nil && e.zone.signed != nil {
			children = append(children, e.zone.signed.childDS...) // gone while down, maybe
		}
	}
	m.signing.ring.markSubmitted(children...)
}

// parentsToResign returns the served signed parents of origins whose
// DS records of a child differ from what the child submits now: the
// parent is signed again. A parent whose file has its own DS for the
// child keeps it; when it names none of the child's keys, that is logged.
func (m *MXZone) parentsToResign(g *generation, origins []string) []string {
	s := m.signing
	var out []string
	for _, child := range origins {
		p := parentOf(g, child)
		if p == nil || p.zone == nil || p.zone.signed == nil || slices.Contains(out, p.origin) {
			continue
		}
		n, ok := p.zone.served().Node(child)
		if !ok || !n.Has(dns.TypeNS) {
			continue // no delegation to it
		}
		var have []dns.RR
		if set, ok := n.Set(dns.TypeDS); ok {
			have = set.RRs()
		}
		if have != nil && !slices.Contains(p.zone.signed.childDS, child) {
			m.checkFileDS(p, child, have)
			continue
		}
		var want []dns.RR
		if s.served(child) {
			want = s.ring.childDS(child, 0)
		}
		if !sameDS(have, want) {
			out = append(out, p.origin)
		}
	}
	return out
}

// sameDS compares two DS RRsets, TTLs aside.
func sameDS(a, b []dns.RR) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		d, _ := x.(*dns.DS)
		if d == nil || !hasAllDS(b, []*dns.DS{d}) {
			return false
		}
	}
	return true
}

// checkFileDS logs a parent file's DS for a served signed child that names
// none of the keys the child submits: the chain of trust is broken there.
func (m *MXZone) checkFileDS(p *entry, child string, have []dns.RR) {
	if !m.signing.served(child) {
		return
	}
	want := m.signing.ring.childDS(child, 0)
	for _, w := range want {
		if hasAllDS(have, []*dns.DS{w.(*dns.DS)}) {
			return
		}
	}
	if len(want) > 0 {
		log.Warningf("%s: the DS of %s in %s names none of its keys (its DS is %s): validators cannot follow the chain "+
			"of trust into it; remove the DS from the file to have it published on its own", p.file, child, p.origin, want[0].String())
	}
}
