package mxzone

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"

	"github.com/miekg/dns"
)

// CheckResult is what the offline checker found.
type CheckResult struct {
	Zones    []ZoneStatus
	Findings []Finding
}

// ZoneStatus says whether the server would serve a zone.
type ZoneStatus struct {
	Zone   string `json:"zone"`
	File   string `json:"file"`
	Served bool   `json:"served"`
}

// Errors counts the findings that keep a zone from being served.
func (r *CheckResult) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == SeverityFail {
			n++
		}
	}
	return n
}

// Check validates zone files exactly as the server would when serving them
// together. Each path is a zone directory (its ORIGIN.zone files) or one
// ORIGIN.zone file; all of them form one set, as if one server served them.
// Unlike the server, it reports infos too.
func Check(paths []string, policy Policy, limits Limits) (*CheckResult, error) {
	return check(paths, "", policy, limits)
}

// CheckReplacing is Check for a new version of one zone: file, an
// ORIGIN.zone file, stands for its zone, and a file of that zone in the
// directories of paths is not read, as if file had replaced it.
func CheckReplacing(file string, paths []string, policy Policy, limits Limits) (*CheckResult, error) {
	origin, err := zonefile.Origin(filepath.Base(file))
	if err != nil {
		return nil, err
	}
	return check(append([]string{file}, paths...), origin, policy, limits)
}

// check is Check, with the zone replacing read from paths[0] only.
func check(paths []string, replacing string, policy Policy, limits Limits) (*CheckResult, error) {
	policy.Notes = true
	g := &generation{zones: map[string]*entry{}}
	changes := map[string]*change{}
	res := &CheckResult{}
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		dir, single := p, ""
		if !fi.IsDir() {
			dir, single = filepath.Dir(p), filepath.Base(p)
		}
		l := &loader{dir: filepath.Clean(dir), origins: []string{"."}, policy: policy, limits: limits}
		skip := replacing
		if i == 0 {
			skip = ""
		}
		if err := l.checkInto(g, changes, res, single, skip); err != nil {
			return nil, err
		}
	}
	crossCheck(g, changes, allZones(g), nil, &policy, nil)
	entries := slices.SortedFunc(maps.Values(g.zones), func(a, b *entry) int { return strings.Compare(a.file, b.file) })
	byZone := notes(g, &policy)
	lists := make([][]Finding, len(entries))
	n := len(res.Findings)
	for i, e := range entries {
		lists[i] = changes[e.origin].allFindings()
		if more := byZone[e.origin]; len(more) > 0 {
			lists[i] = append(lists[i], more...)
			sortFindings(lists[i])
		}
		n += len(lists[i])
	}
	// Sized once: 100,000 zones may well have 200,000 findings.
	res.Findings = slices.Grow(res.Findings, n-len(res.Findings))
	res.Zones = slices.Grow(res.Zones, len(entries))
	for i, e := range entries {
		res.Zones = append(res.Zones, ZoneStatus{Zone: e.origin, File: e.file, Served: e.status == outcomeServed})
		res.Findings = append(res.Findings, lists[i]...)
	}
	res.Findings = byPlace(res.Findings)
	slices.SortFunc(res.Zones, func(a, b ZoneStatus) int { return strings.Compare(a.File, b.File) })
	return res, nil
}

// byPlace orders findings by file, then line, keeping the order of those at
// one place. The findings come zone by zone, the zones in file order, each
// zone's in file order: only findings in included files or about the
// directory can be out of place, and only then is the whole list sorted.
func byPlace(list []Finding) []Finding {
	cmp := func(a, b Finding) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	}
	if !slices.IsSortedFunc(list, cmp) {
		slices.SortStableFunc(list, cmp)
	}
	return list
}

