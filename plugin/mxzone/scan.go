package mxzone

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"

	"golang.org/x/net/publicsuffix"
	"golang.org/x/sys/unix"
)

// loader reads a zone directory into generations.
type loader struct {
	dir     string   // absolute path of the zone directory
	origins []string // only zones at or below these are served
	policy  Policy
	limits  Limits
	catalog string // the catalog zone's name, never read from a file; "": none
	// publicSuffixes are the public suffixes (see publicSuffix) whose zone
	// files are served all the same (allow_public_suffix).
	publicSuffixes []string
	// protected are the zones whose edits and deletions are held back when
	// they would break other zones (protect): the provider's. Other
	// tenants' edits are applied, and the zones they break are told.
	protected map[string]bool
	// includes are the patterns (path.Match, or a directory ending in "/")
	// of the files inside the directory that $INCLUDE may read; none: every
	// fragment zonefile.DefaultIncludable allows.
	includes []string
	// loading is the step of the first load under way (reading, signing),
	// for the status API; nil once it is done.
	loading atomic.Pointer[progress]
	// progressInterval is how often the first load logs its progress; 0:
	// progressEvery. Tests shorten it.
	progressInterval time.Duration
	progressLog      func(string) // where progress lines go; nil: the log
	// forgotten reports whether the saved copy of a zone whose file was
	// missing at start was forgotten (ForgetCopy): the zone goes.
	forgotten func(origin string) bool
	// signsAside reports whether a valid version read in a reload is to be
	// signed aside instead (readAside); nil: none is.
	signsAside func(*version) bool
	// preparsed are files read aside (readAside), for the next reload.
	preparsed map[string]preparsed
	// dynamic says what a new version of a zone carries over from the one
	// served (see dynamic); nil: the server takes no updates.
	dynamic *updater
	// held are the zones that the last scan found named by several files,
	// none spelt canonically (resolveNames): they keep what they serve.
	held []string

	// What the last full listing found, reused while the directory itself
	// is unchanged (no file added, removed or renamed), and where the
	// rotating rescan goes on. Used by the one reload goroutine only.
	listed   zonefile.Stamp
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
func (d *zoneDir) stat(name string) (zonefile.Stamp, error) { return zonefile.StatAt(d.fd(), name) }

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
	files, held, conflicts := l.resolveNames(files)
	l.held = held
	return files, append(problems, conflicts...), nil
}

// candidate says what the directory entry name (of type mode) is: a zone
// file (ok), a file that looks like one but cannot be (a problem), or not
// ours at all (neither).
func (l *loader) candidate(name string, mode fs.FileMode) (f zoneFile, problem *Finding, ok bool) {
	if !strings.HasSuffix(name, zonefile.Suffix) || strings.HasPrefix(name, ".#") {
		return f, nil, false
	}
	origin, err := zonefile.Origin(name)
	if err != nil {
		return f, &Finding{File: filepath.Join(l.dir, name), Rule: RuleSyntax, Severity: SeverityFail,
			Owner: name, Message: err.Error()}, false
	}
	if len(l.origins) > 0 && plugin.Zones(l.origins).Matches(origin) == "" {
		return f, nil, false
	}
	if oneLabel(origin) && !slices.Contains(l.publicSuffixes, origin) {
		return f, &Finding{File: filepath.Join(l.dir, name), Zone: origin, Owner: origin, Rule: RuleIsolation,
			Severity: SeverityFail, Message: "is a one-label name, a top-level domain: a zone for it would answer for " +
				"every domain under it and hand its addresses to other zones' MX answers; " +
				"list it in allow_public_suffix if this server is meant to serve it"}, false
	}
	if publicSuffix(origin) && !slices.Contains(l.publicSuffixes, origin) {
		return f, &Finding{File: filepath.Join(l.dir, name), Zone: origin, Owner: origin, Rule: RuleIsolation,
			Severity: SeverityFail, Message: "is a public suffix (ICANN section of the Public Suffix List): a zone for it " +
				"would answer for every domain under it and hand its addresses to other zones' MX answers; " +
				"list it in allow_public_suffix if this server is meant to serve it"}, false
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
		fi, err := d.root.Stat(inc.Rel)
		if err != nil || zonefile.StampOf(fi) != inc.Stamp {
			return false
		}
	}
	return true
}

// gone lists the origins of prev whose files are no longer there: all of
// them after a full listing (hint nil), or among the hinted names.
func (l *loader) gone(prev *generation, hint []string, files []zoneFile) []string {
	present := make(map[string]bool, len(files)+len(l.held))
	for _, f := range files {
		present[f.origin] = true
	}
	for _, o := range l.held {
		present[o] = true
	}
	var out []string
	if hint == nil {
		for origin, e := range prev.zones {
			if !present[origin] && (!e.missing || l.forgotten == nil || l.forgotten(origin)) {
				out = append(out, origin)
			}
		}
		return out
	}
	for _, name := range hint {
		origin, err := zonefile.Origin(name)
		if err != nil || present[origin] {
			continue
		}
		// Only the zone's own file takes it away: not a second file of
		// the same zone that was refused.
		if e := prev.zones[origin]; e != nil && filepath.Base(e.file) == name {
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
	stamp := zonefile.StampOf(fi)
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

// scanNames is scan for the given file names only (from file-system events).
// relist says the names need the whole directory to be judged: a file not
// spelt canonically, or a file of a zone served from a file of another name
// (resolveNames).
func (l *loader) scanNames(d *zoneDir, names []string, prev *generation) (files []zoneFile, problems []Finding, relist bool) {
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] || !strings.HasSuffix(name, zonefile.Suffix) || strings.HasPrefix(name, ".#") {
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
			e := prev.zones[f.origin]
			relist = relist || !zonefile.Canonical(f.name, f.origin) || e != nil && filepath.Base(e.file) != f.name
			files = append(files, f)
		}
	}
	return files, problems, relist
}

// protects reports whether origin is a protected zone.
func (l *loader) protects(origin string) bool { return l.protected[origin] }

// includable says whether $INCLUDE may read rel: a fragment
// (zonefile.DefaultIncludable: never a zone file, never a hidden file) that
// matches one of the includes patterns, if there are any.
func (l *loader) includable(rel string) bool {
	if !zonefile.DefaultIncludable(rel) {
		return false
	}
	if len(l.includes) == 0 {
		return true
	}
	for _, p := range l.includes {
		if dir, ok := strings.CutSuffix(p, "/"); ok && strings.HasPrefix(rel, dir+"/") {
			return true
		}
		if ok, _ := path.Match(p, rel); ok {
			return true
		}
	}
	return false
}

// oneLabel reports whether origin is a top-level name ("example."): no
// customer's zone, whether the Public Suffix List knows it or not.
func oneLabel(origin string) bool { return strings.Count(origin, ".") == 1 }

// publicSuffix reports whether origin is a public suffix in the ICANN
// section of the Public Suffix List ("com.", "co.uk."): a registry's zone,
// never a customer's.
func publicSuffix(origin string) bool {
	domain := strings.TrimSuffix(origin, ".")
	if domain == "" {
		return true
	}
	suffix, icann := publicsuffix.PublicSuffix(domain)
	return icann && suffix == domain
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
