package mxzone

import (
	"maps"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"
)

// generation is one complete, checked set of zones. It is built aside and
// published whole through an atomic pointer; once published nothing in it
// changes, and the entries it shares with the generation before it are
// never modified either.
type generation struct {
	zones   map[string]*entry   // origin -> entry
	deps    map[string][]string // origin -> zones with an MX exchange that depends on it (see entry.depKeys)
	waiting []string            // origins with a newer version held back by another zone
	below   map[string]int      // name -> zone files strictly below it (names with none are absent)
	// deleting are protected zones whose files are gone but whose deletion
	// is held: other zones depend on them (loader.holdDeletions).
	deleting []string
	// verifying: served from a start snapshot, the zone files not yet all
	// checked against it (snapshot.go).
	verifying bool
}

// outcome is what the server does with one zone file (the status API
// shows it as a zone's state).
type outcome int

const (
	outcomeServed    outcome = iota // the file's current version is served
	outcomeLastGood                 // the file was refused; its last good version is served
	outcomeRejected                 // the file was refused and never had a good version: SERVFAIL
	outcomeFromState                // the file was refused; the copy saved in the state directory is served
)

var outcomeNames = [...]string{"served", "last_good", "rejected", "from_state"}

func (s outcome) String() string { return outcomeNames[s] }

// entry is one zone file of a generation.
type entry struct {
	origin   string
	file     string
	zone     *version // the version served; nil: SERVFAIL
	status   outcome
	stamp    zonefile.Stamp
	includes []zonefile.Include
	heldBack *version // a newer version held back only by cross-zone findings
	// missing: a protected zone whose file was gone at start, served from
	// its saved copy until its file is back or the copy is forgotten
	// (ForgetCopy).
	missing  bool
	findings []Finding // of the file's current contents, as last evaluated
	depKeys  []string  // origins whose change can change this zone's cross-zone findings

	fileSerial uint32    // the SOA serial in the file as last read; 0: it did not parse
	published  time.Time // when the version served was first served
	// fromSnapshot: read from the start snapshot, not from the file; its
	// file is checked while the generation is verifying.
	fromSnapshot bool
}

// match returns the zone file that holds name (lower case): the one with
// the longest origin. The cost is one map look-up per label, whatever the
// number of zones.
func (g *generation) match(name string) *entry {
	var buf [zone.MaxLabels]uint16
	return g.matchStarts(name, zone.LabelStarts(name, &buf))
}

// matchStarts is match with the label offsets of name already computed.
func (g *generation) matchStarts(name string, starts []uint16) *entry {
	for _, s := range starts {
		if e := g.zones[name[s:]]; e != nil {
			return e
		}
	}
	return g.zones["."]
}

// matchWithin is matchStarts for a name known to be at or below the origin
// of inside (the zone an answer comes from): only the zone files below
// inside can hold it instead, so only their origins are looked up.
func (g *generation) matchWithin(name string, starts []uint16, inside *entry) *entry {
	if g.below[inside.origin] == 0 {
		return inside // the usual case, without a look-up that misses
	}
	for _, s := range starts {
		if len(name)-int(s) <= len(inside.origin) {
			return inside
		}
		if e := g.zones[name[s:]]; e != nil {
			return e
		}
	}
	return inside
}

// zoneOf is the look-up the cross-zone checks use: see the type zoneOf.
func (g *generation) zoneOf(name string) (string, *version) {
	e := g.match(name)
	if e == nil {
		return "", nil
	}
	return e.origin, e.zone
}

// withZones returns a copy of g with a map of zones of its own, for the
// generation after it: g itself is never changed.
func (g *generation) withZones() generation {
	next := *g
	next.zones = maps.Clone(g.zones)
	return next
}

// index rebuilds the dependency index and the list of held-back zones.
func (g *generation) index() {
	g.deps = map[string][]string{}
	g.waiting = g.waiting[:0]
	for origin, e := range g.zones {
		for _, k := range e.depKeys {
			g.deps[k] = append(g.deps[k], origin)
		}
		if e.heldBack != nil {
			g.waiting = append(g.waiting, origin)
		}
	}
}

// countBelow returns below with the zone files added and removed counted
// under every name above them. It returns below itself when nothing was
// added or removed: a published generation's map is never changed.
func countBelow(below map[string]int, added, removed []string) map[string]int {
	if len(added) == 0 && len(removed) == 0 {
		return below
	}
	out := maps.Clone(below)
	if out == nil {
		out = map[string]int{}
	}
	for _, o := range added {
		for a := range zone.Ancestors(o) {
			out[a]++
		}
	}
	for _, o := range removed {
		for a := range zone.Ancestors(o) {
			if out[a]--; out[a] <= 0 {
				delete(out, a)
			}
		}
	}
	// Ancestors stops short of the root, which is above every other zone.
	if n := out["."] + len(added) - len(removed) - countRoot(added) + countRoot(removed); n > 0 {
		out["."] = n
	} else {
		delete(out, ".")
	}
	return out
}

// countRoot is 1 if origins holds the root zone, else 0: the root is not
// below itself.
func countRoot(origins []string) int {
	for _, o := range origins {
		if o == "." {
			return 1
		}
	}
	return 0
}
