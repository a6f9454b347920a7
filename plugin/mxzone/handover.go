package mxzone

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// live maps a zone and state directory to the plugin serving them now.
// When a new server instance starts in the same process (a Corefile
// reload, or a restart for new TSIG keys), its plugin takes over from the
// one before: the old one stops its loops and hands every request on, so
// that no update lands in the old one's journals after the new one has
// read them. With the same configuration the new one also takes the
// published zones, the journals and the loader's state as they are,
// instead of reading a million files again. This is process-wide state
// because the instances themselves are: caddy starts the new one before it
// stops the old.
var live struct {
	mu sync.Mutex
	by map[string]*MXZone
}

// liveKey names what two instances must not both write.
func (m *MXZone) liveKey() string {
	state := ""
	if m.state != nil {
		state = m.state.dir
	}
	return m.loader.dir + "\x00" + state
}

// takeOver registers m as the plugin serving its directories and retires
// the one before, if any. It returns whether m took the old one's zones
// (same configuration): then m.load is not needed. The caller holds m.mu.
func (m *MXZone) takeOver() bool {
	live.mu.Lock()
	if live.by == nil {
		live.by = map[string]*MXZone{}
	}
	key := m.liveKey()
	old := live.by[key]
	live.by[key] = m
	live.mu.Unlock()
	if old == nil || old == m {
		return false
	}
	old.mu.Lock()
	defer old.mu.Unlock()
	if old.cancel != nil {
		old.cancel() // its reload, refresh, notify and policy loops
	}
	old.successor.Store(m)
	g := old.gen.Load()
	if g == nil || old.config() != m.config() {
		if old.updates != nil {
			old.updates.closeAll() // m reads the journals itself
		}
		return false
	}
	m.loader = old.loader
	m.reported, m.busy, m.unsaved, m.snaps = old.reported, old.busy, old.unsaved, old.snaps
	if m.updates != nil {
		m.loader.dynamic = m.updates
		m.updates.adopt(old.updates)
	}
	if m.catalog != nil && old.catalog != nil {
		m.catalog.cur.Store(old.catalog.cur.Load())
	}
	m.gen.Store(g)
	log.Infof("%d zones taken over from the instance before, with their journals and signatures", len(g.zones))
	return true
}

// config is what decides how zones are read, checked and signed: two
// instances with the same can share published zones.
func (m *MXZone) config() string {
	l := m.loader
	var b []byte
	b = fmt.Appendf(b, "%q %q %v %+v %q %q %q %q %q", l.dir, l.origins, l.policy, l.limits,
		slices.Sorted(maps.Keys(l.protected)), l.includes, l.publicSuffixes, l.catalog, m.Origins)
	if m.state != nil {
		b = fmt.Appendf(b, " state %q", m.state.dir)
	}
	if s := m.signing; s != nil {
		r := s.ring
		b = fmt.Appendf(b, " dnssec %d %v %v %q %q %q %+v %v %q %v %q", s.alg, s.nsec3, s.validity, s.zones, r.store.Dir, s.copies,
			r.policy, r.dsTTL, r.parents, r.dsEvery, r.noChildDS)
	}
	if u := m.updates; u != nil {
		b = fmt.Appendf(b, " update %q %q %d %d", u.dir, u.journals, u.journalSize, u.serial)
	}
	return string(b)
}

// release takes m out of the live set, if it is still in it.
func (m *MXZone) release() {
	live.mu.Lock()
	defer live.mu.Unlock()
	if live.by[m.liveKey()] == m {
		delete(live.by, m.liveKey())
	}
}
