package mxzone

import (
	"fmt"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/journal"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"
)

// change is a zone whose file was (re)read in this build.
type change struct {
	entry  *entry
	last   *version // the version served before; nil if none
	next   *version // the new version, if it passed the checks of its own
	draft  *version // the new version as parsed, even if it failed them
	local  []Finding
	cross  []targetFinding
	broken []dependent // findings of other zones this edit would cause
	blame  []Finding   // the finding on this edit made of them (blameFinding)
	retry  bool        // the file did not change; its held-back version was tried again
	busy   bool        // the file was being written: not read, the zone stays as it was
	// readAside: the version was read (and signed, if it could be) aside.
	readAside bool
	// presigned is next signed aside, after the served serial signedAfter
	// (readAside); nil when it was read in the reload.
	presigned   *signedZone
	signedAfter uint32
	// With updates: the dynamic changes as they stand against the new file
	// (nil: as before), and the file's own serial (the version's is the
	// served one).
	delta      *journal.Delta
	fileSerial uint32
}

// report says what a build did.
type report struct {
	full     bool // the whole directory was scanned
	changes  []*change
	problems []Finding // files that could not be zones at all
	removed  []string  // origins whose files disappeared
	busy     []string  // names of files being written, to read again after settleTime
	aside    []string  // names of files whose valid version is to be signed aside (signsAside)
	touched  []string  // unchanged zones whose findings changed: another zone's edit broke or fixed them
}

// firstBuild reads every zone file of the directory, checks each on its
// own and then all of them together, and returns the first generation.
func (l *loader) firstBuild() (*generation, *report, error) {
	d, err := openZoneDir(l.dir)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	files, problems, _, err := l.listing(d)
	if err != nil {
		return nil, nil, err
	}
	rep := &report{problems: problems, full: true}
	files = l.withinZoneLimit(nil, files, rep)
	next := &generation{zones: make(map[string]*entry, len(files))}
	changes := make(map[string]*change, len(files))
	// The first load takes each file as it finds it (no settle time): there
	// is no older version to keep serving meanwhile.
	p := l.track(startProgress("loading: zone files read", len(files), l.progressEvery(), l.progressLog))
	read := l.readAll(d, files, nil, 0, p)
	l.untrack(p)
	for _, ch := range read {
		changes[ch.entry.origin] = ch
		next.zones[ch.entry.origin] = ch.entry
		rep.changes = append(rep.changes, ch)
	}
	for _, origin := range l.held {
		// Named by several files, none canonical: nothing is read, and the
		// copy in the state directory, if any, serves (restore).
		next.zones[origin] = &entry{origin: origin, file: filepath.Join(l.dir, origin+"zone"), status: outcomeRejected}
	}
	crossCheck(next, changes, allZones(next), nil, &l.policy, l.protects)
	finish(next, rep)
	next.below = countBelow(nil, slices.Collect(maps.Keys(next.zones)), nil)
	return next, rep, nil
}

// rebuild returns the generation after prev: only files that changed are
// read (those named in hint, or found by the scan mode), each is checked on
// its own, then the zones they can affect are checked together and any edit
// that breaks a zone is held back, newest first, until the set is
// consistent. It returns prev itself when nothing changed.
func (l *loader) rebuild(prev *generation, hint []string, mode scanMode, deleted []string) (*generation, *report, error) {
	d, err := openZoneDir(l.dir)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	toRead, rep, err := l.plan(d, prev, hint, mode)
	if err != nil {
		return nil, nil, err
	}
	if len(toRead) == 0 && len(rep.removed) == 0 && len(prev.deleting) == 0 {
		return prev, rep, nil
	}
	fresh := recreated(prev, toRead, deleted)
	rep.removed = append(rep.removed, fresh...)
	deleting := l.holdDeletions(d, prev, rep)
	if len(toRead) == 0 && len(rep.removed) == 0 && slices.Equal(deleting, prev.deleting) {
		return prev, rep, nil
	}
	if l.dynamic != nil {
		// Deleted means deleted: the dynamic records and the journal go with
		// the file, before a file made again under the name is read.
		for _, origin := range rep.removed {
			l.dynamic.forget(origin)
		}
	}
	next := &generation{zones: maps.Clone(prev.zones), deleting: deleting, verifying: prev.verifying}
	for _, origin := range rep.removed {
		delete(next.zones, origin)
	}
	for _, origin := range deleting {
		// The file is gone; its last version serves, and says why.
		e := *prev.zones[origin]
		e.status, e.findings = outcomeLastGood, findingsFor(rep.problems, origin)
		next.zones[origin] = &e
	}
	// Something changed: a version held back before may fit now.
	nChanged := len(toRead)
	toRead = append(toRead, l.waitingFiles(prev, next, toRead)...)
	changes := make(map[string]*change, len(toRead))
	settle := settleTime
	if prev.verifying {
		settle = 0 // the files as found, as at a first load
	}
	read := l.readAll(d, toRead, withoutZones(prev, fresh), settle, nil)
	for _, f := range toRead {
		delete(l.preparsed, f.name) // used, or out of date
	}
	for i, ch := range read {
		if ch.busy {
			// Its writer is not done: the zone stays as it is for now.
			rep.busy = append(rep.busy, toRead[i].name)
			continue
		}
		if l.signsAside != nil && ch.next != nil && !ch.readAside && l.signsAside(ch.next) {
			// Too large to sign in the reload: the zone stays as it is
			// until it is signed aside, and is reloaded with that.
			rep.aside = append(rep.aside, toRead[i].name)
			continue
		}
		ch.retry = i >= nChanged
		changes[ch.entry.origin] = ch
		next.zones[ch.entry.origin] = ch.entry
		rep.changes = append(rep.changes, ch)
	}
	if len(rep.changes) == 0 && len(rep.removed) == 0 && slices.Equal(deleting, prev.deleting) {
		return prev, rep, nil
	}
	rep.touched = crossCheck(next, changes, affected(next, changes, rep.removed, prev.deps), prev.deps, &l.policy, l.protects)
	finish(next, rep)
	var added []string
	for _, ch := range rep.changes {
		if prev.zones[ch.entry.origin] == nil {
			added = append(added, ch.entry.origin)
		}
	}
	next.below = countBelow(prev.below, added, rep.removed)
	return next, rep, nil
}

