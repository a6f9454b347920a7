package mxzone

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// The catalog zone (RFC 9432, schema version 2) lists every served zone, so
// that secondaries learn from one zone transfer which zones to serve: each
// member is a PTR record at <id>.zones.<catalog>. It is served and
// transferred like any zone, and rebuilt with a higher SOA serial whenever
// the set of served zones changes.

// catalogTTL is the TTL of the catalog's records: it is read by secondaries
// through transfers, not by resolvers.
const catalogTTL = 0

// memberID is the unique label of a member zone (RFC 9432 section 4.2): a
// hash of its name, so a zone keeps its label across restarts and re-adds.
func memberID(origin string) string {
	sum := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(sum[:8])
}

// catalogMembers returns the origins served in g: with a valid version, from
// the file or kept after a refused edit.
func catalogMembers(g *generation) []string {
	members := make([]string, 0, len(g.zones))
	for origin, e := range g.zones {
		if e.zone != nil {
			members = append(members, origin)
		}
	}
	return members
}

// membershipDelta returns the zones that the build from prev to next added
// to the served set and those it took away.
func membershipDelta(prev, next *generation, rep *report) (added, dropped []string) {
	served := func(g *generation, origin string) bool {
		e := g.zones[origin]
		return e != nil && e.zone != nil
	}
	for _, origin := range rep.removed {
		if served(prev, origin) {
			dropped = append(dropped, origin)
		}
	}
	for _, ch := range rep.changes {
		origin := ch.entry.origin
		switch was, is := served(prev, origin), served(next, origin); {
		case is && !was:
			added = append(added, origin)
		case was && !is:
			dropped = append(dropped, origin)
		}
	}
	return added, dropped
}

// nextSerial is the catalog serial after last: the time in seconds, or one
// more than last when that is not newer in serial arithmetic (RFC 1982).
func nextSerial(last uint32, now time.Time) uint32 {
	s := uint32(now.Unix())
	if last != 0 && !serialNewer(s, last) {
		s = last + 1
	}
	return s
}

// serialNewer reports whether serial a is newer than b (RFC 1982).
func serialNewer(a, b uint32) bool { return a != b && int32(a-b) > 0 }

// catalogRecords returns the records of the catalog zone origin other than
// its member PTRs, SOA first.
func catalogRecords(origin string, serial uint32) []dns.RR {
	// The SOA and NS carry nothing: RFC 9432 section 4.1 says no one is
	// meant to resolve through them, and "invalid." says so.
	return []dns.RR{
		&dns.SOA{Hdr: catalogHeader(origin, dns.TypeSOA), Ns: "invalid.", Mbox: "invalid.", Serial: serial,
			Refresh: 3600, Retry: 600, Expire: 2147483646, Minttl: 0},
		&dns.NS{Hdr: catalogHeader(origin, dns.TypeNS), Ns: "invalid."},
		&dns.TXT{Hdr: catalogHeader("version."+origin, dns.TypeTXT), Txt: []string{"2"}},
	}
}

func catalogHeader(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: catalogTTL}
}

// memberRecords returns the PTR records of members, sorted by owner.
func memberRecords(origin string, members []string) []sourcedRR {
	zones := "zones." + origin
	out := make([]sourcedRR, len(members))
	for i, m := range members {
		out[i] = sourcedRR{rr: &dns.PTR{Hdr: catalogHeader(memberID(m)+"."+zones, dns.TypePTR), Ptr: m}}
	}
	slices.SortFunc(out, func(a, b sourcedRR) int { return strings.Compare(a.rr.Header().Name, b.rr.Header().Name) })
	return out
}

// buildCatalog builds the catalog zone origin listing members.
func buildCatalog(origin string, serial uint32, members []string) *Zone {
	return assembleCatalog(origin, catalogRecords(origin, serial), memberRecords(origin, members))
}

// assembleCatalog merges the fixed records and the member PTRs (sorted by
// owner) into a zone.
func assembleCatalog(origin string, fixed []dns.RR, ptrs []sourcedRR) *Zone {
	recs := make([]sourcedRR, 0, len(ptrs)+len(fixed))
	recs = append(recs, ptrs...)
	for _, rr := range fixed {
		recs = append(recs, sourcedRR{rr: rr})
	}
	// The few fixed records go to their places; the PTRs are in order.
	slices.SortStableFunc(recs[len(ptrs):], func(a, b sourcedRR) int {
		return strings.Compare(a.rr.Header().Name, b.rr.Header().Name)
	})
	for i := len(ptrs); i < len(recs); i++ {
		for j := i; j > 0 && strings.Compare(recs[j-1].rr.Header().Name, recs[j].rr.Header().Name) > 0; j-- {
			recs[j-1], recs[j] = recs[j], recs[j-1]
		}
	}
	return buildZone(origin, "catalog zone "+origin, nil, recs)
}

// catalogSlot holds the current catalog zone. Every generation points at
// the same slot: the catalog is made again in the background after the set
// of served zones changed, so a reload never waits for it, and a burst of
// new or deleted zones costs one new catalog.
type catalogSlot struct {
	origin string
	cur    atomic.Pointer[entry]

	mu      sync.Mutex
	pending map[string]bool // origin -> joins (true) or leaves (false) since the last build
	wake    chan struct{}
	build   sync.Mutex // one build at a time
}

// catalogDelay is how long the catalog builder lets changes gather.
const catalogDelay = 100 * time.Millisecond

// slot returns the catalog slot, made on first use.
func (m *MXZone) slot() *catalogSlot {
	if m.cat == nil {
		m.cat = &catalogSlot{origin: m.catalog, pending: map[string]bool{}, wake: make(chan struct{}, 1)}
	}
	return m.cat
}

