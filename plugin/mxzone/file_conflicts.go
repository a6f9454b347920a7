package mxzone

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"
)

// resolveNames makes one file of each zone: file names are compared as the
// DNS names they spell (zonefile.Origin), so "Example.COM.zone" beside
// "example.com.zone" is a second file for one zone. The file spelt
// canonically (zonefile.Canonical: what a provider's tooling writes) is the
// zone's, whatever the order in which the files appeared; the others are
// refused with a finding. When none of them is canonical, all are refused
// and the zone is held: it keeps the version it serves.
func (l *loader) resolveNames(files []zoneFile) (kept []zoneFile, held []string, problems []Finding) {
	count := make(map[string]int32, len(files))
	for _, f := range files {
		count[f.origin]++
	}
	// Only the origins named by several files get a list: a million zones
	// make a million counts, not a million lists.
	byOrigin := map[string][]zoneFile{}
	for _, f := range files {
		if count[f.origin] > 1 {
			byOrigin[f.origin] = append(byOrigin[f.origin], f)
		}
	}
	kept = make([]zoneFile, 0, len(files))
	for _, f := range files {
		same := byOrigin[f.origin]
		if len(same) == 0 {
			kept = append(kept, f)
			continue
		}
		if f.name != same[0].name {
			continue // the group is handled at its first file
		}
		slices.SortFunc(same, func(a, b zoneFile) int { return strings.Compare(a.name, b.name) })
		i := slices.IndexFunc(same, func(f zoneFile) bool { return zonefile.Canonical(f.name, f.origin) })
		if i < 0 {
			held = append(held, f.origin)
		} else {
			kept = append(kept, same[i])
		}
		for j, other := range same {
			if j != i {
				problems = append(problems, l.nameConflict(other, same, i))
			}
		}
	}
	return kept, held, problems
}

// nameConflict is the finding on a file refused because it names the same
// zone as the others in same; winner is the index of the canonical one, or
// -1.
func (l *loader) nameConflict(f zoneFile, same []zoneFile, winner int) Finding {
	msg := ""
	if winner >= 0 {
		msg = fmt.Sprintf("names zone %s, which is served from %s (the name spelt as its tooling writes it: lower case, "+
			"no escapes); this file is not read: remove it", f.origin, same[winner].name)
	} else {
		var names []string
		for _, o := range same {
			names = append(names, o.name)
		}
		msg = fmt.Sprintf("names zone %s as %s do, and none is spelt %s: all are refused and the zone keeps the "+
			"version it serves until one file remains or one is named %s", f.origin, strings.Join(names, " and "),
			f.origin+"zone", f.origin+"zone")
	}
	return Finding{File: filepath.Join(l.dir, f.name), Zone: f.origin, Owner: f.origin, Rule: RuleIsolation,
		Severity: SeverityFail, Message: printable(msg)}
}
