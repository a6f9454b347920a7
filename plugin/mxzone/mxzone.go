// Package mxzone serves a directory of customer zone files authoritatively and
// refuses, before they go live, zones whose mail routing is broken: MX records
// that point at CNAMEs (RFC 2181 §10.3), at names without addresses, at IP
// literals, or null MX records (RFC 7505) that do not stand alone.
//
// Each file DIR/<origin>.zone is one zone. Zones are parsed, checked on their
// own and then against every other served zone, and published as one
// immutable generation through an atomic pointer. A zone that fails is not
// served (or, after a refused edit, its last good version keeps serving).
package mxzone

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/fall"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"

	"github.com/miekg/dns"
)

// MXZone is the plugin handler.
type MXZone struct {
	// Configuration, set by setup and never changed after.
	Next     plugin.Handler
	Fall     fall.F
	Origins  []string      // the zones this plugin answers for (Corefile ZONES)
	loader   *loader       // the zone directory, rules and limits; used under mu
	interval time.Duration // 0: no reloading
	server   string        // metrics label

	// What queries read: published whole, never changed after.
	gen     atomic.Pointer[generation]
	catalog *catalog // the catalog zone (RFC 9432), on its own clock; nil: none

	// Collaborators and the reload loop's own state.
	mu          sync.Mutex // guards cancel, reported and busy, and serializes reloads
	cancel      context.CancelFunc
	reported    map[string]string      // file -> problem already logged by scan
	signFailed  map[string]*signRetry  // versions whose signing failed, to try again (retrySign)
	busy        []string               // zone files found being written, to read again
	state       *stateDir              // validated copies of served zones; nil: off
	snaps       *snapshots             // the start snapshot of the state directory; nil: off
	signing     *signing               // DNSSEC for the served zones; nil: off
	stateWrites sync.WaitGroup         // the first load's copies being written
	unsaved     map[string]bool        // origins whose served version has no saved copy yet
	aside       chan struct{}          // one file read aside at a time (readAside)
	notify      *notifier              // NOTIFY through the transfer plugin; nil: no transfer plugin
	status      *statusServer          // the status API and page; nil: off
	clock       func() time.Time       // for the catalog serial; nil: time.Now
	updates     *updater               // RFC 2136 updates and the journals; nil: UPDATE is not taken
	restarting  atomic.Bool            // a restart for new TSIG keys is under way
	starting    atomic.Bool            // the first generation is published but not yet whole (startVerified)
	successor   atomic.Pointer[MXZone] // the instance that took over (takeOver): every request goes there
}

// Name implements plugin.Handler.
func (m *MXZone) Name() string { return pluginName }

// ServeDNS implements plugin.Handler.
func (m *MXZone) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if s := m.successor.Load(); s != nil {
		return s.ServeDNS(ctx, w, r) // the old instance's listeners, until they close
	}
	if len(r.Question) != 1 {
		return dns.RcodeFormatError, nil
	}
	if m.isUpdate(r) {
		if plugin.Zones(m.Origins).Matches(strings.ToLower(r.Question[0].Name)) == "" {
			return plugin.NextOrFailure(m.Name(), m.Next, ctx, w, r)
		}
		return m.serveUpdate(ctx, w, r)
	}
	asked := r.Question[0].Name
	qname := strings.ToLower(asked) // no allocation when already lower case
	g := m.gen.Load()
	var a answerer // on the stack, with the label buffer the whole answer reuses
	starts := zone.LabelStarts(qname, &a.buf)
	var e *entry
	if g != nil {
		e = m.entryFor(g, qname, starts, r.Question[0].Qtype)
	}
	if e == nil {
		if plugin.Zones(m.Origins).Matches(qname) == "" || m.Fall.Through(qname) {
			return plugin.NextOrFailure(m.Name(), m.Next, ctx, w, r)
		}
		if g == nil {
			return writeError(w, r, dns.RcodeServerFailure, dns.ExtendedErrorCodeNotReady) // still loading
		}
		return writeError(w, r, dns.RcodeRefused, dns.ExtendedErrorCodeNotAuthoritative)
	}
	if malformed(r) {
		return dns.RcodeFormatError, nil
	}
	switch r.Opcode {
	case dns.OpcodeQuery:
	case dns.OpcodeNotify:
		// This server is the primary of its zones: a NOTIFY for one is not
		// for it to act on (RFC 1996 §3.10), and Knot says NOTAUTH too.
		return writeRcode(w, r, dns.RcodeNotAuth)
	default:
		return dns.RcodeNotImplemented, nil
	}
	if e.zone == nil {
		// The file never had a valid version: the findings are the
		// operator's (log, status API), not the querier's.
		return writeError(w, r, dns.RcodeServerFailure, dns.ExtendedErrorCodeInvalidData)
	}
	if qt := r.Question[0].Qtype; qt == dns.TypeAXFR || qt == dns.TypeIXFR {
		// Transfers are the transfer plugin's, for the addresses it allows.
		return dns.RcodeRefused, nil
	}
	msg := &dns.Msg{Question: r.Question[:1:1]} // echoed exactly as sent
	msg.Id, msg.Response, msg.Opcode = r.Id, true, r.Opcode
	msg.RecursionDesired, msg.CheckingDisabled = r.RecursionDesired, r.CheckingDisabled
	a.gen, a.entry, a.zone, a.qtype, a.msg, a.room = g, e, e.zone.served(), r.Question[0].Qtype, msg, replyRoom(w, r)
	if sz := e.zone.signed; sz != nil && wantsDNSSEC(r) {
		a.do, a.chain = true, &sz.chain
	}
	a.answer(qname, asked, starts)
	if msg.Rcode == dns.RcodeNameError && m.Fall.Through(qname) {
		return plugin.NextOrFailure(m.Name(), m.Next, ctx, w, r)
	}
	// Header, question, and room for the OPT record the server adds: a reply
	// within the client's size as it is needs no look at its packed length.
	if bound := 12 + len(asked) + 6 + a.wire + optRoom(r); bound > a.room {
		fitUDP(w, r, msg, a.referral)
	}
	if err := w.WriteMsg(msg); err != nil {
		return dns.RcodeServerFailure, plugin.Error(pluginName, err)
	}
	return dns.RcodeSuccess, nil
}

