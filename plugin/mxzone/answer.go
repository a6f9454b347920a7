package mxzone

import (
	"net"

	"github.com/coredns/coredns/request"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"

	"github.com/miekg/dns"
)

// answerer builds one authoritative answer from a generation. The records
// it puts in the reply are made from the zone's packed data for this reply
// alone: whatever the plugins after it do to them never reaches a zone.
type answerer struct {
	gen      *generation
	entry    *entry      // of the zone answering
	zone     *zone.Zone  // the version served: signed, if it is
	chain    *zone.Chain // the zone's NSEC or NSEC3 chain when the query has DO set and the zone is signed; else nil
	qtype    uint16
	msg      *dns.Msg
	room     int // the largest reply the client takes: its UDP size, or 65535 over TCP
	referral bool
	do       bool                   // the query has DO set: signatures go with the records of signed zones
	wire     int                    // upper bound of the reply's wire length so far, without header and question
	extra    map[string]bool        // hosts in the additional section, once it holds many
	buf      [zone.MaxLabels]uint16 // label offsets of the name being looked up, reused
}

// maxMessage is the largest DNS message (RFC 1035 §4.2.2: a 2-byte length
// over TCP). No RRset is made into records beyond what fits in one: the
// work of an answer is bounded by what can be sent, whatever the zone holds.
const maxMessage = dns.MaxMsgSize

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
		if m.Kind == zone.Exact && m.Node.NSEC3Only() {
			// The owner of an NSEC3 record is not a name of the zone: its
			// own chain denies it (RFC 5155 section 7.2.8).
			m = zone.Match{}
		}
		switch m.Kind {
		case zone.Delegated:
			a.delegate(m, hop == 0)
			return
		case zone.Redirected:
			next, ok := a.redirect(m, owner)
			if !ok || a.qtype == dns.TypeCNAME {
				return // a CNAME question is answered by the CNAME made (as Knot)
			}
			lower := zone.Canonical(next)
			if hop+1 >= zone.MaxChain || !z.Holds(lower) || a.visited(qname, lower) {
				return
			}
			name, owner = lower, next
			continue
		case zone.None:
			a.msg.Rcode = dns.RcodeNameError
			a.negative()
			a.denyName(name, m.Encloser)
			return
		}
		n := m.Node
		if set, ok := n.Set(dns.TypeCNAME); ok && a.followsCNAME(n) {
			a.msg.Answer = a.appendSet(a.msg.Answer, set, owner)
			target := a.msg.Answer[len(a.msg.Answer)-1].(*dns.CNAME).Target
			a.msg.Answer = a.sigs(a.msg.Answer, n, owner, dns.TypeCNAME, 0)
			a.denyExpansion(name, m)
			lower := zone.Canonical(target)
			if hop+1 >= zone.MaxChain || !z.Holds(lower) || a.visited(qname, lower) {
				return
			}
			name, owner = lower, target
			continue
		}
		if a.qtype == dns.TypeANY {
			a.answerAll(n, owner)
		} else if !a.answerSet(n, owner) {
			a.negative()
			a.denyType(name, m)
			return
		}
		a.denyExpansion(name, m)
		return
	}
}

// answerAll answers an ANY question at n with every RRset there (each with
// its signatures when DNSSEC is asked for).
func (a *answerer) answerAll(n zone.Node, owner string) {
	for k := range n.NumSets() {
		set := n.SetAt(k)
		if a.chain != nil && set.Type() == dns.TypeRRSIG {
			continue // each set's own signatures follow it
		}
		a.msg.Answer = a.appendSet(a.msg.Answer, set, owner)
		a.msg.Answer = a.sigs(a.msg.Answer, n, owner, set.Type(), 0)
	}
}

// answerSet answers with the RRset asked for at n, its signatures and the
// additional data of its targets; false when n has none (NODATA).
func (a *answerer) answerSet(n zone.Node, owner string) bool {
	set, ok := n.Set(a.qtype)
	if !ok {
		return false
	}
	start := len(a.msg.Answer)
	if a.wire+a.size(set, owner) > maxMessage {
		fit := set.Fit(owner, maxMessage-a.wire)
		// Not even a message of the largest size holds it: send what
		// fits and say so (RFC 2181 §9); the additional section would
		// be dropped anyway.
		a.msg.Answer = set.AppendFirst(a.msg.Answer, owner, fit)
		a.wire = maxMessage
		a.msg.Truncated = true
		return true
	}
	if a.msg.Answer == nil {
		a.msg.Answer = make([]dns.RR, 0, set.Len())
	}
	a.msg.Answer = a.appendSet(a.msg.Answer, set, owner)
	end := len(a.msg.Answer)
	if a.qtype != dns.TypeRRSIG {
		a.msg.Answer = a.sigs(a.msg.Answer, n, owner, a.qtype, 0)
	}
	a.additional(a.msg.Answer[start:end])
	return true
}

