package mxzone

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Rule names one validation rule. Each can be set to fail, warn or ignore in
// the Corefile, except RuleSyntax: a file that does not parse is never served.
type Rule int

// The validation rules, in the order the README lists them.
const (
	RuleSyntax    Rule = iota // the file is readable and parses (RFC 1035 §5)
	RuleMXCNAME               // exchange is, or owns, a CNAME (RFC 2181 §10.3, RFC 5321 §5.1)
	RuleMXAddress             // exchange in a served zone has no A/AAAA
	RuleMXIP                  // exchange is an IP address literal (RFC 5321 §5.1)
	RuleNullMX                // null MX not alone or not preference 0 (RFC 7505 §3)
	RuleIntegrity             // SOA at apex, CNAME and other data, duplicates
	RuleIsolation             // owners outside the origin, $INCLUDE outside DIR
	numRules
)

var ruleNames = [numRules]string{
	RuleSyntax:    "syntax",
	RuleMXCNAME:   "mx_target_cname",
	RuleMXAddress: "mx_target_address",
	RuleMXIP:      "mx_target_ip",
	RuleNullMX:    "null_mx",
	RuleIntegrity: "zone_integrity",
	RuleIsolation: "tenant_isolation",
}

func (r Rule) String() string { return ruleNames[r] }

// MarshalText makes rules print by name in JSON.
func (r Rule) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// ruleByName returns the configurable rule called name.
func ruleByName(name string) (Rule, bool) {
	for r := RuleMXCNAME; r < numRules; r++ {
		if ruleNames[r] == name {
			return r, true
		}
	}
	return 0, false
}

// Severity is what a finding does to its zone.
type Severity int

// Severities, from the least to the most serious.
const (
	SeverityIgnore Severity = iota // configured away: not reported
	SeverityInfo                   // reported by check only: nothing wrong, but not verified
	SeverityWarn                   // reported; the zone is served
	SeverityFail                   // reported; the zone is not served
)

var severityNames = [...]string{"ignore", "info", "warning", "error"}

func (s Severity) String() string { return severityNames[s] }

// MarshalText makes severities print by name in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// parseSeverity reads a Corefile severity word.
func parseSeverity(word string) (Severity, bool) {
	switch word {
	case "fail":
		return SeverityFail, true
	case "warn":
		return SeverityWarn, true
	case "ignore":
		return SeverityIgnore, true
	}
	return 0, false
}

// Policy holds the configured severity of every rule.
type Policy [numRules]Severity

// DefaultPolicy fails on every rule.
func DefaultPolicy() Policy {
	var p Policy
	for i := range p {
		p[i] = SeverityFail
	}
	return p
}

