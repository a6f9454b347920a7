package mxzone

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/coredns-mx/coredns-mx/plugin/mxzone/mailauth"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zone"
	"github.com/coredns-mx/coredns-mx/plugin/mxzone/zonefile"

	"github.com/miekg/dns"
)

// checkLocal runs every rule that needs only the zone's own records, and
// returns the records that may be served, sorted by owner and type, owners
// lower-cased. Records that fail tenant isolation or are duplicates are
// never served, whatever the severity.
func checkLocal(origin, file string, recs []zonefile.Record, limits *Limits, fs *findings) []zonefile.Record {
	inside := recs[:0]
	for _, r := range recs {
		h := r.RR.Header()
		owner := zone.Canonical(h.Name)
		if !zone.Within(owner, origin) { // dns.IsSubDomain, without its allocations: both are canonical here
			fs.add(RuleIsolation, r.File, r.Line, h.Name,
				"owner is outside the zone %s and is never served; a missing final dot or a wrong $ORIGIN?", origin)
			continue
		}
		h.Name = owner
		inside = append(inside, r)
	}
	slices.SortStableFunc(inside, func(a, b zonefile.Record) int {
		if c := strings.Compare(a.RR.Header().Name, b.RR.Header().Name); c != 0 {
			return c
		}
		return int(a.RR.Header().Rrtype) - int(b.RR.Header().Rrtype)
	})
	st := &localCheck{origin: origin, fs: fs, limits: limits, out: make([]zonefile.Record, 0, len(inside))}
	for i := 0; i < len(inside); {
		owner := inside[i].RR.Header().Name
		j := i + 1
		for j < len(inside) && inside[j].RR.Header().Name == owner {
			inside[j].RR.Header().Name = owner // one string per owner
			j++
		}
		st.checkOwner(inside[i:j])
		i = j
	}
	st.checkDNAMEs()
	st.checkUnsignedTLSA()
	if st.soas == 0 {
		// Without an SOA the zone cannot answer negatively: never served.
		fs.addSeverity(RuleIntegrity, SeverityFail, file, 0, origin, "zone has no SOA record at its apex")
	}
	if !st.apexNS {
		fs.addSeverity(RuleIntegrity, min(fs.policy.Rules[RuleIntegrity], SeverityWarn), file, 0, origin,
			"zone has no NS records at its apex; it cannot be delegated to")
	}
	return st.out
}

// localCheck carries the one-pass local checks from owner to owner.
type localCheck struct {
	origin string
	fs     *findings
	limits *Limits
	out    []zonefile.Record
	soas   int
	apexNS bool
	signed bool             // a DNSKEY at the apex
	tlsa   *zonefile.Record // the first TLSA record, if any
	txt    []mailText       // the TXT records of the current owner, joined
	txtBuf []mailText       // txt's array, used again from owner to owner
	txtArr [4]mailText      // txtBuf's first array, in the same allocation as the check
}

