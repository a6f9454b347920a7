package mxzone

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/snapshot"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// stateDir keeps a validated copy of every served zone, so that a restart
// serves the last good version of a zone whose file is broken (or was broken
// while the server was down), instead of SERVFAIL. Copies are written
// atomically: a temporary file, fsync, rename, fsync of the directory.
type stateDir struct {
	dir string
}

// path is the file of origin's copy: "example.com.zone".
func (s *stateDir) path(origin string) string { return filepath.Join(s.dir, origin+"zone") }

// has reports whether origin has a saved copy: it was served before.
func (s *stateDir) has(origin string) bool {
	_, err := os.Stat(s.path(origin))
	return err == nil
}

// render writes v as a zone file of absolute records.
func render(v *version) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "; last good version of %s from %s, saved by mxzone %s\n", v.Origin(), v.file,
		time.Now().UTC().Format(time.RFC3339))
	for set := range v.All {
		if v.signed != nil && madeBySigner(v.Origin(), set.Owner(), set.Type()) {
			continue // the file's content is kept, not the signer's
		}
		for _, rr := range set.RRs() {
			if soa, ok := rr.(*dns.SOA); ok && v.signed != nil {
				soa.Serial = v.signed.unsignedSerial
			}
			b.WriteString(rr.String())
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// save stores z; sync says whether to wait for the disk (one zone after an
// edit) or leave that to one sync of the whole batch.
func (s *stateDir) save(v *version, sync bool) error {
	if err := s.write(s.path(v.Origin()), render(v), sync); err != nil {
		return fmt.Errorf("save state copy of %s: %w", v.Origin(), err)
	}
	os.Remove(s.tombstone(v.Origin())) // the copy is the new zone's now
	return nil
}

// write replaces the file final with data atomically: a temporary file,
// renamed into place; with sync, both made durable first.
func (s *stateDir) write(final string, data []byte, sync bool) error {
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if sync {
		return s.syncDir()
	}
	return nil
}

// syncDir makes renames and removals in the state directory durable.
func (s *stateDir) syncDir() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// syncAll flushes a batch of unsynced saves: one syncfs for all of them.
func (s *stateDir) syncAll() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}

// tombstone marks origin's copy as belonging to a deleted zone, for when
// the copy itself cannot be removed.
func (s *stateDir) tombstone(origin string) string { return s.path(origin) + ".deleted" }

// remove deletes origin's copy: its zone file was deleted on purpose. If
// the copy cannot be removed, a tombstone beside it says so durably, and a
// restart does not serve it (restore).
func (s *stateDir) remove(origin string) error {
	err := os.Remove(s.path(origin))
	if err == nil || os.IsNotExist(err) {
		os.Remove(s.tombstone(origin))
		return nil
	}
	if terr := s.write(s.tombstone(origin), []byte("deleted\n"), true); terr != nil {
		return fmt.Errorf("the copy of deleted zone %s can be neither removed (%w) nor marked deleted (%v): remove %s by hand, "+
			"or a restart may serve it", origin, err, terr, s.path(origin))
	}
	return fmt.Errorf("the copy of deleted zone %s cannot be removed (%w); it is marked deleted and will not be served", origin, err)
}

// deleted reports whether origin's copy belongs to a deleted zone.
func (s *stateDir) deleted(origin string) bool {
	_, err := os.Stat(s.tombstone(origin))
	return err == nil
}

// load reads origin's copy and checks it on its own; nil if there is none
// or it does not pass.
func (s *stateDir) load(origin string, policy *Policy, limits Limits, dyn *dynamic) *version {
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil
	}
	defer root.Close()
	name := origin + "zone"
	if _, err := root.Stat(name); err != nil {
		return nil
	}
	p := parseZone(zonefile.Source{Root: root, DirFD: -1, Dir: s.dir, Rel: name, Origin: origin,
		MaxBytes: limits.FileBytes, MaxRecords: limits.Records}, policy, &limits, dyn)
	if !p.ok {
		return nil
	}
	p.draft.saved = true
	return p.draft
}

// origins lists the zones the state directory holds copies of.
func (s *stateDir) origins() []string {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		// "example.com.zone": the origin is the name without "zone".
		if origin, ok := strings.CutSuffix(e.Name(), "zone"); ok && e.Type().IsRegular() && strings.HasSuffix(origin, ".") {
			out = append(out, origin)
		}
	}
	return out
}

