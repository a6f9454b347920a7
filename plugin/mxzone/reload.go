package mxzone

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/coredns/coredns/plugin"
)

// generation is one complete, validated set of zones. It is built aside and
// published whole; once published nothing in it changes.
type generation struct {
	zones map[string]*entry // origin -> entry
}

// zoneState is what the server does with one zone file.
type zoneState int

const (
	stateServed   zoneState = iota // the file's current version is served
	stateLastGood                  // the file was refused; its last good version is served
	stateRejected                  // the file was refused and never had a good version: SERVFAIL
)

var stateNames = [...]string{"served", "last_good", "rejected"}

func (s zoneState) String() string { return stateNames[s] }

// entry is one zone file of a generation.
type entry struct {
	origin   string
	file     string
	zone     *Zone // the version served; nil: SERVFAIL
	state    zoneState
	stamp    fileStamp
	includes []includeStamp
	pending  *Zone     // a newer version held back only by cross-zone findings
	findings []Finding // of the file's current contents, as last evaluated
}

// fileStamp tells whether a file may have changed since it was read.
type fileStamp struct {
	size  int64
	mtime int64
	ino   uint64
	ctime int64
}

type includeStamp struct {
	rel   string
	stamp fileStamp
}

func stampOf(fi fs.FileInfo) fileStamp {
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
		s.ctime = st.Ctim.Nano()
	}
	return s
}

// match returns the served zone file that holds name (lower case): the one
// with the longest origin. The cost is one map look-up per label, whatever
// the number of zones.
func (g *generation) match(name string) *entry {
	var buf [maxLabels]int
	for _, s := range labelStarts(name, &buf) {
		if e := g.zones[name[s:]]; e != nil {
			return e
		}
	}
	return g.zones["."]
}

// loader reads a zone directory into generations.
type loader struct {
	dir     string   // absolute path of the zone directory
	origins []string // only zones at or below these are served
	policy  Policy
	maxSize int64
}

// zoneFile is one candidate zone file found by a scan.
type zoneFile struct {
	name   string
	origin string
	stamp  fileStamp
}

// scan lists the zone files of the directory. Files that are not zones are
// skipped; files that look like zones but cannot be served become findings.
func (l *loader) scan(root *os.Root) ([]zoneFile, []Finding, error) {
	dirents, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read zone directory: %w", err)
	}
	var files []zoneFile
	var problems []Finding
	for _, de := range dirents {
		name := de.Name()
		if !strings.HasSuffix(name, zoneSuffix) || strings.HasPrefix(name, ".#") {
			continue
		}
		file := filepath.Join(l.dir, name)
		origin, err := originFromFileName(name)
		if err != nil {
			problems = append(problems, Finding{File: file, Rule: RuleSyntax, Severity: SeverityFail, Owner: name, Message: err.Error()})
			continue
		}
		if plugin.Zones(l.origins).Matches(origin) == "" {
			continue
		}
		fi, err := root.Stat(name)
		if err != nil {
			problems = append(problems, Finding{File: file, Zone: origin, Owner: origin, Rule: RuleIsolation,
				Severity: SeverityFail, Message: cleanPathError(err).Error()})
			continue
		}
		if !fi.Mode().IsRegular() {
			problems = append(problems, Finding{File: file, Zone: origin, Owner: origin, Rule: RuleSyntax,
				Severity: SeverityFail, Message: fmt.Sprintf("is not a regular file (%s)", fi.Mode().Type())})
			continue
		}
		files = append(files, zoneFile{name: name, origin: origin, stamp: stampOf(fi)})
	}
	return files, problems, nil
}

// unchanged reports whether e was read from the file as it is now.
func (e *entry) unchanged(root *os.Root, f zoneFile) bool {
	if e.stamp != f.stamp {
		return false
	}
	for _, inc := range e.includes {
		fi, err := root.Stat(inc.rel)
		if err != nil || stampOf(fi) != inc.stamp {
			return false
		}
	}
	return true
}