// visited reports whether the chain from qname has been at name already,
// so that each record goes out once (RFC 2181 §5): every name it left has
// a CNAME in the answer, stored or made from a DNAME. Only chains pay for
// this, and the answer frame stays small.
func (a *answerer) visited(qname, name string) bool {
	if name == qname {
		return true
	}
	for _, rr := range a.msg.Answer {
		if rr.Header().Rrtype == dns.TypeCNAME && zone.Canonical(rr.Header().Name) == name {
			return true
		}
	}
	return false
}

// redirect answers for owner, a name below the DNAME m found (RFC 6672
// section 3.2): the DNAME, and a CNAME made from it to the name owner
// becomes, with the DNAME's TTL. It returns that name; false when there is
// none: it would be longer than a name may be (YXDOMAIN).
func (a *answerer) redirect(m zone.Match, owner string) (string, bool) {
	set, _ := m.Node.Set(dns.TypeDNAME)
	a.msg.Answer = a.appendSet(a.msg.Answer, set, m.Node.Name())
	dname := a.msg.Answer[len(a.msg.Answer)-1].(*dns.DNAME)
	a.msg.Answer = a.sigs(a.msg.Answer, m.Node, m.Node.Name(), dns.TypeDNAME, 0)
	next, ok := zone.Redirect(owner, m.Cut, dname.Target)
	if !ok {
		a.msg.Rcode = dns.RcodeYXDomain
		return "", false
	}
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dname.Hdr.Class, Ttl: dname.Hdr.Ttl},
		Target: next}
	a.wire += dns.Len(cname)
	a.msg.Answer = append(a.msg.Answer, cname)
	return next, true
}

// followsCNAME reports whether the answer goes on at the CNAME's target:
// not for a CNAME query, and not for the NSEC or RRSIG stored at the CNAME's
// own name, which answer for themselves (RFC 2181 §10.1, RFC 4035 §2.5).
func (a *answerer) followsCNAME(n zone.Node) bool {
	switch a.qtype {
	case dns.TypeCNAME:
		return false
	case dns.TypeNSEC, dns.TypeRRSIG:
		return !n.Has(a.qtype)
	}
	return true
}

// negative puts the SOA in the authority section, with the negative TTL of
// RFC 2308 §3.
func (a *answerer) negative() {
	neg := a.zone.Negative()
	a.wire += dns.Len(neg[0])
	if a.msg.Ns == nil && !a.do {
		a.msg.Ns = neg
		return
	}
	a.msg.Ns = append(a.msg.Ns, neg...)
	a.msg.Ns = a.sigs(a.msg.Ns, a.zone.Apex(), a.zone.Origin(), dns.TypeSOA, neg[0].Header().Ttl)
}

// delegate answers with a referral: the NS RRset of the cut in the authority
// section and the glue the zone holds for it.
func (a *answerer) delegate(m zone.Match, first bool) {
	if first {
		a.msg.Authoritative = false
	}
	a.referral = true
	set, _ := m.Node.Set(dns.TypeNS)
	start := len(a.msg.Ns)
	a.msg.Ns = a.appendSet(a.msg.Ns, set, m.Cut)
	end := len(a.msg.Ns)
	a.secureDelegation(m)
	for _, rr := range a.msg.Ns[start:end] {
		target := zone.Canonical(rr.(*dns.NS).Ns)
		if !a.zone.Holds(target) {
			continue
		}
		if glue, ok := a.zone.Node(target); ok {
			a.addAddresses(target, glue)
		}
	}
}

// additional adds the addresses of the hosts that MX, NS, SRV, SVCB and
// HTTPS records name (RFC 9460 section 4.1), found in any served zone:
// customer MX records usually point at the provider's mail hosts in the
// provider's own zone.
func (a *answerer) additional(rrs []dns.RR) {
	switch rrs[0].Header().Rrtype {
	case dns.TypeMX, dns.TypeNS, dns.TypeSRV, dns.TypeSVCB, dns.TypeHTTPS:
	default:
		return
	}
	per := 2 // A and AAAA per target, and the OPT
	if a.do {
		per = 4 // and their signatures
	}
	a.msg.Extra = make([]dns.RR, 0, min(per*len(rrs)+1, 64))
	for _, rr := range rrs {
		if a.wire > 2*a.room {
			// What is added from here on is dropped before the reply goes
			// out (fitUDP, or the server's limit over TCP); even with
			// name compression, twice the room is more than fits.
			return
		}
		target := zone.Target(rr)
		if target == "" {
			continue // an alias-mode SVCB record names no host
		}
		target = zone.Canonical(target)
		starts := zone.LabelStarts(target, &a.buf)
		var e *entry
		if a.zone.Holds(target) {
			e = a.gen.matchWithin(target, starts, a.entry)
		} else {
			e = a.gen.matchStarts(target, starts)
		}
		if e == nil || e.zone == nil {
			continue
		}
		if m := e.zone.served().LookupStarts(target, starts); m.Kind == zone.Exact || m.Kind == zone.Wildcard {
			a.addAddresses(target, m.Node)
		}
	}
}

