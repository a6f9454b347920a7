package mxzone

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/journal"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"

	"github.com/miekg/dns"
)

// journalPath is the journal file of origin.
func (u *updater) journalPath(origin string) string { return filepath.Join(u.journals, origin+"jnl") }

// openJournals opens the journal of every zone that has one, before the
// first load applies their changes again. A torn tail is cut with one log
// line.
func (u *updater) openJournals() {
	if err := os.MkdirAll(u.journals, 0o700); err != nil {
		log.Errorf("update: journal directory: %v", err)
		return
	}

	entries, err := os.ReadDir(u.journals)
	if err != nil {
		log.Errorf("update: journal directory: %v", err)
		return
	}
	zones := map[string]*dynZone{}
	for _, e := range entries {
		origin, ok := strings.CutSuffix(e.Name(), "jnl")
		if !ok || !strings.HasSuffix(origin, ".") || !e.Type().IsRegular() {
			continue
		}
		j, rep, err := journal.Open(filepath.Join(u.journals, e.Name()), u.journalSize)
		if err != nil {
			log.Errorf("update: journal of %s: %v", origin, err)
			continue
		}
		if rep.Dropped > 0 {
			log.Warningf("update: journal of %s: %d bytes of a torn or damaged tail dropped (a change never acknowledged)", origin, rep.Dropped)
		}
		zones[origin] = &dynZone{j: j, delta: j.Delta()}
		u.bytes.Add(j.Size())
	}
	u.mu.Lock()
	u.zones = zones
	u.mu.Unlock()
}

// record writes the step from old to next (served versions) to origin's
// journal, with the delta after it, and with sync puts it on disk before it
// returns; without, the caller syncs (syncJournal) before it acknowledges.
// key is the update's key ("": a file edit or a re-signing).
func (u *updater) record(origin string, old, next *version, delta *journal.Delta, key string, sync bool) error {
	var oz *zone.Zone
	if old != nil {
		oz = old.served()
	}
	del, add := zone.Diff(oz, next.served())
	return u.recordDiff(origin, old, next, del, add, delta, key, sync)
}

