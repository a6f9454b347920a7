package mxzone

import (
	"os"
	"path/filepath"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"
)

// asideBytes is the size from which a changed zone file is read aside: on
// a goroutine of its own, outside the reload lock, so that other zones'
// edits go live meanwhile. Reading takes 15-30 ms a megabyte here (a 64 MB
// file, the default limit, about 2 s); smaller files are read in the reload
// itself.
const asideBytes = 1 << 20

// signInlineRecords is the most records a zone read in a reload may have
// to be signed there; a larger one is signed aside (loader.signsAside),
// whatever its file's size: 1,000 records sign in about 30 ms here, 50,000
// in seconds.
const signInlineRecords = 1000

// preparsed is a zone file read aside, waiting for the reload that uses
// it: only while the file is still as it was read.
type preparsed struct {
	stamp zonefile.Stamp
	p     parsed
	after *version // the version served when it was read: an update since makes it out of date
}

// readAside reads the zone file name outside the reload lock, one file at a
// time, then has it reloaded with what was read. deleted says the file was
// deleted since it was last read (reloadWith).
func (m *MXZone) readAside(name string, deleted bool) {
	m.aside <- struct{}{}
	defer func() { <-m.aside }()
	l := m.loader
	if p, after, ok := m.parseAside(name); ok {
		m.signAside(&p)
		m.mu.Lock()
		if l.preparsed == nil {
			l.preparsed = map[string]preparsed{}
		}
		l.preparsed[name] = preparsed{stamp: p.stamp, p: p, after: after}
		m.mu.Unlock()
	}
	var gone []string
	if deleted {
		gone = []string{name}
	}
	m.reloadWith([]string{name}, scanNamed, gone...)
}

// parseAside reads and checks the zone file name on its own, as a reload
// would; it uses only what does not change after setup. It returns the
// version served when it read the file, which the result follows.
func (m *MXZone) parseAside(name string) (parsed, *version, bool) {
	l := m.loader
	origin, err := zonefile.Origin(name)
	if err != nil {
		return parsed{}, nil, false
	}
	d, err := openZoneDir(l.dir)
	if err != nil {
		return parsed{}, nil, false
	}
	defer d.Close()
	src := zonefile.Source{Root: d.root, DirFD: d.fd(), Dir: l.dir, Rel: name, File: filepath.Join(l.dir, name),
		Origin: origin, MaxBytes: l.limits.FileBytes, MaxRecords: l.limits.Records, Includable: l.includable,
		Settle: settleTime}
	var served *version
	if g := m.gen.Load(); g != nil {
		if e := g.zones[origin]; e != nil && filepath.Base(e.file) == name {
			src.PrevIno = e.stamp.Ino
			served = e.zone
		}
	}
	p := parseZone(src, &l.policy, &l.limits, l.dynamicFor(origin, served))
	return p, served, !p.busy
}

// large reports whether the file name in the zone directory is to be read
// aside.
func (l *loader) large(name string) bool {
	limit := int64(asideBytes)
	if l.signsAside != nil {
		limit = asideSignedBytes
	}
	fi, err := os.Stat(filepath.Join(l.dir, name))
	return err == nil && fi.Size() > limit
}

// asideSignedBytes is asideBytes when zones are signed: a file this large
// may hold more records than are signed in a reload (signInlineRecords),
// and reading it aside too keeps its parsing (about 8 ms) out of the
// reload lock as well.
const asideSignedBytes = 256 << 10

// readBefore returns what was read aside of the file name (readAside), if
// the file is still as it was read then and no update changed the zone
// since (served is the version served now).
func (l *loader) readBefore(d *zoneDir, name string, served *version) (parsed, bool) {
	pre, ok := l.preparsed[name]
	if !ok || l.dynamic != nil && pre.after != served {
		return parsed{}, false
	}
	if st, err := d.stat(name); err != nil || st != pre.stamp {
		return parsed{}, false
	}
	return pre.p, true
}

// signAside signs a version read aside, outside the reload lock too: the
// signing of a large zone, like its reading, holds up no other zone's edit.
// It signs after the version served now; the reload uses it only if that
// is still the one before.
func (m *MXZone) signAside(p *parsed) {
	s := m.signing
	if s == nil || !p.ok || p.draft == nil || !s.covers(p.draft.Origin()) {
		return
	}
	var prev *signedZone
	last := uint32(0) // the serial served now, signed or not (signChanges)
	if g := m.gen.Load(); g != nil {
		if e := g.zones[p.draft.Origin()]; e != nil && e.zone != nil {
			prev, last = e.zone.signed, e.zone.Serial()
		}
	}
	z, err := s.sign(p.draft, last, time.Now(), prev)
	if err != nil {
		return // signed again, and the error reported, in the reload
	}
	p.presigned, p.signedAfter = z, last
}
