package mxzone

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

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

// render writes z as a zone file of absolute records.
func render(z *Zone) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "; last good version of %s from %s, saved by mxzone %s\n", z.Origin, z.File,
		time.Now().UTC().Format(time.RFC3339))
	for _, set := range z.sets {
		for _, rr := range set.rrs {
			b.WriteString(rr.String())
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// save stores z; sync says whether to wait for the disk (one zone after an
// edit) or leave that to one sync of the whole batch.
func (s *stateDir) save(z *Zone, sync bool) error {
	if err := s.write(s.path(z.Origin), render(z), sync); err != nil {
		return fmt.Errorf("save state copy of %s: %w", z.Origin, err)
	}
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

// remove deletes origin's copy: its zone file was deleted on purpose.
func (s *stateDir) remove(origin string) error {
	if err := os.Remove(s.path(origin)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// load reads origin's copy and checks it on its own; nil if there is none
// or it does not pass.
func (s *stateDir) load(origin string, policy *Policy, limits Limits) *Zone {
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil
	}
	defer root.Close()
	name := origin + "zone"
	if _, err := root.Stat(name); err != nil {
		return nil
	}
	p := parseZone(source{root: root, dirfd: -1, dir: s.dir, rel: name, origin: origin,
		maxSize: limits.FileBytes, maxRRs: limits.Records}, policy)
	if !p.ok {
		return nil
	}
	p.zone.saved = true
	return p.zone
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
	s := m.state
	for _, origin := range s.origins() {
		e := g.zones[origin]
		if e == nil {
			if err := s.remove(origin); err != nil {
				log.Errorf("state: %v", err)
			}
			continue
		}
		if e.zone != nil {
			continue
		}
		if z := s.load(origin, &m.loader.policy, m.loader.limits); z != nil {
			e.zone, e.state = z, stateFromState
			log.Warningf("%s: file refused; zone %s is served from its saved last good copy %s, serial %d",
				e.file, origin, s.path(origin), z.soa.Serial)
		}
	}
}

// saveChanges stores the zones whose served version changed and drops the
// copies of removed zones. After the first load it writes only copies older
// than their zone file, and syncs the whole batch once.
func (m *MXZone) saveChanges(prev, next *generation, rep *report) {
	s := m.state
	if prev == nil {
		n := 0
		for origin, e := range next.zones {
			if e.state != stateServed || s.fresh(origin, e.stamp) {
				continue
			}
			if err := s.save(e.zone, false); err != nil {
				log.Errorf("state: %v", err)
				continue
			}
			m.notify.addBulk(origin) // changed while the server was down, or first seen
			n++
		}
		if err := s.syncAll(); err != nil {
			log.Errorf("state: %v", err)
		}
		log.Infof("state: %d zone copies saved in %s", n, s.dir)
		return
	}
	for _, ch := range rep.changes {
		if e := ch.entry; e.state == stateServed && ch.next != nil && e.zone == ch.next {
			if err := s.save(e.zone, true); err != nil {
				log.Errorf("state: %v", err)
			}
		}
	}
	for _, origin := range rep.removed {
		if err := s.remove(origin); err != nil {
			log.Errorf("state: %v", err)
		}
	}
}

// fresh reports whether origin's copy is at least as new as its zone file.
func (s *stateDir) fresh(origin string, stamp fileStamp) bool {
	var st unix.Stat_t
	if err := unix.Stat(s.path(origin), &st); err != nil {
		return false
	}
	return st.Mtim.Nano() >= max(stamp.mtime, stamp.ctime)
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
