package mxzone

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"
)

// allZones is the scope of a cross-check of every zone of g.
func allZones(g *generation) map[string]bool {
	scope := make(map[string]bool, len(g.zones))
	for o := range g.zones {
		scope[o] = true
	}
	return scope
}

// affected is the scope of a cross-check after changes and removals, from
// the dependency index of the generation before: the changed zones and the
// zones that depend on them or on a removed one. A new zone can capture
// exchanges that resolved into a zone above it, so the zones above a new
// one and their dependents are checked too.
func affected(g *generation, changes map[string]*change, removed []string, deps map[string][]string) map[string]bool {
	scope := map[string]bool{}
	for o, ch := range changes {
		scope[o] = true
		for _, d := range deps[o] {
			scope[d] = true
		}
		if ch.last != nil {
			continue
		}
		for a := range zone.Ancestors(o) {
			if g.zones[a] != nil {
				scope[a] = true
				for _, d := range deps[a] {
					scope[d] = true
				}
			}
		}
	}
	for _, o := range removed {
		for _, d := range deps[o] {
			scope[d] = true
		}
	}
	return scope
}

// crossCheck runs the cross-zone checks over scope until no served version
// fails them. A new version that fails is replaced by its zone's last good
// version. A version that did not change but now fails because of an edit
// in this build holds that edit back when the edited zone is protected
// (protects; nil: every zone is); otherwise the edit stands and the zone it
// broke keeps serving as it is, with the findings that say so. When an edit
// is held back, the zones that depend on it (deps; every zone when deps is
// nil, at the first load) are checked again. Then every changed zone gets
// its status. It returns the unchanged zones whose findings changed.
func crossCheck(g *generation, changes map[string]*change, scope map[string]bool, deps map[string][]string,
	policy *Policy, protects func(origin string) bool) []string {
	r := &crossRun{g: g, changes: changes, policy: policy, protects: protects, owned: map[string]bool{}, touched: map[string]bool{}}
	for len(scope) > 0 {
		held := r.round(scope)
		scope = map[string]bool{}
		for origin := range held {
			ch := changes[origin]
			e := g.zones[origin]
			e.heldBack = ch.next // valid on its own, held back by the cross-zone checks only
			e.zone = ch.last
			// Its dependents now see the last good version: check them again.
			scope[origin] = true
			for _, d := range deps[origin] {
				scope[d] = true
			}
			if deps == nil {
				scope = allZones(g)
			}
		}
	}
	for _, ch := range changes {
		if len(ch.broken) > 0 {
			ch.blame = []Finding{ch.blameFinding()}
		}
		if ch.next == nil && ch.draft != nil {
			// Refused on its own: still report its MX targets, so that one
			// run shows the customer every mistake.
			ch.cross, _ = checkTargets(ch.draft, g.zoneOf, policy)
		}
		if ch.entry.status = ch.status(); ch.entry.status == outcomeServed {
			ch.entry.heldBack = nil
		}
	}
	return slices.Sorted(maps.Keys(r.touched))
}

// crossRun is one crossCheck.
type crossRun struct {
	g        *generation
	changes  map[string]*change
	policy   *Policy
	protects func(origin string) bool
	owned    map[string]bool // unchanged zones whose entry this run copied (it may change them)
	touched  map[string]bool // unchanged zones whose findings changed
}

// own returns the entry of the unchanged zone origin, copied on first use:
// it is shared with the previous generation, which never changes.
func (r *crossRun) own(origin string) *entry {
	e := r.g.zones[origin]
	if !r.owned[origin] {
		clone := *e
		e = &clone
		r.g.zones[origin] = e
		r.owned[origin] = true
	}
	return e
}

// protected reports whether edits of origin that break other zones are
// held back.
func (r *crossRun) protected(origin string) bool { return r.protects == nil || r.protects(origin) }

// status is what the checks made of a changed zone.
func (ch *change) status() outcome {
	e := ch.entry
	switch {
	case e.zone != nil && e.zone == ch.next:
		return outcomeServed
	case e.zone != nil && e.zone.saved:
		return outcomeFromState
	case e.zone != nil:
		return outcomeLastGood
	default:
		return outcomeRejected
	}
}