// change is a zone whose file was (re)read in this build.
type change struct {
	entry *entry
	last  *Zone // the version served before; nil if none
	next  *Zone // the new version, if it passed the checks of its own
	draft *Zone // the new version as parsed, even if it failed them
	local []Finding
	cross []targetFinding
	blame []Finding // findings on this edit caused by zones that depend on it
	retry bool      // the file did not change; its held-back version was tried again
}

// report says what a build did.
type report struct {
	changes  []*change
	problems []Finding // files that could not be zones at all
	removed  []string  // origins whose files disappeared
}

// build reads the directory and returns the next generation. prev may be nil
// (first load). Unchanged files are not read again; each changed file is
// parsed and checked on its own, then all zones are checked together and any
// edit that breaks a zone is held back, newest first, until the set is
// consistent.
func (l *loader) build(prev *generation) (*generation, *report, error) {
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("open zone directory: %w", err)
	}
	defer root.Close()
	files, problems, err := l.scan(root)
	if err != nil {
		return nil, nil, err
	}
	rep := &report{problems: problems}
	next := &generation{zones: make(map[string]*entry, len(files))}
	changes := map[string]*change{}
	var waiting []zoneFile // unchanged files whose newer version is held back
	for _, f := range files {
		var old *entry
		if prev != nil {
			old = prev.zones[f.origin]
		}
		if old != nil && old.unchanged(root, f) {
			next.zones[f.origin] = old
			if old.pending != nil {
				waiting = append(waiting, f)
			}
			continue
		}
		ch := l.read(root, f, old)
		changes[f.origin] = ch
		next.zones[f.origin] = ch.entry
		rep.changes = append(rep.changes, ch)
	}
	if prev != nil {
		for origin := range prev.zones {
			if next.zones[origin] == nil {
				rep.removed = append(rep.removed, origin)
			}
		}
	}
	sort.Strings(rep.removed)
	if len(changes) == 0 && len(rep.removed) == 0 {
		return prev, rep, nil
	}
	// Something changed: a version held back before may fit now.
	for _, f := range waiting {
		ch := l.read(root, f, prev.zones[f.origin])
		ch.retry = true
		changes[f.origin] = ch
		next.zones[f.origin] = ch.entry
		rep.changes = append(rep.changes, ch)
	}
	settle(next, changes, &l.policy)
	for _, ch := range rep.changes {
		ch.entry.findings = ch.allFindings()
	}
	return next, rep, nil
}

// read parses one new or changed file into a change.
func (l *loader) read(root *os.Root, f zoneFile, old *entry) *change {
	e := &entry{origin: f.origin, file: filepath.Join(l.dir, f.name), stamp: f.stamp}
	ch := &change{entry: e}
	if old != nil {
		ch.last = old.zone
	}
	if old != nil && old.pending != nil && old.unchanged(root, f) {
		// Same file, held back last time by another zone: try it again.
		ch.next, ch.local, e.includes = old.pending, localFindings(old.findings), old.includes
	} else {
		p := parseZone(source{root: root, dir: l.dir, rel: f.name, origin: f.origin, maxSize: l.maxSize}, &l.policy)
		ch.draft, ch.local = p.zone, p.findings
		if p.ok {
			ch.next = p.zone
		}
		for _, rel := range p.includes {
			if fi, err := root.Stat(rel); err == nil {
				e.includes = append(e.includes, includeStamp{rel: rel, stamp: stampOf(fi)})
			}
		}
	}
	e.zone = ch.next
	if e.zone == nil {
		e.zone = ch.last
	}
	return ch
}

// localFindings keeps the findings that came from the file itself.
func localFindings(list []Finding) []Finding {
	return slices.DeleteFunc(slices.Clone(list), func(f Finding) bool {
		return f.Rule == RuleMXCNAME || f.Rule == RuleMXAddress
	})
}

