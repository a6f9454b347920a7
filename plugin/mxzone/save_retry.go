package mxzone

import (
	"context"
	"time"
)

// A copy that could not be saved (a full disk, a state directory that
// went read-only) is saved again later, with a growing pause: otherwise a
// restart after the disk is freed would serve an older version than the
// one that was served before it (RELIABILITY.md).
const (
	retryFirst = time.Second
	retryMax   = time.Minute
)

// retrySaves saves the unsaved copies again until ctx ends: every
// retryFirst while there are none, then backing off to retryMax while
// saves keep failing.
func (m *MXZone) retrySaves(ctx context.Context) {
	wait := retryFirst
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		m.mu.Lock()
		left := m.saveUnsaved()
		m.mu.Unlock()
		if left == 0 {
			wait = retryFirst
		} else {
			wait = min(2*wait, retryMax)
		}
	}
}

// saveUnsaved saves the served version of every zone whose copy is not
// saved, and returns how many are still not. The caller holds m.mu.
func (m *MXZone) saveUnsaved() int {
	if len(m.unsaved) == 0 {
		return 0
	}
	g := m.gen.Load()
	var failed error
	for origin := range m.unsaved {
		e := g.zones[origin]
		if e == nil || e.zone == nil || e.zone.saved {
			delete(m.unsaved, origin) // gone, or served from its copy
			continue
		}
		if err := m.state.save(e.zone, true); err != nil {
			failed = err
			continue
		}
		delete(m.unsaved, origin)
	}
	unsavedGauge.WithLabelValues(m.server).Set(float64(len(m.unsaved)))
	if failed != nil {
		log.Errorf("state: %d zone copies still not saved: %v", len(m.unsaved), failed)
	} else {
		log.Infof("state: the zone copies not saved before are saved")
	}
	return len(m.unsaved)
}

// markUnsaved remembers that origin's served version has no saved copy.
// The caller holds m.mu.
func (m *MXZone) markUnsaved(origin string) {
	if m.unsaved == nil {
		m.unsaved = map[string]bool{}
	}
	m.unsaved[origin] = true
}
