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
		File: file, Line: line, Zone: fs.zone, Owner: owner,
		Rule: rule, Severity: sev, Message: fmt.Sprintf(format, args...),
	})
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
// returns the records that may be served. Records that fail tenant isolation
// or are duplicates are never served, whatever the severity.
func checkLocal(origin, file string, recs []sourcedRR, fs *findings) []sourcedRR {
	keep := make([]sourcedRR, 0, len(recs))
	for _, r := range recs {
		h := r.rr.Header()
		if !dns.IsSubDomain(origin, strings.ToLower(h.Name)) {
			fs.add(RuleIsolation, r.file, r.line, h.Name,
				"owner is outside the zone %s and is never served; a missing final dot or a wrong $ORIGIN?", origin)
			continue
		}
		keep = append(keep, r)
	}
	keep = dropDuplicates(keep, fs)
	checkSOA(origin, file, keep, fs)
	checkNS(origin, file, keep, fs)
	checkCNAMEs(keep, fs)
	checkTTLs(keep, fs)
	checkMXLocal(origin, keep, fs)
	return keep
}

// dropDuplicates removes records identical to an earlier one (RFC 2181 §5:
// an RRset holds no duplicates).
func dropDuplicates(recs []sourcedRR, fs *findings) []sourcedRR {
	seen := make(map[string]int, len(recs))
	out := recs[:0]
	for _, r := range recs {
		key := rrKey(r.rr)
		if first, dup := seen[key]; dup {
			fs.add(RuleIntegrity, r.file, r.line, r.rr.Header().Name,
				"duplicate %s record (first at line %d)", dns.TypeToString[r.rr.Header().Rrtype], first)
			continue
		}
		seen[key] = r.line
		out = append(out, r)
	}
	return out
}

// rrKey identifies a record by owner, class, type and RDATA, ignoring TTL and
// the case of the owner.
func rrKey(rr dns.RR) string {
	h := *rr.Header()
	c := dns.Copy(rr)
	*c.Header() = dns.RR_Header{Name: strings.ToLower(h.Name), Rrtype: h.Rrtype, Class: h.Class}
	return c.String()
}

func checkSOA(origin, file string, recs []sourcedRR, fs *findings) {
	n := 0
	for _, r := range recs {
		if r.rr.Header().Rrtype != dns.TypeSOA {
			continue
		}
		if !strings.EqualFold(r.rr.Header().Name, origin) {
			fs.addSeverity(RuleIntegrity, SeverityFail, r.file, r.line, r.rr.Header().Name,
				"SOA record below the apex; the zone's SOA belongs to %s", origin)
			continue
		}
		n++
		if n > 1 {
			fs.addSeverity(RuleIntegrity, SeverityFail, r.file, r.line, r.rr.Header().Name, "second SOA record at the apex")
		}
	}
	if n == 0 {
		// Without an SOA the zone cannot answer negatively: never served.
		fs.addSeverity(RuleIntegrity, SeverityFail, file, 0, origin, "zone has no SOA record at its apex")
	}
}

func checkNS(origin, file string, recs []sourcedRR, fs *findings) {
	for _, r := range recs {
		if r.rr.Header().Rrtype == dns.TypeNS && strings.EqualFold(r.rr.Header().Name, origin) {
			return
		}
	}
	fs.addSeverity(RuleIntegrity, min(fs.policy[RuleIntegrity], SeverityWarn), file, 0, origin,
		"zone has no NS records at its apex; it cannot be delegated to")
}

// checkCNAMEs enforces RFC 1034 §3.6.2 and RFC 2181 §10.1: a name that owns a
// CNAME owns nothing else (DNSSEC records aside) and only one CNAME.
func checkCNAMEs(recs []sourcedRR, fs *findings) {
	types := map[string][]uint16{}
	cnames := map[string][]sourcedRR{}
	for _, r := range recs {
		owner := strings.ToLower(r.rr.Header().Name)
		t := r.rr.Header().Rrtype
		if t == dns.TypeCNAME {
			cnames[owner] = append(cnames[owner], r)
			continue
		}
		if t != dns.TypeRRSIG && t != dns.TypeNSEC {
			types[owner] = append(types[owner], t)
		}
	}
	for owner, list := range cnames {
		first := list[0]
		if others := types[owner]; len(others) > 0 {
			names := make([]string, 0, len(others))
			for _, t := range others {
				if s := dns.TypeToString[t]; !slices.Contains(names, s) {
					names = append(names, s)
				}
			}
			fs.add(RuleIntegrity, first.file, first.line, first.rr.Header().Name,
				"CNAME beside other data (%s) at the same name; a CNAME must stand alone (RFC 1034 section 3.6.2)",
				strings.Join(names, ", "))
		}
		for _, extra := range list[1:] {
			fs.add(RuleIntegrity, extra.file, extra.line, extra.rr.Header().Name,
				"second CNAME at the same name (first at line %d); a name has at most one (RFC 2181 section 10.1)", first.line)
		}
	}
}

