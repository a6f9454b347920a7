package zone

import (
	"strings"

	"github.com/miekg/dns"
)

// Equal reports whether s and o hold the same records: type, class, TTL
// and RDATA in wire form, in the same order (as Build stores them).
func (s RRset) Equal(o RRset) bool {
	if s.Type() != o.Type() || s.class() != o.class() || s.ttl() != o.ttl() || s.Len() != o.Len() {
		return false
	}
	a, b := s.off(), o.off()
	for range s.Len() {
		var ra, rb []byte
		ra, a = s.z.next(a)
		rb, b = o.z.next(b)
		if string(ra) != string(rb) {
			return false
		}
	}
	return true
}

// Diff lists the records of old that next does not hold and those of next
// that old does not, RRset by RRset in owner and type order; a record whose
// TTL changed is in both lists. RRsets that are the same cost a comparison
// of their wire form, no records made. The SOA records are left out: a
// transfer of the difference adds them itself (RFC 1995).
func Diff(old, next *Zone) (del, add []dns.RR) {
	a, b := sets(old), sets(next)
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var c int
		switch {
		case i == len(a):
			c = 1
		case j == len(b):
			c = -1
		default:
			c = compareSet(a[i], b[j])
		}
		switch {
		case c < 0:
			if a[i].Type() != dns.TypeSOA {
				del = a[i].AppendTo(del, a[i].Owner())
			}
			i++
		case c > 0:
			if b[j].Type() != dns.TypeSOA {
				add = b[j].AppendTo(add, b[j].Owner())
			}
			j++
		default:
			if a[i].Type() != dns.TypeSOA && !a[i].Equal(b[j]) {
				d, n := setDiff(a[i].RRs(), b[j].RRs())
				del, add = append(del, d...), append(add, n...)
			}
			i, j = i+1, j+1
		}
	}
	return del, add
}

func sets(z *Zone) []RRset {
	if z == nil {
		return nil
	}
	out := make([]RRset, 0, int(z.idx[2*int(z.owners)+1]))
	for s := range z.All {
		out = append(out, s)
	}
	return out
}

func compareSet(a, b RRset) int {
	if c := strings.Compare(a.Owner(), b.Owner()); c != 0 {
		return c
	}
	return int(a.Type()) - int(b.Type())
}

// setDiff is the record difference of two versions of one RRset.
func setDiff(old, next []dns.RR) (del, add []dns.RR) {
	same := func(x, y dns.RR) bool { return x.Header().Ttl == y.Header().Ttl && dns.IsDuplicate(x, y) }
	for _, rr := range old {
		if !contains(next, rr, same) {
			del = append(del, rr)
		}
	}
	for _, rr := range next {
		if !contains(old, rr, same) {
			add = append(add, rr)
		}
	}
	return del, add
}

func contains(list []dns.RR, rr dns.RR, same func(x, y dns.RR) bool) bool {
	for _, o := range list {
		if same(o, rr) {
			return true
		}
	}
	return false
}
