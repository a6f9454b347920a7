package mxzone

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/update"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"

	"github.com/miekg/dns"
)

// updateView is the served version of a zone as an update sees it: the
// records the server's signer made are not there.
type updateView struct {
	z      *zone.Zone
	signed bool
}

func (v updateView) RRset(name string, t uint16) []dns.RR {
	if v.signed && madeBySigner(v.z.Origin(), name, t) {
		return nil
	}
	n, ok := v.z.Node(name)
	if !ok {
		return nil
	}
	s, ok := n.Set(t)
	if !ok {
		return nil
	}
	return s.RRs()
}

func (v updateView) Types(name string) []uint16 {
	n, ok := v.z.Node(name)
	if !ok {
		return nil
	}
	var out []uint16
	for k := range n.NumSets() {
		t := n.SetAt(k).Type()
		if !v.signed || !madeBySigner(v.z.Origin(), name, t) {
			out = append(out, t)
		}
	}
	return out
}

// prohibited refuses an update for what it would break: REFUSED with an
// Extended DNS Error (RFC 8914, Prohibited) naming the rule, the owner and
// the problem, or with msg.
func prohibited(f *Finding, msg string) *updateRefusal {
	if f != nil {
		msg = f.Rule.String() + ": " + f.Owner + ": " + f.Message
	}
	return &updateRefusal{rcode: dns.RcodeRefused, ede: dns.ExtendedErrorCodeProhibited, why: msg}
}

// draftUpdate makes the version of e's zone with res applied, checked by
// the rules that need only the zone itself; it reads nothing that changes,
// so it runs outside the reload lock. The served serial goes up (RFC 1982);
// an SOA the update gave with a newer serial keeps it.
func (l *loader) draftUpdate(e *entry, res update.Result, now time.Time) (*version, []Finding, error) {
	old := e.zone
	origin := e.origin
	recs := updatedRecords(old, res)
	if l.limits.Records > 0 && len(recs) > l.limits.Records {
		return nil, nil, prohibited(nil, fmt.Sprintf("zone would hold more than the limit of %d records (max_records)", l.limits.Records))
	}
	next := l.dynamic.nextSerial(0, old.served().Serial(), now)
	for i, r := range recs {
		if soa, ok := r.RR.(*dns.SOA); ok && soa.Hdr.Name == origin && !serialNewer(soa.Serial, next) {
			c := *soa
			c.Serial = next
			recs[i].RR = &c
		}
	}
	fs := &findings{policy: &l.policy, zone: origin}
	keep := checkLocal(origin, e.file, recs, &l.limits, fs)
	v, bad, err := newVersion(origin, e.file, old.includes, keep, l.limits.Names)
	switch {
	case errors.Is(err, zone.ErrTooManyNames):
		return nil, nil, prohibited(nil, fmt.Sprintf("zone would have more than the limit of %d names (max_names)", l.limits.Names))
	case err != nil:
		owner := origin
		if bad != nil {
			owner = bad.RR.Header().Name
		}
		return nil, nil, prohibited(nil, fmt.Sprintf("%s: record cannot be served: %v", owner, err))
	}
	if f := newFailure(fs.list, e.findings); f != nil {
		return nil, nil, prohibited(f, "")
	}
	return v, fs.list, nil
}

// crossUpdate makes the generation after g in which e's zone serves v (a
// draftUpdate, signed if the zone is), checked against every other zone
// as a file edit is, every zone protected: an update that breaks another
// zone is refused. It returns the report of that one change. The caller
// holds the reload lock, and e is still g's entry.
func (l *loader) crossUpdate(g *generation, e *entry, v *version, local []Finding, now time.Time) (*generation, *report, error) {
	origin := e.origin
	ne := *e
	ne.zone, ne.heldBack, ne.fromSnapshot = v, nil, false
	ch := &change{entry: &ne, last: e.zone, next: v, draft: v, local: local, fileSerial: e.fileSerial}
	gen := &generation{zones: maps.Clone(g.zones), deleting: g.deleting, below: g.below, verifying: g.verifying}
	gen.zones[origin] = &ne
	changes := map[string]*change{origin: ch}
	rep := &report{changes: []*change{ch}}
	everyZone := func(string) bool { return true }
	rep.touched = crossCheck(gen, changes, affected(gen, changes, nil, g.deps), g.deps, &l.policy, everyZone)
	ne.findings = ch.allFindings()
	ne.published = now
	// The dependency index changes only when this zone's dependencies do:
	// otherwise it is shared, as the zones are, and costs nothing per update.
	if slices.Equal(ne.depKeys, e.depKeys) {
		gen.deps, gen.waiting = g.deps, g.waiting
	} else {
		gen.index()
	}
	if ne.status != outcomeServed {
		var list []Finding
		for _, f := range ch.cross {
			list = append(list, f.Finding)
		}
		list = append(list, ch.blame...)
		if f := newFailure(list, e.findings); f != nil {
			return nil, nil, prohibited(f, "")
		}
		return nil, nil, prohibited(nil, "the update breaks the zone or another zone")
	}
	return gen, rep, nil
}

// updatedRecords are the records of the served version v (those the signer
// made left out) with res applied, in the form the local checks read. The
// MX records keep the lines they came from; the records the update added
// are the UPDATE's.
func updatedRecords(v *version, res update.Result) []zonefile.Record {
	z := v.served()
	origin := z.Origin()
	signed := v.signed != nil
	out := make([]zonefile.Record, 0, z.Len()+len(res.Add))
	type setKey struct {
		name string
		t    uint16
	}
	gone := map[setKey][]dns.RR{}
	for _, d := range res.Del {
		k := setKey{d.Header().Name, d.Header().Rrtype}
		gone[k] = append(gone[k], d)
	}
	mx := 0
	for set := range z.All {
		t := set.Type()
		if signed && madeBySigner(origin, set.Owner(), t) {
			continue
		}
		dels := gone[setKey{set.Owner(), t}]
		for _, rr := range set.RRs() {
			r := zonefile.Record{RR: rr, File: v.file}
			if t == dns.TypeMX {
				if mx < len(v.mx) {
					r.File, r.Line = v.fileOf(v.mx[mx]), int(v.mx[mx].line)
				}
				mx++
			}
			if slices.ContainsFunc(dels, func(d dns.RR) bool { return identical(d, rr) }) {
				continue
			}
			out = append(out, r)
		}
	}
	for i, rr := range res.Add {
		out = append(out, zonefile.Record{RR: rr, File: updateFile, Line: i + 1})
	}
	return out
}

// identical compares two records, TTL included.
func identical(a, b dns.RR) bool { return a.Header().Ttl == b.Header().Ttl && dns.IsDuplicate(a, b) }

// newFailure returns the first finding of list that stops a zone from being
// served and that before (the findings of the version served) did not
// have: an update is refused for what it breaks, not for what was broken.
func newFailure(list, before []Finding) *Finding {
	for i, f := range list {
		if f.Severity != SeverityFail {
			continue
		}
		known := slices.ContainsFunc(before, func(b Finding) bool {
			return b.Rule == f.Rule && b.Owner == f.Owner && b.Message == f.Message
		})
		if !known {
			return &list[i]
		}
	}
	return nil
}
