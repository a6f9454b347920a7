package mxzone

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/coredns/coredns/plugin"
)

// OnStartup loads the zones, then starts the reload loop. Calling it again
// (a Corefile reload starts a new instance while this one lives) is a no-op.
func (m *MXZone) OnStartup() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		return nil
	}
	if m.state != nil {
		if err := os.MkdirAll(m.state.dir, 0o700); err != nil {
			if m.signing != nil {
				return plugin.Error(pluginName, fmt.Errorf("state directory (keys and signed copies): %w", err))
			}
			log.Errorf("state directory: %v; running without saved copies", err)
			m.state = nil
		}
	}
	if s := m.signing; s != nil {
		m.wireChildDS()
		for _, dir := range []string{s.ring.store.Dir, s.copies} {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				// Serving unsigned what a parent may have a DS for would
				// make it fail to validate: do not start.
				return plugin.Error(pluginName, fmt.Errorf("dnssec: %w", err))
			}
		}
	}
	adopted := m.takeOver()
	if m.updates != nil {
		if !adopted {
			m.updates.openJournals()
		}
		m.updates.readPolicies()
	}
	var d *dirWatch
	var werr error
	if m.interval > 0 {
		d, werr = newDirWatch(m.loader.dir)
		m.aside = make(chan struct{}, 1)
		if s := m.signing; s != nil {
			m.loader.signsAside = func(v *version) bool { return v.Len() > signInlineRecords && s.covers(v.Origin()) }
		}
	}
	if m.status != nil {
		// Up before the first load: it shows the load's progress.
		if err := m.status.start(); err != nil {
			return plugin.Error(pluginName, fmt.Errorf("status %s: %w", strings.Join(m.status.addrs, " "), err))
		}
	}
	if !adopted {
		if err := m.load(); err != nil {
			// The directory went away between setup and start: answer SERVFAIL
			// until it is back, rather than not starting at all.
			log.Errorf("no zones loaded yet: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	if m.notify != nil {
		go m.notify.run(ctx, m.server)
	}
	if m.catalog != nil {
		go m.buildCatalogs(ctx)
	}
	if m.state != nil {
		go m.retrySaves(ctx)
	}
	if m.snaps != nil {
		go m.snapshotLoop(ctx)
	}
	if m.signing != nil {
		go m.refreshLoop(ctx)
	}
	if m.interval > 0 {
		go m.run(ctx, m.interval, d, werr)
	}
	if m.updates != nil {
		go m.watchPolicies(ctx)
	}
	return nil
}

// OnShutdown stops the reload loop. It is safe to call more than once.
func (m *MXZone) OnShutdown() error {
	m.mu.Lock()
	if m.cancel != nil {
		m.cancel()
	}
	if m.status != nil {
		m.status.stop()
	}
	m.mu.Unlock()
	m.stateWrites.Wait() // the copies of the first load, if still being written
	m.release()
	return nil
}