// checkTTLs reports RRsets whose records differ in TTL (RFC 2181 §5.2) and
// sets them all to the first record's TTL, as other servers do. It is at most
// a warning.
func checkTTLs(recs []sourcedRR, fs *findings) {
	type key struct {
		owner string
		t     uint16
	}
	first := map[key]sourcedRR{}
	for _, r := range recs {
		h := r.rr.Header()
		k := key{strings.ToLower(h.Name), h.Rrtype}
		f, ok := first[k]
		if !ok {
			first[k] = r
			continue
		}
		if h.Ttl != f.rr.Header().Ttl {
			fs.addSeverity(RuleIntegrity, min(fs.policy[RuleIntegrity], SeverityWarn), r.file, r.line, h.Name,
				"TTL %d differs from the TTL %d of the same RRset at line %d; serving %d (RFC 2181 section 5.2)",
				h.Ttl, f.rr.Header().Ttl, f.line, f.rr.Header().Ttl)
			h.Ttl = f.rr.Header().Ttl
		}
	}
}

// checkMXLocal runs the MX rules that need no lookup: IP literals and null MX.
func checkMXLocal(origin string, recs []sourcedRR, fs *findings) {
	byOwner := map[string][]sourcedRR{}
	var owners []string
	for _, r := range recs {
		mx, ok := r.rr.(*dns.MX)
		if !ok {
			continue
		}
		owner := strings.ToLower(mx.Hdr.Name)
		if _, seen := byOwner[owner]; !seen {
			owners = append(owners, owner)
		}
		byOwner[owner] = append(byOwner[owner], r)
		if ip, ok := ipLiteral(mx.Mx, origin); ok {
			fs.add(RuleMXIP, r.file, r.line, mx.Hdr.Name,
				"exchange %s is the IP address %s; an MX must name a host that has A/AAAA records (RFC 5321 section 5.1)",
				mx.Mx, ip)
		}
	}
	for _, owner := range owners {
		checkNullMX(byOwner[owner], fs)
	}
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
func (g *generation) checkTargets(z *Zone, policy *Policy) []targetFinding {
	var out []targetFinding
	for _, ref := range z.mx {
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
		case tz == nil:
			fs.addSeverity(RuleMXAddress, SeverityInfo, ref.file, ref.line, ref.owner,
				"exchange %s is in zone %s, which is not served: not checked", ref.exchange, e.origin)
		default:
			target = e.origin
			checkExchange(z, ref, e.zone, fs)
		}
		for _, f := range fs.list {
			out = append(out, targetFinding{Finding: f, target: target})
		}
	}
	return out
}

// checkExchange applies the MX target rules to ref, whose exchange lies in tz.
func checkExchange(z *Zone, ref mxRef, tz *Zone, fs *findings) {
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
				"exchange %s%s is a CNAME for %s; an MX must name the host itself (RFC 2181 section 10.3, RFC 5321 section 5.1)",
				ref.exchange, via, cname[0].(*dns.CNAME).Target)
			return
		}
		if n.hasAddress() {
			return
		}
		if len(n.rrsets) == 0 {
			fs.add(RuleMXAddress, ref.file, ref.line, ref.owner,
				"exchange %s%s has no A or AAAA record: the name exists only because names below it do", ref.exchange, where)
			return
		}
		fs.add(RuleMXAddress, ref.file, ref.line, ref.owner, "exchange %s%s%s has no A or AAAA record (it has %s)",
			ref.exchange, where, via, typeList(n))
	}
}

// typeList names the RR types at n.
func typeList(n *node) string {
	names := make([]string, 0, len(n.rrsets))
	for _, s := range n.rrsets {
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