// checkInto reads the zone files of l.dir (or only the file single) into g,
// but not a file of the zone skip.
func (l *loader) checkInto(g *generation, changes map[string]*change, res *CheckResult, single, skip string) error {
	d, err := openZoneDir(l.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	var files []zoneFile
	if single == "" {
		var problems []Finding
		files, problems, err = l.scan(d)
		if err != nil {
			return err
		}
		res.Findings = append(res.Findings, problems...)
		for _, f := range problems {
			res.Zones = append(res.Zones, ZoneStatus{Zone: f.Zone, File: f.File})
		}
	} else {
		origin, err := zonefile.Origin(single)
		if err != nil {
			return err
		}
		files = []zoneFile{{name: single, origin: origin}}
	}
	files = slices.DeleteFunc(files, func(f zoneFile) bool { return f.origin == skip })
	for _, ch := range l.readAll(d, files, nil, 0, nil) {
		origin := ch.entry.origin
		if other := g.zones[origin]; other != nil {
			res.Findings = append(res.Findings, Finding{
				File: ch.entry.file, Zone: origin, Owner: origin, Rule: RuleSyntax, Severity: SeverityFail,
				Message: fmt.Sprintf("zone %s is already read from %s", origin, other.file),
			})
			continue
		}
		changes[origin] = ch
		g.zones[origin] = ch.entry
	}
	return nil
}

// notes are the findings only the checker gives: about the set of zones as
// a whole, never a reason to refuse a zone, and too costly to keep up to
// date on every reload (a TLSA record's host is named by MX records of any
// zone).
func notes(g *generation, policy *Policy) map[string][]Finding {
	exchanges := mxHosts(g)
	out := map[string][]Finding{}
	for _, e := range g.zones {
		v := e.zone
		if v == nil {
			continue
		}
		fs := &findings{policy: policy, zone: e.origin}
		if n := v.Lookup(e.origin).Node; n.HasAddress() && !n.Has(dns.TypeMX) {
			fs.advise(RuleNullMX, SeverityInfo, v.file, 0, e.origin, "mail for %s goes to its address (implicit MX, "+
				"RFC 5321 section 5.1); publish \"MX 0 .\" if it takes no mail (RFC 7505)", e.origin)
		}
		for _, ref := range v.mail {
			if host := strings.TrimPrefix(ref.owner, smtpLabel); ref.kind == refDANE && !exchanges[host] {
				fs.advise(RuleTLSA, SeverityInfo, v.fileOf(ref.pos), int(ref.pos.line), ref.owner, "%s is not the "+
					"exchange of any MX record of the served zones: DANE senders look TLSA up only at an MX host's "+
					"name (RFC 7672 section 2.2.1)", host)
			}
		}
		if len(fs.list) > 0 {
			out[e.origin] = fs.list
		}
	}
	return out
}

// mxHosts is the set of the exchanges of the served zones' MX records, made
// only when some zone has TLSA records for an SMTP server to look up in it.
func mxHosts(g *generation) map[string]bool {
	hosts := map[string]bool{}
	dane := false
	for _, e := range g.zones {
		if e.zone != nil {
			dane = dane || slices.ContainsFunc(e.zone.mail, func(r mailRef) bool { return r.kind == refDANE })
		}
	}
	if !dane {
		return hosts
	}
	for _, e := range g.zones {
		if e.zone != nil {
			for ref := range e.zone.exchanges {
				hosts[ref.exchange] = true
			}
		}
	}
	return hosts
}

// CheckEdit checks file, a new version of one zone (ORIGIN.zone), as if it
// replaced its zone's file in dir, the served set, with the protected zones
// of protect: what the server would do with the edit. It reports that
// version's findings, with the refusal of an edit of a protected zone that
// would break others, and the new findings of the other zones it would
// break when it is applied; not what the served zones had before.
func CheckEdit(dir, file string, policy Policy, limits Limits, protect []string) (*CheckResult, error) {
	policy.Notes = true
	origin, err := zonefile.Origin(filepath.Base(file))
	if err != nil {
		return nil, err
	}
	l := &loader{dir: filepath.Clean(dir), origins: []string{"."}, policy: policy, limits: limits,
		protected: map[string]bool{}}
	for _, p := range protect {
		l.protected[p] = true
	}
	served, _, err := l.firstBuild()
	if err != nil {
		return nil, err
	}
	edit := &loader{dir: filepath.Dir(file), origins: []string{"."}, policy: policy, limits: limits}
	d, err := openZoneDir(edit.dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ch := edit.read(d, zoneFile{name: filepath.Base(file), origin: origin}, served.zones[origin], 0)
	next := &generation{zones: maps.Clone(served.zones)}
	next.zones[origin] = ch.entry
	changes := map[string]*change{origin: ch}
	touched := crossCheck(next, changes, affected(next, changes, nil, served.deps), served.deps, &l.policy, l.protects)
	res := &CheckResult{
		Zones:    []ZoneStatus{{Zone: origin, File: ch.entry.file, Served: ch.entry.status == outcomeServed}},
		Findings: ch.allFindings(),
	}
	for _, o := range touched {
		before := served.zones[o].findings
		for _, f := range next.zones[o].findings {
			if f.cross && f.Severity >= SeverityWarn && !slices.Contains(before, f) {
				f.Message = "after this edit of " + origin + ": " + f.Message
				res.Findings = append(res.Findings, f)
			}
		}
	}
	res.Findings = byPlace(res.Findings)
	return res, nil
}