// malformed reports whether r breaks RFC 6891 §6.1.1: more than one OPT
// record, or one outside the additional section.
func malformed(r *dns.Msg) bool {
	for _, section := range [...][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range section {
			if rr.Header().Rrtype == dns.TypeOPT {
				return true
			}
		}
	}
	opts := 0
	for _, rr := range r.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			opts++
		}
	}
	return opts > 1
}

// writeRcode answers r with rcode and nothing else. The server writes the
// replies for SERVFAIL, REFUSED, FORMERR and NOTIMP itself; others are the
// plugin's to write.
func writeRcode(w dns.ResponseWriter, r *dns.Msg, rcode int) (int, error) {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	if err := w.WriteMsg(m); err != nil {
		return dns.RcodeServerFailure, plugin.Error(pluginName, err)
	}
	return dns.RcodeSuccess, nil
}

// writeError answers r with rcode and, when the client sent EDNS, an RFC
// 8914 Extended DNS Error with info code ede and no text: it says why (not
// ready, not authoritative, zone data invalid) without quoting anything of
// a zone file.
func writeError(w dns.ResponseWriter, r *dns.Msg, rcode int, ede uint16) (int, error) {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	addEDE(m, r, ede, "")
	if err := w.WriteMsg(m); err != nil {
		return dns.RcodeServerFailure, plugin.Error(pluginName, err)
	}
	return dns.RcodeSuccess, nil
}

// addEDE gives the reply m to r an OPT record with an RFC 8914 Extended
// DNS Error (info code ede, text), when r has EDNS: a client without EDNS
// gets no OPT (RFC 6891 section 7).
func addEDE(m, r *dns.Msg, ede uint16, text string) {
	opt := r.IsEdns0()
	if opt == nil {
		return
	}
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(max(opt.UDPSize(), dns.MinMsgSize))
	if text != "" || ede != 0 {
		o.Option = []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: ede, ExtraText: text}}
	}
	m.Extra = append(m.Extra, o)
}

// entryFor returns the zone that holds qname: the zone file with the
// longest origin, or the catalog zone when it is longer still. A DS query
// for the apex of a zone whose parent is served too goes to the parent: DS
// lives on the parent side of the cut (RFC 4035 §3.1.4.1).
func (m *MXZone) entryFor(g *generation, qname string, starts []uint16, qtype uint16) *entry {
	e := g.matchStarts(qname, starts)
	if qtype == dns.TypeDS && e != nil && e.origin == qname && len(starts) > 1 {
		if parent := g.matchStarts(qname, starts[1:]); parent != nil && parent.zone != nil {
			if cut, ok := parent.zone.Node(qname); ok && cut.Has(dns.TypeNS) {
				e = parent // the parent delegates to this zone
			}
		}
	}
	if m.catalog == nil {
		return e
	}
	for _, s := range starts {
		if e != nil && int(s) >= len(qname)-len(e.origin) {
			break // e is at least as long
		}
		if qname[s:] == m.catalog.origin {
			if c := m.catalog.cur.Load(); c != nil {
				return c
			}
		}
	}
	return e
}

// wantsDNSSEC reports whether r has the DO bit set (RFC 3225).
func wantsDNSSEC(r *dns.Msg) bool {
	opt := r.IsEdns0()
	return opt != nil && opt.Do()
}