// restore serves, after the first load, the saved copy of every zone whose
// file has no good version now, and removes the copies of zones whose file is
// gone: deleted while the server was down.
func (m *MXZone) restore(g *generation) {
	for _, origin := range m.state.origins() {
		m.restoreOne(g, origin)
	}
}

// restoreOne is restore for the zone origin, which has a saved copy.
func (m *MXZone) restoreOne(g *generation, origin string) {
	s := m.state
	e := g.zones[origin]
	switch {
	case s.deleted(origin):
		// The zone was deleted while its copy could not be removed.
		m.markChanged(origin)
		if err := s.remove(origin); err != nil {
			log.Errorf("state: %v", err)
		}
	case e == nil && m.loader.protects(origin):
		m.restoreMissing(g, origin)
	case e == nil:
		m.markChanged(origin) // deleted while the server was down
		if err := s.remove(origin); err != nil {
			log.Errorf("state: %v", err)
		}
	case e.zone != nil:
	default:
		if v := s.load(origin, &m.loader.policy, m.loader.limits, m.loader.dynamicFor(origin, nil)); v != nil {
			e.zone, e.status, e.published = v, outcomeFromState, time.Now()
			m.logFromCopy(e)
		}
	}
}

// logFromCopy says that e, whose file is refused, serves its saved copy.
func (m *MXZone) logFromCopy(e *entry) {
	log.Warningf("%s: file refused; zone %s is served from its saved last good copy %s, serial %d, saved %s ago "+
		"(if the zone was deleted and made again, that is the old one's: `coredns-mx state forget %s` drops it at the next restart)",
		e.file, e.origin, m.state.path(e.origin), e.zone.Serial(), m.state.age(e.origin), e.origin)
}

// saveFirstLoad stores the served zones of the first generation whose
// copy is older than their zone file, syncs them all at once, and returns
// their origins: they changed while the server was down, or are new.
func (m *MXZone) saveFirstLoad(g *generation) []string {
	s := m.state
	var saved []string
	var failed error
	for origin, e := range g.zones {
		if e.status != outcomeServed || s.fresh(origin, e.stamp) {
			continue
		}
		if err := s.save(e.zone, false); err != nil {
			failed = err
			m.markUnsaved(origin)
			continue
		}
		saved = append(saved, origin)
	}
	if err := s.syncAll(); err != nil {
		log.Errorf("state: %v", err)
	}
	if failed != nil {
		log.Errorf("state: %d zone copies not saved, retried later; for example: %v", len(m.unsaved), failed)
	}
	unsavedGauge.WithLabelValues(m.server).Set(float64(len(m.unsaved)))
	log.Infof("state: %d zone copies saved in %s", len(saved), s.dir)
	return saved
}

// saveReplaced stores, durably and before the first generation answers, the
// zones whose file changed while the server was down: their copy holds an
// older version. Served from the file alone, such a version would be lost
// if the file were then broken and the server crashed before the copies of
// the first load are written (saveFirstLoad, later): the restart would serve
// the older copy. Zones without a copy (a first start) are left to
// saveFirstLoad; their copies are only stat'ed here, in parallel.
func (m *MXZone) saveReplaced(g *generation) {
	s := m.state
	entries := make([]*entry, 0, len(g.zones))
	for _, e := range g.zones {
		if e.status == outcomeServed {
			entries = append(entries, e)
		}
	}
	stale := make([]bool, len(entries))
	parallel(len(entries), func(i int) { stale[i] = s.stale(entries[i].origin, entries[i].stamp) })
	saved := 0
	for i, e := range entries {
		if !stale[i] {
			continue
		}
		if err := s.save(e.zone, false); err != nil {
			log.Errorf("state: %v", err)
			continue
		}
		saved++
	}
	if saved == 0 {
		return
	}
	if err := s.syncAll(); err != nil {
		log.Errorf("state: %v", err)
	}
}

