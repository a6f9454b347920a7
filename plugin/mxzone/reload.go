package mxzone

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coredns/coredns/plugin"

	"github.com/fsnotify/fsnotify"
	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// generation is one complete, validated set of zones. It is built aside and
// published whole; once published nothing in it changes.
type generation struct {
	zones   map[string]*entry   // origin -> entry
	deps    map[string][]string // origin -> zones with an MX exchange that depends on it (see depKeys)
	waiting []string            // origins with a newer version held back by another zone
	catalog *catalogSlot        // the catalog zone, if one is configured
}

// zoneState is what the server does with one zone file.
type zoneState int

const (
	stateServed    zoneState = iota // the file's current version is served
	stateLastGood                   // the file was refused; its last good version is served
	stateRejected                   // the file was refused and never had a good version: SERVFAIL
	stateFromState                  // the file was refused; the copy saved in the state directory is served
)

var stateNames = [...]string{"served", "last_good", "rejected", "from_state"}

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
	depKeys  []string  // origins whose change can change this zone's cross-zone findings
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

func stampOfStat(st *syscall.Stat_t) fileStamp {
	return fileStamp{size: st.Size, mtime: st.Mtim.Nano(), ino: st.Ino, ctime: st.Ctim.Nano()}
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
	var buf [maxLabels]uint16
	return g.matchStarts(name, labelStarts(name, &buf))
}

// matchStarts is match with the label offsets of name already computed.
func (g *generation) matchStarts(name string, starts []uint16) *entry {
	for _, s := range starts {
		if e := g.zones[name[s:]]; e != nil {
			return e
		}
		if c := g.catalog; c != nil && name[s:] == c.origin {
			if e := c.cur.Load(); e != nil {
				return e
			}
		}
	}
	return g.zones["."]
}

// loader reads a zone directory into generations.
type loader struct {
	dir     string   // absolute path of the zone directory
	origins []string // only zones at or below these are served
	policy  Policy
	limits  Limits
	catalog string // the catalog zone's name, never read from a file; "": none

	// What the last full listing found, reused while the directory itself
	// is unchanged (no file added, removed or renamed), and where the
	// rotating rescan goes on. Used by the one reload goroutine only.
	listed   fileStamp
	files    []zoneFile
	problems []Finding
	cursor   int
	budget   int // files per rotating rescan; 0: rescanBudget
}

// rescanBudget is how many files a safety-net rescan stats while file-system
// notifications work: each rescan stays cheap (stat costs a few
// microseconds), and every file is checked within a few intervals.
const rescanBudget = 20000

// scanMode says how much of the directory a build looks at.
type scanMode int

const (
	scanAll      scanMode = iota // list and stat every file
	scanRotating                 // list if the directory changed; stat rescanBudget files
	scanNamed                    // only the files named by file-system events
)

// zoneFile is one candidate zone file found by a scan.
type zoneFile struct {
	name   string
	origin string
}

// zoneDir is an open zone directory: its descriptor for the fast path and an
// os.Root for everything that must not leave it.
type zoneDir struct {
	f    *os.File
	root *os.Root
}

func openZoneDir(dir string) (*zoneDir, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open zone directory: %w", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("open zone directory: %w", err)
	}
	return &zoneDir{f: f, root: root}, nil
}

func (d *zoneDir) fd() int { return int(d.f.Fd()) }

func (d *zoneDir) Close() {
	d.f.Close()
	d.root.Close()
}

// stat returns the stamp of a file in the directory (following a symlink:
// only its metadata; reading it still goes through the root).
func (d *zoneDir) stat(name string) (fileStamp, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(d.fd(), name, &st, 0); err != nil {
		return fileStamp{}, err
	}
	return fileStamp{size: st.Size, mtime: st.Mtim.Nano(), ino: st.Ino, ctime: st.Ctim.Nano()}, nil
}

// scan lists the zone files of the directory. Files that are not zones are
// skipped; files that look like zones but cannot be served become findings.
func (l *loader) scan(d *zoneDir) ([]zoneFile, []Finding, error) {
	dirents, err := d.f.ReadDir(-1)
	if err != nil {
		return nil, nil, fmt.Errorf("read zone directory: %w", err)
	}
	if _, err := d.f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("read zone directory: %w", err)
	}
	files := make([]zoneFile, 0, len(dirents))
	var problems []Finding
	for _, de := range dirents {
		f, problem, ok := l.candidate(de.Name(), de.Type())
		switch {
		case problem != nil:
			problems = append(problems, *problem)
		case ok:
			files = append(files, f)
		}
	}
	return files, problems, nil
}

