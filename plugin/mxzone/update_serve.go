package mxzone

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/tsig"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/update"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"

	"github.com/miekg/dns"
)

// maxEDEText bounds the text of an Extended DNS Error: a client is told the
// rule and the record, not a whole finding.
const maxEDEText = 200

// updateReply writes the answer to one UPDATE: its rcode, an Extended DNS
// Error (RFC 8914) when the client speaks EDNS, and the TSIG the answer to
// a signed request carries (RFC 8945 §5.3), unless the tsig plugin signs it.
type updateReply struct {
	w        dns.ResponseWriter
	r        *dns.Msg
	tsig     *dns.TSIG // the request's; nil: unsigned
	tsigErr  uint16    // the TSIG error to answer with
	pluginOK bool      // the tsig plugin checked the MAC and signs the answer
}

func (u *updateReply) write(rcode int, ede uint16, text string) (int, error) {
	m := new(dns.Msg)
	m.SetRcode(u.r, rcode)
	m.Question = u.r.Question[:1:1]
	addEDE(m, u.r, ede, cutText(text, maxEDEText))
	if u.tsig != nil && !u.pluginOK {
		t := u.tsig
		m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
		rt := m.IsTsig()
		rt.Error = u.tsigErr
		if u.tsigErr == dns.RcodeBadTime {
			// RFC 8945 §5.2.3: the client's time, and the server's in Other Data.
			rt.TimeSigned = t.TimeSigned
			b := binary.BigEndian.AppendUint64(nil, uint64(time.Now().Unix()))
			rt.OtherData, rt.OtherLen = hex.EncodeToString(b[2:]), 6
		}
	}
	if err := u.w.WriteMsg(m); err != nil {
		return dns.RcodeServerFailure, plugin.Error(pluginName, err)
	}
	return dns.RcodeSuccess, nil
}

// cutText keeps s within n bytes, marked as cut.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// serveUpdate answers one UPDATE (RFC 2136): the TSIG first (RFC 8945), then
// the zone section, the prerequisites, the grants, the prescan, the change
// itself, and the same checks a file edit goes through. Only then is it
// written to the zone's journal, on disk, and answered NOERROR.
func (m *MXZone) serveUpdate(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	rep := &updateReply{w: w, r: r}
	q := r.Question[0]
	origin := strings.ToLower(dns.Fqdn(q.Name))
	for i, rr := range r.Extra {
		if rr.Header().Rrtype == dns.TypeTSIG && i != len(r.Extra)-1 {
			return m.refuseUpdate(rep, origin, "", dns.RcodeFormatError, dns.ExtendedErrorCodeOther, "TSIG is not the last record (RFC 8945 section 5.1)")
		}
	}
	key, ok := m.updateKey(ctx, w, r, rep)
	if !ok {
		return m.refuseUpdate(rep, origin, "", dns.RcodeNotAuth, dns.ExtendedErrorCodeOther, "TSIG: "+dns.RcodeToString[int(rep.tsigErr)])
	}
	if q.Qtype != dns.TypeSOA || q.Qclass != dns.ClassINET {
		return m.refuseUpdate(rep, origin, key, dns.RcodeFormatError, dns.ExtendedErrorCodeOther, "the zone section names the zone with type SOA, class IN (RFC 2136 section 3.1.1)")
	}
	if key == "" {
		return m.refuseUpdate(rep, origin, key, dns.RcodeRefused, dns.ExtendedErrorCodeProhibited, "updates must be signed with a TSIG key (RFC 8945)")
	}
	if g := m.gen.Load(); g == nil || g.zones[origin] == nil {
		return m.refuseUpdate(rep, origin, key, dns.RcodeNotAuth, dns.ExtendedErrorCodeNotAuthoritative, "zone "+origin+" is not served here")
	}
	pol := m.updates.policy(origin)
	if pol == nil || pol.Key(key) == nil {
		return m.refuseUpdate(rep, origin, key, dns.RcodeRefused, dns.ExtendedErrorCodeProhibited,
			fmt.Sprintf("key %s is not one of zone %s's keys", key, origin))
	}
	applied, err := m.applyUpdate(origin, key, r, pol)
	if err != nil {
		var ur *updateRefusal
		if errors.As(err, &ur) {
			if ur.successor != nil {
				return ur.successor.serveUpdate(ctx, w, r)
			}
			return m.refuseUpdate(rep, origin, key, ur.rcode, ur.ede, ur.why)
		}
		return m.refuseUpdate(rep, origin, key, dns.RcodeServerFailure, dns.ExtendedErrorCodeOther, err.Error())
	}
	if applied == nil {
		updatesTotal.WithLabelValues(m.server, "unchanged").Inc()
		log.Infof("update by %s: zone %s: nothing to change", key, origin)
		return rep.write(dns.RcodeSuccess, 0, "")
	}
	// On disk before the answer, outside the reload lock: updates of other
	// zones go on meanwhile, and those of this zone share the sync.
	if err := m.updates.syncJournal(); err != nil {
		log.Errorf("update by %s: zone %s: journal sync: %v; the change is served but may not survive a crash", key, origin, err)
		return m.refuseUpdate(rep, origin, key, dns.RcodeServerFailure, dns.ExtendedErrorCodeOther, "the change could not be synced to the journal")
	}
	updatesTotal.WithLabelValues(m.server, "applied").Inc()
	journalBytes.WithLabelValues(m.server).Set(float64(m.updates.journalBytes()))
	log.Infof("update by %s: zone %s: serial %d -> %d: %s", key, origin, applied.from, applied.to, describeChange(applied.res))
	return rep.write(dns.RcodeSuccess, 0, "")
}

