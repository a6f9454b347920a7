package mxzone

import (
	"slices"
	"strconv"
	"strings"

	clog "github.com/coredns/coredns/plugin/pkg/log"
)

const pluginName = "mxzone"

var log = clog.NewWithPlugin(pluginName)

// logReport logs what a build found: each finding once per change of its
// file, and one line per zone whose fate changed.
func (m *MXZone) logReport(prev *generation, rep *report, first bool) {
	if m.reported == nil {
		m.reported = map[string]string{}
	}
	current := map[string]bool{}
	for _, f := range rep.problems {
		current[f.File] = true
		if m.reported[f.File] != f.Message {
			m.reported[f.File] = f.Message
			log.Error(f.String())
		}
	}
	for file := range m.reported {
		if !current[file] {
			delete(m.reported, file)
		}
	}
	served, refused := 0, 0
	for _, ch := range rep.changes {
		e := ch.entry
		if e.status == outcomeServed {
			served++
		} else {
			refused++
		}
		if ch.retry && e.status != outcomeServed || sameAsLogged(prev, e) {
			continue // same content, same verdict: logged already
		}
		for _, f := range e.findings {
			switch f.Severity {
			case SeverityFail:
				log.Error(f.String())
			case SeverityWarn:
				log.Warning(f.String())
			}
		}
		switch {
		case e.status == outcomeServed && !first:
			log.Infof("%s: zone %s is served, serial %d", e.file, e.origin, e.zone.served().Serial())
		case e.status == outcomeLastGood, e.status == outcomeFromState:
			log.Errorf("%s: edit refused; zone %s keeps serving its last good version, serial %d",
				e.file, e.origin, e.zone.served().Serial())
		case e.status == outcomeRejected:
			log.Errorf("%s: zone %s is not served (SERVFAIL) until the file is fixed", e.file, e.origin)
		}
	}
	for _, origin := range rep.removed {
		if slices.ContainsFunc(rep.changes, func(ch *change) bool { return ch.entry.origin == origin }) {
			log.Infof("zone %s: its file was deleted and made again; the zone starts afresh, with nothing of the deleted one", origin)
			continue
		}
		log.Infof("zone %s removed: its file is gone", origin)
	}
	if first {
		log.Infof("%s: zone files loaded: %d served, %d refused", m.loader.dir, served, refused)
	}
}

// logTouched logs what an edit of one zone did to others (rep.touched),
// comparing next with prev, the generation before: the zones it broke
// (they keep serving as they are: the edit was not of a protected zone)
// and those it fixed, which were broken in prev. However many zones one
// edit touches, it logs a few lines: the findings of the first
// touchedDetailed zones, then counts and a few names; the status API lists
// them all.
func (m *MXZone) logTouched(prev, next *generation, rep *report) {
	var broken, fixed []string
	for _, origin := range rep.touched {
		e := next.zones[origin]
		switch {
		case e == nil:
		case crossBroken(e):
			if len(broken) < touchedDetailed {
				for _, f := range e.findings {
					if f.Severity == SeverityFail && f.cross {
						log.Errorf("%s (after another zone's change; this zone keeps serving as it is)", f)
					}
				}
			}
			broken = append(broken, origin)
		case prev.zones[origin] != nil && crossBroken(prev.zones[origin]):
			fixed = append(fixed, origin)
		}
	}
	if len(broken) > touchedDetailed {
		log.Errorf("%d more zones broken by the same change, which keep serving as they are: %s (status API: ?state=served lists their findings)",
			len(broken)-touchedDetailed, someNames(broken[touchedDetailed:]))
	}
	if len(fixed) > 0 {
		log.Infof("%d zones that another zone's change had broken (MX targets, SPF includes, DMARC report destinations) are fine again: %s",
			len(fixed), someNames(fixed))
	}
}

// crossBroken reports whether another zone's change broke e: it has a
// failing cross-zone finding.
func crossBroken(e *entry) bool {
	return slices.ContainsFunc(e.findings, func(f Finding) bool { return f.Severity == SeverityFail && f.cross })
}

// touchedDetailed is how many zones broken by one edit have their findings
// logged; the rest are counted.
const touchedDetailed = 3

// someNames lists the first few of names, and how many more there are.
func someNames(names []string) string {
	const shown = 5
	if len(names) <= shown {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:shown], ", ") + " and " + strconv.Itoa(len(names)-shown) + " more"
}

// sameAsLogged reports whether e says what the entry it replaces in prev
// (nil at the first load) said: a write of the file that changed no content
// (a touch, a copy of the same bytes) serves the same records with the same
// findings and logs nothing.
func sameAsLogged(prev *generation, e *entry) bool {
	if prev == nil {
		return false
	}
	old := prev.zones[e.origin]
	if old == nil || old.status != e.status || old.file != e.file || (old.zone == nil) != (e.zone == nil) ||
		!slices.Equal(old.findings, e.findings) {
		return false
	}
	return e.zone == nil || old.zone.unsignedDigest() == e.zone.unsignedDigest()
}
