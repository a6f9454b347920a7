package mxzone

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/snapshot"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"
)

// A start snapshot (docs/operations.md, "Restarts"): the state directory
// holds, besides one copy per zone, one file with every served zone in
// binary form. A restart serves from it at once, then checks every zone
// file against it as a full rescan would (verifying), and from then on is
// as if it had read every file. What a snapshot leaves out is read from
// its file as at any start:
//   - zones whose file is gone (deleted means deleted: never served again),
//   - zones changed after the snapshot was written (marked: their newer
//     version is in their copy and journal, and must not be lost),
//   - zones not served from their current file (refused, held back,
//     missing), whose last good version is their saved copy,
//   - signed zones whose signatures are due for refresh.
//
// A snapshot written with other settings (rules, limits, signing, another
// version of the program) serves the same way, and every file is read and
// checked again behind it.

const (
	snapshotName = "snapshot"
	marksName    = "snapshot.marks"
	// snapshotEvery is how often a changed served set is written again:
	// the zones changed since are read from their files at the next start.
	snapshotEvery = time.Minute
)

// snapshots writes the start snapshots of one state directory.
type snapshots struct {
	path  string
	marks *snapshot.Marks

	mu      sync.Mutex                 // one writer at a time
	written atomic.Pointer[generation] // the generation written last, or one the same as it
}

func openSnapshots(dir string) (*snapshots, error) {
	marks, err := snapshot.OpenMarks(filepath.Join(dir, marksName))
	if err != nil {
		return nil, err
	}
	return &snapshots{path: filepath.Join(dir, snapshotName), marks: marks}, nil
}

// markChanged records, before the change is served, that the zones origins
// change: a snapshot written before does not have them right. If that
// cannot be recorded, the snapshot goes: the next start reads every file.
func (m *MXZone) markChanged(origins ...string) {
	s := m.snaps
	if s == nil || len(origins) == 0 {
		return
	}
	if err := s.marks.Mark(origins...); err != nil {
		log.Errorf("state: %v; the start snapshot is removed", err)
		if err := snapshot.Remove(s.path); err != nil {
			log.Errorf("state: %v", err)
		}
	}
}

// changedOrigins are the zones whose entry a build changed.
func changedOrigins(rep *report, next *generation) []string {
	out := make([]string, 0, len(rep.changes)+len(rep.removed)+len(rep.touched)+len(next.deleting))
	for _, ch := range rep.changes {
		out = append(out, ch.entry.origin)
	}
	out = append(out, rep.removed...)
	out = append(out, rep.touched...)
	return append(out, next.deleting...)
}

// settingsID identifies how zones are judged: the configuration and the
// program's build.
func (m *MXZone) settingsID() string {
	id := m.config()
	if bi, ok := debug.ReadBuildInfo(); ok {
		id += " " + bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
				id += " " + s.Value
			}
		}
	}
	return id
}

// snapshotable reports whether e can be served from a snapshot at the
// next start (see the list above).
func (m *MXZone) snapshotable(e *entry) bool {
	if e.zone == nil || e.status != outcomeServed || e.heldBack != nil || e.missing {
		return false
	}
	signed := e.zone.signed != nil
	return m.signing == nil && !signed || m.signing != nil && signed == m.signing.covers(e.origin)
}

// writeSnapshot writes the generation being served, if it is not the one
// written last. The caller does not hold m.mu.
func (m *MXZone) writeSnapshot() error {
	s := m.snaps
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m.mu.Lock()
	g, covers := m.gen.Load(), s.marks.Seq() // every change of g is marked at or below covers
	m.mu.Unlock()
	if g == nil || g == s.written.Load() || g.verifying {
		return nil
	}
	start := time.Now()
	h := snapshot.Header{Covers: covers, Source: m.loader.dir, Settings: m.settingsID(), Written: start.Unix()}
	n := 0
	err := snapshot.Write(s.path, h, func(add func([]byte) error) error {
		var buf []byte
		for _, e := range g.zones {
			if m.snapshotable(e) {
				buf = encodeEntry(buf[:0], e)
			} else {
				buf = encodeName(buf[:0], e)
			}
			if err := add(buf); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.written.Store(g)
	if err := s.marks.Compact(covers); err != nil {
		log.Warningf("state: %v", err)
	}
	log.Infof("state: start snapshot of %d zones written in %s", n, time.Since(start).Round(time.Millisecond))
	return nil
}

// snapshotLoop writes the snapshot again while the served set changes.
func (m *MXZone) snapshotLoop(ctx context.Context) {
	t := time.NewTicker(snapshotEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.writeSnapshot(); err != nil {
				log.Errorf("state: %v", err)
			}
		}
	}
}

// fromSnapshot returns the generation of the state directory's snapshot,
// with the zones it may serve (see the list above), marked as verifying,
// and the names of the files of the zones it knows but does not serve, to
// read before the first answer; nil when there is no snapshot to start
// from.
func (m *MXZone) fromSnapshot() (*generation, []string) {
	s := m.snaps
	// The directory is listed while the snapshot is read: a zone whose
	// file is not there is never served.
	listed := make(chan map[string]bool, 1)
	go func() { listed <- dirNames(m.loader.dir) }()
	snap, err := snapshot.Open(s.path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			log.Warningf("state: %v; every zone file is read", err)
		}
		return nil, nil
	}
	defer snap.Close()
	if snap.Header.Source != m.loader.dir {
		log.Infof("state: the start snapshot is of another directory (%s); every zone file is read", snap.Header.Source)
		return nil, nil
	}
	recheck := snap.Header.Settings != m.settingsID()
	entries := make([]*entry, len(snap.Records))
	p := m.loader.track(startProgress("loading: zones read from the start snapshot", len(entries), m.loader.progressEvery(), m.loader.progressLog))
	// Reading makes the zones' memory and little garbage: no collection
	// (which would mark every zone read so far) until the generation is
	// built.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	parallel(len(entries), func(i int) {
		defer p.add()
		entries[i], _ = decodeEntry(snap.Records[i])
	})
	m.loader.untrack(p)
	present := <-listed
	if present == nil {
		return nil, nil
	}
	g, read := m.snapshotGeneration(entries, present, snap.Header.Covers, recheck)
	if g == nil {
		return nil, nil
	}
	why := ""
	if recheck {
		why = "; the settings or the program changed since it was written, so every file is checked again"
	}
	log.Infof("state: %d zones served from the start snapshot written %s ago, %d read from their files first (refused, held back or changed "+
		"since), %d left out (files gone, or records damaged); verifying every zone file%s", len(g.zones),
		time.Since(time.Unix(snap.Header.Written, 0)).Round(time.Second), len(read), len(entries)-len(g.zones)-len(read)+snap.Damaged, why)
	return g, read
}