func (m *MXZone) now() time.Time {
	if m.clock != nil {
		return m.clock()
	}
	return time.Now()
}

// updateCatalog points next at the catalog. At the first load it builds the
// catalog at once; later it queues the zones that joined or left the served
// set for the catalog builder.
func (m *MXZone) updateCatalog(prev, next *generation, rep *report) {
	if m.catalog == "" {
		return
	}
	slot := m.slot()
	next.catalog = slot
	if prev == nil {
		var last uint32
		if m.state != nil {
			last = m.state.catalogSerial()
		}
		z := buildCatalog(m.catalog, nextSerial(last, m.now()), catalogMembers(next))
		slot.cur.Store(catalogEntry(z))
		m.saveCatalogSerial(z.soa.Serial)
		return
	}
	added, dropped := membershipDelta(prev, next, rep)
	if len(added) == 0 && len(dropped) == 0 {
		return
	}
	slot.mu.Lock()
	for _, o := range added {
		slot.pending[o] = true
	}
	for _, o := range dropped {
		slot.pending[o] = false
	}
	slot.mu.Unlock()
	select {
	case slot.wake <- struct{}{}:
	default:
	}
}

// buildCatalogs applies queued membership changes to the catalog until ctx
// ends.
func (m *MXZone) buildCatalogs(ctx context.Context) {
	slot := m.slot()
	for {
		select {
		case <-ctx.Done():
			return
		case <-slot.wake:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(catalogDelay):
		}
		m.flushCatalog()
	}
}

// flushCatalog makes the next catalog from the current one and the queued
// changes, with a newer serial, publishes it, and notifies secondaries.
func (m *MXZone) flushCatalog() {
	slot := m.slot()
	slot.build.Lock()
	defer slot.build.Unlock()
	slot.mu.Lock()
	pending := slot.pending
	slot.pending = map[string]bool{}
	slot.mu.Unlock()
	cur := slot.cur.Load()
	if cur == nil || len(pending) == 0 {
		return
	}
	old := cur.zone
	var added []string
	gone := map[string]bool{}
	for origin, joins := range pending {
		_, member := slices.BinarySearch(old.owners, memberID(origin)+".zones."+m.catalog)
		switch {
		case joins && !member:
			added = append(added, origin)
		case !joins && member:
			gone[origin] = true
		}
	}
	if len(added) == 0 && len(gone) == 0 {
		return
	}
	fresh := memberRecords(m.catalog, added)
	ptrs := make([]sourcedRR, 0, old.count+len(fresh))
	for _, set := range old.sets {
		if set.rtype != dns.TypePTR {
			continue
		}
		for _, rr := range set.rrs {
			if gone[rr.(*dns.PTR).Ptr] {
				continue
			}
			// Merge the new members in, in owner order.
			for len(fresh) > 0 && strings.Compare(fresh[0].rr.Header().Name, rr.Header().Name) < 0 {
				ptrs, fresh = append(ptrs, fresh[0]), fresh[1:]
			}
			ptrs = append(ptrs, sourcedRR{rr: rr})
		}
	}
	ptrs = append(ptrs, fresh...)
	z := assembleCatalog(m.catalog, catalogRecords(m.catalog, nextSerial(old.soa.Serial, m.now())), ptrs)
	slot.cur.Store(catalogEntry(z))
	m.saveCatalogSerial(z.soa.Serial)
	m.notify.add(m.catalog)
	log.Infof("catalog zone %s: %d member zones (%d added, %d dropped), serial %d",
		m.catalog, len(ptrs), len(added), len(gone), z.soa.Serial)
}

func catalogEntry(z *Zone) *entry {
	return &entry{origin: z.Origin, file: z.File, zone: z, state: stateServed}
}

// notifyChanged queues a NOTIFY for every zone whose served version changed
// from prev to next, and for the catalog when it changed. After the first
// load, secondaries may have missed changes made while the server was down:
// with a state directory the zones whose file is newer than their saved copy
// are notified (see saveChanges), without one every zone is, behind any
// edit.
func (m *MXZone) notifyChanged(prev, next *generation, rep *report) {
	if m.notify == nil {
		return
	}
	var zones []string
	if prev == nil {
		if m.state == nil {
			m.notify.addBulk(catalogMembers(next)...)
		}
	} else {
		for _, ch := range rep.changes {
			origin := ch.entry.origin
			e := next.zones[origin]
			if e == nil || e.zone == nil {
				continue
			}
			old := prev.zones[origin]
			if old != nil && old.zone == e.zone {
				continue
			}
			if old == nil && next.catalog != nil {
				// A new file: secondaries learn of it from the catalog's
				// NOTIFY, and do not know the zone before that.
				continue
			}
			zones = append(zones, origin)
			if old != nil && old.zone != nil && !serialNewer(e.zone.soa.Serial, old.zone.soa.Serial) {
				log.Warningf("%s: zone %s changed but its SOA serial %d is not newer than %d: secondaries keep the old version until the serial increases",
					e.file, origin, e.zone.soa.Serial, old.zone.soa.Serial)
			}
		}
	}
	if prev == nil && next.catalog != nil {
		zones = append(zones, next.catalog.origin)
	}
	m.notify.add(zones...)
}

// saveCatalogSerial keeps serial in the state directory, if there is one.
func (m *MXZone) saveCatalogSerial(serial uint32) {
	if m.state == nil {
		return
	}
	if err := m.state.saveCatalogSerial(serial); err != nil {
		log.Errorf("state: %v", err)
	}
}