// checkOwner checks the records of one owner, sorted by type.
func (st *localCheck) checkOwner(group []zonefile.Record) {
	var cnames []zonefile.Record
	var others []string
	st.txt = nil
	if why, ctrl := unsafeName(group[0].RR.Header().Name); ctrl {
		// A legal DNS name (RFC 2181 section 11): wrong only where a host
		// name is required, which the targets' checks see.
		st.fs.advise(RuleIntegrity, SeverityWarn, group[0].File, group[0].Line, group[0].RR.Header().Name,
			"owner name %s: it is a legal DNS name (RFC 2181 section 11), but programs and logs that take names "+
				"as C strings cut it short, and it can never be a mail or name server host", why)
	} else if why != "" {
		st.fs.add(RuleIntegrity, group[0].File, group[0].Line, group[0].RR.Header().Name, "owner name %s", why)
	}
	st.checkTypes(group)
	for i := 0; i < len(group); {
		t := group[i].RR.Header().Rrtype
		j := i + 1
		for j < len(group) && group[j].RR.Header().Rrtype == t {
			j++
		}
		start := len(st.out)
		st.addUnique(group[i:j])
		set := st.out[start:]
		checkTTLs(set, st.fs)
		st.checkSetSize(set)
		st.checkDataType(set[0])
		if t == dns.TypeSVCB || t == dns.TypeHTTPS {
			st.checkSVCB(set)
		}
		switch t {
		case dns.TypeSOA:
			st.checkSOA(set)
		case dns.TypeNS:
			st.apexNS = st.apexNS || set[0].RR.Header().Name == st.origin
		case dns.TypeCNAME:
			cnames = set
		case dns.TypeMX:
			checkMXSet(st.origin, set, st.fs)
		case dns.TypeTXT:
			st.checkTXT(set)
		case dns.TypeSPF:
			st.checkSPFType(set)
		case dns.TypeTLSA:
			st.checkTLSA(set)
		case dns.TypeDNSKEY:
			st.signed = st.signed || set[0].RR.Header().Name == st.origin
		}
		switch t {
		case dns.TypeMX, dns.TypeCNAME, dns.TypeNS, dns.TypeSRV, dns.TypePTR, dns.TypeDNAME:
			st.checkTargetNames(set)
		}
		if t != dns.TypeCNAME && t != dns.TypeRRSIG && t != dns.TypeNSEC {
			others = append(others, dns.TypeToString[t])
		}
		i = j
	}
	if len(cnames) == 0 {
		return
	}
	first := cnames[0]
	if len(others) > 0 {
		st.fs.add(RuleIntegrity, first.File, first.Line, first.RR.Header().Name,
			"CNAME beside other data (%s) at the same name; a CNAME must stand alone (RFC 1034 section 3.6.2)",
			strings.Join(others, ", "))
	}
	for _, extra := range cnames[1:] {
		st.fs.add(RuleIntegrity, extra.File, extra.Line, extra.RR.Header().Name,
			"second CNAME at the same name (first at line %d); a name has at most one (RFC 2181 section 10.1)", first.Line)
	}
}

// checkDataType refuses records of types that are not data: the meta and
// query types (RFC 6895 section 3.1: 128-255, OPT, and the like), and DS at
// the apex, which belongs in the parent zone (RFC 4035 section 2.4).
func (st *localCheck) checkDataType(r zonefile.Record) {
	h := r.RR.Header()
	t := h.Rrtype
	switch {
	case t == dns.TypeOPT || t >= 128 && t <= 255:
		st.fs.addSeverity(RuleIntegrity, SeverityFail, r.File, r.Line, h.Name,
			"%s is a meta or query type, not data (RFC 6895 section 3.1); it cannot be in a zone", typeName(t))
	case t == dns.TypeDS && h.Name == st.origin:
		st.fs.addSeverity(RuleIntegrity, SeverityFail, r.File, r.Line, h.Name,
			"DS at the apex: a zone's DS records belong in its parent zone (RFC 4035 section 2.4)")
	}
}

// typeName names an RR type, TYPEnnn when it has no mnemonic (RFC 3597).
func typeName(t uint16) string {
	if name, ok := dns.TypeToString[t]; ok {
		return name
	}
	return fmt.Sprintf("TYPE%d", t)
}

// checkDNAMEs applies RFC 6672 section 2.4, as Knot does: a name holds one
// DNAME at most, and no name lies below one (a DNAME redirects every name
// below its owner, so such data could never be reached).
func (st *localCheck) checkDNAMEs() {
	dnames := map[string]zonefile.Record{}
	for _, r := range st.out {
		if r.RR.Header().Rrtype != dns.TypeDNAME {
			continue
		}
		owner := r.RR.Header().Name
		if first, ok := dnames[owner]; ok {
			st.fs.add(RuleIntegrity, r.File, r.Line, owner,
				"second DNAME at the same name (first at line %d); a name has at most one (RFC 6672 section 2.4)", first.Line)
			continue
		}
		dnames[owner] = r
	}
	if len(dnames) == 0 {
		return
	}
	for i, r := range st.out {
		owner := r.RR.Header().Name
		if i > 0 && st.out[i-1].RR.Header().Name == owner {
			continue // one finding a name
		}
		for a := range zone.Ancestors(owner) {
			if d, ok := dnames[a]; ok {
				st.fs.add(RuleIntegrity, r.File, r.Line, owner,
					"name below the DNAME at %s (line %d), which redirects every name below it: it can never be reached "+
						"(RFC 6672 section 2.4)", a, d.Line)
				break
			}
		}
	}
}

