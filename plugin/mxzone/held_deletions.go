package mxzone

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
)

// holdDeletions keeps the protected zones whose files are gone but that
// other zones depend on: such a deletion is held like a breaking edit, with
// a finding, and tried again at every build (the deletions held before
// included) until nothing depends on the zone. It takes them out of
// rep.removed and returns them.
func (l *loader) holdDeletions(d *zoneDir, prev *generation, rep *report) []string {
	for _, origin := range prev.deleting {
		e := prev.zones[origin]
		if _, err := d.stat(filepath.Base(e.file)); err != nil && !slices.Contains(rep.removed, origin) {
			rep.removed = append(rep.removed, origin) // still gone: try again
		}
	}
	var held []string
	rep.removed = slices.DeleteFunc(rep.removed, func(origin string) bool {
		e := prev.zones[origin]
		if !l.protects(origin) || len(prev.deps[origin]) == 0 || e == nil || e.zone == nil {
			return false
		}
		held = append(held, origin)
		rep.problems = append(rep.problems, Finding{File: e.file, Zone: origin, Owner: origin, Rule: RuleMXAddress,
			Severity: SeverityFail, Message: "deletion refused: " + dependents(prev.deps[origin]) +
				"; the zone keeps serving: move what they take from it first (MX targets, SPF includes, DMARC report addresses), or restore the file"})
		return true
	})
	slices.Sort(held)
	return held
}

// findingsFor returns the findings in list of the zone origin.
func findingsFor(list []Finding, origin string) []Finding {
	var out []Finding
	for _, f := range list {
		if f.Zone == origin {
			out = append(out, f)
		}
	}
	return out
}

// dependents says which zones depend on a zone: the first few, and how many.
func dependents(zones []string) string {
	zones = slices.Sorted(slices.Values(zones))
	if len(zones) == 1 {
		return "zone " + zones[0] + " depends on it"
	}
	named := zones[:min(len(zones), maxNamed)]
	s := fmt.Sprintf("%d zones depend on it (%s", len(zones), strings.Join(named, ", "))
	if more := len(zones) - len(named); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s + ")"
}

// recreated returns the origins of the files to read that were deleted and
// made again since the zone's version was read: a new zone, perhaps of
// another owner, that must inherit nothing (no last good version, no copy
// in the state directory).
func recreated(prev *generation, toRead []zoneFile, deleted []string) []string {
	var out []string
	for _, f := range toRead {
		if e := prev.zones[f.origin]; e != nil && slices.Contains(deleted, f.name) && filepath.Base(e.file) == f.name {
			out = append(out, f.origin)
		}
	}
	return out
}

// withoutZones returns prev without the zones origins, for reading their
// files as new ones; prev itself when there are none.
func withoutZones(prev *generation, origins []string) *generation {
	if len(origins) == 0 {
		return prev
	}
	g := &generation{zones: maps.Clone(prev.zones)}
	for _, o := range origins {
		delete(g.zones, o)
	}
	return g
}