// saveChanges stores, durably, the zones whose served version a reload
// changed and drops the copies of removed zones.
func (m *MXZone) saveChanges(rep *report) {
	s := m.state
	// Removals first: a zone deleted and made again is in both lists, and
	// its new copy must be the one that stays.
	for _, origin := range rep.removed {
		delete(m.unsaved, origin)
		if err := s.remove(origin); err != nil {
			log.Errorf("state: %v", err)
		}
	}
	for _, ch := range rep.changes {
		if e := ch.entry; e.status == outcomeServed && ch.next != nil && e.zone == ch.next {
			if err := s.save(e.zone, true); err != nil {
				log.Errorf("state: %v; retried later", err)
				m.markUnsaved(e.origin)
				continue
			}
			delete(m.unsaved, e.origin)
		}
	}
	unsavedGauge.WithLabelValues(m.server).Set(float64(len(m.unsaved)))
}

// stale reports whether origin has a copy older than its zone file.
func (s *stateDir) stale(origin string, stamp zonefile.Stamp) bool {
	var st unix.Stat_t
	if err := unix.Stat(s.path(origin), &st); err != nil {
		return false
	}
	return st.Mtim.Nano() < max(stamp.Mtime, stamp.Ctime)
}

// fresh reports whether origin's copy is at least as new as its zone file.
func (s *stateDir) fresh(origin string, stamp zonefile.Stamp) bool {
	var st unix.Stat_t
	if err := unix.Stat(s.path(origin), &st); err != nil {
		return false
	}
	return st.Mtim.Nano() >= max(stamp.Mtime, stamp.Ctime)
}

// catalogSerialFile keeps the catalog zone's last serial across restarts, so
// that it never goes back even when changes ran it ahead of the clock.
const catalogSerialFile = "catalog-serial"

// catalogSerial returns the catalog serial saved last, or 0.
func (s *stateDir) catalogSerial() uint32 {
	data, err := os.ReadFile(filepath.Join(s.dir, catalogSerialFile))
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// saveCatalogSerial stores serial durably.
func (s *stateDir) saveCatalogSerial(serial uint32) error {
	if err := s.write(filepath.Join(s.dir, catalogSerialFile), fmt.Appendf(nil, "%d\n", serial), true); err != nil {
		return fmt.Errorf("save the catalog serial: %w", err)
	}
	return nil
}

// restoreMissing serves the saved copy of the protected zone origin, whose
// file is missing at start: other zones' MX records and includes point at
// it, and a file that went missing (a failed deploy, an unmounted volume)
// is not a deletion. The zone serves until its file is back or an operator
// forgets the copy on purpose (coredns-mx state forget).
func (m *MXZone) restoreMissing(g *generation, origin string) {
	s := m.state
	v := s.load(origin, &m.loader.policy, m.loader.limits, m.loader.dynamicFor(origin, nil))
	if v == nil {
		log.Errorf("zone %s is protected and its file is missing, but its saved copy %s cannot be served: the zone is gone", origin, s.path(origin))
		return
	}
	file := filepath.Join(m.loader.dir, origin+"zone")
	msg := fmt.Sprintf("the file of protected zone %s is missing at start; its saved copy, serial %d, saved %s ago, keeps serving "+
		"until the file is back or `coredns-mx state forget %s` removes the copy", origin, v.Serial(), s.age(origin), origin)
	log.Errorf("%s: %s", file, msg)
	g.zones[origin] = &entry{origin: origin, file: file, zone: v, status: outcomeFromState, missing: true, published: time.Now(),
		findings: []Finding{{File: file, Zone: origin, Owner: origin, Rule: RuleSyntax, Severity: SeverityFail, Message: msg}}}
}

// age is how long ago origin's copy was saved, to the second.
func (s *stateDir) age(origin string) time.Duration {
	fi, err := os.Stat(s.path(origin))
	if err != nil {
		return 0
	}
	return time.Since(fi.ModTime()).Round(time.Second)
}

// ForgetCopy removes the saved copy of origin (and its signed copy) from
// the state directory dir: a restart does not serve it, and a protected
// zone whose file is missing stops serving at the server's next full scan.
// It reports whether there was a copy.
func ForgetCopy(dir, origin string) (bool, error) {
	s := &stateDir{dir: dir}
	had := s.has(origin)
	// The start snapshot may hold the zone's last good version too.
	if err := snapshot.Remove(filepath.Join(dir, snapshotName)); err != nil {
		return had, err
	}
	if err := s.remove(origin); err != nil {
		return had, err
	}
	signed := filepath.Join(dir, "signed", origin+"signed")
	if err := os.Remove(signed); err != nil && !os.IsNotExist(err) {
		return had, err
	}
	return had, nil
}