// plan finds the zone files to read again and the zones whose files are
// gone.
func (l *loader) plan(d *zoneDir, prev *generation, hint []string, mode scanMode) ([]zoneFile, *report, error) {
	var files, check []zoneFile
	var problems []Finding
	relisted := true
	switch mode {
	case scanNamed:
		var relist bool
		files, problems, relist = l.scanNames(d, hint, prev)
		check = files
		if relist {
			// Judge the named files against all the others: only the
			// files that are their zone's are read.
			var err error
			if files, problems, _, err = l.listing(d); err != nil {
				return nil, nil, err
			}
			check = namedIn(files, hint)
		}
	default:
		var err error
		if files, problems, relisted, err = l.listing(d); err != nil {
			return nil, nil, err
		}
		check = files
		if mode == scanRotating && !relisted {
			check = l.rotate(files)
		}
	}
	rep := &report{problems: problems, full: mode != scanNamed}
	var toRead []zoneFile
	for _, f := range check {
		if old := prev.zones[f.origin]; old != nil && old.unchanged(d, f.name) {
			continue
		}
		toRead = append(toRead, f)
	}
	switch {
	case mode == scanNamed:
		rep.removed = l.gone(prev, hint, files)
	case relisted:
		rep.removed = l.gone(prev, nil, files)
	}
	sort.Strings(rep.removed)
	return l.withinZoneLimit(prev, toRead, rep), rep, nil
}

// namedIn returns the files of files whose names are in names.
func namedIn(files []zoneFile, names []string) []zoneFile {
	var out []zoneFile
	for _, f := range files {
		if slices.Contains(names, f.name) {
			out = append(out, f)
		}
	}
	return out
}

// finish records the findings of every changed file and indexes next.
func finish(next *generation, rep *report) {
	now := time.Now()
	for _, ch := range rep.changes {
		e := ch.entry
		e.findings = ch.allFindings()
		switch {
		case ch.fileSerial != 0:
			e.fileSerial = ch.fileSerial
		case ch.draft != nil:
			e.fileSerial = ch.draft.Serial()
		}
		if e.zone != nil && (e.zone != ch.last || e.published.IsZero()) {
			e.published = now
		}
	}
	next.index()
}

// withinZoneLimit keeps the new zone files that fit under the zone limit
// (in name order) and reports the others; changed files of zones already
// served always fit. prev is nil at the first load.
func (l *loader) withinZoneLimit(prev *generation, toRead []zoneFile, rep *report) []zoneFile {
	if l.limits.Zones <= 0 {
		return toRead
	}
	room := l.limits.Zones
	var fresh []zoneFile
	if prev == nil {
		fresh = slices.Clone(toRead)
	} else {
		room -= len(prev.zones) - len(rep.removed)
		for _, f := range toRead {
			if prev.zones[f.origin] == nil {
				fresh = append(fresh, f)
			}
		}
	}
	if len(fresh) <= room {
		return toRead
	}
	slices.SortFunc(fresh, func(a, b zoneFile) int { return strings.Compare(a.name, b.name) })
	refused := map[string]bool{}
	for _, f := range fresh[max(room, 0):] {
		refused[f.origin] = true
		rep.problems = append(rep.problems, Finding{File: filepath.Join(l.dir, f.name), Zone: f.origin, Owner: f.origin,
			Rule: RuleSyntax, Severity: SeverityFail,
			Message: fmt.Sprintf("not loaded: the server already holds its limit of %d zones (max_zones)", l.limits.Zones)})
	}
	return slices.DeleteFunc(slices.Clone(toRead), func(f zoneFile) bool { return refused[f.origin] })
}