// checkSetSize applies max_rrset_records: every answer with the RRset costs
// time in its size, so a customer's file must not make one arbitrarily large
// (BIND bounds it the same way since CVE-2024-1737).
func (st *localCheck) checkSetSize(set []zonefile.Record) {
	if max := st.limits.RRsetRecords; max > 0 && len(set) > max {
		r := set[max]
		st.fs.add(RuleSyntax, r.File, r.Line, r.RR.Header().Name,
			"%d %s records at one name exceed the limit of %d per RRset (max_rrset_records)",
			len(set), dns.TypeToString[r.RR.Header().Rrtype], max)
	}
}

// checkTypes applies max_types_per_name to the records of one owner, sorted
// by type.
func (st *localCheck) checkTypes(group []zonefile.Record) {
	max := st.limits.TypesPerName
	if max <= 0 {
		return
	}
	types := 0
	for i, r := range group {
		if i > 0 && r.RR.Header().Rrtype == group[i-1].RR.Header().Rrtype {
			continue
		}
		if types++; types == max+1 {
			st.fs.add(RuleSyntax, r.File, r.Line, r.RR.Header().Name,
				"more than %d record types at one name (max_types_per_name)", max)
			return
		}
	}
}

// addUnique appends the records of one RRset to the output, leaving out
// duplicates (RFC 2181 §5: an RRset holds no duplicates).
func (st *localCheck) addUnique(set []zonefile.Record) {
	start := len(st.out)
	var seen map[string]int // for large RRsets: compare by text, not pairwise
	if len(set) > 32 {
		seen = make(map[string]int, len(set))
	}
	for _, r := range set {
		dup := -1
		if seen != nil {
			key := rdataKey(r.RR)
			if line, ok := seen[key]; ok {
				dup = line
			} else {
				seen[key] = r.Line
			}
		} else {
			for _, kept := range st.out[start:] {
				if dns.IsDuplicate(kept.RR, r.RR) {
					dup = kept.Line
					break
				}
			}
		}
		if dup >= 0 {
			st.fs.add(RuleIntegrity, r.File, r.Line, r.RR.Header().Name,
				"duplicate %s record (first at line %d)", dns.TypeToString[r.RR.Header().Rrtype], dup)
			continue
		}
		st.out = append(st.out, r)
	}
}