// candidate says what the directory entry name (of type mode) is: a zone
// file (ok), a file that looks like one but cannot be (a problem), or not
// ours at all (neither).
func (l *loader) candidate(name string, mode fs.FileMode) (f zoneFile, problem *Finding, ok bool) {
	if !strings.HasSuffix(name, zoneSuffix) || strings.HasPrefix(name, ".#") {
		return f, nil, false
	}
	origin, err := originFromFileName(name)
	if err != nil {
		return f, &Finding{File: filepath.Join(l.dir, name), Rule: RuleSyntax, Severity: SeverityFail,
			Owner: name, Message: err.Error()}, false
	}
	if len(l.origins) > 0 && plugin.Zones(l.origins).Matches(origin) == "" {
		return f, nil, false
	}
	if origin == l.catalog {
		return f, &Finding{File: filepath.Join(l.dir, name), Zone: origin, Owner: origin, Rule: RuleIsolation,
			Severity: SeverityFail, Message: "is the name of the catalog zone, which the server builds itself"}, false
	}
	if !mode.IsRegular() && mode&fs.ModeSymlink == 0 {
		return f, &Finding{File: filepath.Join(l.dir, name), Zone: origin, Owner: origin, Rule: RuleSyntax,
			Severity: SeverityFail, Message: fmt.Sprintf("is not a regular file (%s)", mode.Type())}, false
	}
	return zoneFile{name: name, origin: origin}, nil, true
}