// updateRefusal is an update answered with rcode and nothing changed; or,
// with successor, one for the instance that took over.
type updateRefusal struct {
	rcode     int
	ede       uint16
	why       string
	successor *MXZone
}

func (u *updateRefusal) Error() string { return u.why }

// appliedUpdate is what an applied update changed.
type appliedUpdate struct {
	res      update.Result
	from, to uint32
}

// applyUpdate applies r to origin's served version: checked, signed,
// written to the journal (not yet synced) and published. The work that
// grows with the zone (the new version, its local checks, its signatures)
// is done outside the reload lock, so that a large zone's update holds up
// no other zone; under the lock come the cross-zone checks, the journal
// and the publication, if the zone is still as the update read it (else it
// is read again). nil and no error: nothing to change.
func (m *MXZone) applyUpdate(origin, key string, r *dns.Msg, pol *update.Policy) (*appliedUpdate, error) {
	for try := 0; ; try++ {
		g := m.gen.Load()
		var e *entry
		if g != nil {
			e = g.zones[origin]
		}
		if s := m.successor.Load(); s != nil {
			return nil, &updateRefusal{successor: s}
		}
		if e == nil {
			return nil, &updateRefusal{rcode: dns.RcodeNotAuth, ede: dns.ExtendedErrorCodeNotAuthoritative, why: "zone " + origin + " is not served here"}
		}
		if e.zone == nil || e.status != outcomeServed {
			return nil, &updateRefusal{rcode: dns.RcodeRefused, ede: dns.ExtendedErrorCodeProhibited,
				why: fmt.Sprintf("zone %s is held back (%s): fix its file first", origin, e.status)}
		}
		res := update.Apply(origin, updateView{z: e.zone.served(), signed: e.zone.signed != nil}, r, key, pol,
			update.Limits{RRsetRecords: m.loader.limits.RRsetRecords})
		if res.Rcode != dns.RcodeSuccess {
			code := uint16(dns.ExtendedErrorCodeOther)
			if res.Rcode == dns.RcodeRefused {
				code = dns.ExtendedErrorCodeProhibited
			}
			return nil, &updateRefusal{rcode: res.Rcode, ede: code, why: res.Reason}
		}
		if len(res.Del)+len(res.Add) == 0 {
			return nil, nil
		}
		now := time.Now()
		v, local, err := m.loader.draftUpdate(e, res, now)
		if err != nil {
			return nil, err
		}
		if s := m.signing; s != nil && e.zone.signed != nil {
			z, err := s.sign(v, e.zone.signed.Serial(), now, e.zone.signed)
			if err != nil {
				signings.WithLabelValues(m.server, "failed").Inc()
				return nil, &updateRefusal{rcode: dns.RcodeServerFailure, ede: dns.ExtendedErrorCodeOther, why: "the zone cannot be signed now: " + err.Error()}
			}
			signings.WithLabelValues(m.server, "signed").Inc()
			v = withSignature(v, z)
		}
		// The step for IXFR, compared RRset by RRset: outside the lock too.
		del, add := zone.Diff(e.zone.served(), v.served())
		applied, again, err := m.publishUpdate(origin, key, e, v, local, res, now, del, add)
		if !again || try == 2 {
			return applied, err
		}
		// The zone changed while this update was drafted: read it again.
	}
}

