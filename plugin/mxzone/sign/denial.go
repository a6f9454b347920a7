package sign

import (
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Chain is the denial-of-existence chain of a signed zone, ordered for the
// look-ups that answers need: the NSEC records in canonical order of their
// owners, or the NSEC3 records in order of their hashes. It picks the records
// that prove what an answer says does not exist (RFC 4035 section 3.1.3,
// RFC 5155 section 7.2); the caller adds their RRSIGs.
type Chain struct {
	origin string
	nsec   []nsecAt
	nsec3  []*dns.NSEC3 // by hash
}

type nsecAt struct {
	labels [][]byte
	rr     *dns.NSEC
}

// NewChain takes the NSEC or NSEC3 records out of a signed zone's records.
func NewChain(origin string, rrs []dns.RR) *Chain {
	c := &Chain{origin: origin}
	for _, rr := range rrs {
		switch r := rr.(type) {
		case *dns.NSEC:
			c.nsec = append(c.nsec, nsecAt{labels: labels(r.Hdr.Name), rr: r})
		case *dns.NSEC3:
			c.nsec3 = append(c.nsec3, r)
		}
	}
	slices.SortFunc(c.nsec, func(a, b nsecAt) int { return compareNames(a.labels, b.labels) })
	slices.SortFunc(c.nsec3, func(a, b *dns.NSEC3) int { return strings.Compare(hashOf(a), hashOf(b)) })
	return c
}

// hashOf is the hash an NSEC3 owner name carries, upper case.
func hashOf(r *dns.NSEC3) string {
	return strings.ToUpper(r.Hdr.Name[:strings.IndexByte(r.Hdr.Name, '.')])
}

// NSEC3 reports whether the chain is NSEC3.
func (c *Chain) NSEC3() bool { return len(c.nsec3) > 0 }

// nsecFor returns the NSEC whose owner is name or, when name has none, the
// last owner before it: the record that matches or covers name.
func (c *Chain) nsecFor(name string) *dns.NSEC {
	if len(c.nsec) == 0 {
		return nil
	}
	l := labels(name)
	i, found := slices.BinarySearchFunc(c.nsec, l, func(a nsecAt, l [][]byte) int { return compareNames(a.labels, l) })
	if found {
		return c.nsec[i].rr
	}
	if i == 0 {
		i = len(c.nsec) // before the apex cannot happen inside the zone; wrap as the chain does
	}
	return c.nsec[i-1].rr
}

// nsec3For returns the NSEC3 record that matches (true) or covers (false)
// the hash of name.
func (c *Chain) nsec3For(name string) (*dns.NSEC3, bool) {
	if len(c.nsec3) == 0 {
		return nil, false
	}
	h := dns.HashName(name, dns.SHA1, 0, "")
	i, found := slices.BinarySearchFunc(c.nsec3, h, func(r *dns.NSEC3, h string) int { return strings.Compare(hashOf(r), h) })
	if found {
		return c.nsec3[i], true
	}
	if i == 0 {
		i = len(c.nsec3) // before the first hash: the last record, whose next wraps, covers it
	}
	return c.nsec3[i-1], false
}

// NXDOMAIN proves that name does not exist, ce being its closest encloser:
// with NSEC, the record covering name and the one covering the wildcard at
// ce (RFC 4035 section 3.1.3.2); with NSEC3, the closest encloser proof (ce
// matched, the next closer name covered) and the wildcard at ce covered
// (RFC 5155 section 7.2.2).
func (c *Chain) NXDOMAIN(name, ce string) []dns.RR {
	if c.NSEC3() {
		out := c.closestEncloserProof(name, ce)
		w, _ := c.nsec3For("*." + ce)
		return unique(append(out, w))
	}
	return unique([]dns.RR{c.nsecFor(name), c.nsecFor("*." + ce)})
}

// NODATA proves that name exists without the type asked (RFC 4035 section
// 3.1.3.1, RFC 5155 sections 7.2.3 and 7.2.4): the record of name itself,
// whose bitmap lacks the type.
func (c *Chain) NODATA(name string) []dns.RR {
	if c.NSEC3() {
		r, _ := c.nsec3For(name)
		return []dns.RR{r}
	}
	return []dns.RR{c.nsecFor(name)}
}

// Wildcard proves, beside an answer synthesised from the wildcard at ce,
// that name itself does not exist (RFC 4035 section 3.1.3.3, RFC 5155
// section 7.2.6): the record covering name, or the next closer name.
func (c *Chain) Wildcard(name, ce string) []dns.RR {
	if c.NSEC3() {
		r, _ := c.nsec3For(nextCloser(name, ce))
		return []dns.RR{r}
	}
	return []dns.RR{c.nsecFor(name)}
}

// WildcardNODATA proves that name does not exist and the wildcard at ce that
// would match it lacks the type (RFC 4035 section 3.1.3.4, RFC 5155 section
// 7.2.5).
func (c *Chain) WildcardNODATA(name, ce string) []dns.RR {
	if c.NSEC3() {
		out := c.closestEncloserProof(name, ce)
		w, _ := c.nsec3For("*." + ce)
		return unique(append(out, w))
	}
	return unique([]dns.RR{c.nsecFor(name), c.nsecFor("*." + ce)})
}

// closestEncloserProof is the NSEC3 that matches ce and the one that covers
// the next closer name (RFC 5155 section 7.2.1).
func (c *Chain) closestEncloserProof(name, ce string) []dns.RR {
	m, _ := c.nsec3For(ce)
	n, _ := c.nsec3For(nextCloser(name, ce))
	return []dns.RR{m, n}
}

// nextCloser is the name one label longer than ce on the way to name.
func nextCloser(name, ce string) string {
	next := name
	for {
		p := parent(next)
		if p == "" || p == ce || len(p) <= len(ce) {
			return next
		}
		next = p
	}
}

// unique drops repeats, keeping the order.
func unique(rrs []dns.RR) []dns.RR {
	out := rrs[:0]
	for _, rr := range rrs {
		if rr != nil && !slices.Contains(out, rr) {
			out = append(out, rr)
		}
	}
	return out
}
