package mxzone

import "slices"

// logReport logs what a build found: each finding once per change of its
// file, and one line per zone whose fate changed.
func (m *MXZone) logReport(rep *report, first bool) {
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
		if e.status == statusServed {
			served++
		} else {
			refused++
		}
		if ch.retry && e.status != statusServed {
			continue // same file, same verdict: logged already
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
		case e.status == statusServed && !first:
			log.Infof("%s: zone %s is served, serial %d", e.file, e.origin, e.zone.served().Serial())
		case e.status == statusLastGood, e.status == statusFromState:
			log.Errorf("%s: edit refused; zone %s keeps serving its last good version, serial %d",
				e.file, e.origin, e.zone.served().Serial())
		case e.status == statusRejected:
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

// logTouched logs the findings of the zones whose findings an edit of
// another zone changed: a zone it broke (it keeps serving as it is: the edit
// was not of a protected zone) is told here, once.
func (m *MXZone) logTouched(g *generation, rep *report) {
	for _, origin := range rep.touched {
		e := g.zones[origin]
		if e == nil {
			continue
		}
		broken := false
		for _, f := range e.findings {
			if f.Severity == SeverityFail && f.cross {
				log.Errorf("%s (after another zone's change; this zone keeps serving as it is)", f)
				broken = true
			}
		}
		if !broken {
			log.Infof("%s: zone %s: what another zone's change had broken (MX targets, SPF includes, DMARC report "+
				"destinations) is fine again", e.file, origin)
		}
	}
}
