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
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/fall"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/coredns/coredns/request"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"

	"github.com/miekg/dns"
)

const pluginName = "mxzone"

var log = clog.NewWithPlugin(pluginName)

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

// OnStartup loads the zones, then starts the reload loop. Calling it again
// (a Corefile reload starts a new instance while this one lives) is a no-op.
func (m *MXZone) OnStartup() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		return nil
	}
	if m.state != nil {
		if err := os.MkdirAll(m.state.dir, 0o700); err != nil {
			if m.signing != nil {
				return plugin.Error(pluginName, fmt.Errorf("state directory (keys and signed copies): %w", err))
			}
			log.Errorf("state directory: %v; running without saved copies", err)
			m.state = nil
		}
	}
	if s := m.signing; s != nil {
		m.wireChildDS()
		for _, dir := range []string{s.ring.store.Dir, s.copies} {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				// Serving unsigned what a parent may have a DS for would
				// make it fail to validate: do not start.
				return plugin.Error(pluginName, fmt.Errorf("dnssec: %w", err))
			}
		}
	}
	adopted := m.takeOver()
	if m.updates != nil {
		if !adopted {
			m.updates.openJournals()
		}
		m.updates.readPolicies()
	}
	var d *dirWatch
	var werr error
	if m.interval > 0 {
		d, werr = newDirWatch(m.loader.dir)
		m.aside = make(chan struct{}, 1)
		if s := m.signing; s != nil {
			m.loader.signsAside = func(v *version) bool { return v.Len() > signInlineRecords && s.covers(v.Origin()) }
		}
	}
	if m.status != nil {
		// Up before the first load: it shows the load's progress.
		if err := m.status.start(); err != nil {
			return plugin.Error(pluginName, fmt.Errorf("status %s: %w", strings.Join(m.status.addrs, " "), err))
		}
	}
	if !adopted {
		if err := m.load(); err != nil {
			// The directory went away between setup and start: answer SERVFAIL
			// until it is back, rather than not starting at all.
			log.Errorf("no zones loaded yet: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	if m.notify != nil {
		go m.notify.run(ctx, m.server)
	}
	if m.catalog != nil {
		go m.buildCatalogs(ctx)
	}
	if m.state != nil {
		go m.retrySaves(ctx)
	}
	if m.snaps != nil {
		go m.snapshotLoop(ctx)
	}
	if m.signing != nil {
		go m.refreshLoop(ctx)
	}
	if m.interval > 0 {
		go m.run(ctx, m.interval, d, werr)
	}
	if m.updates != nil {
		go m.watchPolicies(ctx)
	}
	return nil
}

// OnShutdown stops the reload loop. It is safe to call more than once.
func (m *MXZone) OnShutdown() error {
	m.mu.Lock()
	if m.cancel != nil {
		m.cancel()
	}
	if m.status != nil {
		m.status.stop()
	}
	m.mu.Unlock()
	m.stateWrites.Wait() // the copies of the first load, if still being written
	m.release()
	return nil
}
