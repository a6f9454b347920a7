package mxzone

import (
	"slices"
	"time"
)

// load builds and publishes the first generation. The caller holds m.mu.
func (m *MXZone) load() error {
	if m.state != nil && m.snaps == nil {
		s, err := openSnapshots(m.state.dir)
		if err != nil {
			log.Errorf("state: %v; every start reads every zone file", err)
		}
		m.snaps = s
	}
	if m.snaps != nil {
		if g, read := m.fromSnapshot(); g != nil {
			m.startVerified(g, read)
			return nil
		}
	}
	start := time.Now()
	next, rep, err := m.loader.firstBuild()
	if err != nil {
		reloads.WithLabelValues(m.server, "error").Inc()
		log.Errorf("%s: %v", m.loader.dir, err)
		return err
	}
	if m.state != nil {
		m.restore(next)
		m.saveReplaced(next)
	}
	var signed []string
	if m.signing != nil {
		signed = m.signFirst(next)
	}
	if m.catalog != nil {
		m.startCatalog(next)
	}
	m.logReport(nil, rep, true)
	if m.updates != nil {
		m.settleJournals(next)
	}
	m.gen.Store(next)
	m.recordGeneration(next, rep, time.Since(start))
	m.notifyLoaded(next)
	m.checkChildDS(next)
	if m.state != nil {
		// Thousands of copies may be due: write them without holding up the
		// start, before the first reload (which waits for the lock). The
		// versions they keep are the files themselves, on disk and valid.
		m.stateWrites.Add(1)
		go func() {
			defer m.stateWrites.Done()
			m.mu.Lock()
			m.notifyStale(m.saveFirstLoad(next))
			if m.signing != nil {
				m.saveSignedFirst(next, signed)
			}
			m.mu.Unlock()
			if err := m.writeSnapshot(); err != nil {
				log.Errorf("state: %v", err)
			}
		}()
	}
	if len(next.zones) > 1000 {
		// The first load of many zones leaves a heap of parser garbage
		// behind: hand it back to the system now rather than keep it, and
		// keep the garbage queries make small (gc.go).
		go settleHeap()
	}
	return nil
}

// reloadWith rebuilds from the files named in hint (mode scanNamed) or from
// a scan of the directory, and publishes the result if anything changed.
// The files named in deleted were deleted since they were read: if they are
// there again, their zones start afresh, with nothing of the deleted one.
// Until a first load has succeeded, it is the first load. Errors reading
// the directory keep the current generation serving.
func (m *MXZone) reloadWith(hint []string, mode scanMode, deleted ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.successor.Load() != nil {
		return nil // retired: the instance after this one reloads
	}
	if m.gen.Load() == nil {
		return m.load()
	}
	return m.update(hint, mode, deleted)
}

// update publishes the generation after the current one. The caller holds
// m.mu.
func (m *MXZone) update(hint []string, mode scanMode, deleted []string) error {
	prev := m.gen.Load()
	start := time.Now()
	if prev.verifying && mode == scanRotating {
		mode = scanAll // nothing ends the verifying but a full rescan
	}
	next, rep, err := m.loader.rebuild(prev, hint, mode, deleted)
	if err != nil {
		reloads.WithLabelValues(m.server, "error").Inc()
		log.Errorf("%s: %v; keeping the zones being served", m.loader.dir, err)
		return err
	}
	if prev.verifying {
		// As at a first load: a zone read for the first time since the
		// start that is refused serves its saved copy.
		for _, ch := range rep.changes {
			if e := ch.entry; e.zone == nil && prev.zones[e.origin] == nil && m.state.has(e.origin) {
				m.restoreOne(next, e.origin)
			}
		}
	}
	if prev.verifying && mode == scanAll {
		next = m.verified(prev, next, rep)
	}
	m.busy = append(m.busy, rep.busy...)
	for _, name := range rep.aside {
		go m.readAside(name, slices.Contains(deleted, name))
	}
	if m.signing != nil {
		m.signChanges(rep)
	}
	m.logReport(prev, rep, false)
	if next == prev {
		return nil
	}
	if m.updates != nil {
		m.recordReload(rep)
	}
	if m.state != nil {
		// On disk before it is served: a version that was ever answered
		// survives a crash at any point after.
		m.saveChanges(rep)
		if m.signing != nil {
			m.saveSigned(rep)
		}
		m.markChanged(changedOrigins(rep, next)...)
	}
	m.gen.Store(next)
	if m.signing != nil {
		m.signing.ring.markSubmitted(append(changedOrigins(rep, next), rep.removed...)...)
	}
	m.recordGeneration(next, rep, time.Since(start))
	m.logTouched(prev, next, rep)
	if m.catalog != nil {
		m.queueCatalog(prev, next, rep)
	}
	m.notifyChanged(prev, next, rep)
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