// snapshotGeneration is the generation of the snapshot's entries whose
// files are present (and of the protected zones whose files are missing,
// from their copies), and the names of the files to read before the first
// answer; nil if the snapshot holds more zones than the server may serve.
func (m *MXZone) snapshotGeneration(entries []*entry, present map[string]bool, covers uint64, recheck bool) (*generation, []string) {
	if len(entries) > m.loader.limits.Zones && m.loader.limits.Zones > 0 {
		log.Infof("state: the start snapshot holds more zones than max_zones; every zone file is read")
		return nil, nil
	}
	parallel(len(entries), func(i int) {
		if e := entries[i]; e != nil && present[filepath.Base(e.file)] {
			e.fromSnapshot = true
		}
	})
	now := time.Now()
	g := &generation{zones: make(map[string]*entry, len(entries)), verifying: true}
	var read []string
	for _, e := range entries {
		switch {
		case e == nil:
			continue // damaged: read by the verifying, if its file is there
		case !e.fromSnapshot && m.loader.protects(e.origin):
			m.restoreMissing(g, e.origin) // its file is missing: not a deletion
		case !e.fromSnapshot:
			continue // its file is gone: deleted
		case e.zone == nil || !m.snapshotable(e) || m.snaps.marks.Stale(e.origin, covers) ||
			e.zone.signed != nil && e.zone.signed.due(now):
			read = append(read, filepath.Base(e.file))
		default:
			if recheck {
				e.stamp = zonefile.Stamp{} // read and checked again behind the snapshot
			}
			g.zones[e.origin] = e
		}
	}
	g.index()
	g.below = countBelow(nil, g.origins(), nil)
	return g, read
}

// startVerified publishes g from the snapshot and checks the zone files
// behind it: the first reload, a full one, ends the verifying.
func (m *MXZone) startVerified(g *generation, read []string) {
	m.starting.Store(true)
	defer m.starting.Store(false)
	m.gen.Store(g)
	m.recordGeneration(g, &report{}, 0)
	unverified.WithLabelValues(m.server).Set(float64(len(g.zones)))
	m.notifyLoaded(g)
	m.checkChildDS(g)
	if len(read) > 0 {
		// Before the server answers (OnStartup runs before it listens): the
		// zones the snapshot knows but does not serve, as at any start.
		if err := m.update(read, scanNamed, nil); err != nil {
			log.Errorf("state: %v", err)
		}
	}
	if m.catalog != nil {
		m.startCatalog(g)
	}
	m.stateWrites.Add(1)
	go func() {
		defer m.stateWrites.Done()
		start := time.Now()
		if err := m.reloadWith(nil, scanAll); err != nil {
			log.Errorf("state: the zones from the start snapshot could not be verified (%v); they keep serving, and the next full rescan verifies them", err)
			return
		}
		log.Infof("state: every zone file checked against the start snapshot in %s", time.Since(start).Round(time.Millisecond))
		if len(g.zones) > 1000 {
			settleHeap()
		}
		if err := m.writeSnapshot(); err != nil {
			log.Errorf("state: %v", err)
		}
	}()
}

// verified ends the verifying of prev, served from a snapshot, with next,
// built by a full rescan: the saved copies serve where files are refused,
// and the journals of zones gone are deleted, as after a first load.
func (m *MXZone) verified(prev, next *generation, rep *report) *generation {
	for _, ch := range rep.changes {
		if e := ch.entry; e.status == outcomeFromState && e.zone == ch.last {
			m.logFromCopy(e) // refused; the version from the snapshot is its saved copy
		}
	}
	same := next == prev
	if same {
		g := *prev
		next = &g
	}
	next.verifying = false
	unverified.WithLabelValues(m.server).Set(0)
	m.restore(next)
	if m.updates != nil {
		m.settleJournals(next)
	}
	if same && len(next.zones) == len(prev.zones) {
		m.snaps.written.Store(next) // what the snapshot holds: nothing to write
	}
	return next
}

// dirNames lists the names in dir; nil if it cannot be read.
func dirNames(dir string) map[string]bool {
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out
}

// origins lists the zones of g.
func (g *generation) origins() []string {
	out := make([]string, 0, len(g.zones))
	for o := range g.zones {
		out = append(out, o)
	}
	return out
}

// snapshotStatus is the status API's view of a start from a snapshot.
type snapshotStatus struct {
	Verifying bool `json:"verifying"`
	Zones     int  `json:"zones"`
}
