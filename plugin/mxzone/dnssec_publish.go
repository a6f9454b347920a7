package mxzone

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Signing in the flow of generations: a version is signed after it passed
// every check and before the generation holding it is published; the
// published generation is never changed, and a refresh of signatures is a
// generation of its own.

// signFirst signs the zones of the first generation before it is
// published: each from its signed copy when the copy signs exactly the
// version served and is not due for refresh, else afresh (new keys made
// for zones that have none). It returns the origins whose signed copy is
// to be written.
func (m *MXZone) signFirst(g *generation) []string {
	s := m.signing
	var todo []*entry
	for _, e := range g.zones {
		if e.zone != nil && s.covers(e.origin) {
			todo = append(todo, e)
		}
	}
	now := time.Now()
	out := make([]*version, len(todo))
	fresh := make([]bool, len(todo))
	errs := make([]error, len(todo))
	lazy := *s
	lazy.lazyKeys = true // one sync for every key made below
	p := m.loader.track(startProgress("dnssec: zones signed or read from their signed copies", len(todo), m.loader.progressEvery(), m.loader.progressLog))
	defer m.loader.untrack(p)
	parallel(len(todo), func(i int) {
		defer p.add()
		v := todo[i].zone
		old, last := m.servedBefore(v)
		if old.signs(v, s, now) {
			out[i] = withSignature(v, old)
			return
		}
		z, err := lazy.sign(v, last, now, old)
		if err != nil {
			errs[i] = err
			return
		}
		out[i], fresh[i] = withSignature(v, z), true
	})
	var made []string
	defer func() {
		failed := countErrs(errs)
		signings.WithLabelValues(m.server, "signed").Add(float64(len(made)))
		signings.WithLabelValues(m.server, "kept").Add(float64(len(todo) - len(made) - failed))
		signings.WithLabelValues(m.server, "failed").Add(float64(failed))
	}()
	for i, e := range todo {
		if errs[i] != nil {
			log.Errorf("%s: zone %s is served unsigned: %v; signing is retried with back-off", e.file, e.origin, errs[i])
			m.retrySign(e.origin, e.zone, now)
			continue
		}
		e.zone = out[i]
		if fresh[i] {
			made = append(made, e.origin)
		}
	}
	if len(made) > 0 {
		if err := syncFS(s.ring.store.Dir); err != nil {
			log.Errorf("dnssec: key store %s: %v", s.ring.store.Dir, err)
		} else {
			s.ring.requestsSynced()
		}
	}
	if len(todo) > 0 {
		log.Infof("dnssec: %d zones signed, %d served from their signed copies, in %v", len(made), len(todo)-len(made)-countErrs(errs),
			time.Since(now).Round(time.Millisecond))
	}
	return made
}

// servedBefore is what the state directory knows of the zone of v, read
// with no version served before it in this run: its signed copy, and the
// serial it was served with (0: none known).
func (m *MXZone) servedBefore(v *version) (*signedZone, uint32) {
	old := m.signing.loadCopy(v.Origin())
	switch {
	case old != nil:
		return old, old.Serial()
	case m.state != nil && m.state.has(v.Origin()):
		// Served before, unsigned (dnssec newly turned on, or its signing
		// failed): the signed version's serial goes up.
		return nil, v.Serial()
	}
	return nil, 0
}

func countErrs(errs []error) int {
	n := 0
	for _, err := range errs {
		if err != nil {
			n++
		}
	}
	return n
}

// syncFS makes everything written in dir's file system durable.
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}

// signChanges signs the versions a rebuild made served, before the
// generation is published. An unchanged content keeps its signatures and
// serial. A zone that cannot be signed keeps serving its last signed
// version, if it has one.
func (m *MXZone) signChanges(rep *report) {
	s := m.signing
	var todo []*change
	for _, ch := range rep.changes {
		if e := ch.entry; e.zone != nil && e.zone == ch.next && e.zone.signed == nil && s.covers(e.origin) {
			todo = append(todo, ch)
		}
	}
	now := time.Now()
	failed := make([]*version, len(todo))
	defer func() {
		for i, v := range failed {
			m.retrySign(todo[i].entry.origin, v, now)
		}
	}()
	parallel(len(todo), func(i int) {
		ch := todo[i]
		e := ch.entry
		// The serial served before, signed or not: a zone signed for the
		// first time, or again after a failure, goes up too (RFC 1982).
		var last *signedZone
		serial := uint32(0)
		if ch.last != nil {
			last, serial = ch.last.signed, ch.last.Serial()
		} else if m.state != nil {
			last, serial = m.servedBefore(ch.next) // first read since the start
		}
		if last.signs(ch.next, s, now) {
			ch.next = withSignature(ch.next, last)
			e.zone = ch.next
			signings.WithLabelValues(m.server, "kept").Inc()
			return
		}
		if pre := ch.presigned; pre != nil && ch.signedAfter == serial && pre.signs(ch.next, s, now) {
			ch.next = withSignature(ch.next, pre)
			e.zone = ch.next
			signings.WithLabelValues(m.server, "signed").Inc()
			return
		}
		z, err := s.sign(ch.next, serial, now, last)
		if err != nil {
			signings.WithLabelValues(m.server, "failed").Inc()
			failed[i] = ch.next
			if last != nil {
				log.Errorf("%s: zone %s cannot be signed (%v); its last signed version, serial %d, stays served; retried with back-off",
					e.file, e.origin, err, last.Serial())
				e.zone, e.status, e.heldBack = ch.last, outcomeLastGood, ch.next
				return
			}
			log.Errorf("%s: zone %s is served unsigned: %v; signing is retried with back-off", e.file, e.origin, err)
			return
		}
		ch.next = withSignature(ch.next, z)
		e.zone = ch.next
		signings.WithLabelValues(m.server, "signed").Inc()
	})
}

// saveSigned writes the signed copies of the versions a reload made served,
// durably, and drops those of removed zones.
func (m *MXZone) saveSigned(rep *report) {
	s := m.signing
	for _, origin := range rep.removed {
		s.removeCopy(origin)
	}
	for _, ch := range rep.changes {
		if e := ch.entry; e.zone != nil && e.zone == ch.next && e.zone.signed != nil {
			if err := s.saveCopy(m.state, e.zone.signed, true); err != nil {
				log.Errorf("state: %v", err)
			}
		}
	}
}

// saveSignedFirst writes the signed copies made at the first load, with
// one sync for all.
func (m *MXZone) saveSignedFirst(g *generation, origins []string) {
	saved := 0
	for _, origin := range origins {
		if e := g.zones[origin]; e != nil && e.zone != nil && e.zone.signed != nil {
			if err := m.signing.saveCopy(m.state, e.zone.signed, false); err != nil {
				log.Errorf("state: %v", err)
				continue
			}
			saved++
		}
	}
	if err := m.state.syncAll(); err != nil {
		log.Errorf("state: %v", err)
	}
	log.Infof("dnssec: %d signed copies saved in %s", saved, m.signing.copies)
}
