package mxzone

import (
	"maps"
	"slices"
	"time"
)

// A zone whose signing failed (the key store or state directory not
// writable, say) keeps serving what it served, and the version that could
// not be signed is signed again with back-off until it is: from
// signRetryFirst, doubling up to signRetryMax.
const (
	signRetryFirst = time.Second
	signRetryMax   = 5 * time.Minute
)

// signRetry is a version waiting to be signed again.
type signRetry struct {
	v    *version
	wait time.Duration
	next time.Time
}

// retrySign schedules v, which could not be signed at now, for another try;
// v nil forgets origin's retry (signed, or the zone changed). The caller
// holds m.mu.
func (m *MXZone) retrySign(origin string, v *version, now time.Time) {
	if v == nil {
		delete(m.signFailed, origin)
		return
	}
	if m.signFailed == nil {
		m.signFailed = map[string]*signRetry{}
	}
	r := m.signFailed[origin]
	switch {
	case r == nil || r.v != v:
		r = &signRetry{v: v, wait: signRetryFirst}
		m.signFailed[origin] = r
	default:
		r.wait = min(2*r.wait, signRetryMax)
	}
	r.next = now.Add(r.wait)
}

// retrySigning signs again the versions due at now (retrySign), outside the
// reload lock, and publishes those that are still waiting: the served
// content changes, so the serial goes up (from the one served). It logs one
// line a round whatever the number of zones, and returns how many were
// signed.
func (m *MXZone) retrySigning(now time.Time) int {
	m.mu.Lock()
	var due []string
	var want []*signRetry
	for _, origin := range slices.Sorted(maps.Keys(m.signFailed)) {
		if r := m.signFailed[origin]; !now.Before(r.next) {
			due, want = append(due, origin), append(want, r)
		}
	}
	m.mu.Unlock()
	if len(due) == 0 {
		return 0
	}
	g := m.gen.Load()
	s := m.signing
	out := make([]*entry, len(due))
	parallel(len(due), func(i int) {
		e, v := g.zones[due[i]], want[i].v
		if e == nil || e.zone == nil || e.heldBack != v && e.zone != v {
			return // changed since: its new version is signed in its reload
		}
		z, err := s.sign(v, e.zone.Serial(), now, e.zone.signed)
		if err != nil {
			return
		}
		ne := *e
		ne.zone, ne.heldBack = withSignature(v, z), nil
		if e.heldBack == v {
			ne.status = outcomeServed
		}
		out[i] = &ne
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.successor.Load() != nil {
		return 0
	}
	prev := m.gen.Load()
	next := prev.withZones()
	var signed, failed []string
	for i, ne := range out {
		origin := due[i]
		if m.signFailed[origin] != want[i] {
			continue // scheduled again meanwhile
		}
		e := prev.zones[origin]
		switch {
		case e == nil || e != g.zones[origin] && (e.heldBack != want[i].v && e.zone != want[i].v):
			m.retrySign(origin, nil, now) // the zone changed or went: nothing to retry
		case ne == nil || e != g.zones[origin]:
			failed = append(failed, origin)
			m.retrySign(origin, want[i].v, now)
		default:
			next.zones[origin] = ne
			signed = append(signed, origin)
			m.retrySign(origin, nil, now)
			signings.WithLabelValues(m.server, "signed").Inc()
			m.keepResigned(e.zone, ne.zone)
		}
	}
	if len(failed) > 0 {
		signings.WithLabelValues(m.server, "failed").Add(float64(len(failed)))
		log.Errorf("dnssec: %d zones still cannot be signed, retried with back-off: %s", len(failed), someNames(failed))
	}
	if len(signed) == 0 {
		return 0
	}
	// A version signed at last is no longer held back (the dependency
	// index is the same: the records are).
	next.waiting = slices.DeleteFunc(slices.Clone(prev.waiting), func(o string) bool { return next.zones[o].heldBack == nil })
	m.publishResigned(&next, signed)
	log.Infof("dnssec: %d zones signed after an earlier failure, with a higher serial: %s", len(signed), someNames(signed))
	return len(signed)
}
