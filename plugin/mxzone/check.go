package mxzone

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"
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
func Check(paths []string, policy Policy, limits Limits) (*CheckResult, error) {
	g := &generation{zones: map[string]*entry{}}
	changes := map[string]*change{}
	res := &CheckResult{}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		dir, single := p, ""
		if !fi.IsDir() {
			dir, single = filepath.Dir(p), filepath.Base(p)
		}
		l := &loader{dir: filepath.Clean(dir), origins: []string{"."}, policy: policy, limits: limits}
		if err := l.checkInto(g, changes, res, single); err != nil {
			return nil, err
		}
	}
	crossCheck(g, changes, allZones(g), nil, &policy, nil)
	for _, e := range g.zones {
		ch := changes[e.origin]
		res.Zones = append(res.Zones, ZoneStatus{Zone: e.origin, File: e.file, Served: e.status == statusServed})
		res.Findings = append(res.Findings, ch.allFindings()...)
	}
	slices.SortFunc(res.Zones, func(a, b ZoneStatus) int { return strings.Compare(a.File, b.File) })
	slices.SortStableFunc(res.Findings, func(a, b Finding) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	return res, nil
}

// checkInto reads the zone files of l.dir (or only the file single) into g.
func (l *loader) checkInto(g *generation, changes map[string]*change, res *CheckResult, single string) error {
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
	for _, ch := range l.readAll(d, files, nil, 0) {
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