// unchanged reports whether e was read from the file as it is now.
func (e *entry) unchanged(d *zoneDir, name string) bool {
	if st, err := d.stat(name); err != nil || st != e.stamp {
		return false
	}
	for _, inc := range e.includes {
		fi, err := d.root.Stat(inc.rel)
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
	busy  bool      // the file was being written: not read, the zone stays as it was
}

// report says what a build did.
type report struct {
	full     bool // the whole directory was scanned
	changes  []*change
	problems []Finding // files that could not be zones at all
	removed  []string  // origins whose files disappeared
	busy     []string  // names of files being written, to read again after settleTime
}

// build reads the directory and returns the next generation. prev may be nil
// (first load). Unchanged files are not read again; each changed file is
// parsed and checked on its own, then all zones are checked together and any
// edit that breaks a zone is held back, newest first, until the set is
// consistent.
func (l *loader) build(prev *generation, hint []string) (*generation, *report, error) {
	mode := scanAll
	if hint != nil {
		mode = scanNamed
	}
	return l.buildMode(prev, hint, mode)
}

func (l *loader) buildMode(prev *generation, hint []string, mode scanMode) (*generation, *report, error) {
	d, err := openZoneDir(l.dir)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	if prev == nil {
		mode = scanAll
	}
	var files, check []zoneFile
	var problems []Finding
	relisted := true
	switch mode {
	case scanNamed:
		files, problems = l.scanNames(d, hint)
		check = files
	default:
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
		if prev != nil {
			if old := prev.zones[f.origin]; old != nil && old.unchanged(d, f.name) {
				continue
			}
		}
		toRead = append(toRead, f)
	}
	switch {
	case prev == nil:
	case mode == scanNamed:
		rep.removed = l.gone(prev, hint, files)
	case relisted:
		rep.removed = l.gone(prev, nil, files)
	}
	sort.Strings(rep.removed)
	toRead = l.withinZoneLimit(prev, toRead, rep)
	if len(toRead) == 0 && len(rep.removed) == 0 {
		return prev, rep, nil
	}
	next := &generation{zones: make(map[string]*entry, len(files))}
	if prev != nil {
		next.zones = maps.Clone(prev.zones)
	}
	for _, origin := range rep.removed {
		delete(next.zones, origin)
	}
	// Something changed: a version held back before may fit now.
	nChanged := len(toRead)
	toRead = append(toRead, l.waitingFiles(prev, next, toRead)...)
	read := l.readAll(d, toRead, prev)
	changes := make(map[string]*change, len(read))
	for i, ch := range read {
		if ch.busy {
			// Its writer is not done: the zone stays as it is for now.
			rep.busy = append(rep.busy, toRead[i].name)
			continue
		}
		ch.retry = i >= nChanged
		changes[ch.entry.origin] = ch
		next.zones[ch.entry.origin] = ch.entry
		rep.changes = append(rep.changes, ch)
	}
	if len(rep.changes) == 0 && len(rep.removed) == 0 {
		return prev, rep, nil
	}
	var prevDeps map[string][]string
	if prev != nil {
		prevDeps = prev.deps
	}
	settle(next, changes, rep.removed, prevDeps, &l.policy)
	for _, ch := range rep.changes {
		ch.entry.findings = ch.allFindings()
	}
	next.index()
	return next, rep, nil
}

// withinZoneLimit keeps the new zone files that fit under the zone limit
// (in name order) and reports the others; changed files of zones already
// served always fit.
func (l *loader) withinZoneLimit(prev *generation, toRead []zoneFile, rep *report) []zoneFile {
	if l.limits.Zones <= 0 {
		return toRead
	}
	room := l.limits.Zones
	if prev != nil {
		room -= len(prev.zones) - len(rep.removed)
	}
	var fresh []zoneFile
	for _, f := range toRead {
		if prev == nil || prev.zones[f.origin] == nil {
			fresh = append(fresh, f)
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
	return slices.DeleteFunc(toRead, func(f zoneFile) bool { return refused[f.origin] })
}

// gone lists the origins of prev whose files are no longer there: all of
// them after a full listing (hint nil), or among the hinted names.
func (l *loader) gone(prev *generation, hint []string, files []zoneFile) []string {
	present := make(map[string]bool, len(files))
	for _, f := range files {
		present[f.origin] = true
	}
	var out []string
	if hint == nil {
		for origin := range prev.zones {
			if !present[origin] {
				out = append(out, origin)
			}
		}
		return out
	}
	for _, name := range hint {
		if origin, err := originFromFileName(name); err == nil && prev.zones[origin] != nil && !present[origin] {
			out = append(out, origin)
		}
	}
	return out
}

// listing returns the zone files of the directory, listing it again only if
// the directory changed since the last listing.
func (l *loader) listing(d *zoneDir) ([]zoneFile, []Finding, bool, error) {
	fi, err := d.f.Stat()
	if err != nil {
		return nil, nil, false, fmt.Errorf("read zone directory: %w", err)
	}
	stamp := stampOf(fi)
	if l.files != nil && stamp == l.listed {
		return l.files, l.problems, false, nil
	}
	files, problems, err := l.scan(d)
	if err != nil {
		return nil, nil, false, err
	}
	l.listed, l.files, l.problems = stamp, files, problems
	return files, problems, true, nil
}

// rotate returns the next rescanBudget files of a rotating rescan.
func (l *loader) rotate(files []zoneFile) []zoneFile {
	budget := l.budget
	if budget == 0 {
		budget = rescanBudget
	}
	if budget >= len(files) {
		return files
	}
	if l.cursor >= len(files) {
		l.cursor = 0
	}
	end := min(l.cursor+budget, len(files))
	out := files[l.cursor:end]
	l.cursor = end
	return out
}

// waitingFiles returns the files whose held-back version should be tried
// again, leaving out those read anyway.
func (l *loader) waitingFiles(prev, next *generation, reading []zoneFile) []zoneFile {
	if prev == nil {
		return nil
	}
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

// scanNames is scan for the given file names only (from file-system events).
func (l *loader) scanNames(d *zoneDir, names []string) ([]zoneFile, []Finding) {
	var files []zoneFile
	var problems []Finding
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] || !strings.HasSuffix(name, zoneSuffix) || strings.HasPrefix(name, ".#") {
			continue
		}
		seen[name] = true
		var st unix.Stat_t
		if err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue // gone: gone() notices
		}
		f, problem, ok := l.candidate(name, fileMode(st.Mode))
		switch {
		case problem != nil:
			problems = append(problems, *problem)
		case ok:
			files = append(files, f)
		}
	}
	return files, problems
}

// fileMode turns the type bits of a stat mode into an fs.FileMode.
func fileMode(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFREG:
		return 0
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	default:
		return fs.ModeDevice
	}
}

