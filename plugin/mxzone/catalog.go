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

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"

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
		if served(prev, origin) && !served(next, origin) { // not deleted and made again
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
func memberRecords(origin string, members []string) []dns.RR {
	zones := "zones." + origin
	out := make([]dns.RR, len(members))
	for i, m := range members {
		out[i] = &dns.PTR{Hdr: catalogHeader(memberID(m)+"."+zones, dns.TypePTR), Ptr: m}
	}
	slices.SortFunc(out, func(a, b dns.RR) int { return strings.Compare(a.Header().Name, b.Header().Name) })
	return out
}

// buildCatalog builds the catalog zone origin listing members.
func buildCatalog(origin string, serial uint32, members []string) (*version, error) {
	return assembleCatalog(origin, catalogRecords(origin, serial), memberRecords(origin, members))
}

// assembleCatalog merges the fixed records and the member PTRs (sorted by
// owner) into a zone.
func assembleCatalog(origin string, fixed []dns.RR, ptrs []dns.RR) (*version, error) {
	recs := make([]dns.RR, 0, len(ptrs)+len(fixed))
	recs = append(recs, ptrs...)
	recs = append(recs, fixed...)
	// The few fixed records go to their places; the PTRs are in order.
	byOwner := func(a, b dns.RR) int { return strings.Compare(a.Header().Name, b.Header().Name) }
	slices.SortStableFunc(recs[len(ptrs):], byOwner)
	for i := len(ptrs); i < len(recs); i++ {
		for j := i; j > 0 && byOwner(recs[j-1], recs[j]) > 0; j-- {
			recs[j-1], recs[j] = recs[j], recs[j-1]
		}
	}
	z, err := zone.Build(origin, recs, 0)
	if err != nil {
		return nil, err
	}
	return &version{Zone: *z, file: "catalog zone " + origin}, nil
}

// catalog holds the current catalog zone. It changes on its own clock, so
// it has its own pointer rather than a place in the generations: it is made
// again in the background after the set of served zones changed, so a
// reload never waits for it, and a burst of new or deleted zones costs one
// new catalog.
type catalog struct {
	origin string
	cur    atomic.Pointer[entry]

	mu     sync.Mutex
	queued map[string]bool // origin -> joins (true) or leaves (false) since the last build
	wake   chan struct{}
	build  sync.Mutex // one build at a time
}

func newCatalog(origin string) *catalog {
	return &catalog{origin: origin, queued: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// catalogDelay is how long the catalog builder lets changes gather.
const catalogDelay = 100 * time.Millisecond

func (m *MXZone) now() time.Time {
	if m.clock != nil {
		return m.clock()
	}
	return time.Now()
}

// startCatalog builds the catalog of the first generation, with a serial
// newer than any it had before (kept in the state directory).
func (m *MXZone) startCatalog(g *generation) {
	var last uint32
	if m.state != nil {
		last = m.state.catalogSerial()
	}
	v, err := buildCatalog(m.catalog.origin, nextSerial(last, m.now()), catalogMembers(g))
	if err != nil {
		log.Errorf("catalog zone %s: %v", m.catalog.origin, err)
		return
	}
	m.catalog.cur.Store(catalogEntry(v))
	m.saveCatalogSerial(v.Serial())
}

// queueCatalog queues the zones that joined or left the served set from
// prev to next for the catalog builder.
func (m *MXZone) queueCatalog(prev, next *generation, rep *report) {
	added, dropped := membershipDelta(prev, next, rep)
	if len(added) == 0 && len(dropped) == 0 {
		return
	}
	c := m.catalog
	c.mu.Lock()
	for _, o := range added {
		c.queued[o] = true
	}
	for _, o := range dropped {
		c.queued[o] = false
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// buildCatalogs applies queued membership changes to the catalog until ctx
// ends.
func (m *MXZone) buildCatalogs(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.catalog.wake:
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
// changes, with a newer serial, publishes it and has secondaries told.
func (m *MXZone) flushCatalog() {
	c := m.catalog
	c.build.Lock()
	defer c.build.Unlock()
	c.mu.Lock()
	queued := c.queued
	c.queued = map[string]bool{}
	c.mu.Unlock()
	cur := c.cur.Load()
	if cur == nil || len(queued) == 0 {
		return
	}
	old := cur.zone
	var added []string
	gone := map[string]bool{}
	for origin, joins := range queued {
		_, member := old.Node(memberID(origin) + ".zones." + c.origin)
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
	fresh := memberRecords(c.origin, added)
	ptrs := make([]dns.RR, 0, old.Len()+len(fresh))
	for set := range old.All {
		if set.Type() != dns.TypePTR {
			continue
		}
		for _, rr := range set.RRs() {
			if gone[rr.(*dns.PTR).Ptr] {
				continue
			}
			// Merge the new members in, in owner order.
			for len(fresh) > 0 && strings.Compare(fresh[0].Header().Name, rr.Header().Name) < 0 {
				ptrs, fresh = append(ptrs, fresh[0]), fresh[1:]
			}
			ptrs = append(ptrs, rr)
		}
	}
	ptrs = append(ptrs, fresh...)
	v, err := assembleCatalog(c.origin, catalogRecords(c.origin, nextSerial(old.Serial(), m.now())), ptrs)
	if err != nil {
		log.Errorf("catalog zone %s: %v", c.origin, err)
		return
	}
	c.cur.Store(catalogEntry(v))
	m.saveCatalogSerial(v.Serial())
	log.Infof("catalog zone %s: %d member zones (%d added, %d dropped), serial %d",
		c.origin, len(ptrs), len(added), len(gone), v.Serial())
	m.notifyCatalog()
}

func catalogEntry(v *version) *entry {
	return &entry{origin: v.Origin(), file: v.file, zone: v, status: outcomeServed}
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
