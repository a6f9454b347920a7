package mxzone

import (
	"maps"
	"slices"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/journal"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"

	"github.com/miekg/dns"
)

// updateFile is what a finding names as the file of a record that an UPDATE
// added: it has no line in any file.
const updateFile = "UPDATE"

// dynamic is what a new version of a zone's file must carry over from the
// version served before it when the server takes updates: the changes made
// by UPDATE since the file was last read (kept in the zone's journal), and
// the serial served, so that the new one is newer (RFC 1982) whatever the
// file says.
//
// A file edit is applied as a difference, as Knot's `zonefile-load:
// difference` does: a record the UPDATE deleted stays deleted while the
// file still has it, and comes back once the file drops it and writes it
// again; a record the UPDATE added stays until the file writes it too
// (then it is the file's) or an UPDATE deletes it. An added record takes
// the place of a record of the file with the same data (its TTL wins).
type dynamic struct {
	del, add []dns.RR
	serial   uint32   // the serial served before; 0: none
	digest   [32]byte // the content served before (unsigned): the same content keeps its serial
	// next is the serial after last for new content whose file says file
	// (the serial policy).
	next func(file, last uint32) uint32
}

// rrKey groups records by owner and type, so that matching a delta
// against a zone of any size costs a map look-up per record.
type rrKey struct {
	name string
	t    uint16
}

func keyOf(rr dns.RR) rrKey {
	return rrKey{strings.ToLower(rr.Header().Name), rr.Header().Rrtype}
}

// index groups rrs by owner and type.
func index(rrs []dns.RR) map[rrKey][]dns.RR {
	out := make(map[rrKey][]dns.RR, len(rrs))
	for _, rr := range rrs {
		k := keyOf(rr)
		out[k] = append(out[k], rr)
	}
	return out
}

// pruned returns the delta as it stands against the file's records: the
// deletions of records the file no longer has, and the additions the file
// now has itself, are done with.
func (d *dynamic) pruned(file []zonefile.Record) (del, add []dns.RR) {
	if len(d.del)+len(d.add) == 0 {
		return nil, nil
	}
	byKey := map[rrKey][]dns.RR{}
	for _, r := range file {
		k := keyOf(r.RR)
		byKey[k] = append(byKey[k], r.RR)
	}
	inFile := func(rr dns.RR, exact bool) bool {
		return slices.ContainsFunc(byKey[keyOf(rr)], func(f dns.RR) bool {
			return sameRecord(f, rr) && (!exact || f.Header().Ttl == rr.Header().Ttl)
		})
	}
	soaDeleted := false
	for _, rr := range d.del {
		if inFile(rr, false) {
			del = append(del, rr)
			soaDeleted = soaDeleted || rr.Header().Rrtype == dns.TypeSOA
		}
	}
	for _, rr := range d.add {
		// An SOA given by UPDATE replaces the file's SOA as it was then;
		// once the file writes another, the file's is served.
		if rr.Header().Rrtype == dns.TypeSOA && !soaDeleted {
			continue
		}
		if !inFile(rr, true) {
			add = append(add, rr)
		}
	}
	return del, add
}

// sameRecord is dns.IsDuplicate, but two SOA records that differ only in
// the serial are the same: the server chooses the served serial.
func sameRecord(a, b dns.RR) bool {
	sa, ok1 := a.(*dns.SOA)
	sb, ok2 := b.(*dns.SOA)
	if ok1 && ok2 {
		c := *sb
		c.Serial = sa.Serial
		return dns.IsDuplicate(sa, &c)
	}
	return dns.IsDuplicate(a, b)
}

// applyDelta returns the records of the file with the delta applied.
func applyDelta(file []zonefile.Record, del, add []dns.RR) []zonefile.Record {
	if len(del)+len(add) == 0 {
		return file
	}
	gone := index(append(slices.Clone(del), add...))
	out := make([]zonefile.Record, 0, len(file)+len(add))
	for _, r := range file {
		if !slices.ContainsFunc(gone[keyOf(r.RR)], func(rr dns.RR) bool { return sameRecord(r.RR, rr) }) {
			out = append(out, r)
		}
	}
	for _, rr := range add {
		out = append(out, zonefile.Record{RR: dns.Copy(rr), File: updateFile})
	}
	return out
}

// compose returns the delta after one more update deleted del and added
// add (records as served, exact TTLs). A record the delta added and the
// update deletes leaves the delta; a file record the update deletes is a
// deletion; a deleted file record added back exactly as it was cancels its
// deletion, and one added with another TTL replaces it (the deletion stays,
// so that deleting the addition later does not bring the file's back). An
// SOA that only changed its serial is no change: the serial is the
// server's.
func compose(old *journal.Delta, del, add []dns.RR) *journal.Delta {
	var oldDel, oldAdd []dns.RR
	if old != nil {
		oldDel, oldAdd = old.Del, old.Add
	}
	dels, adds := index(oldDel), index(oldAdd)
	delSet, addSet := index(del), index(add)
	has := func(m map[rrKey][]dns.RR, rr dns.RR, exact bool) bool {
		return slices.ContainsFunc(m[keyOf(rr)], func(o dns.RR) bool {
			return sameRecord(o, rr) && (!exact || o.Header().Ttl == rr.Header().Ttl)
		})
	}
	drop := func(m map[rrKey][]dns.RR, rr dns.RR, exact bool) {
		k := keyOf(rr)
		m[k] = slices.DeleteFunc(m[k], func(o dns.RR) bool {
			return sameRecord(o, rr) && (!exact || o.Header().Ttl == rr.Header().Ttl)
		})
	}
	put := func(m map[rrKey][]dns.RR, rr dns.RR) {
		k := keyOf(rr)
		m[k] = append(m[k], rr)
	}
	for _, rr := range del {
		switch {
		case rr.Header().Rrtype == dns.TypeSOA && has(addSet, rr, false):
		case has(adds, rr, true):
			drop(adds, rr, true)
		case !has(dels, rr, false):
			put(dels, rr)
		}
	}
	for _, rr := range add {
		switch {
		case rr.Header().Rrtype == dns.TypeSOA && has(delSet, rr, false):
		case has(dels, rr, true):
			drop(dels, rr, true) // the file's record, back as it was
		default:
			drop(adds, rr, false)
			put(adds, rr)
		}
	}
	return &journal.Delta{Del: flatten(dels), Add: flatten(adds)}
}

// flatten lists the records of m in owner and type order.
func flatten(m map[rrKey][]dns.RR) []dns.RR {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b rrKey) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return int(a.t) - int(b.t)
	})
	var out []dns.RR
	for _, k := range keys {
		out = append(out, m[k]...)
	}
	return out
}

// withSerial sets the apex SOA serial of recs (sorted or not) to serial.
func withSerial(origin string, recs []zonefile.Record, serial uint32) {
	for i, r := range recs {
		if soa, ok := r.RR.(*dns.SOA); ok && soa.Hdr.Name == origin {
			c := *soa
			c.Serial = serial
			recs[i].RR = &c
		}
	}
}

// fileSerial is the apex SOA serial of recs; 0 without one.
func fileSerial(origin string, recs []zonefile.Record) uint32 {
	for _, r := range recs {
		if soa, ok := r.RR.(*dns.SOA); ok && soa.Hdr.Name == origin {
			return soa.Serial
		}
	}
	return 0
}

// dynamicFor is what a new version of origin carries over from served (nil:
// none served); nil when the server takes no updates.
func (l *loader) dynamicFor(origin string, served *version) *dynamic {
	if l.dynamic == nil {
		return nil
	}
	return l.dynamic.dynamicFor(origin, served)
}
