package mxzone

import (
	"context"
	"runtime"
	"time"
)

// maxRefresh bounds the zones re-signed in one round, so that a round
// never holds reloads up for long; signatures are refreshed with a third
// of their validity left, so there is time for many rounds.
const maxRefresh = 1000

// refreshEvery is how often signatures are looked at: often enough that a
// zone is re-signed long before its signatures expire.
func (s *signing) refreshEvery() time.Duration {
	return min(max(s.validity/50, time.Second), time.Minute)
}

// refreshPause is the pause between two rounds of refresh when the first
// did not take every zone due: the rounds of a rollover step of many zones
// are spread, leaving the CPUs to the answers between them.
const refreshPause = 200 * time.Millisecond

// refreshLoop re-signs, until ctx ends, the zones whose signatures or key
// rollover step are due, the parents whose child's DS changed, and those
// an operator's request (coredns-mx dnssec) names. It wakes at the next
// step of any rollover, at the latest after refreshEvery.
func (m *MXZone) refreshLoop(ctx context.Context) {
	s, r := m.signing, m.signing.ring
	t := time.NewTimer(s.refreshEvery())
	defer t.Stop()
	retry := time.NewTicker(signRetryFirst)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
			m.retrySigning(time.Now())
			m.takeRequests()
			continue
		case <-t.C:
		case <-r.wake:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
		// More due than a round takes: the next round after the pause,
		// whatever is due (a rollover step of the zones left is too).
		wait := refreshPause
		if m.refresh(time.Now()) < maxRefresh {
			wait = s.refreshEvery()
			if at := r.nextAt.Load(); at != 0 {
				wait = max(min(wait, time.Until(time.Unix(0, at))), 0)
			}
		}
		t.Reset(wait)
	}
}

// refresh publishes a generation in which the zones due for new signatures
// at now (at most maxRefresh of them) are signed again, with a serial one
// higher, and returns how many were. The signing runs outside the reload
// lock, so that a large zone's refresh holds up no edit; a zone edited
// meanwhile keeps its edit (signed then) and is left out.
func (m *MXZone) refresh(now time.Time) int {
	g := m.gen.Load()
	if g == nil {
		return 0
	}
	lazy := *m.signing
	lazy.lazyKeys = true // keys and rollover states made below: one sync for all
	s := &lazy
	due := m.dueForSigning(g, now)
	if len(due) == 0 {
		return 0
	}
	began := time.Now()
	out := make([]*entry, len(due))
	parallel(len(due), func(i int) {
		e := due[i]
		// Only the signatures due are made anew: a rollover step or a
		// child's DS changes a few RRsets.
		var prev *signedZone
		if now.Before(e.zone.signed.refreshAt()) {
			prev = e.zone.signed
		}
		z, err := s.sign(e.zone, e.zone.signed.Serial(), now, prev)
		if err != nil {
			signings.WithLabelValues(m.server, "failed").Inc()
			log.Errorf("%s: zone %s: signatures not refreshed: %v", e.file, e.origin, err)
			return
		}
		signings.WithLabelValues(m.server, "signed").Inc()
		ne := *e
		ne.zone = withSignature(e.zone, z)
		out[i] = &ne
		// A zone at a time: the answers waiting for a CPU go first, so a
		// round of many zones delays none by more than one zone's work.
		runtime.Gosched()
	})
	if err := syncFS(s.ring.store.Dir); err != nil {
		log.Errorf("dnssec: key store %s: %v; the zones signed are not served", s.ring.store.Dir, err)
		return 0
	}
	s.ring.requestsSynced()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.successor.Load() != nil {
		return 0
	}
	prev := m.gen.Load()
	next := prev.withZones()
	var origins []string
	for i, ne := range out {
		if ne == nil || prev.zones[ne.origin] != due[i] {
			continue // failed, or the zone changed meanwhile
		}
		next.zones[ne.origin] = ne
		origins = append(origins, ne.origin)
		m.keepResigned(due[i].zone, ne.zone)
	}
	if len(origins) == 0 {
		return 0
	}
	m.publishResigned(&next, origins)
	m.recheckChildren(&next, origins)
	log.Infof("dnssec: %d zones signed again in %v (signatures due, a key rollover step, or a child's DS): %s",
		len(origins), time.Since(began).Round(time.Millisecond), someNames(origins))
	return len(due)
}

// recheckChildren has the children of the parents just signed again in g
// look at once whether their new DS is there, if their rollover waits for
// something: the served parent is known at once, not at the next check.
func (m *MXZone) recheckChildren(g *generation, parents []string) {
	soon := map[string]bool{}
	for _, p := range parents {
		for _, c := range g.zones[p].zone.signed.childDS {
			if e := g.zones[c]; e != nil && e.zone != nil && e.zone.signed != nil && !e.zone.signed.keyAt.IsZero() {
				soon[c] = true
			}
		}
	}
	if len(soon) > 0 {
		m.signing.ring.resignLater(soon)
	}
}

// dueForSigning lists the zones of g to sign again at now, at most
// maxRefresh of them: signatures or a rollover step due, a parent whose
// child's DS changed, a zone an operator's request named. It sets when
// the next rollover step of the others is.
func (m *MXZone) dueForSigning(g *generation, now time.Time) []*entry {
	r := m.signing.ring
	soon := map[string]bool{}
	for _, o := range m.parentsToResign(g, r.takeSubmitted()) {
		soon[o] = true
	}
	for _, o := range r.takeResign() {
		soon[o] = true
	}
	var due []*entry
	var next time.Time
	for _, e := range g.zones {
		if e.zone == nil || e.zone.signed == nil {
			continue
		}
		z := e.zone.signed
		switch {
		case len(due) < maxRefresh && (z.due(now) || soon[e.origin]):
			due = append(due, e)
			delete(soon, e.origin)
		case !z.keyAt.IsZero() && (next.IsZero() || z.keyAt.Before(next)):
			next = z.keyAt
		}
	}
	if len(soon) > 0 {
		r.resignLater(soon) // past the round's bound: the next round
	}
	// Set, not lowered, and without waking the loop: it is the loop that
	// asks, and it waits until then (a wake here would have it scan every
	// zone again at once, and again, for as long as a rollover lasts).
	var at int64
	if !next.IsZero() {
		at = next.UnixNano()
	}
	r.nextAt.Store(at)
	return due
}

// keepResigned records that old is served as v, signed again outside a
// reload: in the zone's journal (for IXFR) and as its signed copy. The
// caller holds m.mu and publishes with publishResigned.
func (m *MXZone) keepResigned(old, v *version) {
	origin := v.Origin()
	if m.updates != nil {
		if err := m.updates.record(origin, old, v, nil, "", false); err != nil {
			log.Errorf("update: journal of %s: %v", origin, err)
		}
	}
	if m.state != nil {
		if err := m.signing.saveCopy(m.state, v.signed, false); err != nil {
			log.Errorf("state: %v", err)
		}
	}
}

// publishResigned makes the copies keepResigned wrote durable, publishes
// next and notifies the secondaries of origins. The caller holds m.mu.
func (m *MXZone) publishResigned(next *generation, origins []string) {
	if m.state != nil {
		if err := m.state.syncAll(); err != nil {
			log.Errorf("state: %v", err)
		}
	}
	m.markChanged(origins...)
	m.gen.Store(next)
	if m.notify != nil {
		m.notify.addBulk(origins...)
	}
}