// index rebuilds the dependency index and the list of held-back zones.
func (g *generation) index() {
	g.deps = map[string][]string{}
	g.waiting = g.waiting[:0]
	for origin, e := range g.zones {
		for _, k := range e.depKeys {
			g.deps[k] = append(g.deps[k], origin)
		}
		if e.pending != nil {
			g.waiting = append(g.waiting, origin)
		}
	}
}

// readAll reads files in parallel, one worker per CPU.
func (l *loader) readAll(d *zoneDir, files []zoneFile, prev *generation) []*change {
	out := make([]*change, len(files))
	parallel(len(files), func(i int) {
		var old *entry
		if prev != nil {
			old = prev.zones[files[i].origin]
		}
		out[i] = l.read(d, files[i], old, prev != nil)
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

// read parses one new or changed file into a change.
func (l *loader) read(d *zoneDir, f zoneFile, old *entry, reloading bool) *change {
	e := &entry{origin: f.origin, file: filepath.Join(l.dir, f.name)}
	ch := &change{entry: e}
	if old != nil {
		ch.last = old.zone
	}
	if old != nil && old.pending != nil && old.unchanged(d, f.name) {
		// Same file, held back last time by another zone: try it again.
		ch.next, ch.local = old.pending, localFindings(old.findings)
		e.stamp, e.includes = old.stamp, old.includes
	} else {
		src := source{root: d.root, dirfd: d.fd(), dir: l.dir, rel: f.name, file: e.file, origin: f.origin,
			maxSize: l.limits.FileBytes, maxRRs: l.limits.Records}
		if reloading {
			src.settle = settleTime
		}
		p := parseZone(src, &l.policy)
		if p.busy {
			ch.busy = true
			return ch
		}
		ch.draft, ch.local = p.zone, p.findings
		if p.ok {
			ch.next = p.zone
		}
		e.stamp, e.includes = p.stamp, p.includes
		if e.stamp == (fileStamp{}) {
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
		return f.Rule == RuleMXCNAME || f.Rule == RuleMXAddress
	})
}

// settle runs the cross-zone checks until no served version fails them. A new
// version that fails is replaced by its zone's last good version; a version
// that did not change but now fails makes the edit of the zone it points into
// the failing one. With deps (the previous generation's index), only the
// zones that can be affected are checked; without, all of them.
func settle(g *generation, changes map[string]*change, removed []string, deps map[string][]string, policy *Policy) {
	scope := map[string]bool{}
	if deps == nil {
		for o := range g.zones {
			scope[o] = true
		}
	} else {
		for o := range changes {
			scope[o] = true
			for _, d := range deps[o] {
				scope[d] = true
			}
			if changes[o].entry != nil && changes[o].last == nil {
				// A new zone can capture exchanges that resolved into a zone
				// above it: check those zones and their dependents too.
				for a := range ancestors(o) {
					if g.zones[a] != nil {
						scope[a] = true
						for _, d := range deps[a] {
							scope[d] = true
						}
					}
				}
			}
		}
		for _, o := range removed {
			for _, d := range deps[o] {
				scope[d] = true
			}
		}
	}
	for len(scope) > 0 {
		held := map[string]bool{}
		origins := make([]string, 0, len(scope))
		for o := range scope {
			if g.zones[o] != nil {
				origins = append(origins, o)
			}
		}
		sort.Strings(origins)
		results := g.checkAll(origins, policy)
		for i, origin := range origins {
			e := g.zones[origin]
			if e.zone == nil {
				continue
			}
			cross, keys := results[i].cross, results[i].keys
			ch := changes[origin]
			if ch != nil && e.zone == ch.next {
				ch.cross = cross
			}
			if !slices.Equal(keys, e.depKeys) {
				if ch == nil {
					clone := *e // shared with the previous generation: copy, never modify
					e = &clone
					g.zones[origin] = e
				}
				e.depKeys = keys
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
		scope = map[string]bool{}
		for origin := range held {
			ch := changes[origin]
			e := g.zones[origin]
			e.pending = ch.next // locally valid, held back by the cross-zone checks only
			e.zone = ch.last
			// Its dependents now see the last good version: check them again.
			scope[origin] = true
			for _, d := range deps[origin] {
				scope[d] = true
			}
			if deps == nil {
				for o := range g.zones {
					scope[o] = true
				}
			}
		}
	}
	for _, ch := range changes {
		e := ch.entry
		if ch.next == nil && ch.draft != nil {
			// Refused on its own: still report its MX targets, so that one
			// run shows the customer every mistake.
			ch.cross, _ = g.checkTargets(ch.draft, policy)
		}
		switch {
		case e.zone != nil && e.zone == ch.next:
			e.state, e.pending = stateServed, nil
		case e.zone != nil && e.zone.saved:
			e.state = stateFromState
		case e.zone != nil:
			e.state = stateLastGood
		default:
			e.state = stateRejected
		}
	}
}

// checked is the outcome of checkTargets for one zone.
type checked struct {
	cross []targetFinding
	keys  []string
}

// checkAll runs checkTargets for the served versions of origins, in
// parallel: it only reads g.
func (g *generation) checkAll(origins []string, policy *Policy) []checked {
	out := make([]checked, len(origins))
	parallel(len(origins), func(i int) {
		if e := g.zones[origins[i]]; e != nil && e.zone != nil {
			out[i].cross, out[i].keys = g.checkTargets(e.zone, policy)
		}
	})
	return out
}

// ancestors yields the names above origin, up to and excluding the root.
func ancestors(origin string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for name := origin; ; {
			off, end := dns.NextLabel(name, 0)
			if end || off >= len(name) {
				return
			}
			name = name[off:]
			if name == "." || !yield(name) {
				return
			}
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

// seekInterval and seekTries bound how long the reload loop looks for a
// replacement of a moved or deleted zone directory before leaving it to the
// rescans: 10 s.
const (
	seekInterval = 100 * time.Millisecond
	seekTries    = 100
)

// dirInode returns the inode of dir (following symlinks), or 0.
func dirInode(dir string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return 0
	}
	return st.Ino
}

// debounce is how long the reload loop waits after a file-system event for
// more: an editor or a provider's script often writes several files at once.
const debounce = 50 * time.Millisecond

// settleTime is how long a zone file that ends without a newline must be
// left alone before a reload reads it: a writer that truncates and writes
// in place leaves such a file behind until it is done. Files replaced by
// rename are never seen half-written and never wait.
const settleTime = time.Second

// dirWatch is the inotify watch on the zone directory. It follows the
// directory when it is replaced (a new one renamed over it, or deleted and
// made again, or a symlink switched): the kernel's watch stays with the old
// directory.
type dirWatch struct {
	w       *fsnotify.Watcher
	dir     string
	watched uint64 // inode of the directory watched
}

// watch starts watching the zone directory, before the first load reads it
// so that no change after that read is missed.
func (m *MXZone) watch() (*dirWatch, error) {
	d := &dirWatch{dir: m.loader.dir, watched: dirInode(m.loader.dir)}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := w.Add(d.dir); err != nil {
		w.Close()
		return nil, err
	}
	d.w = w
	return d, nil
}

// follow moves the watch to the directory now at DIR if it is not the one
// watched. It reports whether DIR exists and whether the watch moved.
func (d *dirWatch) follow() (present, moved bool, err error) {
	ino := dirInode(d.dir)
	if ino == 0 || ino == d.watched {
		return ino != 0, false, nil
	}
	d.w.Remove(d.dir) // the old watch, if the kernel has not dropped it already
	if err := d.w.Add(d.dir); err != nil {
		return true, false, err
	}
	d.watched = ino
	return true, true, nil
}

// run watches the zone directory and rebuilds from the files that changed,
// a short debounce after the last event; every interval it also rescans the
// whole directory, as a safety net for events that were missed (includes in
// subdirectories, file systems without notifications, an overflowing queue).
// d is nil when notifications could not be set up (werr says why).
func (m *MXZone) run(ctx context.Context, interval time.Duration, d *dirWatch, werr error) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var events <-chan fsnotify.Event
	var errs <-chan error
	// rewatch follows a replaced DIR and then scans it whole; false: DIR
	// is not there (yet).
	rewatch := func() bool {
		present, moved, err := d.follow()
		switch {
		case err != nil:
			log.Warningf("%s: the directory was replaced and cannot be watched again (%v); scanning every %s", d.dir, err, interval)
		case moved:
			log.Infof("%s: the directory was replaced; watching the new one", d.dir)
			m.reloadWith(nil, scanAll)
		}
		return present
	}
	// After DIR itself was moved or deleted, look for its replacement a few
	// times a second for a while; after that the rescans go on looking.
	seek := time.NewTimer(time.Hour)
	seek.Stop()
	var seeking int
	if d == nil {
		log.Warningf("%s: no file-system notifications (%v); scanning every %s", m.loader.dir, werr, interval)
	} else {
		defer d.w.Close()
		events, errs = d.w.Events, d.w.Errors
	}
	pending := map[string]bool{}
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	busy := map[string]bool{} // files being written, to read again
	again := time.NewTimer(time.Hour)
	again.Stop()
	for {
		if names := m.takeBusy(); len(names) > 0 {
			for _, n := range names {
				busy[n] = true
			}
			again.Reset(settleTime)
		}
		select {
		case <-ctx.Done():
			return
		case <-seek.C:
			if seeking++; !rewatch() && seeking < seekTries {
				seek.Reset(seekInterval)
			}
		case <-again.C:
			names := slices.Collect(maps.Keys(busy))
			clear(busy)
			m.reloadWith(names, scanNamed)
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if filepath.Clean(ev.Name) == d.dir {
				// DIR itself was moved or deleted: its replacement may
				// not be in place yet.
				if !rewatch() {
					seeking = 0
					seek.Reset(seekInterval)
				}
				continue
			}
			pending[filepath.Base(ev.Name)] = true
			flush.Reset(debounce)
		case err, ok := <-errs:
			if ok {
				// Most likely a queue overflow: events were lost.
				log.Warningf("%s: file-system notifications: %v; rescanning", m.loader.dir, err)
				m.reloadWith(nil, scanAll)
			}
		case <-flush.C:
			names := slices.Collect(maps.Keys(pending))
			clear(pending)
			m.reloadWith(names, scanNamed)
		case <-tick.C:
			mode := scanAll
			if events != nil {
				rewatch()
				mode = scanRotating // notifications carry the edits; this is the safety net
			}
			m.reloadWith(nil, mode)
		}
	}
}

// reload builds the next generation and publishes it. Errors reading the
// directory keep the current generation serving.
func (m *MXZone) reload() error { return m.reloadWith(nil, scanAll) }

// reloadNames rebuilds from the named files only (from file-system events).
func (m *MXZone) reloadNames(names []string) error {
	return m.reloadWith(append([]string{}, names...), scanNamed)
}

func (m *MXZone) reloadWith(hint []string, mode scanMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reloadLocked(hint, mode)
}

func (m *MXZone) reloadLocked(hint []string, mode scanMode) error {
	prev := m.gen.Load()
	start := time.Now()
	next, rep, err := m.loader.buildMode(prev, hint, mode)
	if err != nil {
		reloads.WithLabelValues(m.server, "error").Inc()
		log.Errorf("%s: %v; keeping the zones being served", m.loader.dir, err)
		return err
	}
	if prev == nil && m.state != nil {
		m.restore(next)
	}
	if next != prev {
		m.updateCatalog(prev, next, rep)
	}
	m.busy = append(m.busy, rep.busy...)
	m.logReport(rep, prev == nil)
	if m.state != nil && prev != nil && next != prev {
		// On disk before it is served: a version that was ever answered
		// survives a crash at any point after.
		m.saveChanges(prev, next, rep)
	}
	if next != prev {
		m.gen.Store(next)
		m.recordGeneration(next, rep, time.Since(start))
		m.notifyChanged(prev, next, rep)
	}
	if m.state != nil && prev == nil {
		// Thousands of copies may be due: write them without holding up the
		// start, before the first reload (which waits for the lock).
		m.stateWrites.Add(1)
		go func() {
			defer m.stateWrites.Done()
			m.mu.Lock()
			defer m.mu.Unlock()
			m.saveChanges(nil, next, rep)
		}()
	}
	if prev == nil && len(next.zones) > 1000 {
		// The first load of many zones leaves a heap of parser garbage
		// behind: hand it back to the system now rather than keep it.
		go debug.FreeOSMemory()
	}
	return nil
}

// takeBusy returns, and forgets, the files found being written by the
// reloads since the last call.
func (m *MXZone) takeBusy() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := m.busy
	m.busy = nil
	return names
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
		case e.state == stateLastGood, e.state == stateFromState:
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
		log.Infof("%s: zone files loaded: %d served, %d refused", m.loader.dir, served, refused)
	}
}