// round checks the served versions of scope once and returns the zones
// whose edit must be held back.
func (r *crossRun) round(scope map[string]bool) map[string]bool {
	g := r.g
	held := map[string]bool{}
	origins := make([]string, 0, len(scope))
	for o := range scope {
		if g.zones[o] != nil {
			origins = append(origins, o)
		}
	}
	sort.Strings(origins)
	results := checkAll(g, origins, r.policy)
	for i, origin := range origins {
		e := g.zones[origin]
		if e.zone == nil {
			continue
		}
		cross, keys := results[i].cross, results[i].keys
		ch := r.changes[origin]
		if ch != nil && e.zone == ch.next {
			ch.cross = cross
		}
		if !slices.Equal(keys, e.depKeys) {
			if ch == nil {
				e = r.own(origin)
			}
			e.depKeys = keys
		}
		failing := failingTargets(cross)
		if ch != nil && e.zone == ch.next {
			if len(failing) > 0 {
				held[origin] = true
			}
			continue
		}
		for _, f := range failing {
			for _, t := range f.targets {
				if r.protected(t) && blame(g, r.changes, origin, f, t) {
					held[t] = true
				}
			}
		}
		if ch == nil {
			r.setFindings(origin, cross)
		}
	}
	return held
}

// setFindings gives the unchanged zone origin the findings of its file with
// cross, the findings of its MX targets as they are now: an edit of another
// zone may have broken them, or fixed them.
func (r *crossRun) setFindings(origin string, cross []targetFinding) {
	e := r.g.zones[origin]
	want := localFindings(e.findings)
	for _, f := range cross {
		want = append(want, f.Finding)
	}
	sortFindings(want)
	if slices.Equal(want, e.findings) {
		return
	}
	r.own(origin).findings = want
	r.touched[origin] = true
}

// blame records the finding f of the unchanged zone origin against the
// edit of target, a zone f depends on (the zone an MX exchange or an SPF
// include lies in), if that zone was edited in this build; it reports
// whether it did.
func blame(g *generation, changes map[string]*change, origin string, f targetFinding, target string) bool {
	tc := changes[target]
	if tc == nil || tc.next == nil || g.zones[target].zone != tc.next {
		return false
	}
	tc.broken = append(tc.broken, dependent{origin: origin, finding: f})
	return true
}

// dependent is a finding of another zone that an edit would cause.
type dependent struct {
	origin  string
	finding targetFinding
}

// maxNamed is how many dependent zones a refused edit's finding names.
const maxNamed = 3

// blameFinding is the one finding on an edit refused because of the zones
// in broken: it names the first few of them, counts the rest and quotes one
// of their findings, so that a provider edit that would break 20,000
// customers is one line in the log, not 20,000.
func (ch *change) blameFinding() Finding {
	slices.SortStableFunc(ch.broken, func(a, b dependent) int { return strings.Compare(a.origin, b.origin) })
	var zones []string
	for _, d := range ch.broken {
		if len(zones) == 0 || zones[len(zones)-1] != d.origin {
			zones = append(zones, d.origin)
		}
	}
	f := ch.broken[0].finding
	who := dependents(zones)
	return Finding{File: ch.entry.file, Zone: ch.entry.origin, Owner: f.Finding.Owner, Rule: f.Rule, Severity: SeverityFail,
		Message: fmt.Sprintf("edit refused: %s: %s:%d: %s", who, f.File, f.Line, f.Message)}
}

// checked is the outcome of checkTargets for one zone.
type checked struct {
	cross []targetFinding
	keys  []string
}

// checkAll runs checkTargets for the served versions of origins, in
// parallel: it only reads g.
func checkAll(g *generation, origins []string, policy *Policy) []checked {
	out := make([]checked, len(origins))
	parallel(len(origins), func(i int) {
		if e := g.zones[origins[i]]; e != nil && e.zone != nil {
			out[i].cross, out[i].keys = checkTargets(e.zone, g.zoneOf, policy)
		}
	})
	return out
}

// failingTargets returns the findings that stop a zone from being served.
func failingTargets(list []targetFinding) []targetFinding {
	var out []targetFinding
	for _, f := range list {
		if f.Severity == SeverityFail {
			out = append(out, f)
		}
	}
	return out
}