// publishUpdate checks v across zones, journals and publishes it, under the
// reload lock; again when e is no longer the zone's entry.
func (m *MXZone) publishUpdate(origin, key string, e *entry, v *version, local []Finding, res update.Result, now time.Time,
	del, add []dns.RR) (*appliedUpdate, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.successor.Load(); s != nil {
		// Taken over while this update was drafted: the new instance holds
		// the journals now.
		return nil, false, &updateRefusal{successor: s}
	}
	g := m.gen.Load()
	if g.zones[origin] != e {
		return nil, true, &updateRefusal{rcode: dns.RcodeServerFailure, ede: dns.ExtendedErrorCodeOther, why: "the zone kept changing while the update was applied; try again"}
	}
	next, built, err := m.loader.crossUpdate(g, e, v, local, now)
	if err != nil {
		return nil, false, err
	}
	ch := built.changes[0]
	if m.signing != nil && e.zone.signed == nil && m.signing.covers(origin) {
		// A zone served unsigned until now (it could not be signed): signed
		// as a file edit would be, and compared again.
		m.signChanges(built)
		if ch.entry.zone != ch.next {
			return nil, false, &updateRefusal{rcode: dns.RcodeServerFailure, ede: dns.ExtendedErrorCodeOther, why: "the zone cannot be signed now"}
		}
		del, add = zone.Diff(e.zone.served(), ch.entry.zone.served())
	}
	delta := compose(m.updates.delta(origin), res.Del, res.Add)
	if err := m.updates.recordDiff(origin, e.zone, ch.entry.zone, del, add, delta, key, false); err != nil {
		log.Errorf("update by %s: zone %s: journal: %v; not applied", key, origin, err)
		return nil, false, &updateRefusal{rcode: dns.RcodeServerFailure, ede: dns.ExtendedErrorCodeOther, why: "the change could not be written to the journal"}
	}
	m.markChanged(changedOrigins(built, next)...)
	m.gen.Store(next)
	m.recordUpdate(built, time.Since(now))
	m.logTouched(g, next, built)
	if m.notify != nil {
		m.notify.add(origin)
	}
	return &appliedUpdate{res: res, from: e.zone.served().Serial(), to: ch.entry.zone.served().Serial()}, false, nil
}

// refuseUpdate answers an update that changes nothing, counts it and logs
// one line.
func (m *MXZone) refuseUpdate(rep *updateReply, origin, key string, rcode int, ede uint16, why string) (int, error) {
	result := strings.ToLower(dns.RcodeToString[rcode])
	updatesTotal.WithLabelValues(m.server, result).Inc()
	who := key
	if who == "" {
		who = "an unsigned or unverified request"
	}
	log.Warningf("update by %s: zone %s: %s: %s", who, printable(cutText(origin, 255)), dns.RcodeToString[rcode], cutText(why, 400))
	return rep.write(rcode, ede, why)
}

// updateKey returns the TSIG key that signed r ("" if none), checked by the
// DNS server (miekg/dns) or by the tsig plugin before this one; false when
// it did not check out (RFC 8945 §5.2: BADKEY, BADSIG, BADTIME).
func (m *MXZone) updateKey(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, rep *updateReply) (string, bool) {
	if name, ok := tsig.ValidatedKeyName(ctx); ok {
		rep.pluginOK = true
		return strings.ToLower(dns.Fqdn(name)), true
	}
	t := r.IsTsig()
	if t == nil {
		return "", true
	}
	rep.tsig = t
	switch err := w.TsigStatus(); {
	case err == nil:
		return strings.ToLower(t.Hdr.Name), true
	case errors.Is(err, dns.ErrSecret):
		rep.tsigErr = dns.RcodeBadKey
	case errors.Is(err, dns.ErrTime):
		rep.tsigErr = dns.RcodeBadTime
	default:
		rep.tsigErr = dns.RcodeBadSig
	}
	return "", false
}

// describeChange names the RRsets an update changed, for its log line: a
// few of them and a count.
func describeChange(res update.Result) string {
	type set struct {
		name string
		t    uint16
	}
	var sets []set
	seen := map[set]bool{}
	for _, list := range [][]dns.RR{res.Del, res.Add} {
		for _, rr := range list {
			s := set{rr.Header().Name, rr.Header().Rrtype}
			if !seen[s] {
				seen[s] = true
				sets = append(sets, s)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d deleted, %d added, in ", len(res.Del), len(res.Add))
	for i, s := range sets {
		if i == 3 {
			fmt.Fprintf(&b, " and %d more RRsets", len(sets)-3)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(printable(cutText(s.name, 100)) + "/" + dns.TypeToString[s.t])
	}
	return b.String()
}

// isUpdate reports whether r is an UPDATE this plugin should take.
func (m *MXZone) isUpdate(r *dns.Msg) bool { return r.Opcode == dns.OpcodeUpdate && m.updates != nil }