// recordDiff is record with the difference between old and next already
// made (zone.Diff), outside the reload lock.
func (u *updater) recordDiff(origin string, old, next *version, del, add []dns.RR, delta *journal.Delta, key string, sync bool) error {
	var oz *zone.Zone
	if old != nil {
		oz = old.served()
	}
	nz := next.served()
	z, err := u.zoneJournal(origin)
	if err != nil {
		return err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if delta == nil {
		delta = z.delta
	}
	d := &journal.Delta{Serial: nz.Serial(), Digest: next.unsignedDigest()}
	if delta != nil {
		d.Del, d.Add = delta.Del, delta.Add
	}
	var step *journal.Step
	if oz != nil && (len(del)+len(add) > 0 || oz.Serial() != nz.Serial()) {
		// Each list starts with its version's SOA, as IXFR sends them.
		step = &journal.Step{From: oz.Serial(), To: nz.Serial(), Time: time.Now(), Key: key,
			Del: append([]dns.RR{oz.SOA()}, del...), Add: append([]dns.RR{nz.SOA()}, add...)}
	}
	before := z.j.Size()
	err = z.j.Append(step, d, sync)
	if errors.Is(err, journal.ErrTooLarge) && step != nil {
		// A change larger than the journal: no IXFR of it (secondaries take
		// the zone whole); the delta is what must survive.
		err = z.j.Reset(d)
		if err == nil && !sync {
			err = z.j.Sync()
		}
	}
	u.bytes.Add(z.j.Size() - before)
	if err != nil {
		return err
	}
	z.delta = d
	if key != "" {
		z.lastKey, z.lastAt = key, time.Now()
		z.updates++
	}
	return nil
}

// zoneJournal returns origin's journal, opened (created) on first use.
func (u *updater) zoneJournal(origin string) (*dynZone, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if z := u.zones[origin]; z != nil {
		return z, nil
	}
	// The new file's directory entry goes to disk with the group commit.
	j, _, err := journal.OpenWith(u.journalPath(origin), u.journalSize, false)
	if err != nil {
		return nil, err
	}
	z := &dynZone{j: j}
	u.zones[origin] = z
	u.bytes.Add(j.Size())
	return z, nil
}

// syncJournal puts origin's journal on disk, with the journals of the
// updates written meanwhile (groupCommit).
func (u *updater) syncJournal() error { return u.commit.wait() }

// zone is origin's journal; nil: none.
func (u *updater) zone(origin string) *dynZone {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.zones[origin]
}

// delta is origin's dynamic changes as last recorded; nil: none.
func (u *updater) delta(origin string) *journal.Delta {
	z := u.zone(origin)
	if z == nil {
		return nil
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.delta
}

// forget closes and deletes origin's journal: its zone file is gone, and
// with it the zone and all its dynamic records (deleted means deleted).
func (u *updater) forget(origin string) {
	u.mu.Lock()
	z := u.zones[origin]
	delete(u.zones, origin)
	u.mu.Unlock()
	if z != nil {
		u.bytes.Add(-z.j.Size())
		z.j.Close()
	}
	if err := journal.Remove(u.journalPath(origin)); err != nil {
		log.Errorf("update: journal of %s: %v", origin, err)
	}
}

// steps returns the journal's steps from serial to the newest; ok is false
// when it does not reach back that far.
func (u *updater) steps(origin string, serial uint32) ([]journal.Step, bool) {
	z := u.zone(origin)
	if z == nil {
		return nil, false
	}
	return z.j.Since(serial)
}

// dynStatus is what the status API shows of a zone's dynamic changes.
type dynStatus struct {
	Deleted      int       `json:"deleted"` // records of the file UPDATE deleted
	Added        int       `json:"added"`   // records UPDATE added
	JournalBytes int64     `json:"journal_bytes"`
	FirstSerial  uint32    `json:"journal_first_serial,omitempty"`
	LastSerial   uint32    `json:"journal_last_serial,omitempty"`
	Updates      int       `json:"updates_since_start"`
	LastKey      string    `json:"last_update_key,omitempty"`
	LastUpdate   time.Time `json:"last_update,omitzero"`
}

// status is origin's dynStatus; nil: no journal.
func (u *updater) status(origin string) *dynStatus {
	z := u.zone(origin)
	if z == nil {
		return nil
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	s := &dynStatus{JournalBytes: z.j.Size(), Updates: z.updates, LastKey: z.lastKey, LastUpdate: z.lastAt}
	if z.delta != nil {
		s.Deleted, s.Added = len(z.delta.Del), len(z.delta.Add)
	}
	s.FirstSerial, s.LastSerial, _ = z.j.Range()
	return s
}

// journalBytes is the size of all journals together.
func (u *updater) journalBytes() int64 { return u.bytes.Load() }

// recordReload writes to the journals the steps of the zones a reload
// changed, for IXFR (unsynced: a step lost in a crash costs a secondary one
// AXFR, and the file holds the change).
func (m *MXZone) recordReload(rep *report) {
	for _, ch := range rep.changes {
		e := ch.entry
		if e.zone == nil || e.zone != ch.next || ch.last == nil || e.zone == ch.last {
			continue
		}
		if err := m.updates.record(e.origin, ch.last, e.zone, ch.delta, "", false); err != nil {
			log.Errorf("update: journal of %s: %v", e.origin, err)
		}
	}
	journalBytes.WithLabelValues(m.server).Set(float64(m.updates.journalBytes()))
}

// settleJournals runs after the first load: the journal of a zone whose
// file is gone is deleted (the zone was deleted while the server was down);
// the history of a zone that serves another serial than its journal leads
// to (its file changed meanwhile) starts afresh, keeping the dynamic
// changes, which the load applied.
func (m *MXZone) settleJournals(g *generation) {
	u := m.updates
	u.mu.RLock()
	origins := make([]string, 0, len(u.zones))
	for o := range u.zones {
		origins = append(origins, o)
	}
	u.mu.RUnlock()
	kept := 0
	for _, origin := range origins {
		e := g.zones[origin]
		if e == nil {
			u.forget(origin)
			log.Infof("update: zone %s is gone; its journal and dynamic records are deleted", origin)
			continue
		}
		kept++
		if e.zone == nil {
			continue
		}
		z := u.zone(origin)
		z.mu.Lock()
		_, last, ok := z.j.Range()
		if serial := e.zone.served().Serial(); ok && last != serial || z.delta != nil && z.delta.Serial != serial {
			d := &journal.Delta{Serial: serial, Digest: e.zone.unsignedDigest()}
			if z.delta != nil {
				d.Del, d.Add = z.delta.Del, z.delta.Add
			}
			if err := z.j.Reset(d); err != nil {
				log.Errorf("update: journal of %s: %v", origin, err)
			}
			z.delta = d
		}
		z.mu.Unlock()
	}
	if kept > 0 {
		log.Infof("update: %d zones with journals; their dynamic changes are served", kept)
	}
	journalBytes.WithLabelValues(m.server).Set(float64(u.journalBytes()))
}

// adopt takes the journals of the updater of the instance before (see
// takeOver).
func (u *updater) adopt(old *updater) {
	old.mu.Lock()
	zones := old.zones
	old.zones = map[string]*dynZone{}
	old.mu.Unlock()
	u.mu.Lock()
	u.zones = zones
	u.mu.Unlock()
	u.bytes.Store(old.bytes.Swap(0))
}

// closeAll closes every journal.
func (u *updater) closeAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, z := range u.zones {
		z.j.Close()
	}
	u.zones = map[string]*dynZone{}
}