// rdataKey is the text of rr after its header: equal for duplicates.
func rdataKey(rr dns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// checkSOA allows one SOA, at the apex.
func (st *localCheck) checkSOA(set []zonefile.Record) {
	for _, r := range set {
		if r.RR.Header().Name != st.origin {
			st.fs.addSeverity(RuleIntegrity, SeverityFail, r.File, r.Line, r.RR.Header().Name,
				"SOA record below the apex; the zone's SOA belongs to %s", st.origin)
			continue
		}
		if st.soas++; st.soas > 1 {
			st.fs.addSeverity(RuleIntegrity, SeverityFail, r.File, r.Line, r.RR.Header().Name, "second SOA record at the apex")
		}
	}
}

// checkTTLs reports an RRset whose records differ in TTL (RFC 2181 §5.2) and
// serves them all with the first record's TTL, as other servers do. It is at
// most a warning.
func checkTTLs(set []zonefile.Record, fs *findings) {
	first := set[0]
	for _, r := range set[1:] {
		h := r.RR.Header()
		if h.Ttl != first.RR.Header().Ttl {
			fs.addSeverity(RuleIntegrity, min(fs.policy.Rules[RuleIntegrity], SeverityWarn), r.File, r.Line, h.Name,
				"TTL %d differs from the TTL %d of the same RRset at line %d; serving %d (RFC 2181 section 5.2)",
				h.Ttl, first.RR.Header().Ttl, first.Line, first.RR.Header().Ttl)
			h.Ttl = first.RR.Header().Ttl
		}
	}
}

// checkMXSet runs the MX rules that need no lookup on the MX RRset of one
// owner: IP literals and null MX.
func checkMXSet(origin string, set []zonefile.Record, fs *findings) {
	for _, r := range set {
		mx := r.RR.(*dns.MX)
		if ip, ok := ipLiteral(mx.Mx, origin); ok {
			fs.add(RuleMXIP, r.File, r.Line, mx.Hdr.Name,
				"exchange %s is the IP address %s; an MX must name a host that has A/AAAA records (RFC 5321 section 5.1)",
				mx.Mx, ip)
		} else if why := mailauth.HostName(mx.Mx); mx.Mx != "." && why != "" {
			fs.add(RuleMXHostname, r.File, r.Line, mx.Hdr.Name,
				"exchange %s is not a host name: %s (RFC 1123 section 2.1, RFC 5321 section 2.3.5); mail servers "+
					"refuse to deliver to it", mx.Mx, why)
		}
	}
	checkNullMX(set, fs)
}

// checkNullMX applies RFC 7505 §3 to the MX RRset of one owner.
func checkNullMX(set []zonefile.Record, fs *findings) {
	var null *zonefile.Record
	for i := range set {
		if set[i].RR.(*dns.MX).Mx == "." {
			null = &set[i]
			break
		}
	}
	if null == nil {
		return
	}
	mx := null.RR.(*dns.MX)
	if mx.Preference != 0 {
		fs.add(RuleNullMX, null.File, null.Line, mx.Hdr.Name,
			"null MX has preference %d; RFC 7505 section 3 requires \"MX 0 .\"", mx.Preference)
	}
	if len(set) > 1 {
		fs.add(RuleNullMX, null.File, null.Line, mx.Hdr.Name,
			"null MX (the domain accepts no mail) stands beside %d other MX records; RFC 7505 section 3 requires it to be the only one",
			len(set)-1)
	}
}

func isIPLiteral(exchange, origin string) bool {
	_, ok := ipLiteral(exchange, origin)
	return ok
}

// ipLiteral reports whether the exchange is an IP address written where a
// host name belongs: "192.0.2.1.", the same without its final dot (and so
// made relative to the origin), "[192.0.2.1]" or an IPv6 address.
func ipLiteral(exchange, origin string) (string, bool) {
	name := strings.TrimSuffix(strings.ToLower(exchange), ".")
	candidates := []string{name}
	if rel, ok := strings.CutSuffix(name+".", "."+origin); ok && origin != "." {
		candidates = append(candidates, rel)
	}
	for _, c := range candidates {
		c = strings.TrimPrefix(strings.TrimSuffix(strings.TrimPrefix(c, "["), "]"), "ipv6:")
		if addr, err := netip.ParseAddr(c); err == nil {
			return addr.String(), true
		}
	}
	return "", false
}

// checkTargetNames applies unsafeName to the names in the data of one
// RRset: MX exchanges, CNAME and DNAME targets, NS, SRV and PTR hosts. A
// control byte is an error where a host name is required (MX, NS, SRV),
// a warning elsewhere.
func (st *localCheck) checkTargetNames(set []zonefile.Record) {
	for _, r := range set {
		why, ctrl := unsafeName(zone.Target(r.RR))
		if why == "" {
			continue
		}
		typ := r.RR.Header().Rrtype
		if ctrl && typ != dns.TypeMX && typ != dns.TypeNS && typ != dns.TypeSRV {
			st.fs.advise(RuleIntegrity, SeverityWarn, r.File, r.Line, r.RR.Header().Name, "%s target %s", dns.TypeToString[typ], why)
			continue
		}
		st.fs.add(RuleIntegrity, r.File, r.Line, r.RR.Header().Name, "%s target %s", dns.TypeToString[typ], why)
	}
}

// unsafeName says what is wrong with a name that holds bytes no host name
// has: NUL and other control bytes (which cut names short in C programs and
// logs downstream) and raw non-ASCII bytes (an internationalised name
// written in UTF-8 instead of its xn-- form, which no resolver will ask for).
// Escaped dots and other printable escapes are left alone. It returns "" for
// a safe name; ctrl reports a control byte.
func unsafeName(name string) (why string, ctrl bool) {
	plain := true
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '\\' || c < 0x21 || c > 0x7e {
			plain = false
			break
		}
	}
	if plain {
		return "", false
	}
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.Fqdn(name), buf, 0, nil, false)
	if err != nil {
		return "", false
	}
	var high bool
	for i := 0; i < n; {
		l := int(buf[i])
		for _, c := range buf[i+1 : i+1+l] {
			ctrl = ctrl || c < 0x20 || c == 0x7f
			high = high || c > 0x7f
		}
		i += l + 1
	}
	shown := printable(dns.Fqdn(name))
	switch {
	case ctrl:
		return shown + " holds a NUL or control byte; no host name does (RFC 952, RFC 1123 section 2.1)", true
	case high:
		return shown + " holds raw non-ASCII bytes; write an internationalised name in its xn-- form (RFC 5890)", false
	}
	return "", false
}