// settle runs the cross-zone checks until no served version fails them. A new
// version that fails is replaced by its zone's last good version; a version
// that did not change but now fails makes the edit of the zone it points into
// the failing one.
func settle(g *generation, changes map[string]*change, policy *Policy) {
	for {
		held := map[string]bool{}
		origins := make([]string, 0, len(g.zones))
		for o := range g.zones {
			origins = append(origins, o)
		}
		sort.Strings(origins)
		for _, origin := range origins {
			e := g.zones[origin]
			if e.zone == nil {
				continue
			}
			cross := g.checkTargets(e.zone, policy)
			ch := changes[origin]
			if ch != nil && e.zone == ch.next {
				ch.cross = cross
			}
			failing := failingTargets(cross)
			if len(failing) == 0 {
				continue
			}
			if ch != nil && e.zone == ch.next {
				held[origin] = true
				continue
			}
			for _, f := range failing {
				tc := changes[f.target]
				if tc == nil || tc.next == nil || g.zones[f.target].zone != tc.next {
					continue
				}
				held[f.target] = true
				tc.blame = append(tc.blame, Finding{
					File: tc.entry.file, Zone: tc.entry.origin, Owner: f.Finding.Owner, Rule: f.Rule, Severity: SeverityFail,
					Message: fmt.Sprintf("edit refused: zone %s depends on it: %s:%d: %s",
						origin, f.File, f.Line, f.Message),
				})
			}
		}
		if len(held) == 0 {
			break
		}
		for origin := range held {
			ch := changes[origin]
			e := g.zones[origin]
			e.pending = ch.next // locally valid, held back by the cross-zone checks only
			e.zone = ch.last
		}
	}
	for _, ch := range changes {
		e := ch.entry
		if ch.next == nil && ch.draft != nil {
			// Refused on its own: still report its MX targets, so that one
			// run shows the customer every mistake.
			ch.cross = g.checkTargets(ch.draft, policy)
		}
		switch {
		case e.zone != nil && e.zone == ch.next:
			e.state, e.pending = stateServed, nil
		case e.zone != nil:
			e.state = stateLastGood
		default:
			e.state = stateRejected
		}
	}
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

// allFindings are the findings of a changed file, in file order.
func (ch *change) allFindings() []Finding {
	list := slices.Clone(ch.local)
	for _, f := range ch.cross {
		list = append(list, f.Finding)
	}
	list = append(list, ch.blame...)
	slices.SortStableFunc(list, func(a, b Finding) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	return list
}

// run rebuilds the generation every interval until ctx ends.
func (m *MXZone) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.reload()
		}
	}
}

// reload builds the next generation and publishes it. Errors reading the
// directory keep the current generation serving.
func (m *MXZone) reload() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reloadLocked()
}

func (m *MXZone) reloadLocked() error {
	prev := m.gen.Load()
	start := time.Now()
	next, rep, err := m.loader.build(prev)
	if err != nil {
		reloads.WithLabelValues(m.server, "error").Inc()
		log.Errorf("%s: %v; keeping the zones being served", m.loader.dir, err)
		return err
	}
	m.logReport(rep, prev == nil)
	if next != prev {
		m.gen.Store(next)
		m.recordGeneration(next, rep, time.Since(start))
	}
	return nil
}

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
		if e.state == stateServed {
			served++
		} else {
			refused++
		}
		if ch.retry && e.state != stateServed {
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
		case e.state == stateServed && !first:
			log.Infof("%s: zone %s is served, serial %d", e.file, e.origin, e.zone.soa.Serial)
		case e.state == stateLastGood:
			log.Errorf("%s: edit refused; zone %s keeps serving its last good version, serial %d",
				e.file, e.origin, e.zone.soa.Serial)
		case e.state == stateRejected:
			log.Errorf("%s: zone %s is not served (SERVFAIL) until the file is fixed", e.file, e.origin)
		}
	}
	for _, origin := range rep.removed {
		log.Infof("zone %s removed: its file is gone", origin)
	}
	if first {
		log.Infof("%s: %d zones served, %d refused", m.loader.dir, served, refused)
	}
}