// addAddresses adds the A and AAAA records of n, owned by name, once.
func (a *answerer) addAddresses(name string, n zone.Node) {
	if a.hasHost(name) {
		return // two MX records naming one host (RFC 2181 §9: no duplicates)
	}
	if a.do && n.Has(dns.TypeRRSIG) {
		// Each address set with its own zone's signatures, this zone or
		// another; glue has none.
		for _, t := range [...]uint16{dns.TypeA, dns.TypeAAAA} {
			if set, ok := n.Set(t); ok {
				a.msg.Extra = a.appendSet(a.msg.Extra, set, name)
				a.msg.Extra = a.sigs(a.msg.Extra, n, name, t, 0)
			}
		}
		return
	}
	for _, t := range [...]uint16{dns.TypeA, dns.TypeAAAA} {
		if set, ok := n.Set(t); ok {
			a.count(set, name)
		}
	}
	a.msg.Extra = n.AppendAddresses(a.msg.Extra, name)
}

// hasHost reports whether the additional section holds records of name,
// and remembers it for the next call: a scan while the section is short, a
// set once it is long, so that many targets cost linear time.
func (a *answerer) hasHost(name string) bool {
	if a.extra == nil && len(a.msg.Extra) < 16 {
		for _, rr := range a.msg.Extra {
			if rr.Header().Name == name {
				return true
			}
		}
		return false
	}
	if a.extra == nil {
		a.extra = make(map[string]bool, 2*len(a.msg.Extra))
		for _, rr := range a.msg.Extra {
			a.extra[rr.Header().Name] = true
		}
	}
	if a.extra[name] {
		return true
	}
	a.extra[name] = true
	return false
}

// appendSet appends the records of set, owned by owner, to dst and counts
// their wire length.
func (a *answerer) appendSet(dst []dns.RR, set zone.RRset, owner string) []dns.RR {
	a.count(set, owner)
	return set.AppendTo(dst, owner)
}

// count adds the wire length of set, owned by owner, to the reply's.
func (a *answerer) count(set zone.RRset, owner string) { a.wire += a.size(set, owner) }

// size is the uncompressed wire length of set, owned by owner (an upper
// bound: the client's spelling of a name can only differ in case).
func (a *answerer) size(set zone.RRset, owner string) int {
	return set.Wire() + set.Len()*max(len(owner)-len(set.Owner()), 0)
}

// replyRoom is the largest reply the client takes: 65535 bytes over TCP,
// its EDNS UDP size (at least 512) over UDP.
func replyRoom(w dns.ResponseWriter, r *dns.Msg) int {
	if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
		return maxMessage
	}
	if opt := r.IsEdns0(); opt != nil {
		return max(int(opt.UDPSize()), dns.MinMsgSize)
	}
	return dns.MinMsgSize
}

// optRoom bounds the OPT record of the reply: the server copies the
// request's options.
func optRoom(r *dns.Msg) int {
	if opt := r.IsEdns0(); opt != nil {
		return dns.Len(opt) + 8
	}
	return 0
}

// fitUDP makes msg fit the client's UDP size the way Knot and NSD do: first
// drop additional records without setting TC (RFC 2181 §9: they are
// optional), and leave truncation of required data to the server, which sets
// TC. Glue in a referral is required (RFC 9471).
//
// It is called only for replies that may not fit, and builds its
// request.Request itself: ServeDNS's frame stays small (see zone.AppendTo).
func fitUDP(w dns.ResponseWriter, r *dns.Msg, msg *dns.Msg, referral bool) {
	req := request.Request{W: w, Req: r}
	if req.Proto() != "udp" {
		return
	}
	req.SizeAndDo(msg)
	size := req.Size()
	if msg.Len() <= size {
		return
	}
	msg.Compress = true
	if referral {
		return
	}
	var opt []dns.RR
	extra := make([]dns.RR, 0, len(msg.Extra))
	for _, rr := range msg.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			opt = append(opt, rr)
		} else {
			extra = append(extra, rr)
		}
	}
	// Keep the longest first part of the additional records that fits:
	// a binary search, so that many records cost few Len calls.
	keep := func(n int) {
		msg.Extra = append(append(make([]dns.RR, 0, n+len(opt)), extra[:n]...), opt...)
	}
	lo, hi := 0, len(extra)-1 // all of extra does not fit; extra[:hi+1] does not either, once hi is known
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if keep(mid); msg.Len() <= size {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	keep(lo)
}