// Finding is one problem in one zone file, with the line of the record that
// caused it.
type Finding struct {
	File     string   `json:"file"`
	Line     int      `json:"line"` // 0: the file as a whole
	Zone     string   `json:"zone"`
	Owner    string   `json:"owner"`
	Rule     Rule     `json:"rule"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String prints the finding as FILE:LINE: severity: owner: message (rule).
func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s: %s: %s (%s)", f.File, f.Line, f.Severity, f.Owner, f.Message, f.Rule)
}

// findings collects the findings of one zone under a policy.
type findings struct {
	policy *Policy
	zone   string
	list   []Finding
}

// add records a finding for rule at file:line unless the rule is ignored.
func (fs *findings) add(rule Rule, file string, line int, owner, format string, args ...any) {
	sev := fs.policy[rule]
	if rule == RuleSyntax {
		sev = SeverityFail
	}
	fs.addSeverity(rule, sev, file, line, owner, format, args...)
}

// addSeverity records a finding with an explicit severity.
func (fs *findings) addSeverity(rule Rule, sev Severity, file string, line int, owner, format string, args ...any) {
	if sev == SeverityIgnore {
		return
	}
	fs.list = append(fs.list, Finding{
		File: file, Line: line, Zone: fs.zone, Owner: printable(owner),
		Rule: rule, Severity: sev, Message: printable(fmt.Sprintf(format, args...)),
	})
}

// printable escapes the bytes of s outside printable ASCII as \DDD, the zone
// file way, so that a name from a customer's file cannot put control
// sequences into a log line or a terminal.
func printable(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x7e {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for _, c := range []byte(s[i:]) {
		if c < 0x20 || c > 0x7e {
			fmt.Fprintf(&b, "\\%03d", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// failed reports whether any finding stops the zone from being served.
func failed(list []Finding) bool {
	return slices.ContainsFunc(list, func(f Finding) bool { return f.Severity == SeverityFail })
}

// sourcedRR is a parsed record with the place it came from.
type sourcedRR struct {
	rr   dns.RR
	file string
	line int
}

// checkLocal runs every rule that needs only the zone's own records, and
// returns the records that may be served, sorted by owner and type, owners
// lower-cased. Records that fail tenant isolation or are duplicates are
// never served, whatever the severity.
func checkLocal(origin, file string, recs []sourcedRR, fs *findings) []sourcedRR {
	inside := recs[:0]
	for _, r := range recs {
		h := r.rr.Header()
		owner := strings.ToLower(h.Name)
		if !dns.IsSubDomain(origin, owner) {
			fs.add(RuleIsolation, r.file, r.line, h.Name,
				"owner is outside the zone %s and is never served; a missing final dot or a wrong $ORIGIN?", origin)
			continue
		}
		h.Name = owner
		inside = append(inside, r)
	}
	slices.SortStableFunc(inside, func(a, b sourcedRR) int {
		if c := strings.Compare(a.rr.Header().Name, b.rr.Header().Name); c != 0 {
			return c
		}
		return int(a.rr.Header().Rrtype) - int(b.rr.Header().Rrtype)
	})
	st := &localState{origin: origin, fs: fs, out: make([]sourcedRR, 0, len(inside))}
	for i := 0; i < len(inside); {
		owner := inside[i].rr.Header().Name
		j := i + 1
		for j < len(inside) && inside[j].rr.Header().Name == owner {
			inside[j].rr.Header().Name = owner // one string per owner
			j++
		}
		st.checkOwner(inside[i:j])
		i = j
	}
	if st.soas == 0 {
		// Without an SOA the zone cannot answer negatively: never served.
		fs.addSeverity(RuleIntegrity, SeverityFail, file, 0, origin, "zone has no SOA record at its apex")
	}
	if !st.apexNS {
		fs.addSeverity(RuleIntegrity, min(fs.policy[RuleIntegrity], SeverityWarn), file, 0, origin,
			"zone has no NS records at its apex; it cannot be delegated to")
	}
	return st.out
}

// localState carries the one-pass local checks from owner to owner.
type localState struct {
	origin string
	fs     *findings
	out    []sourcedRR
	soas   int
	apexNS bool
}

// checkOwner checks the records of one owner, sorted by type.
func (st *localState) checkOwner(group []sourcedRR) {
	var cnames []sourcedRR
	var others []string
	if why := unsafeName(group[0].rr.Header().Name); why != "" {
		st.fs.add(RuleIntegrity, group[0].file, group[0].line, group[0].rr.Header().Name, "owner name %s", why)
	}
	for i := 0; i < len(group); {
		t := group[i].rr.Header().Rrtype
		j := i + 1
		for j < len(group) && group[j].rr.Header().Rrtype == t {
			j++
		}
		start := len(st.out)
		st.addUnique(group[i:j])
		set := st.out[start:]
		checkTTLs(set, st.fs)
		switch t {
		case dns.TypeSOA:
			st.checkSOA(set)
		case dns.TypeNS:
			st.apexNS = st.apexNS || set[0].rr.Header().Name == st.origin
		case dns.TypeCNAME:
			cnames = set
		case dns.TypeMX:
			checkMXSet(st.origin, set, st.fs)
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
		st.fs.add(RuleIntegrity, first.file, first.line, first.rr.Header().Name,
			"CNAME beside other data (%s) at the same name; a CNAME must stand alone (RFC 1034 section 3.6.2)",
			strings.Join(others, ", "))
	}
	for _, extra := range cnames[1:] {
		st.fs.add(RuleIntegrity, extra.file, extra.line, extra.rr.Header().Name,
			"second CNAME at the same name (first at line %d); a name has at most one (RFC 2181 section 10.1)", first.line)
	}
}

// addUnique appends the records of one RRset to the output, leaving out
// duplicates (RFC 2181 §5: an RRset holds no duplicates).
func (st *localState) addUnique(set []sourcedRR) {
	start := len(st.out)
	var seen map[string]int // for large RRsets: compare by text, not pairwise
	if len(set) > 32 {
		seen = make(map[string]int, len(set))
	}
	for _, r := range set {
		dup := -1
		if seen != nil {
			key := rdataKey(r.rr)
			if line, ok := seen[key]; ok {
				dup = line
			} else {
				seen[key] = r.line
			}
		} else {
			for _, kept := range st.out[start:] {
				if dns.IsDuplicate(kept.rr, r.rr) {
					dup = kept.line
					break
				}
			}
		}
		if dup >= 0 {
			st.fs.add(RuleIntegrity, r.file, r.line, r.rr.Header().Name,
				"duplicate %s record (first at line %d)", dns.TypeToString[r.rr.Header().Rrtype], dup)
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
func (st *localState) checkSOA(set []sourcedRR) {
	for _, r := range set {
		if r.rr.Header().Name != st.origin {
			st.fs.addSeverity(RuleIntegrity, SeverityFail, r.file, r.line, r.rr.Header().Name,
				"SOA record below the apex; the zone's SOA belongs to %s", st.origin)
			continue
		}
		if st.soas++; st.soas > 1 {
			st.fs.addSeverity(RuleIntegrity, SeverityFail, r.file, r.line, r.rr.Header().Name, "second SOA record at the apex")
		}
	}
}

// checkTTLs reports an RRset whose records differ in TTL (RFC 2181 §5.2) and
// serves them all with the first record's TTL, as other servers do. It is at
// most a warning.
func checkTTLs(set []sourcedRR, fs *findings) {
	first := set[0]
	for _, r := range set[1:] {
		h := r.rr.Header()
		if h.Ttl != first.rr.Header().Ttl {
			fs.addSeverity(RuleIntegrity, min(fs.policy[RuleIntegrity], SeverityWarn), r.file, r.line, h.Name,
				"TTL %d differs from the TTL %d of the same RRset at line %d; serving %d (RFC 2181 section 5.2)",
				h.Ttl, first.rr.Header().Ttl, first.line, first.rr.Header().Ttl)
			h.Ttl = first.rr.Header().Ttl
		}
	}
}

// checkMXSet runs the MX rules that need no lookup on the MX RRset of one
// owner: IP literals and null MX.
func checkMXSet(origin string, set []sourcedRR, fs *findings) {
	for _, r := range set {
		mx := r.rr.(*dns.MX)
		if ip, ok := ipLiteral(mx.Mx, origin); ok {
			fs.add(RuleMXIP, r.file, r.line, mx.Hdr.Name,
				"exchange %s is the IP address %s; an MX must name a host that has A/AAAA records (RFC 5321 section 5.1)",
				mx.Mx, ip)
		}
	}
	checkNullMX(set, fs)
}

// checkNullMX applies RFC 7505 §3 to the MX RRset of one owner.
func checkNullMX(set []sourcedRR, fs *findings) {
	var null *sourcedRR
	for i := range set {
		if set[i].rr.(*dns.MX).Mx == "." {
			null = &set[i]
			break
		}
	}
	if null == nil {
		return
	}
	mx := null.rr.(*dns.MX)
	if mx.Preference != 0 {
		fs.add(RuleNullMX, null.file, null.line, mx.Hdr.Name,
			"null MX has preference %d; RFC 7505 section 3 requires \"MX 0 .\"", mx.Preference)
	}
	if len(set) > 1 {
		fs.add(RuleNullMX, null.file, null.line, mx.Hdr.Name,
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

// targetFinding is a finding of the cross-zone MX checks, with the served zone
// in which the exchange was looked up: an edit of that zone can cause it.
type targetFinding struct {
	Finding
	target string
}

// checkTargets looks every MX exchange of z up in the zones of g, as a
// resolver would see them, and applies the rules that need the answer: the
// exchange must not be a CNAME and must own an address.
//
// It also returns the zones whose change can change these findings: the
// served zone an exchange lies in when that is another zone, or, for an
// exchange in no served zone, every name above it (a zone added there would
// capture it).
func (g *generation) checkTargets(z *Zone, policy *Policy) ([]targetFinding, []string) {
	var out []targetFinding
	var keys []string
	for _, r := range z.mx {
		ref := z.place(r)
		fs := &findings{policy: policy, zone: z.Origin}
		e := g.match(ref.exchange)
		tz := (*Zone)(nil)
		if e != nil {
			tz = e.zone
		}
		if z.holds(ref.exchange) && (e == nil || len(e.origin) <= len(z.Origin)) {
			tz = z // z is the version being checked, whatever is served now
		}
		target := ""
		switch {
		case tz == z:
			checkExchange(z, ref, z, fs)
		case e == nil:
			fs.addSeverity(RuleMXAddress, SeverityInfo, ref.file, ref.line, ref.owner,
				"exchange %s is outside every served zone: not checked", ref.exchange)
			keys = appendSuffixes(keys, ref.exchange)
		case tz == nil:
			fs.addSeverity(RuleMXAddress, SeverityInfo, ref.file, ref.line, ref.owner,
				"exchange %s is in zone %s, which is not served: not checked", ref.exchange, e.origin)
			keys = appendSuffixes(keys, ref.exchange)
		default:
			target = e.origin
			checkExchange(z, ref, e.zone, fs)
			keys = append(keys, e.origin)
		}
		for _, f := range fs.list {
			out = append(out, targetFinding{Finding: f, target: target})
		}
	}
	slices.Sort(keys)
	return out, slices.Compact(keys)
}

// appendSuffixes appends name and every name above it, the root excluded.
func appendSuffixes(keys []string, name string) []string {
	keys = append(keys, name)
	for a := range ancestors(name) {
		keys = append(keys, a)
	}
	return keys
}

// mxPlace is an MX record as the messages name it.
type mxPlace struct {
	owner, exchange, file string
	line                  int
}

func (z *Zone) place(ref mxRef) mxPlace {
	return mxPlace{owner: ref.mx.Hdr.Name, exchange: strings.ToLower(ref.mx.Mx), file: z.fileOf(ref), line: int(ref.line)}
}

// checkExchange applies the MX target rules to ref, whose exchange lies in tz.
func checkExchange(z *Zone, ref mxPlace, tz *Zone, fs *findings) {
	m := tz.find(ref.exchange)
	where := ""
	if tz != z {
		where = " in zone " + tz.Origin
	}
	switch m.kind {
	case matchDelegated:
		fs.addSeverity(RuleMXAddress, SeverityInfo, ref.file, ref.line, ref.owner,
			"exchange %s is below the delegation %s%s: not checked", ref.exchange, m.owner, where)
	case matchNone:
		fs.add(RuleMXAddress, ref.file, ref.line, ref.owner, "exchange %s does not exist%s%s",
			ref.exchange, where, forgottenDotHint(ref.exchange, z.Origin))
	default:
		via := ""
		if m.kind == matchWildcard {
			via = " (through the wildcard at its closest encloser)"
		}
		n := m.node
		if cname := n.get(dns.TypeCNAME); cname != nil {
			fs.add(RuleMXCNAME, ref.file, ref.line, ref.owner,
				"exchange %s%s%s is a CNAME for %s; an MX must name the host itself (RFC 2181 section 10.3, RFC 5321 section 5.1)",
				ref.exchange, where, via, cname[0].(*dns.CNAME).Target)
			return
		}
		if n.hasAddress() {
			return
		}
		if len(n.sets) == 0 {
			fs.add(RuleMXAddress, ref.file, ref.line, ref.owner,
				"exchange %s%s has no A or AAAA record: the name exists only because names below it do", ref.exchange, where)
			return
		}
		fs.add(RuleMXAddress, ref.file, ref.line, ref.owner, "exchange %s%s%s has no A or AAAA record (it has %s)",
			ref.exchange, where, via, typeList(n))
	}
}

// typeList names the RR types at n.
func typeList(n node) string {
	names := make([]string, 0, len(n.sets))
	for _, s := range n.sets {
		names = append(names, dns.TypeToString[s.rtype])
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// commonTLDs are the endings that make a relative exchange look like a host
// name written without its final dot.
var commonTLDs = map[string]bool{
	"com": true, "net": true, "org": true, "info": true, "biz": true, "io": true, "eu": true, "de": true,
	"uk": true, "fr": true, "nl": true, "be": true, "ch": true, "at": true, "it": true, "es": true,
	"se": true, "no": true, "dk": true, "fi": true, "pl": true, "cz": true, "ru": true, "jp": true,
	"cn": true, "au": true, "ca": true, "us": true, "br": true, "in": true, "co": true, "me": true,
	"app": true, "dev": true, "cloud": true, "email": true,
}

// forgottenDotHint explains an exchange like mail.example.net.example.com.,
// which is what "MX 10 mail.example.net" becomes inside example.com.
func forgottenDotHint(exchange, origin string) string {
	rel, ok := strings.CutSuffix(exchange, "."+origin)
	if !ok || !strings.Contains(rel, ".") {
		return ""
	}
	last := rel[strings.LastIndexByte(rel, '.')+1:]
	originTLD := strings.TrimSuffix(origin, ".")
	originTLD = originTLD[strings.LastIndexByte(originTLD, '.')+1:]
	if !commonTLDs[last] && last != originTLD {
		return ""
	}
	return fmt.Sprintf("; it looks like %q written without its final dot, which makes it relative to %s: write \"%s.\"",
		rel, origin, rel)
}

// checkTargetNames applies unsafeName to the host names in the data of one
// RRset: MX exchanges, CNAME and DNAME targets, NS, SRV and PTR hosts.
func (st *localState) checkTargetNames(set []sourcedRR) {
	for _, r := range set {
		if why := unsafeName(targetName(r.rr)); why != "" {
			st.fs.add(RuleIntegrity, r.file, r.line, r.rr.Header().Name, "%s target %s",
				dns.TypeToString[r.rr.Header().Rrtype], why)
		}
	}
}

// unsafeName says what is wrong with a name that holds bytes no host name
// has: NUL and other control bytes (which cut names short in C programs and
// logs downstream) and raw non-ASCII bytes (an internationalised name
// written in UTF-8 instead of its xn-- form, which no resolver will ask for).
// Escaped dots and other printable escapes are left alone. It returns "" for
// a safe name.
func unsafeName(name string) string {
	plain := true
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '\\' || c < 0x21 || c > 0x7e {
			plain = false
			break
		}
	}
	if plain {
		return ""
	}
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.Fqdn(name), buf, 0, nil, false)
	if err != nil {
		return ""
	}
	var ctrl, high bool
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
		return shown + " holds a NUL or control byte; no host name does (RFC 952, RFC 1123 section 2.1)"
	case high:
		return shown + " holds raw non-ASCII bytes; write an internationalised name in its xn-- form (RFC 5890)"
	}
	return ""
}