// waitingFiles returns the files whose held-back version should be tried
// again, leaving out those read anyway.
func (l *loader) waitingFiles(prev, next *generation, reading []zoneFile) []zoneFile {
	var out []zoneFile
	for _, origin := range prev.waiting {
		e := next.zones[origin]
		if e == nil || e != prev.zones[origin] || slices.ContainsFunc(reading, func(f zoneFile) bool { return f.origin == origin }) {
			continue
		}
		out = append(out, zoneFile{name: filepath.Base(e.file), origin: origin})
	}
	return out
}

// readAll reads files in parallel, one worker per CPU, counting them in p
// (nil: not counted). prev is nil at the first load; settle is
// zonefile.Source.Settle.
func (l *loader) readAll(d *zoneDir, files []zoneFile, prev *generation, settle time.Duration, p *progress) []*change {
	out := make([]*change, len(files))
	parallel(len(files), func(i int) {
		var old *entry
		if prev != nil {
			old = prev.zones[files[i].origin]
		}
		out[i] = l.read(d, files[i], old, settle)
		p.add()
	})
	return out
}

// parallel runs do(0) to do(n-1) on one worker per CPU, handing out the
// indexes one at a time so that a slow item does not hold up a worker's
// share.
func parallel(n int, do func(i int)) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				do(i)
			}
		}()
	}
	wg.Wait()
}

// read parses one new or changed file into a change; old is its entry in
// the generation served now, if any.
func (l *loader) read(d *zoneDir, f zoneFile, old *entry, settle time.Duration) *change {
	e := &entry{origin: f.origin, file: filepath.Join(l.dir, f.name)}
	ch := &change{entry: e}
	if old != nil {
		ch.last, e.published, e.fileSerial = old.zone, old.published, old.fileSerial
	}
	if old != nil && old.heldBack != nil && old.unchanged(d, f.name) {
		// Same file, held back last time by another zone: try it again.
		ch.next, ch.local = old.heldBack, localFindings(old.findings)
		e.stamp, e.includes = old.stamp, old.includes
	} else {
		src := zonefile.Source{Root: d.root, DirFD: d.fd(), Dir: l.dir, Rel: f.name, File: e.file, Origin: f.origin,
			MaxBytes: l.limits.FileBytes, MaxRecords: l.limits.Records, Includable: l.includable, Settle: settle}
		if old != nil && filepath.Base(old.file) == f.name {
			src.PrevIno = old.stamp.Ino
		}
		var served *version
		if old != nil {
			served = old.zone
		}
		p, ok := l.readBefore(d, f.name, served)
		ch.readAside = ok
		if !ok {
			p = parseZone(src, &l.policy, &l.limits, l.dynamicFor(f.origin, served))
		}
		if p.busy {
			ch.busy = true
			return ch
		}
		ch.draft, ch.local, ch.delta, ch.fileSerial = p.draft, p.findings, p.delta, p.fileSerial
		if p.ok {
			ch.next = p.draft
			ch.presigned, ch.signedAfter = p.presigned, p.signedAfter
		}
		e.stamp, e.includes = p.stamp, p.includes
		if e.stamp == (zonefile.Stamp{}) {
			// Not opened: remember the file as it is, so the same problem
			// is reported once, not on every scan.
			e.stamp, _ = d.stat(f.name)
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
		return f.cross
	})
}

// allFindings are the findings of a changed file, in file order.
func (ch *change) allFindings() []Finding {
	list := slices.Clone(ch.local)
	for _, f := range ch.cross {
		list = append(list, f.Finding)
	}
	list = append(list, ch.blame...)
	sortFindings(list)
	return list
}

// sortFindings puts findings in file order.
func sortFindings(list []Finding) {
	slices.SortStableFunc(list, func(a, b Finding) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
}

// progressEvery is how often the first load logs its progress (progress).
func (l *loader) progressEvery() time.Duration {
	if l.progressInterval > 0 {
		return l.progressInterval
	}
	return progressEvery
}
