package mxzone

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// The status API's views of a generation: what the operator asks about,
// read from the published generation only, never from the reload loop.

// zoneSummary is one zone in the list of problem zones.
type zoneSummary struct {
	Zone     string    `json:"zone"`
	File     string    `json:"file"`
	State    string    `json:"state"`
	Findings []Finding `json:"findings"`
	More     int       `json:"more_findings,omitempty"` // findings left out of this answer
	Missing  bool      `json:"file_missing,omitempty"`  // a protected zone whose file was missing at start, served from its saved copy
	// FromSnapshot: served from the start snapshot while its file is not
	// yet checked (docs/operations.md, "Restarts").
	FromSnapshot bool `json:"from_snapshot,omitempty"`
}

// zoneList is the answer of GET /zones.
type zoneList struct {
	Counts map[string]int `json:"counts"`
	Zones  []zoneSummary  `json:"zones"`
	Next   string         `json:"next,omitempty"` // pass as ?after= for the next page
	// Loading is the first load's progress while it runs (no zone answers
	// yet: SERVFAIL with EDE 14, and ready says not ready).
	Loading *loadingStatus `json:"loading,omitempty"`
	// Snapshot is there while the zones served from the start snapshot are
	// checked against their files: how many are still unchecked.
	Snapshot *snapshotStatus `json:"snapshot,omitempty"`
}

// zoneDetail is the answer of GET /zones/NAME.
type zoneDetail struct {
	zoneSummary
	FileSerial   uint32     `json:"file_serial"`             // 0: the file does not parse
	ServedSerial uint32     `json:"served_serial,omitempty"` // absent: nothing served (SERVFAIL)
	Published    *time.Time `json:"published,omitempty"`     // when the served version went live
	FileChanged  time.Time  `json:"file_changed"`
	HeldBack     bool       `json:"held_back"`  // a newer valid version waits for another zone
	Dependents   []string   `json:"dependents"` // served zones that take something from this one
	DependsOn    []string   `json:"depends_on"` // served zones this one takes something from
	// DNSSEC is present when the served version is signed: the DS records
	// to give the registrar and when the signatures are next refreshed.
	DNSSEC *zoneDNSSEC `json:"dnssec,omitempty"`
	// Dynamic is present when the zone has a journal (update is set): what
	// UPDATE changed of its file, the serials the journal reaches, and the
	// last update's key and time. No secret is ever here.
	Dynamic *dynStatus `json:"dynamic,omitempty"`
}

// zoneDNSSEC is the signing state of a served zone: public data only.
type zoneDNSSEC struct {
	DS        []string  `json:"ds"`         // of its secure entry point keys, SHA-256
	Denial    string    `json:"denial"`     // nsec or nsec3
	Expires   time.Time `json:"expires"`    // the signatures' expiration
	RefreshAt time.Time `json:"refresh_at"` // when they are made again
	// Keys is each key's use and the rollover's next step.
	Keys *ZoneKeys `json:"keys,omitempty"`
}

// Bounds on one answer: the API writes nothing, and reads no more than a page.
const (
	pageDefault      = 100
	pageMax          = 1000
	findingsPerZone  = 50
	dependentsListed = 1000
)

// problem reports whether e is not served exactly as its file reads, or
// served with an error another zone's edit caused.
func (e *entry) problem() bool {
	return e.status != outcomeServed || e.heldBack != nil ||
		slices.ContainsFunc(e.findings, func(f Finding) bool { return f.Severity == SeverityFail })
}

// summary is e as the list shows it.
func (e *entry) summary(g *generation) zoneSummary {
	s := zoneSummary{Zone: e.origin, File: e.file, State: e.status.String(), Findings: e.findings, Missing: e.missing,
		FromSnapshot: g.verifying && e.fromSnapshot}
	if len(s.Findings) > findingsPerZone {
		s.Findings, s.More = s.Findings[:findingsPerZone], len(e.findings)-findingsPerZone
	}
	if s.Findings == nil {
		s.Findings = []Finding{}
	}
	return s
}

// listZones answers GET /zones: the counts by state, and a page of the zones
// with a problem, in name order, filtered by state and rule ("" for any).
func listZones(g *generation, state, rule string, after string, limit int) zoneList {
	out := zoneList{Counts: map[string]int{}, Zones: []zoneSummary{}}
	for _, name := range outcomeNames {
		out.Counts[name] = 0
	}
	var hits []*entry
	if g.verifying {
		out.Snapshot = &snapshotStatus{Verifying: true}
	}
	for _, e := range g.zones {
		out.Counts[e.status.String()]++
		if g.verifying && e.fromSnapshot {
			out.Snapshot.Zones++
		}
		if !e.problem() || state != "" && e.status.String() != state || e.origin <= after && after != "" {
			continue
		}
		if rule != "" && !slices.ContainsFunc(e.findings, func(f Finding) bool { return f.Rule.String() == rule }) {
			continue
		}
		hits = append(hits, e)
	}
	slices.SortFunc(hits, func(a, b *entry) int { return cmp.Compare(a.origin, b.origin) })
	size := 0
	for i, e := range hits {
		if i == limit {
			out.Next = hits[i-1].origin
			break
		}
		sum := e.summary(g)
		if size += sum.size(); size > statusPageBytes && i > 0 {
			out.Next = hits[i-1].origin // the page is full: the rest on the next
			break
		}
		out.Zones = append(out.Zones, sum)
	}
	return out
}

// statusPageBytes bounds a page of the zone list: a zone's summary is at
// most about 60 KB (findingsPerZone findings of about 1 KB, quote), so a
// page stays under 1 MiB however many zones it holds.
const statusPageBytes = 768 << 10

// size is about how many bytes s takes as indented JSON, escapes aside.
func (s zoneSummary) size() int {
	n := 100 + len(s.Zone) + len(s.File)
	for _, f := range s.Findings {
		n += 150 + len(f.File) + len(f.Zone) + len(f.Owner) + len(f.Message)
	}
	return n
}

// detail answers GET /zones/NAME; false when no zone file is called so.
func detail(g *generation, name string) (zoneDetail, bool) {
	e := g.zones[name]
	if e == nil {
		return zoneDetail{}, false
	}
	d := zoneDetail{zoneSummary: e.summary(g), FileSerial: e.fileSerial, HeldBack: e.heldBack != nil,
		FileChanged: time.Unix(0, max(e.stamp.Mtime, e.stamp.Ctime)).UTC()}
	if e.zone != nil {
		d.ServedSerial = e.zone.served().Serial()
		d.DNSSEC = e.zone.signed.status()
		if !e.published.IsZero() {
			p := e.published.UTC()
			d.Published = &p
		}
	}
	d.Dependents = slices.Sorted(slices.Values(g.deps[name]))
	d.Dependents = d.Dependents[:min(len(d.Dependents), dependentsListed)]
	d.DependsOn = []string{}
	for _, k := range e.depKeys {
		if k != name && g.zones[k] != nil {
			d.DependsOn = append(d.DependsOn, k)
		}
	}
	if d.Dependents == nil {
		d.Dependents = []string{}
	}
	return d, true
}

// zoneName reads a zone name from a request: any case, with or without the
// final dot.
func zoneName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
